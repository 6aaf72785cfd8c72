//! The provisioners that act on the instance over SSH: `shell` and `file`, with Packer's wire
//! pattern (upload the script, run `execute_command`, remove it) and options.

use crate::comm::connect::HostKeyChanged;
use crate::comm::ssh::CommError;
use crate::comm::{self, Ssh, SshConfig};
use crate::config::plugins::{File, Shell};
use crate::duration::parse_duration;
use crate::job::context::{Cx, Interrupted};
use crate::job::state::BuildState;
use crate::template::legacy::{self, LegacyValue};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The SSH connection of a build: reconnects when a script rebooted the instance.
pub struct Comm {
    pub cfg: SshConfig,
    ssh: Option<Ssh>,
}

impl Comm {
    pub fn new(cfg: SshConfig, ssh: Ssh) -> Comm {
        Comm {
            cfg,
            ssh: Some(ssh),
        }
    }
    pub async fn get(&mut self, cx: &Cx) -> anyhow::Result<Ssh> {
        if self.ssh.is_none() {
            self.ssh = Some(comm::connect(&self.cfg, &cx.cancel, &cx.ui).await?);
        }
        Ok(self.ssh.clone().expect("just connected"))
    }
    pub fn drop_connection(&mut self) {
        self.ssh = None;
    }
    /// Abandons the connection a timed-out provisioner was using: the thread still running its
    /// command sees the connection's stop flag within a second, closes the channel and lets
    /// go of the session; the next command gets a new connection instead of waiting on it.
    pub fn abort(&mut self) {
        if let Some(ssh) = self.ssh.take() {
            ssh.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    /// Runs a command; `Err` for transport problems, the result otherwise.
    pub async fn exec(&mut self, cx: &Cx, cmd: &str) -> anyhow::Result<comm::ssh::ExecResult> {
        let ssh = self.get(cx).await?;
        let ui = cx.ui.clone();
        let cmd = cmd.to_string();
        let r =
            tokio::task::spawn_blocking(move || ssh.exec_blocking(&cmd, &mut |l| ui.message(l)))
                .await?;
        match r {
            Err(e) => Err(e.into_anyhow()),
            Ok(res) => {
                if res.disconnected {
                    self.drop_connection();
                }
                Ok(res)
            }
        }
    }
    pub async fn upload_file(
        &mut self,
        cx: &Cx,
        local: &Path,
        remote: &str,
        mode: Option<i32>,
    ) -> anyhow::Result<()> {
        let ssh = self.get(cx).await?;
        let local = local.to_path_buf();
        let remote = remote.to_string();
        let r = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::open(&local)
                .map_err(|e| CommError::Failed(format!("cannot read {}: {e}", local.display())))?;
            let meta = f.metadata().map_err(|e| CommError::Failed(e.to_string()))?;
            use std::os::unix::fs::PermissionsExt as _;
            let mode = mode.unwrap_or((meta.permissions().mode() & 0o7777) as i32);
            ssh.upload_blocking(&mut f, meta.len(), &remote, mode)
        })
        .await?;
        r.map_err(CommError::into_anyhow)
    }
    pub async fn upload_bytes(
        &mut self,
        cx: &Cx,
        data: Vec<u8>,
        remote: &str,
        mode: i32,
    ) -> anyhow::Result<()> {
        let ssh = self.get(cx).await?;
        let remote = remote.to_string();
        let r = tokio::task::spawn_blocking(move || {
            ssh.upload_blocking(&mut data.as_slice(), data.len() as u64, &remote, mode)
        })
        .await?;
        r.map_err(CommError::into_anyhow)
    }
    pub async fn download_file(
        &mut self,
        cx: &Cx,
        remote: &str,
        local: &Path,
    ) -> anyhow::Result<()> {
        let ssh = self.get(cx).await?;
        let (remote, local) = (remote.to_string(), local.to_path_buf());
        let r = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::create(&local)
                .map_err(|e| CommError::Failed(format!("cannot write {}: {e}", local.display())))?;
            let mode = ssh.download_blocking(&remote, &mut f)?;
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(
                &local,
                // Never setuid/setgid/sticky from the instance onto this machine.
                std::fs::Permissions::from_mode((mode & 0o777) as u32),
            )
            .map_err(|e| CommError::Failed(e.to_string()))
        })
        .await?;
        r.map_err(CommError::into_anyhow)
    }
}

/// Single-quotes a string for the remote shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn render_with(
    cx: &Cx,
    st: &BuildState,
    template: &str,
    extra: &[(&str, &str)],
) -> anyhow::Result<String> {
    let mut ctx = cx.legacy_ctx(st);
    for (k, v) in extra {
        ctx.vars
            .insert(k.to_string(), LegacyValue::Str(v.to_string()));
    }
    legacy::render(template, &ctx).map_err(anyhow::Error::msg)
}

