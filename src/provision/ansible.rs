//! `provisioner "ansible"`: runs ansible-playbook on this machine against the instance, with
//! the inventory, arguments and environment packer-plugin-ansible gives it.
//!
//! Packer's default (`use_proxy` unset or true) puts an SSH server of its own between Ansible
//! and the instance. ambake forwards a local port to the instance's sshd instead, through the
//! build's bastion when there is one: Ansible then logs in to the instance itself, as
//! `ssh_username` with the build's key, and everything it does (become, scp/sftp, facts) runs
//! as it would with Packer. `use_proxy = false` hands Ansible the instance's address, as Packer
//! does.

use super::local::run_logged;
use super::remote::Comm;
use crate::comm::SshConfig;
use crate::comm::connect::Auth;
use crate::config::plugins::Ansible;
use crate::job::context::Cx;
use crate::job::state::BuildState;
use crate::template::legacy::{self, LegacyValue};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Packer's inventory line for Ansible 2 and later.
const DEFAULT_INVENTORY: &str =
    "{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}\n";

/// Where Ansible connects, and as whom.
struct Target {
    host: String,
    port: u16,
    user: String,
    /// Ansible's private key file; `None` with agent or password authentication.
    key_file: Option<PathBuf>,
    /// The build's `ssh_password` as an extra-vars file (`-e @file`, 0600): on the command
    /// line it would be readable in `ps` by every user of this machine.
    password_file: Option<PathBuf>,
}

pub async fn run(cx: &Cx, st: &BuildState, comm: &mut Comm, a: &Ansible) -> anyhow::Result<()> {
    cx.ui.say("Provisioning with Ansible...");
    let tmp = tempfile::Builder::new()
        .prefix("ambake-ansible")
        .tempdir()?;
    let cfg = comm.cfg.clone();
    let mut forward = None;
    let target = if a.use_proxy == Some(false) {
        cx.ui.say(
            "Not using Proxy adapter for Ansible run:\n\tUsing ssh keys from Packer communicator...",
        );
        let mut t = target(cx, &cfg, tmp.path())?;
        if let Some(u) = &a.user {
            t.user = u.clone();
        }
        t
    } else {
        let fwd = Forward::start(&cfg, a.local_port.unwrap_or(0) as u16).await?;
        cx.ui.say(&format!(
            "Forwarding 127.0.0.1:{} to {}:{} for Ansible (ambake's stand-in for Packer's SSH proxy)",
            fwd.port, cfg.host, cfg.port
        ));
        if let Some(u) = a.user.as_deref().filter(|u| *u != cfg.user) {
            cx.ui.error(&format!(
                "Warning: user = {u:?} is not ssh_username; Ansible logs in to the instance as {:?}, as it does through Packer's proxy",
                cfg.user
            ));
        }
        let mut t = target(cx, &cfg, tmp.path())?;
        t.host = "127.0.0.1".into();
        t.port = fwd.port;
        forward = Some(fwd);
        t
    };

    let mut env: Vec<(String, String)> = Vec::new();
    for kv in &a.ansible_env_vars {
        let kv = cx.render(kv, st)?;
        if let Some((k, v)) = kv.split_once('=') {
            env.push((k.to_string(), v.to_string()));
        }
    }
    // Packer adds these (no adapter host key to check; scp unless use_sftp).
    env.push(("ANSIBLE_HOST_KEY_CHECKING".into(), "False".into()));
    if !a.use_sftp {
        env.push(("ANSIBLE_SCP_IF_SSH".into(), "True".into()));
    }

    if let Some(g) = &a.galaxy_file {
        galaxy(cx, a, g, &env).await?;
    }

    // The generated inventory is removed when this goes out of scope (keep_inventory_file keeps it).
    let mut _inventory_file = None;
    let inventory = match &a.inventory_file {
        Some(f) => PathBuf::from(f),
        None => {
            let text = inventory_text(cx, st, a, &target)?;
            let dir = a
                .inventory_directory
                .as_deref()
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let mut f = tempfile::Builder::new()
                .prefix("packer-provisioner-ansible")
                .tempfile_in(dir)?;
            f.write_all(text.as_bytes())?;
            if a.keep_inventory_file {
                let (_, path) = f.keep()?;
                cx.ui
                    .say(&format!("Keeping the inventory file {}", path.display()));
                path
            } else {
                let path = f.path().to_path_buf();
                _inventory_file = Some(f);
                path
            }
        }
    };

    let mut extra = Vec::new();
    for arg in &a.extra_arguments {
        extra.push(cx.render(arg, st)?);
    }
    let args = arguments(a, &cx.plan.source_name, &extra, &target, &inventory, &env)?;
    let command = a.command.as_deref().unwrap_or("ansible-playbook");
    let shown = sanitized(command, &args, &extra);
    cx.ui.say(&format!("Executing Ansible: {shown}"));
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(&args).envs(env.iter().cloned());
    let code = run_logged(cx, cmd, command).await;
    drop(forward);
    let code = code?;
    if code != 0 {
        anyhow::bail!("Error executing Ansible: Non-zero exit status: exit status {code}");
    }
    Ok(())
}

