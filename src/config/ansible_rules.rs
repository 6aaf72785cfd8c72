//! The checks packer-plugin-ansible's Prepare functions make, with their messages, for the
//! `ansible` and `ansible-local` provisioners.

use super::plugins::{Ansible, AnsibleLocal};
use crate::diag::{Diagnostics, Span};

/// `validateFileConfig`: the path must exist and be a file.
fn file(path: &str, key: &str, span: &Span, diags: &mut Diagnostics) {
    match std::fs::metadata(path) {
        Err(e) => diags.error(format!("{key}: {path} is invalid: {e}"), Some(span.clone())),
        Ok(m) if m.is_dir() => diags.error(
            format!("{key}: {path} must point to a file"),
            Some(span.clone()),
        ),
        Ok(_) => {}
    }
}

/// `validateDirConfig`: the path must exist and be a directory.
fn dir(path: &str, key: &str, span: &Span, diags: &mut Diagnostics) {
    match std::fs::metadata(path) {
        Err(e) => diags.error(format!("{key}: {path} is invalid: {e}"), Some(span.clone())),
        Ok(m) if !m.is_dir() => diags.error(
            format!("{key}: {path} must point to a directory"),
            Some(span.clone()),
        ),
        Ok(_) => {}
    }
}

/// The program `command` names, as Packer's Prepare runs it: `COMMAND --version` must work and
/// print a version, unless `skip_version_check`. Asked once per command and run (a template
/// with 16 sources types its provisioners 16 times; ansible takes about a second to answer).
pub fn version_check(command: &str) -> Result<String, String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashMap<String, Result<String, String>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(r) = seen.lock().unwrap_or_else(|p| p.into_inner()).get(command) {
        return r.clone();
    }
    let r = ask_version(command);
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(command.to_string(), r.clone());
    r
}

fn ask_version(command: &str) -> Result<String, String> {
    let out = std::process::Command::new(command)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("Error running \"{command} --version\": {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "Error running \"{command} --version\": {}",
            out.status
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let re = regex::Regex::new(r"\w (\d+\.\d+[.\d+]*)").expect("static pattern");
    re.captures(&text)
        .map(|c| c[1].to_string())
        .ok_or_else(|| format!("Could not find {command} version in output:\n{text}"))
}

pub fn ansible(a: Ansible, at: &dyn Fn(&str) -> Span, diags: &mut Diagnostics) -> Ansible {
    match a.playbook_file.as_deref() {
        None => diags.error(
            "playbook_file must be specified.",
            Some(at("playbook_file")),
        ),
        Some(p) => file(p, "playbook_file", &at("playbook_file"), diags),
    }
    if let Some(g) = &a.galaxy_file {
        file(g, "galaxy_file", &at("galaxy_file"), diags);
    }
    if let Some(d) = &a.inventory_directory {
        dir(d, "inventory_directory", &at("inventory_directory"), diags);
    }
    if let Some(p) = a.local_port
        && !(0..=65535).contains(&p)
    {
        diags.error(
            format!("local_port: {p} must be a valid port"),
            Some(at("local_port")),
        );
    }
    if !a.skip_version_check {
        let command = a.command.as_deref().unwrap_or("ansible-playbook");
        if let Err(e) = version_check(command) {
            diags.error(e, Some(at("command")));
        }
    }
    a
}

pub fn ansible_local(
    a: AnsibleLocal,
    span: &Span,
    at: &dyn Fn(&str) -> Span,
    diags: &mut Diagnostics,
) -> AnsibleLocal {
    match (&a.playbook_file, a.playbook_files.is_empty()) {
        (Some(_), false) => diags.error(
            "Either playbook_file or playbook_files can be specified, not both",
            Some(span.clone()),
        ),
        (None, true) => diags.error(
            "Either playbook_file or playbook_files must be specified",
            Some(span.clone()),
        ),
        _ => {}
    }
    if let Some(p) = &a.playbook_file {
        file(p, "playbook_file", &at("playbook_file"), diags);
    }
    for p in &a.playbook_files {
        file(p, "playbook_files", &at("playbook_files"), diags);
    }
    for (key, v) in [
        ("inventory_file", &a.inventory_file),
        ("galaxy_file", &a.galaxy_file),
    ] {
        if let Some(p) = v {
            file(p, key, &at(key), diags);
        }
    }
    for (key, v) in [
        ("playbook_dir", &a.playbook_dir),
        ("group_vars", &a.group_vars),
        ("host_vars", &a.host_vars),
    ] {
        if let Some(p) = v {
            dir(p, key, &at(key), diags);
        }
    }
    for (key, list) in [
        ("playbook_paths", &a.playbook_paths),
        ("role_paths", &a.role_paths),
        ("collection_paths", &a.collection_paths),
    ] {
        for p in list {
            dir(p, key, &at(key), diags);
        }
    }
    a
}
