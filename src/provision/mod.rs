//! Running provisioners and post-processors. Provisioners that act on the instance (`shell`,
//! `file`) need the SSH communicator (issue #5); `shell-local` and `breakpoint` run here.
//! Common options (`pause_before`, `max_retries`, `timeout`) are applied in one place.

pub mod ansible;
pub mod ansible_local;
pub mod local;
pub mod remote;

use crate::comm;
use crate::config::plugins::{Provisioner, ProvisionerKind};
use crate::duration::parse_duration;
use crate::job::context::{Cx, Interrupted};
use crate::job::state::BuildState;
use std::time::Duration;

async fn sleep_cancellable(cx: &Cx, d: Duration) -> anyhow::Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = cx.cancel.cancelled() => Err(Interrupted.into()),
    }
}

/// Runs one provisioner with its common options.
pub async fn run_one(
    cx: &Cx,
    st: &BuildState,
    comm: &mut Option<remote::Comm>,
    p: &Provisioner,
) -> anyhow::Result<()> {
    if let Some(d) = p
        .common
        .pause_before
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(anyhow::Error::msg)?
    {
        cx.ui.say(&format!(
            "Pausing {}s before the next provisioner...",
            d.as_secs()
        ));
        sleep_cancellable(cx, d).await?;
    }
    let timeout = p
        .common
        .timeout
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    // Bounded: max_retries = 4294967295 wrapped to zero attempts (and a panic on the result).
    let attempts = p.common.max_retries.unwrap_or(0).clamp(0, 1000) as u32 + 1;
    let mut last = None;
    for attempt in 1..=attempts {
        let fut = dispatch(cx, st, comm, p);
        let r = match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => {
                    // The command may still run on a blocking thread holding the session:
                    // stop it and start the next attempt on a fresh connection.
                    if let Some(c) = comm.as_mut() {
                        c.abort();
                    }
                    Err(anyhow::anyhow!(
                        "provisioner timed out after {}",
                        crate::duration::format_duration(t)
                    ))
                }
            },
            None => fut.await,
        };
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e.is::<Interrupted>() => return Err(e),
            Err(e) => {
                if attempt < attempts {
                    cx.ui.error(&format!(
                        "Provisioner failed (attempt {attempt} of {attempts}): {e:#}; retrying"
                    ));
                    sleep_cancellable(cx, Duration::from_secs(2)).await?;
                }
                last = Some(e);
            }
        }
    }
    Err(last.expect("at least one attempt"))
}

async fn dispatch(
    cx: &Cx,
    st: &BuildState,
    comm: &mut Option<remote::Comm>,
    p: &Provisioner,
) -> anyhow::Result<()> {
    let none = || {
        anyhow::anyhow!(
            "this provisioner needs a communicator, but the source sets communicator = \"none\""
        )
    };
    match &p.kind {
        ProvisionerKind::ShellLocal(s) => {
            cx.ui.say("Running local shell script...");
            local::run(cx, st, s).await
        }
        ProvisionerKind::Breakpoint(b) => local::breakpoint(cx, b).await,
        ProvisionerKind::Shell(s) => match comm.as_mut() {
            Some(c) => remote::shell(cx, st, c, s).await,
            None => Err(none()),
        },
        ProvisionerKind::File(f) => match comm.as_mut() {
            Some(c) => remote::file(cx, st, c, f).await,
            None => Err(none()),
        },
        ProvisionerKind::Ansible(a) => match comm.as_mut() {
            Some(c) => ansible::run(cx, st, c, a).await,
            None => Err(none()),
        },
        ProvisionerKind::AnsibleLocal(a) => match comm.as_mut() {
            Some(c) => ansible_local::run(cx, st, c, a).await,
            None => Err(none()),
        },
    }
}

