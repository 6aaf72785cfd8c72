//! `ssh_local_tunnels` and `ssh_remote_tunnels` (`port:host:hostport`, as `ssh -L`/`-R` take
//! them), open for as long as the build's SSH connection is.
//!
//! Each tunnel has SSH sessions of its own, apart from the one provisioners use: libssh2 lets
//! one thread at a time use a session, and the provisioners' session is busy for minutes on
//! end. A local tunnel opens a session per connection it accepts (a direct-tcpip channel from
//! the instance to host:hostport); a remote tunnel holds one session whose listener on the
//! instance hands each connection to a thread that pumps it to host:hostport here.

use super::connect::{SshConfig, open_session};
use super::pump::{Idle, Pipe, Step};
use crate::ui::Ui;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The port listened on: here for a local tunnel, on the instance for a remote one.
    pub listen_port: u16,
    /// Where connections go: seen from the instance (local) or from here (remote).
    pub host: String,
    pub port: u16,
}

/// Packer's ParseTunnelArgument: `port:host:hostport` (a bind address is not taken).
pub fn parse(s: &str) -> Result<Spec, String> {
    let Some((listen, forward)) = s.split_once(':') else {
        return Err(format!("Error parsing tunnel '{s}': [{s}]"));
    };
    let (host, port) = split_host_port(forward)
        .ok_or_else(|| {
            format!(
                "Error parsing forwarding, must be a tcp address: address {forward}: missing port in address"
            )
        })?;
    let port = port.parse::<u16>().map_err(|_| {
        format!("Error parsing forwarding port, must be a valid port: {port:?} in '{s}'")
    })?;
    let listen_port = listen.parse::<u16>().map_err(|_| {
        format!("Error parsing listening port, must be a valid port: {listen:?} in '{s}'")
    })?;
    Ok(Spec {
        listen_port,
        host: host.to_string(),
        port,
    })
}

/// Go's net.SplitHostPort: `host:port` or `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

/// The open tunnels; dropping them closes every listener and stops every pump.
pub struct Tunnels {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Tunnels {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Opens every tunnel; an error names the tunnel that could not be opened.
pub async fn start(
    cfg: &SshConfig,
    local: &[Spec],
    remote: &[Spec],
    ui: &Ui,
) -> anyhow::Result<Tunnels> {
    let mut t = Tunnels {
        tasks: Vec::new(),
        stop: Arc::new(AtomicBool::new(false)),
    };
    for spec in local {
        t.tasks.push(start_local(cfg, spec).await?);
        ui.message(&format!(
            "Tunnel: 127.0.0.1:{} here → {}:{} from the instance",
            spec.listen_port, spec.host, spec.port
        ));
    }
    for spec in remote {
        let (c, s, stop) = (cfg.clone(), spec.clone(), t.stop.clone());
        tokio::task::spawn_blocking(move || start_remote(&c, &s, stop)).await??;
        ui.message(&format!(
            "Tunnel: localhost:{} on the instance → {}:{} from here",
            spec.listen_port, spec.host, spec.port
        ));
    }
    Ok(t)
}

async fn start_local(cfg: &SshConfig, spec: &Spec) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", spec.listen_port))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "ssh_local_tunnels: cannot listen on 127.0.0.1:{}: {e}",
                spec.listen_port
            )
        })?;
    let (cfg, spec) = (cfg.clone(), spec.clone());
    Ok(tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (cfg, spec) = (cfg.clone(), spec.clone());
            tokio::spawn(async move {
                let opened = tokio::task::spawn_blocking(move || {
                    let sess = open_session(&cfg)?;
                    sess.set_timeout(15_000);
                    let ch = sess
                        .channel_direct_tcpip(&spec.host, spec.port, None)
                        .map_err(|e| {
                            format!(
                                "the instance could not reach {}:{}: {e}",
                                spec.host, spec.port
                            )
                        })?;
                    super::pump::spawn(sess, ch)
                })
                .await;
                if let Ok(Ok(s)) = opened
                    && s.set_nonblocking(true).is_ok()
                    && let Ok(mut out) = tokio::net::UnixStream::from_std(s)
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
                // Otherwise the connection closes: what a client of `ssh -L` sees too.
            });
        }
    }))
}

/// Asks the instance to listen, then serves its connections on a thread until `stop`.
fn start_remote(cfg: &SshConfig, spec: &Spec, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let sess = open_session(cfg).map_err(anyhow::Error::msg)?;
    sess.set_timeout(15_000);
    let (mut listener, _) = sess
        .channel_forward_listen(spec.listen_port, Some("localhost"), None)
        .map_err(|e| {
            anyhow::anyhow!(
                "ssh_remote_tunnels: the instance would not listen on localhost:{}: {e}",
                spec.listen_port
            )
        })?;
    sess.set_blocking(false);
    let spec = spec.clone();
    std::thread::spawn(move || {
        let _sess = &sess;
        let mut buf = vec![0u8; 64 * 1024];
        let mut open: Vec<(Pipe, TcpStream, ssh2::Channel)> = Vec::new();
        let mut idle = Idle::default();
        while !stop.load(Ordering::SeqCst) {
            let mut moved = false;
            if let Ok(ch) = listener.accept() {
                moved = true;
                if let Ok(tcp) = TcpStream::connect((spec.host.as_str(), spec.port))
                    && tcp.set_nonblocking(true).is_ok()
                {
                    open.push((Pipe::default(), tcp, ch));
                }
            }
            open.retain_mut(|(pipe, tcp, ch)| match pipe.step(tcp, ch, &mut buf) {
                Step::Moved => {
                    moved = true;
                    true
                }
                Step::Idle => true,
                Step::Closed => false,
            });
            if moved {
                idle.reset();
            } else {
                idle.sleep();
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_as_packer_parses_them() {
        assert_eq!(
            parse("8080:localhost:80").unwrap(),
            Spec {
                listen_port: 8080,
                host: "localhost".into(),
                port: 80
            }
        );
        assert_eq!(parse("9000:[::1]:22").unwrap().host, "::1");
        assert!(
            parse("8080")
                .unwrap_err()
                .starts_with("Error parsing tunnel")
        );
        assert!(
            parse("8080:localhost")
                .unwrap_err()
                .starts_with("Error parsing forwarding, must be a tcp address")
        );
        assert!(
            parse("8080:localhost:http")
                .unwrap_err()
                .starts_with("Error parsing forwarding port")
        );
        assert!(
            parse("x:localhost:80")
                .unwrap_err()
                .starts_with("Error parsing listening port")
        );
    }
}