pub async fn shell(cx: &Cx, st: &BuildState, comm: &mut Comm, s: &Shell) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut scripts: Vec<PathBuf> = Vec::new();
    if !s.inline.is_empty() {
        let shebang = s
            .inline_shebang
            .clone()
            .unwrap_or_else(|| "/bin/sh -e".into());
        let lines: Vec<String> = s
            .inline
            .iter()
            .map(|l| cx.render(l, st))
            .collect::<anyhow::Result<_>>()?;
        let p = dir.path().join("inline.sh");
        std::fs::write(&p, format!("#!{shebang}\n{}\n", lines.join("\n")))?;
        scripts.push(p);
    }
    scripts.extend(s.script.iter().chain(&s.scripts).map(PathBuf::from));
    let mut env: Vec<(String, String)> = vec![
        ("PACKER_BUILD_NAME".into(), cx.plan.source_name.clone()),
        ("PACKER_BUILDER_TYPE".into(), "amazon-ebs".into()),
        ("AMBAKE_BUILD_NAME".into(), cx.plan.name.clone()),
        ("AMBAKE_BUILD_ID".into(), cx.build_id.clone()),
    ];
    for kv in &s.environment_vars {
        if let Some((k, v)) = kv.split_once('=') {
            env.push((k.to_string(), cx.render(v, st)?));
        }
    }
    for (k, v) in &s.env {
        env.push((k.clone(), cx.render(v, st)?));
    }
    let format = s
        .env_var_format
        .clone()
        .unwrap_or_else(|| "%s='%s' ".into());
    let valid: Vec<i64> = if s.valid_exit_codes.is_empty() {
        vec![0]
    } else {
        s.valid_exit_codes.clone()
    };
    let folder = s.remote_folder.clone().unwrap_or_else(|| "/tmp".into());
    let retry_for = s
        .start_retry_timeout
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(Duration::from_secs(300));
    for script in scripts {
        cx.check_cancel()?;
        let name = s
            .remote_file
            .clone()
            .unwrap_or_else(|| format!("script_{}.sh", fastrand::u32(0..10000)));
        let path = s
            .remote_path
            .clone()
            .unwrap_or_else(|| format!("{folder}/{name}"));
        cx.ui.say(&format!(
            "Provisioning with shell script: {}",
            if script.starts_with(dir.path()) {
                "<inline>".to_string()
            } else {
                script.display().to_string()
            }
        ));
        // The instance may still be coming up (or rebooting): retry the start, bounded.
        let started = tokio::time::Instant::now();
        loop {
            // Unless `binary`, scripts get Unix line endings, as Packer's shell provisioner
            // does (a CRLF script would not run).
            let upload = if s.binary {
                comm.upload_file(cx, &script, &path, Some(0o755)).await
            } else {
                let text = std::fs::read(&script)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", script.display()))?;
                let unix = String::from_utf8_lossy(&text).replace("\r\n", "\n");
                comm.upload_bytes(cx, unix.into_bytes(), &path, 0o755).await
            };
            match upload {
                Ok(()) => break,
                Err(e) if e.is::<Interrupted>() || e.is::<HostKeyChanged>() => return Err(e),
                Err(e) if started.elapsed() < retry_for => {
                    cx.ui.message(&format!("Retrying the script upload: {e:#}"));
                    comm.drop_connection();
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => {
                    return Err(e.context(format!("uploading {} to {path}", script.display())));
                }
            }
        }
        let (vars, env_file) = if s.use_env_var_file {
            let file = format!("{folder}/varfile_{}.sh", fastrand::u32(0..10000));
            let body: String = env
                .iter()
                .map(|(k, v)| format!("export {k}={}\n", quote(v)))
                .collect();
            comm.upload_bytes(cx, body.into_bytes(), &file, 0o600)
                .await?;
            (String::new(), file)
        } else {
            (
                env.iter()
                    .map(|(k, v)| {
                        format
                            .replacen("%s", k, 1)
                            .replacen("%s", &v.replace('\'', "'\"'\"'"), 1)
                    })
                    .collect::<String>(),
                String::new(),
            )
        };
        let default_cmd = if s.use_env_var_file {
            "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}"
        } else {
            "chmod +x {{.Path}}; {{.Vars}} {{.Path}}"
        };
        let template = s
            .execute_command
            .clone()
            .unwrap_or_else(|| default_cmd.to_string());
        let cmd = render_with(
            cx,
            st,
            &template,
            &[
                ("Path", &path),
                ("Vars", vars.trim_end()),
                ("EnvVarFile", &env_file),
            ],
        )?;
        let res = comm.exec(cx, &cmd).await;
        // Remove the script and the env file whatever happened — the command failing, or the
        // connection gone (a reboot with expect_disconnect): the env file holds the script's
        // environment, secrets included, and must not be baked into the image.
        if !s.skip_clean {
            remove_remote(cx, comm, &[&path, &env_file], retry_for).await?;
        }
        let res = res?;
        if res.disconnected {
            if s.expect_disconnect {
                cx.ui.message(
                    "The remote end hung up (expect_disconnect): reconnecting for what follows",
                );
            } else {
                anyhow::bail!(
                    "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, you can try adding `expect_disconnect = true` or `valid_exit_codes = [0, 2300218]` to the shell provisioner parameters."
                );
            }
        } else {
            let code = res.exit_code.map(i64::from).unwrap_or(-1);
            if !valid.contains(&code) {
                anyhow::bail!(
                    "Script exited with non-zero exit status: {code}. Allowed exit codes are: {valid:?} (script {})",
                    script.display()
                );
            }
        }
        if let Some(p) = s
            .pause_after
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(anyhow::Error::msg)?
        {
            tokio::select! {
                _ = tokio::time::sleep(p) => {}
                _ = cx.cancel.cancelled() => return Err(Interrupted.into()),
            }
        }
    }
    Ok(())
}