/// A 0600 file in `dir` (fresh: never an existing path) holding a secret for Ansible.
fn private_file(dir: &Path, name: &str, content: &[u8]) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?
        .write_all(content)?;
    Ok(path)
}

/// The instance as the build's own SSH connection reaches it; the build's key (or password)
/// written to a 0600 file that lives as long as `dir`.
fn target(cx: &Cx, cfg: &SshConfig, dir: &Path) -> anyhow::Result<Target> {
    let (key_file, password_file) = match &cfg.auth {
        Auth::Password(p) => {
            let vars = serde_json::json!({ "ansible_password": p }).to_string();
            (
                None,
                Some(private_file(dir, "ansible-password.json", vars.as_bytes())?),
            )
        }
        Auth::Agent => (None, None),
        Auth::Key(pem) | Auth::Cert { key: pem, .. } => {
            match &cx.plan.config.ssh_private_key_file {
                Some(f) => (Some(crate::paths::expand_home(f)), None),
                None => (
                    Some(private_file(dir, "ansible-key", pem.as_bytes())?),
                    None,
                ),
            }
        }
    };
    Ok(Target {
        host: cfg.host.clone(),
        port: cfg.port,
        user: cfg.user.clone(),
        key_file,
        password_file,
    })
}

/// The inventory: `inventory_file_template` (or Packer's default line) for the host, repeated
/// under each of `groups`, then the `empty_groups` headers.
fn inventory_text(cx: &Cx, st: &BuildState, a: &Ansible, t: &Target) -> anyhow::Result<String> {
    let mut ctx = cx.legacy_ctx(st);
    for (k, v) in [
        ("HostAlias", a.host_alias.as_deref().unwrap_or("default")),
        ("Host", t.host.as_str()),
        ("User", t.user.as_str()),
        ("Port", &t.port.to_string()),
    ] {
        ctx.vars.insert(k.into(), LegacyValue::Str(v.to_string()));
    }
    let template = a
        .inventory_file_template
        .as_deref()
        .unwrap_or(DEFAULT_INVENTORY);
    let host = legacy::render(template, &ctx)
        .map_err(|e| anyhow::anyhow!("Error generating inventory file from template: {e}"))?;
    let mut text = host.clone();
    for g in &a.groups {
        text.push_str(&format!("[{g}]\n{host}"));
    }
    for g in &a.empty_groups {
        text.push_str(&format!("[{g}]\n"));
    }
    Ok(text)
}

fn has_arg(name: &str, args: &[String]) -> bool {
    args.iter().any(|a| a.contains(name))
}