/// The SSH settings of this build, once the instance is known.
pub fn ssh_config(cx: &Cx, st: &BuildState) -> anyhow::Result<comm::SshConfig> {
    let c = &cx.plan.config;
    let inst = st.instance()?;
    let host = match (&c.ssh_host, c.ssh_interface.as_deref()) {
        (Some(h), _) => Some(h.clone()),
        (None, Some("public_ip")) => inst.public_ip.clone(),
        (None, Some("private_ip")) => inst.private_ip.clone(),
        (None, Some("public_dns")) => inst.public_dns.clone(),
        (None, Some("private_dns")) => inst.private_dns.clone(),
        (None, Some("ipv6")) => inst.ipv6.clone(),
        // The SSM plugin's local end of the tunnel (its port is set when it opens).
        (None, Some("session_manager")) => Some("localhost".to_string()),
        // Packer's automatic choice: the public address, else the private one.
        (None, _) => inst
            .public_ip
            .clone()
            .or(inst.private_ip.clone())
            .or(inst.public_dns.clone()),
    }
    .ok_or_else(|| {
        anyhow::anyhow!(
            "instance {} has no address for ssh_interface {:?}; set ssh_interface or ssh_host",
            inst.id,
            c.ssh_interface
        )
    })?;
    let auth = if let Some(p) = &c.ssh_password {
        comm::connect::Auth::Password(p.clone())
    } else if c.ssh_agent_auth {
        comm::connect::Auth::Agent
    } else {
        with_cert(
            st.key.private_key_pem.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "no SSH key: set ssh_private_key_file, ssh_agent_auth or ssh_password"
                )
            })?,
            &c.ssh_certificate_file,
        )?
    };
    let dur = |v: &Option<String>| {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let keep_alive = match c.ssh_keep_alive_interval.as_deref() {
        Some(v) if v.starts_with('-') => None,
        Some(v) => Some(parse_duration(v).map_err(anyhow::Error::msg)?),
        None => Some(Duration::from_secs(5)),
    };
    Ok(comm::SshConfig {
        host,
        port: c.ssh_port.unwrap_or(22) as u16,
        user: c.ssh_username.clone().unwrap_or_default(),
        auth,
        timeout: dur(&c.ssh_timeout)?
            .or(dur(&c.ssh_wait_timeout)?)
            .unwrap_or(Duration::from_secs(300)),
        handshake_attempts: c.ssh_handshake_attempts.unwrap_or(10).max(1) as u32,
        keep_alive,
        rw_timeout: dur(&c.ssh_read_write_timeout)?.filter(|d| !d.is_zero()),
        pty: c.ssh_pty,
        transfer: if c.ssh_file_transfer_method.as_deref() == Some("sftp") {
            comm::ssh::Transfer::Sftp
        } else {
            comm::ssh::Transfer::Scp
        },
        first_retry: Duration::from_secs(1),
        host_key: Default::default(),
        ciphers: c.ssh_ciphers.clone(),
        kex: c.ssh_key_exchange_algorithms.clone(),
        // Never with a bastion: validate refuses the two together, as Packer does.
        proxy: c
            .ssh_proxy_host
            .clone()
            .filter(|_| c.ssh_bastion_host.is_none())
            .map(|host| comm::connect::Socks5 {
                host,
                port: c.ssh_proxy_port.unwrap_or(1080) as u16,
                login: c
                    .ssh_proxy_username
                    .clone()
                    .map(|u| (u, c.ssh_proxy_password.clone().unwrap_or_default())),
            }),
        bastion: match &c.ssh_bastion_host {
            None => None,
            Some(h) => Some(comm::bastion::Bastion {
                host: h.clone(),
                port: c.ssh_bastion_port.unwrap_or(22) as u16,
                user: c.ssh_bastion_username.clone().unwrap_or_default(),
                auth: if let Some(p) = &c.ssh_bastion_password {
                    comm::connect::Auth::Password(p.clone())
                } else if c.ssh_bastion_agent_auth {
                    comm::connect::Auth::Agent
                } else {
                    let (key, cert) = c.bastion_key();
                    let f = crate::paths::expand_home(key.unwrap_or_default());
                    let pem = std::fs::read_to_string(&f).map_err(|e| {
                        anyhow::anyhow!("cannot read the bastion's key {}: {e}", f.display())
                    })?;
                    cx.ui.add_secret(&pem);
                    with_cert(pem, &cert.map(String::from))?
                },
                ask: c.ssh_bastion_interactive.then(|| terminal_asker(cx)),
                known_hosts: dirs::home_dir()
                    .map(|h| h.join(".ssh/known_hosts"))
                    .filter(|p| p.is_file()),
                host_key: Default::default(),
                report: Default::default(),
            }),
        },
    })
}

