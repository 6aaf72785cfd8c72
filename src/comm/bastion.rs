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

/// Opens the tunnel to `target:port` through the bastion; returns the local end to hand to the
/// instance's session.
pub fn tunnel(b: &Bastion, target: &str, port: u16) -> Result<UnixStream, String> {
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
    log_in(&sess, b).map_err(|e| format!("bastion authentication as {:?}: {e}", b.user))?;
    let ch = sess
        .channel_direct_tcpip(target, port, None)
        .map_err(|e| format!("bastion could not open a tunnel to {target}:{port}: {e}"))?;
    super::pump::spawn(sess, ch)
}