/// Packer's trailing-slash rules: `dir/` uploads the directory's contents into the
/// destination, `dir` uploads the directory itself; a destination ending in `/` is a directory.
pub async fn file(cx: &Cx, st: &BuildState, comm: &mut Comm, f: &File) -> anyhow::Result<()> {
    let dest = cx.render(f.destination.as_deref().unwrap_or_default(), st)?;
    if f.direction.as_deref() == Some("download") {
        let src = cx.render(
            f.source
                .as_deref()
                .or(f.sources.first().map(String::as_str))
                .unwrap_or_default(),
            st,
        )?;
        let local = if dest.ends_with('/') || Path::new(&dest).is_dir() {
            Path::new(&dest).join(Path::new(&src).file_name().unwrap_or_default())
        } else {
            PathBuf::from(&dest)
        };
        cx.ui
            .say(&format!("Downloading {src} => {}", local.display()));
        return comm.download_file(cx, &src, &local).await;
    }
    if let Some(content) = &f.content {
        cx.ui.say(&format!("Uploading content => {dest}"));
        return comm
            .upload_bytes(cx, cx.render(content, st)?.into_bytes(), &dest, 0o644)
            .await;
    }
    for src in f.source.iter().chain(&f.sources) {
        let src = cx.render(src, st)?;
        let p = Path::new(&src);
        cx.ui.say(&format!("Uploading {src} => {dest}"));
        if p.is_dir() {
            let base = if src.ends_with('/') {
                dest.trim_end_matches('/').to_string()
            } else {
                format!(
                    "{}/{}",
                    dest.trim_end_matches('/'),
                    p.file_name().unwrap_or_default().to_string_lossy()
                )
            };
            upload_dir(cx, comm, p, &base).await?;
        } else {
            let target = if dest.ends_with('/') {
                format!(
                    "{dest}{}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                )
            } else {
                dest.clone()
            };
            comm.upload_file(cx, p, &target, None).await?;
        }
    }
    Ok(())
}

pub async fn upload_dir(
    cx: &Cx,
    comm: &mut Comm,
    local: &Path,
    remote: &str,
) -> anyhow::Result<()> {
    let mut dirs = vec![(local.to_path_buf(), remote.to_string())];
    let mut files = Vec::new();
    let mut mkdirs = Vec::new();
    while let Some((l, r)) = dirs.pop() {
        mkdirs.push(r.clone());
        let mut entries: Vec<_> = std::fs::read_dir(&l)?.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let child = format!("{r}/{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                dirs.push((e.path(), child));
            } else {
                files.push((e.path(), child));
            }
        }
    }
    let cmd = format!(
        "mkdir -p {}",
        mkdirs
            .iter()
            .map(|d| quote(d))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = comm.exec(cx, &cmd).await?;
    if r.exit_code != Some(0) {
        anyhow::bail!("cannot create the remote directories under {remote}");
    }
    for (l, r) in files {
        comm.upload_file(cx, &l, &r, None).await?;
    }
    Ok(())
}

/// Deletes files on the instance, reconnecting (within `retry_for`) when the connection is
/// gone. Failing to remove them is an error: a leftover could hold secrets.
async fn remove_remote(
    cx: &Cx,
    comm: &mut Comm,
    files: &[&str],
    retry_for: Duration,
) -> anyhow::Result<()> {
    let files: Vec<&str> = files.iter().copied().filter(|f| !f.is_empty()).collect();
    let rm = format!(
        "rm -f {}",
        files.iter().map(|f| quote(f)).collect::<Vec<_>>().join(" ")
    );
    let started = tokio::time::Instant::now();
    loop {
        let err = match comm.exec(cx, &rm).await {
            Ok(r) if !r.disconnected && r.exit_code == Some(0) => return Ok(()),
            Ok(r) => anyhow::anyhow!("rm ended with {:?}", r.exit_code),
            Err(e) if e.is::<Interrupted>() || e.is::<HostKeyChanged>() => return Err(e),
            Err(e) => e,
        };
        if started.elapsed() >= retry_for.max(Duration::from_secs(30)) {
            return Err(err.context(format!(
                "could not remove {} from the instance (the script's environment may be in it)",
                files.join(", ")
            )));
        }
        comm.drop_connection();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
