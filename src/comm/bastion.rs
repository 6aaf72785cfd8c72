//! Jump host (`ssh_bastion_*`): the instance's SSH connection is tunnelled through a
//! direct-tcpip channel on the bastion. libssh2 sessions need a socket, so one end of a Unix
//! socket pair becomes the instance session's "TCP stream", and a pump thread (`pump`) moves
//! bytes between the other end and the bastion channel until either side closes.

use super::connect::{Auth, authenticate};
use ssh2::Session;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[derive(Clone)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
    /// `~/.ssh/known_hosts`, when there is one: a bastion is a long-lived host, so its key is
    /// checked against what this machine already knows.
    pub known_hosts: Option<std::path::PathBuf>,
    /// The bastion's key as first met this build (pinned like the instance's), and what to
    /// tell the user about it once.
    pub host_key: super::connect::HostKeyPin,
    pub report: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// `ssh_bastion_interactive`: keyboard-interactive questions (a one-time code) after the
    /// credentials above, answered by a person at the terminal.
    pub ask: Option<Ask>,
}

/// Asks the person at the terminal one question (the text to show, whether the answer may be
/// echoed); `None` when there is no terminal to ask.
pub type Ask = std::sync::Arc<dyn Fn(&str, bool) -> Option<String> + Send + Sync>;

/// libssh2's keyboard-interactive callback, answered through [`Ask`].
struct Prompter(Ask);

impl ssh2::KeyboardInteractivePrompt for Prompter {
    fn prompt<'a>(
        &mut self,
        _user: &str,
        instructions: &str,
        prompts: &[ssh2::Prompt<'a>],
    ) -> Vec<String> {
        prompts
            .iter()
            .map(|p| {
                let text = match instructions.trim() {
                    "" => p.text.to_string(),
                    i => format!("{i}\n{}", p.text),
                };
                (self.0)(&text, p.echo).unwrap_or_default()
            })
            .collect()
    }
}

/// The bastion's credentials, then its keyboard-interactive questions when the server wants
/// more (a key and a one-time code: `AuthenticationMethods publickey,keyboard-interactive`) or
/// refused the credentials and takes answers instead.
fn log_in(sess: &Session, b: &Bastion) -> Result<(), String> {
    let first = authenticate(sess, &b.user, &b.auth);
    if sess.authenticated() {
        return Ok(());
    }
    let Some(ask) = &b.ask else {
        return first;
    };
    sess.userauth_keyboard_interactive(&b.user, &mut Prompter(ask.clone()))
        .map_err(|e| format!("keyboard-interactive: {}", e.message()))?;
    if sess.authenticated() {
        Ok(())
    } else {
        Err("the server did not accept the keyboard-interactive answers".into())
    }
}

/// Why a tunnel through the bastion could not be opened.
#[derive(Debug)]
pub enum TunnelError {
    /// Worth another try (the bastion unreachable, refusing, not ready).
    Failed(String),
    /// The bastion is not the machine it was: never retried, no credentials sent.
    HostKey(String),
}

impl std::fmt::Display for TunnelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(e) | Self::HostKey(e) => f.write_str(e),
        }
    }
}

impl Bastion {
    /// What was decided about the bastion's host key, once per build (then `None`).
    pub fn take_report(&self) -> Option<String> {
        self.report.lock().ok()?.take()
    }

    /// Checks the bastion's host key before any credential goes out: against known_hosts when
    /// it lists the bastion, else against the key first met this build (then pinned).
    fn check_host_key(&self, sess: &Session) -> Result<(), String> {
        let Some((key, _)) = sess.host_key() else {
            return Ok(());
        };
        let fp = super::connect::fingerprint(sess);
        let here = format!("{}:{}", self.host, self.port);
        if let Some(path) = &self.known_hosts
            && let Ok(mut kh) = sess.known_hosts()
            && kh.read_file(path, ssh2::KnownHostFileKind::OpenSSH).is_ok()
        {
            match kh.check_port(&self.host, self.port, key) {
                ssh2::CheckResult::Match => {
                    self.tell(format!(
                        "Bastion {here}: host key {fp} matches {}",
                        path.display()
                    ));
                    return Ok(());
                }
                ssh2::CheckResult::Mismatch => {
                    return Err(format!(
                        "the host key of bastion {here} ({fp}) does not match {}: refusing to connect — another machine may be answering at this address (if the bastion's key was changed on purpose, update that file)",
                        path.display()
                    ));
                }
                ssh2::CheckResult::NotFound | ssh2::CheckResult::Failure => {}
            }
        }
        match super::connect::check_pin(&self.host_key, sess) {
            super::connect::Pinned::Changed(first_fp) => Err(format!(
                "the host key of bastion {here} changed since the build's first connection ({first_fp} then, {fp} now): refusing to connect"
            )),
            super::connect::Pinned::Same => Ok(()),
            super::connect::Pinned::First => {
                self.tell(format!(
                    "Bastion {here}: host key {fp} is not in {}; accepted on first use and pinned for this build",
                    self.known_hosts
                        .as_ref()
                        .map_or("~/.ssh/known_hosts".into(), |p| p.display().to_string())
                ));
                Ok(())
            }
        }
    }

    fn tell(&self, s: String) {
        if let Ok(mut r) = self.report.lock()
            && r.is_none()
        {
            *r = Some(s);
        }
    }
}

/// Opens the tunnel to `target:port` through the bastion; returns the local end to hand to the
/// instance's session.
pub fn tunnel(b: &Bastion, target: &str, port: u16) -> Result<UnixStream, TunnelError> {
    open(b, target, port).map_err(TunnelError::Failed)?
}

fn open(b: &Bastion, target: &str, port: u16) -> Result<Result<UnixStream, TunnelError>, String> {
    let addr = (b.host.as_str(), b.port)
        .to_socket_addrs()
        .map_err(|e| format!("bastion {}: {e}", b.host))?
        .next()
        .ok_or("bastion has no address")?;
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(15))
        .map_err(|e| format!("bastion {}:{} unreachable: {e}", b.host, b.port))?;
    let mut sess = Session::new().map_err(|e| e.to_string())?;
    sess.set_tcp_stream(tcp);
    sess.set_timeout(15_000);
    sess.handshake()
        .map_err(|e| format!("bastion handshake: {e}"))?;
    if let Err(e) = b.check_host_key(&sess) {
        return Ok(Err(TunnelError::HostKey(e)));
    }
    log_in(&sess, b).map_err(|e| format!("bastion authentication as {:?}: {e}", b.user))?;
    let ch = sess
        .channel_direct_tcpip(target, port, None)
        .map_err(|e| format!("bastion could not open a tunnel to {target}:{port}: {e}"))?;
    Ok(Ok(super::pump::spawn(sess, ch)?))
}
