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
    authenticate(&sess, &b.user, &b.auth)
        .map_err(|e| format!("bastion authentication as {:?}: {e}", b.user))?;
    let ch = sess
        .channel_direct_tcpip(target, port, None)
        .map_err(|e| format!("bastion could not open a tunnel to {target}:{port}: {e}"))?;
    super::pump::spawn(sess, ch)
}