/// Questions for the person at the terminal (the bastion's keyboard-interactive prompts): one
/// at a time across parallel builds, with the status lines held off, read from stdin
/// when it is a terminal and from /dev/tty otherwise (Packer's rule), without echo unless the
/// server allows it.
fn terminal_asker(cx: &Cx) -> comm::bastion::Ask {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let ui = cx.ui.clone();
    let build = cx.plan.name.clone();
    std::sync::Arc::new(move |text: &str, echo: bool| {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let _hold = ui.hold_for_input();
        let term = console::Term::stderr();
        term.write_str(&format!("{build}: bastion asks: {text}"))
            .ok()?;
        let answer = if echo {
            term.read_line()
        } else {
            term.read_secure_line()
        };
        let _ = term.write_line("");
        answer.ok()
    })
}

/// A key, with its OpenSSH certificate when one is configured.
fn with_cert(pem: String, cert_file: &Option<String>) -> anyhow::Result<comm::connect::Auth> {
    Ok(match cert_file {
        None => comm::connect::Auth::Key(pem),
        Some(f) => {
            let f = crate::paths::expand_home(f);
            let cert = std::fs::read_to_string(&f)
                .map_err(|e| anyhow::anyhow!("cannot read certificate {}: {e}", f.display()))?;
            comm::connect::Auth::Cert { key: pem, cert }
        }
    })
}

/// Connects (for SSH builds) and runs the build's provisioners in order; on failure, the
/// error-cleanup provisioner first.
pub async fn run_all(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let mut tunnel = None;
    let r = connect_and_run(cx, st, &mut tunnel).await;
    if let Some(t) = tunnel {
        t.close().await;
    }
    r
}

/// `session_manager`: after `pause_before_ssm`, the SSM tunnel SSH goes through.
async fn open_tunnel(cx: &Cx, st: &BuildState) -> anyhow::Result<comm::ssm::Tunnel> {
    let c = &cx.plan.config;
    if let Some(p) = c
        .pause_before_ssm
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .filter(|p| !p.is_zero())
    {
        cx.ui.say(&format!(
            "Waiting {} before establishing the SSM session...",
            crate::duration::format_duration(p)
        ));
        sleep_cancellable(cx, p).await?;
    }
    comm::ssm::open(
        cx.session.ssm(),
        cx.region(),
        &st.instance()?.id,
        c.ssh_port.unwrap_or(22) as u16,
        c.session_manager_port.map(|p| p as u16),
        &cx.ui,
        &cx.cancel,
    )
    .await
}

