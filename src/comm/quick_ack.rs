//! Acknowledging sshd's packets at once while an operation waits on them.
//!
//! sshd leaves Nagle's algorithm on for sessions without a terminal: when it sends two small
//! packets in a row, the second waits until the client has ACKed the first. Linux delays that
//! ACK by up to 40 ms when the client has nothing to send — and a client waiting for an answer
//! has nothing to send. Right after login sshd sends its host keys (`hostkeys-00@openssh.com`),
//! so the answer to the first request always waited; so do an exec's exit status and a
//! transfer's last packets. An empty scp upload took 50 ms on loopback; with this, 7 ms.
//!
//! Quick-ACK mode is not sticky (the kernel goes back to delayed ACKs as soon as the client
//! sends), and libssh2 does the reads, so while an operation runs a helper thread asks for it
//! again every millisecond (every 5 ms after the first 50 ms): asking also sends an ACK the
//! kernel is holding back.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A handle on the session's socket (none through a bastion, whose local end is not the TCP
/// connection to sshd).
#[derive(Debug, Default, Clone)]
pub struct QuickAck(Option<Arc<TcpStream>>);

/// While it lives, ACKs go out at once. Dropped: the helper stops within 5 ms.
pub struct Acking(Arc<AtomicBool>);

impl Drop for Acking {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl QuickAck {
    pub fn of(tcp: &TcpStream) -> QuickAck {
        QuickAck(tcp.try_clone().ok().map(Arc::new))
    }

    /// Quick ACKs for as long as the returned guard lives. Best effort: without the socket
    /// option (or a thread), ACKs are just delayed as before.
    pub fn during_operation(&self) -> Option<Acking> {
        let tcp = self.0.clone()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("ssh-quick-ack".into())
            .spawn(move || {
                let start = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    if socket2::SockRef::from(tcp.as_ref())
                        .set_tcp_quickack(true)
                        .is_err()
                    {
                        return;
                    }
                    let pause = if start.elapsed() < Duration::from_millis(50) {
                        Duration::from_millis(1)
                    } else {
                        Duration::from_millis(5)
                    };
                    std::thread::sleep(pause);
                }
            })
            .ok()?;
        Some(Acking(stop))
    }
}