/// ansible-playbook's arguments, in Packer's order.
fn arguments(
    a: &Ansible,
    build_name: &str,
    extra: &[String],
    t: &Target,
    inventory: &Path,
    env: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    let mut args = vec![
        "-e".to_string(),
        format!("packer_build_name={build_name:?}"),
        "-e".into(),
        "packer_builder_type=amazon-ebs".into(),
    ];
    if t.key_file.is_some() {
        args.push("--ssh-extra-args".into());
        args.push(if a.ansible_ssh_extra_args.is_empty() {
            "'-o IdentitiesOnly=yes'".into()
        } else {
            format!("'{}'", a.ansible_ssh_extra_args.join("' '"))
        });
    }
    args.extend(extra.iter().cloned());
    let user_password = has_arg("ansible_password", &args);
    if let Some(k) = &t.key_file
        && !user_password
    {
        args.push("-e".into());
        args.push(format!("ansible_ssh_private_key_file={}", k.display()));
    }
    let build_password = match &t.password_file {
        // The build's ssh_password; Packer's adapter would accept Ansible without one.
        Some(f) if !user_password => {
            args.push("-e".into());
            args.push(format!("@{}", f.display()));
            true
        }
        _ => false,
    };
    if (user_password || build_password)
        && !has_arg("ansible_host_key_checking", &args)
        && !env.iter().any(|(k, _)| k == "ANSIBLE_HOST_KEY_CHECKING")
    {
        args.push("-e".into());
        args.push("ansible_host_key_checking=False".into());
    }
    let playbook = std::path::absolute(a.playbook_file.as_deref().unwrap_or_default())?;
    args.push("-i".into());
    args.push(inventory.display().to_string());
    args.push(playbook.display().to_string());
    Ok(args)
}

/// The command line as printed: values of `*password*`/`*secret*` extra arguments hidden, as
/// Packer does (the UI masks sensitive variables on top; the build's password is in a file).
fn sanitized(command: &str, args: &[String], extra: &[String]) -> String {
    let mut line = std::iter::once(command)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    for arg in extra {
        if let Some((k, v)) = arg.split_once('=') {
            let k = k.to_lowercase();
            if (k.contains("password") || k.contains("secret")) && !v.is_empty() {
                line = line.replace(v, "*****");
            }
        }
    }
    line
}

/// `galaxy_file`: roles and/or collections installed with ansible-galaxy first.
async fn galaxy(cx: &Cx, a: &Ansible, file: &str, env: &[(String, String)]) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)?;
    let has = |key: &str| text.lines().any(|l| l.starts_with(key));
    let (roles, collections) = (has("roles:"), has("collections:"));
    let force = |args: &mut Vec<String>| {
        if a.galaxy_force_install {
            args.push("-f".into());
        }
        if a.galaxy_force_with_deps {
            args.push("--force-with-deps".into());
        }
    };
    let mut runs = Vec::new();
    if roles || !collections {
        let mut args = vec!["install".into(), "-r".into(), file.to_string()];
        force(&mut args);
        if let Some(p) = &a.roles_path {
            args.extend(["-p".into(), p.clone()]);
        }
        runs.push(args);
    }
    if collections {
        let mut args = vec![
            "collection".into(),
            "install".into(),
            "-r".into(),
            file.to_string(),
        ];
        force(&mut args);
        if let Some(p) = &a.collections_path {
            args.extend(["-p".into(), p.clone()]);
        }
        runs.push(args);
    }
    let command = a.galaxy_command.as_deref().unwrap_or("ansible-galaxy");
    for args in runs {
        cx.ui.say("Executing Ansible Galaxy");
        let mut cmd = tokio::process::Command::new(command);
        cmd.args(&args).envs(env.iter().cloned());
        let code = run_logged(cx, cmd, command).await?;
        if code != 0 {
            anyhow::bail!(
                "Error executing Ansible: Error executing Ansible Galaxy: Non-zero exit status: exit status {code}"
            );
        }
    }
    Ok(())
}

