//! Waiting for SSH: TCP dial with its own timeout, then handshake, then authentication,
//! retried until `ssh_timeout`, telling apart "port closed", "handshake failed" and
//! "authentication failed" — and giving up on authentication after `ssh_handshake_attempts`
//! with a hint, instead of trying for the whole timeout.

use super::quick_ack::QuickAck;
use super::ssh::{Ssh, Transfer};
use crate::ui::Ui;
use ssh2::Session;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub enum Auth {
    /// A private key in PEM (RSA PKCS#1, OpenSSH ed25519, …).
    Key(String),
    /// A private key and the OpenSSH certificate signed for it (`ssh_certificate_file`).
    Cert {
        key: String,
        cert: String,
    },
    Agent,
    Password(String),
}

#[derive(Clone)]
pub struct SshConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
    pub timeout: Duration,
    pub handshake_attempts: u32,
    pub keep_alive: Option<Duration>,
    pub rw_timeout: Option<Duration>,
    pub pty: bool,
    pub transfer: Transfer,
    /// The pause between attempts grows from this to 5 s (Packer waits 5 s every time).
    pub first_retry: Duration,
    pub bastion: Option<super::bastion::Bastion>,
    /// The instance's host key, pinned at the first handshake: every later connection of the
    /// build (reconnects after `expect_disconnect`, retries) must present the same key.
    pub host_key: HostKeyPin,
    /// `ssh_ciphers`, `ssh_key_exchange_algorithms`: what the session offers, in order (empty:
    /// libssh2's defaults).
    pub ciphers: Vec<String>,
    pub kex: Vec<String>,
    /// `ssh_proxy_*`: the connection goes through this SOCKS5 proxy.
    pub proxy: Option<Socks5>,
}

#[derive(Clone)]
pub struct Socks5 {
    pub host: String,
    pub port: u16,
    /// Username and password, when the proxy asks for them.
    pub login: Option<(String, String)>,
}

/// The algorithms of one kind that libssh2 implements.
pub fn supported_algorithms(kind: ssh2::MethodType) -> Vec<String> {
    Session::new()
        .ok()
        .and_then(|s| s.supported_algs(kind).ok())
        .map(|v| v.into_iter().map(String::from).collect())
        .unwrap_or_default()
}

/// Offers only the chosen algorithms (those libssh2 knows; validate warned about the rest).
fn prefer(sess: &Session, c: &SshConfig) -> Result<(), String> {
    use ssh2::MethodType as M;
    for (list, kinds) in [
        (&c.ciphers, &[M::CryptCs, M::CryptSc][..]),
        (&c.kex, &[M::Kex][..]),
    ] {
        if list.is_empty() {
            continue;
        }
        for &kind in kinds {
            let known = sess.supported_algs(kind).unwrap_or_default();
            let pref: Vec<&str> = list
                .iter()
                .map(String::as_str)
                .filter(|a| known.contains(a))
                .collect();
            sess.method_pref(kind, &pref.join(","))
                .map_err(|e| format!("cannot offer {list:?}: {e}"))?;
        }
    }
    Ok(())
}

