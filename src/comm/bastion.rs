//! Jump host (`ssh_bastion_*`): the instance's SSH connection is tunnelled through a
//! direct-tcpip channel on the bastion. libssh2 sessions need a socket, so one end of a Unix
//! socket pair becomes the instance session's "TCP stream", and a pump thread moves bytes
//! between the other end and the bastion channel until either side closes.

use super::connect::{Auth, authenticate};
use ssh2::Session;
use std::io::{ErrorKind, Read, Write};
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
    let mut ch = sess
        .channel_direct_tcpip(target, port, None)
        .map_err(|e| format!("bastion could not open a tunnel to {target}:{port}: {e}"))?;
    let (local, mut remote) = UnixStream::pair().map_err(|e| e.to_string())?;
    remote.set_nonblocking(true).map_err(|e| e.to_string())?;
    sess.set_blocking(false);
    std::thread::spawn(move || {
        // The session must live as long as its channel: keep it in this thread.
        let _sess = sess;
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let mut to_remote: Vec<u8> = Vec::new();
        loop {
            let mut idle = true;
            // Instance session → bastion channel.
            if pending.is_empty() {
                match remote.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
            if !pending.is_empty() {
                match ch.write(&pending) {
                    Ok(n) => {
                        pending.drain(..n);
                        idle = false;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
            // Bastion channel → instance session.
            if to_remote.is_empty() {
                match ch.read(&mut buf) {
                    Ok(0) if ch.eof() => break,
                    Ok(0) => {}
                    Ok(n) => to_remote.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
            if !to_remote.is_empty() {
                match remote.write(&to_remote) {
                    Ok(n) => {
                        to_remote.drain(..n);
                        idle = false;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
            if idle {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });
    Ok(local)
}