/// A local port forwarded to the instance's SSH port (through the bastion when the build has
/// one), for as long as it lives.
struct Forward {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Forward {
    async fn start(cfg: &SshConfig, port: u16) -> anyhow::Result<Forward> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port} for Ansible: {e}"))?;
        let port = listener.local_addr()?.port();
        let (host, target_port, bastion) = (cfg.host.clone(), cfg.port, cfg.bastion.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (host, bastion) = (host.clone(), bastion.clone());
                tokio::spawn(async move {
                    let _ = match bastion {
                        None => match tokio::net::TcpStream::connect((host.as_str(), target_port))
                            .await
                        {
                            Ok(mut out) => {
                                tokio::io::copy_bidirectional(&mut inbound, &mut out).await
                            }
                            Err(e) => Err(e),
                        },
                        Some(b) => {
                            let tunnel = tokio::task::spawn_blocking(move || {
                                crate::comm::bastion::tunnel(&b, &host, target_port)
                            })
                            .await;
                            match tunnel {
                                Ok(Ok(s)) => match s
                                    .set_nonblocking(true)
                                    .and_then(|_| tokio::net::UnixStream::from_std(s))
                                {
                                    Ok(mut out) => {
                                        tokio::io::copy_bidirectional(&mut inbound, &mut out).await
                                    }
                                    Err(e) => Err(e),
                                },
                                _ => Ok((0, 0)),
                            }
                        }
                    };
                });
            }
        });
        Ok(Forward { port, task })
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(key: Option<&str>, password_file: Option<&str>) -> Target {
        Target {
            host: "10.0.0.5".into(),
            port: 22,
            user: "ubuntu".into(),
            key_file: key.map(PathBuf::from),
            password_file: password_file.map(PathBuf::from),
        }
    }

    fn ansible() -> Ansible {
        Ansible {
            playbook_file: Some("/srv/site.yml".into()),
            ..Default::default()
        }
    }

    #[test]
    fn arguments_follow_packer_order() {
        let args = arguments(
            &ansible(),
            "web",
            &["-vv".to_string()],
            &target(Some("/tmp/k"), None),
            Path::new("/tmp/inv"),
            &[],
        )
        .unwrap();
        assert_eq!(
            args,
            [
                "-e",
                "packer_build_name=\"web\"",
                "-e",
                "packer_builder_type=amazon-ebs",
                "--ssh-extra-args",
                "'-o IdentitiesOnly=yes'",
                "-vv",
                "-e",
                "ansible_ssh_private_key_file=/tmp/k",
                "-i",
                "/tmp/inv",
                "/srv/site.yml"
            ]
        );
    }

    #[test]
    fn a_user_password_replaces_the_key_and_turns_host_key_checking_off() {
        let extra = ["-e".to_string(), "ansible_password=hunter2".to_string()];
        let args = arguments(
            &ansible(),
            "web",
            &extra,
            &target(Some("/tmp/k"), None),
            Path::new("/tmp/inv"),
            &[],
        )
        .unwrap();
        assert!(
            !args
                .iter()
                .any(|a| a.contains("ansible_ssh_private_key_file"))
        );
        assert!(args.contains(&"ansible_host_key_checking=False".to_string()));
        let shown = sanitized("ansible-playbook", &args, &extra);
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn the_build_password_goes_by_file_never_on_the_command_line() {
        let args = arguments(
            &ansible(),
            "web",
            &[],
            &target(None, Some("/tmp/d/ansible-password.json")),
            Path::new("/tmp/inv"),
            &[],
        )
        .unwrap();
        assert!(args.contains(&"@/tmp/d/ansible-password.json".to_string()));
        assert!(!args.iter().any(|a| a.starts_with("ansible_password=")));
        assert!(args.contains(&"ansible_host_key_checking=False".to_string()));
    }

    #[test]
    fn custom_ssh_extra_args_are_quoted_one_by_one() {
        let a = Ansible {
            ansible_ssh_extra_args: vec!["-o ForwardAgent=yes".into(), "-4".into()],
            ..ansible()
        };
        let args = arguments(
            &a,
            "web",
            &[],
            &target(Some("/tmp/k"), None),
            Path::new("/i"),
            &[],
        )
        .unwrap();
        assert!(args.contains(&"'-o ForwardAgent=yes' '-4'".to_string()));
    }
}