/// A TCP connection to `host:port`, through the SOCKS5 proxy when there is one.
fn dial(c: &SshConfig, host: &str, port: u16) -> Result<TcpStream, String> {
    let tcp = match &c.proxy {
        None => {
            let addr = (host, port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .next()
                .ok_or_else(|| format!("{host} has no address"))?;
            TcpStream::connect_timeout(&addr, Duration::from_secs(15)).map_err(|e| e.to_string())?
        }
        Some(p) => {
            // The proxy resolves the target's name, as Packer's proxy dialer lets it.
            let target = (host, port);
            let s = match &p.login {
                None => socks::Socks5Stream::connect((p.host.as_str(), p.port), target),
                Some((u, pw)) => socks::Socks5Stream::connect_with_password(
                    (p.host.as_str(), p.port),
                    target,
                    u,
                    pw,
                ),
            }
            .map_err(|e| format!("through SOCKS5 proxy {}:{}: {e}", p.host, p.port))?;
            s.into_inner()
        }
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// The machine answering is not the one the build first reached: never retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostKeyChanged(pub String);

/// Shared by every clone of a build's [`SshConfig`]: the key and its fingerprint.
pub type HostKeyPin = Arc<Mutex<Option<(Vec<u8>, String)>>>;

/// What a host key pin says of the key a session just presented.
pub(crate) enum Pinned {
    /// The first key met this build: now pinned.
    First,
    /// The pinned key again.
    Same,
    /// Another key than the pinned one (whose fingerprint this is): refuse.
    Changed(String),
}

/// Checks the session's host key against the pin, pinning it when it is the first.
pub(crate) fn check_pin(pin: &HostKeyPin, sess: &Session) -> Pinned {
    let Some((key, _)) = sess.host_key() else {
        return Pinned::Same;
    };
    let mut pin = pin.lock().unwrap_or_else(|p| p.into_inner());
    match pin.as_ref() {
        Some((first, first_fp)) if first.as_slice() != key => Pinned::Changed(first_fp.clone()),
        Some(_) => Pinned::Same,
        None => {
            *pin = Some((key.to_vec(), fingerprint(sess)));
            Pinned::First
        }
    }
}

/// The session's host key fingerprint, as OpenSSH prints it.
pub(crate) fn fingerprint(sess: &Session) -> String {
    use base64::Engine as _;
    sess.host_key_hash(ssh2::HashType::Sha256)
        .map(|h| {
            format!(
                "SHA256:{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(h)
            )
        })
        .unwrap_or_else(|| "(unknown)".into())
}

/// Authenticates a session that has done its handshake.
pub fn authenticate(sess: &Session, user: &str, auth: &Auth) -> Result<(), String> {
    let r = match auth {
        Auth::Key(pem) => sess.userauth_pubkey_memory(user, None, pem, None),
        Auth::Cert { key, cert } => sess.userauth_pubkey_memory(user, Some(cert), key, None),
        Auth::Agent => sess.userauth_agent(user),
        Auth::Password(p) => sess.userauth_password(user, p),
    };
    r.map_err(|e| e.message().to_string())?;
    if sess.authenticated() {
        Ok(())
    } else {
        Err("the server did not accept the credentials".into())
    }
}

#[derive(Debug)]
enum Attempt {
    Tcp(String),
    Handshake(String),
    Auth(String),
    /// Another machine answers: never retried, no credentials sent.
    HostKey(String),
}

/// One more session to the instance, as the build's first one was made (bastion, proxy, pinned
/// host key, same credentials): for tunnels, which must not share the provisioners' session.
pub fn open_session(c: &SshConfig) -> Result<Session, String> {
    try_once(c).map(|(sess, _)| sess).map_err(|e| match e {
        Attempt::Tcp(e) | Attempt::Handshake(e) | Attempt::Auth(e) | Attempt::HostKey(e) => e,
    })
}

fn try_once(c: &SshConfig) -> Result<(Session, QuickAck), Attempt> {
    let mut sess = Session::new().map_err(|e| Attempt::Handshake(e.to_string()))?;
    let mut quick_ack = QuickAck::default();
    match &c.bastion {
        Some(b) => sess.set_tcp_stream(super::bastion::tunnel(b, &c.host, c.port).map_err(
            |e| match e {
                super::bastion::TunnelError::HostKey(e) => Attempt::HostKey(e),
                super::bastion::TunnelError::Failed(e) => Attempt::Tcp(e),
            },
        )?),
        None => {
            let tcp = dial(c, &c.host, c.port).map_err(Attempt::Tcp)?;
            quick_ack = QuickAck::of(&tcp);
            sess.set_tcp_stream(tcp)
        }
    }
    prefer(&sess, c).map_err(Attempt::Handshake)?;
    sess.set_timeout(15_000);
    sess.handshake()
        .map_err(|e| Attempt::Handshake(e.to_string()))?;
    // Before any credential goes out: is this the machine the build first reached?
    if let Pinned::Changed(first_fp) = check_pin(&c.host_key, &sess) {
        return Err(Attempt::HostKey(format!(
            "the host key of {}:{} changed since the build's first connection ({first_fp} then, {} now): refusing to connect — another machine may be answering at this address",
            c.host,
            c.port,
            fingerprint(&sess)
        )));
    }
    authenticate(&sess, &c.user, &c.auth).map_err(Attempt::Auth)?;
    if let Some(k) = c.keep_alive {
        sess.set_keepalive(false, k.as_secs().max(1) as u32);
    }
    // From here on, blocking calls come back every second so cancellation is noticed.
    sess.set_timeout(1000);
    Ok((sess, quick_ack))
}

/// Connects, retrying until `timeout`. Cancellable at any moment.
pub async fn connect(c: &SshConfig, cancel: &CancellationToken, ui: &Ui) -> anyhow::Result<Ssh> {
    match &c.bastion {
        Some(b) => ui.say(&format!(
            "Using SSH communicator to connect: {} (through bastion {}@{}:{})",
            c.host, b.user, b.host, b.port
        )),
        None => ui.say(&format!("Using SSH communicator to connect: {}", c.host)),
    }
    ui.say("Waiting for SSH to become available...");
    let start = Instant::now();
    let mut auth_failures = 0;
    let mut delay = c.first_retry;
    let mut last: String;
    loop {
        let cfg = c.clone();
        let attempt = tokio::select! {
            r = tokio::task::spawn_blocking(move || try_once(&cfg)) => r.map_err(|e| anyhow::anyhow!("ssh connect task: {e}"))?,
            _ = cancel.cancelled() => return Err(crate::cancel::Interrupted.into()),
        };
        match attempt {
            Ok((sess, quick_ack)) => {
                if let Some(note) = c.bastion.as_ref().and_then(|b| b.take_report()) {
                    ui.message(&note);
                }
                ui.say("Connected to SSH!");
                // The build's own instance is brand new: its host key is accepted on first use,
                // then pinned for the rest of the build.
                if sess.host_key().is_some() {
                    ui.message(&format!(
                        "Host key {} accepted on first use (a fresh instance) and pinned for this build",
                        fingerprint(&sess)
                    ));
                }
                let flag = Arc::new(AtomicBool::new(false));
                let f = flag.clone();
                let token = cancel.clone();
                tokio::spawn(async move {
                    token.cancelled().await;
                    f.store(true, Ordering::SeqCst);
                });
                return Ok(Ssh {
                    sess: Arc::new(Mutex::new(sess)),
                    cancel: flag,
                    pty: c.pty,
                    transfer: c.transfer,
                    rw_timeout: c.rw_timeout,
                    quick_ack,
                });
            }
            Err(Attempt::Auth(e)) => {
                auth_failures += 1;
                last = format!("authentication failed: {e}");
                ui.message(&format!(
                    "[attempt {auth_failures}/{}] {last}",
                    c.handshake_attempts
                ));
                if auth_failures >= c.handshake_attempts {
                    anyhow::bail!(
                        "SSH authentication as {:?} on {}:{} failed {auth_failures} times: {e}. Is ssh_username right for this AMI (ec2-user for Amazon Linux, ubuntu for Ubuntu, admin for Debian)? If the server refuses the key type, try temporary_key_pair_type = \"ed25519\".",
                        c.user,
                        c.host,
                        c.port
                    );
                }
            }
            Err(Attempt::Handshake(e)) => {
                last = format!("SSH handshake failed (banner or key exchange): {e}");
                ui.message(&last);
            }
            Err(Attempt::Tcp(e)) => last = format!("port {} closed or unreachable: {e}", c.port),
            Err(Attempt::HostKey(e)) => return Err(HostKeyChanged(e).into()),
        }
        if start.elapsed() + delay > c.timeout {
            anyhow::bail!(
                "Timeout waiting for SSH (ssh_timeout {}): the last attempt said: {last}",
                crate::duration::format_duration(c.timeout)
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.cancelled() => return Err(crate::cancel::Interrupted.into()),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