async fn connect_and_run(
    cx: &Cx,
    st: &mut BuildState,
    tunnel: &mut Option<comm::ssm::Tunnel>,
) -> anyhow::Result<()> {
    let mut comm = None;
    // Open for as long as the provisioners run; dropped (closed) when this returns.
    let mut _tunnels = None;
    if cx.plan.config.communicator() == "ssh" {
        let mut cfg = ssh_config(cx, st)?;
        if cx.plan.decided.session_manager {
            let t = open_tunnel(cx, st).await?;
            cfg.port = t.port;
            *tunnel = Some(t);
        }
        st.host = Some(cfg.host.clone());
        let mut ssh = comm::connect(&cfg, &cx.cancel, &cx.ui).await?;
        if let Some(p) = cx
            .plan
            .config
            .pause_before_connecting
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(anyhow::Error::msg)?
        {
            drop(ssh);
            cx.ui.say(&format!(
                "Pausing {} before connecting again...",
                crate::duration::format_duration(p)
            ));
            sleep_cancellable(cx, p).await?;
            ssh = comm::connect(&cfg, &cx.cancel, &cx.ui).await?;
        }
        let c = &cx.plan.config;
        if !c.ssh_local_tunnels.is_empty() || !c.ssh_remote_tunnels.is_empty() {
            let specs = |l: &[String]| -> anyhow::Result<Vec<comm::tunnels::Spec>> {
                l.iter()
                    .map(|t| comm::tunnels::parse(t).map_err(anyhow::Error::msg))
                    .collect()
            };
            _tunnels = Some(
                comm::tunnels::start(
                    &cfg,
                    &specs(&c.ssh_local_tunnels)?,
                    &specs(&c.ssh_remote_tunnels)?,
                    &cx.ui,
                )
                .await?,
            );
        }
        comm = Some(remote::Comm::new(cfg, ssh));
    }
    let from = st.provision_from;
    if from > 0 {
        cx.ui.say(&format!(
            "Resuming: provisioners 1 to {from} already ran; starting with provisioner {}",
            from + 1
        ));
    }
    st.provisioned = from;
    let r = run_from(cx, st, &mut comm, from).await;
    st.provisioned = from + r.as_ref().map_or_else(|(done, _)| *done, |done| *done);
    r.map(|_| ()).map_err(|(_, e)| e)
}

/// Runs the provisioners from index `from`; says how many finished, with the error if one
/// failed.
async fn run_from(
    cx: &Cx,
    st: &BuildState,
    comm: &mut Option<remote::Comm>,
    from: usize,
) -> Result<usize, (usize, anyhow::Error)> {
    let mut done = 0;
    for p in cx.plan.provisioners.iter().skip(from) {
        cx.check_cancel().map_err(|e| (done, e))?;
        if let Err(e) = run_one(cx, st, comm, p).await {
            if !e.is::<Interrupted>()
                && let Some(cleanup) = &cx.plan.error_cleanup
            {
                cx.ui.say(
                    "Provisioning step had errors: Running the cleanup provisioner, if present...",
                );
                if let Err(ce) = run_one(cx, st, comm, cleanup).await {
                    cx.ui
                        .error(&format!("The error-cleanup provisioner failed too: {ce:#}"));
                }
            }
            return Err((done, e));
        }
        done += 1;
    }
    if let (Some(c), true, true) = (
        comm.as_mut(),
        cx.plan.config.ssh_clear_authorized_keys,
        st.key.temporary,
    ) {
        clear_authorized_keys(cx, st, c)
            .await
            .map_err(|e| (done, e))?;
    }
    Ok(done)
}

/// `ssh_clear_authorized_keys`: removes the temporary key from the user's and root's files.
async fn clear_authorized_keys(
    cx: &Cx,
    st: &BuildState,
    c: &mut remote::Comm,
) -> anyhow::Result<()> {
    let Some(name) = &st.key.name else {
        return Ok(());
    };
    let out = cx
        .ec2
        .describe_key_pairs()
        .key_names(name)
        .include_public_key(true)
        .send()
        .await
        .map_err(|e| crate::job::context::aws_err("ec2:DescribeKeyPairs", cx.region(), e))?;
    let Some(pubkey) = out.key_pairs().first().and_then(|k| k.public_key()) else {
        return Ok(());
    };
    let body = pubkey.split_whitespace().nth(1).unwrap_or_default();
    if body.is_empty() {
        return Ok(());
    }
    cx.ui
        .say("Trying to remove ephemeral keys from authorized_keys files");
    let pattern = body.replace('/', "\\/");
    let cmd = format!(
        "sed -i.bak '/{pattern}/d' ~/.ssh/authorized_keys; rm -f ~/.ssh/authorized_keys.bak; sudo -n sed -i.bak '/{pattern}/d' /root/.ssh/authorized_keys 2>/dev/null; sudo -n rm -f /root/.ssh/authorized_keys.bak 2>/dev/null; true"
    );
    c.exec(cx, &cmd).await?;
    Ok(())
}
