//! `shell-local` (runs on the machine running ambake, with the build's variables) and
//! `breakpoint` (waits for Enter; skipped when stdin is not a terminal).

use crate::config::plugins::{Breakpoint, ShellLocal};
use crate::job::context::{Cx, Interrupted};
use crate::job::state::BuildState;
use std::io::IsTerminal as _;
use tokio::io::AsyncBufReadExt as _;

/// The environment every provisioner's commands see.
pub fn build_env(cx: &Cx, st: &BuildState) -> Vec<(String, String)> {
    let mut env = vec![
        ("PACKER_BUILD_NAME".to_string(), cx.plan.source_name.clone()),
        ("PACKER_BUILDER_TYPE".to_string(), "amazon-ebs".to_string()),
        ("AMBAKE_BUILD_NAME".to_string(), cx.plan.name.clone()),
        ("AMBAKE_BUILD_ID".to_string(), cx.build_id.clone()),
        ("AMBAKE_BUILD_REGION".to_string(), cx.region().to_string()),
    ];
    if let Some(i) = &st.instance {
        env.push(("AMBAKE_INSTANCE_ID".to_string(), i.id.clone()));
    }
    env
}

/// The default way to run a script, as Packer's `/bin/sh -c "{{.Vars}} {{.Script}}"` does: the
/// script itself is executed, so its `#!` line chooses the interpreter and its flags (the
/// inline default `#!/bin/sh -e` stops at the first failing command). A script with no `#!`
/// line runs under /bin/sh. Scripts are run from an executable copy in `tmp`.
fn direct(
    script: &std::path::Path,
    tmp: &std::path::Path,
) -> anyhow::Result<tokio::process::Command> {
    use std::os::unix::fs::PermissionsExt as _;
    let text = std::fs::read(script)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", script.display()))?;
    if !text.starts_with(b"#!") {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg(script);
        return Ok(c);
    }
    let copy = tmp.join(format!(
        "run-{}",
        script
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    std::fs::write(&copy, &text)?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o700))?;
    Ok(tokio::process::Command::new(copy))
}

pub async fn run(cx: &Cx, st: &BuildState, s: &ShellLocal) -> anyhow::Result<()> {
    // `only_on`: the operating systems (Go's names) this runs on; elsewhere it is skipped.
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    if !s.only_on.is_empty() && !s.only_on.iter().any(|o| o == os) {
        cx.ui.say(&format!(
            "Skipping shell-local: only_on {:?} does not include {os}",
            s.only_on
        ));
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut scripts: Vec<std::path::PathBuf> = Vec::new();
    let shebang = s
        .inline_shebang
        .clone()
        .unwrap_or_else(|| "/bin/sh -e".to_string());
    if !s.inline.is_empty() || s.command.is_some() {
        let lines: Vec<String> = match &s.command {
            Some(c) => vec![cx.render(c, st)?],
            None => s
                .inline
                .iter()
                .map(|l| cx.render(l, st))
                .collect::<anyhow::Result<_>>()?,
        };
        let ext = s.tempfile_extension.clone().unwrap_or_else(|| ".sh".into());
        let path = dir.path().join(format!("inline{ext}"));
        std::fs::write(&path, format!("#!{shebang}\n{}\n", lines.join("\n")))?;
        // Executable, as Packer makes it: execute_command's `{{.Script}}` runs it directly.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        }
        scripts.push(path);
    }
    scripts.extend(
        s.script
            .iter()
            .chain(&s.scripts)
            .map(std::path::PathBuf::from),
    );
    let mut env = build_env(cx, st);
    for kv in &s.environment_vars {
        if let Some((k, v)) = kv.split_once('=') {
            env.push((k.to_string(), cx.render(v, st)?));
        }
    }
    for (k, v) in &s.env {
        env.push((k.clone(), cx.render(v, st)?));
    }
    let valid: Vec<i64> = if s.valid_exit_codes.is_empty() {
        vec![0]
    } else {
        s.valid_exit_codes.clone()
    };
    for script in scripts {
        let mut cmd = if s.execute_command.is_empty() {
            direct(&script, dir.path())?
        } else {
            // `{{.Vars}}` would put every value (secrets too) on the command line, where any
            // user sees it in `ps`: the variables reach the command through its environment
            // instead, which is what the assignments `{{.Vars}}` stands for do in a shell.
            let argv: Vec<String> = s
                .execute_command
                .iter()
                .filter(|a| !matches!(a.trim(), "{{.Vars}}" | "{{ .Vars }}"))
                .map(|a| {
                    a.replace("{{.Vars}}", "")
                        .replace("{{ .Vars }}", "")
                        .replace("{{.Script}}", &script.to_string_lossy())
                        .replace("{{ .Script }}", &script.to_string_lossy())
                })
                .collect();
            let mut c = tokio::process::Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        };
        cmd.envs(env.iter().cloned());
        let code = run_logged(cx, cmd, &script.display().to_string()).await?;
        if !valid.contains(&code) {
            anyhow::bail!(
                "Erroneous exit code {code} while executing script: {}",
                script.display()
            );
        }
    }
    Ok(())
}

/// Runs a program on this machine, each line of its output a message, and returns its exit
/// code (-1 when a signal ended it). Ctrl-C kills it.
pub async fn run_logged(
    cx: &Cx,
    mut cmd: tokio::process::Command,
    what: &str,
) -> anyhow::Result<i64> {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    // A script just written can be "busy" for an instant while another thread's fork still
    // holds it open (ETXTBSY): try again briefly.
    let mut tries = 0;
    let mut child = loop {
        match cmd.spawn() {
            Ok(c) => break c,
            Err(e) if e.raw_os_error() == Some(26) && tries < 20 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            Err(e) => anyhow::bail!("cannot run {what}: {e}"),
        }
    };
    let out = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let err = tokio::io::BufReader::new(child.stderr.take().expect("piped")).lines();
    let ui = cx.ui.clone();
    let pump = async move {
        let (mut out, mut err) = (out, err);
        let (mut o_done, mut e_done) = (false, false);
        while !(o_done && e_done) {
            tokio::select! {
                l = out.next_line(), if !o_done => match l { Ok(Some(l)) => ui.message(&l), _ => o_done = true },
                l = err.next_line(), if !e_done => match l { Ok(Some(l)) => ui.message(&l), _ => e_done = true },
            }
        }
    };
    let status = tokio::select! {
        (s, _) = async { tokio::join!(child.wait(), pump) } => s?,
        _ = cx.cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(Interrupted.into());
        }
    };
    Ok(status.code().map(i64::from).unwrap_or(-1))
}

pub async fn breakpoint(cx: &Cx, b: &Breakpoint) -> anyhow::Result<()> {
    if b.disable {
        cx.ui.say("Breakpoint disabled, continuing...");
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        cx.ui.say(&format!(
            "Breakpoint skipped: standard input is not a terminal ({})",
            b.note.as_deref().unwrap_or("no note")
        ));
        return Ok(());
    }
    cx.ui.say(&format!(
        "Pausing at breakpoint provisioner with note \"{}\". Press enter to continue.",
        b.note.as_deref().unwrap_or("")
    ));
    let _hold = cx.ui.hold_for_input();
    let read = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    });
    tokio::select! {
        _ = read => Ok(()),
        _ = cx.cancel.cancelled() => Err(Interrupted.into()),
    }
}
