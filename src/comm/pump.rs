//! Moving bytes between an SSH channel and a local socket without blocking either: libssh2
//! channels of a non-blocking session are pumped from one thread, a step at a time, so one
//! thread can serve several channels of the same session (remote tunnels) or keep a session
//! alive for exactly as long as its one channel (bastion, local tunnels).

use ssh2::{Channel, Session};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The bytes in flight between one socket and one channel.
#[derive(Default)]
pub struct Pipe {
    to_channel: Vec<u8>,
    to_socket: Vec<u8>,
}

/// What one pump step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Moved,
    Idle,
    /// Either side closed or failed: the pair is done.
    Closed,
}

/// The pause of a pump thread with nothing to move: 200 µs while traffic is recent (a transfer
/// in full flow pauses often and briefly: growing the pause there cost a tenth of a bastion
/// transfer's speed), then, once the pipe has been quiet for about 10 ms, doubling up to 20 ms —
/// so an idle tunnel wakes about 50 times a second instead of 5,000.
#[derive(Default)]
pub struct Idle {
    quiet: u32,
}

impl Idle {
    const FIRST: Duration = Duration::from_micros(200);
    const MOST: Duration = Duration::from_millis(20);
    /// Quiet pauses at the first length before they grow (50 × 200 µs = 10 ms).
    const PATIENCE: u32 = 50;

    /// Something moved: the next pause starts short again.
    pub fn reset(&mut self) {
        self.quiet = 0;
    }
    /// How long the next quiet pause is (and counts it).
    pub fn pause(&mut self) -> Duration {
        let grown = self.quiet.saturating_sub(Self::PATIENCE).min(7);
        let d = Self::FIRST.saturating_mul(1 << grown).min(Self::MOST);
        self.quiet = self.quiet.saturating_add(1);
        d
    }
    /// Sleeps the next quiet pause.
    pub fn sleep(&mut self) {
        std::thread::sleep(self.pause());
    }
}

impl Pipe {
    /// One step each way.
    pub fn step<S: Read + Write>(
        &mut self,
        sock: &mut S,
        ch: &mut Channel,
        buf: &mut [u8],
    ) -> Step {
        let mut moved = false;
        if self.to_channel.is_empty() {
            match sock.read(buf) {
                Ok(0) => return Step::Closed,
                Ok(n) => self.to_channel.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return Step::Closed,
            }
        }
        if !self.to_channel.is_empty() {
            match ch.write(&self.to_channel) {
                Ok(n) => {
                    self.to_channel.drain(..n);
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return Step::Closed,
            }
        }
        if self.to_socket.is_empty() {
            match ch.read(buf) {
                Ok(0) if ch.eof() => return Step::Closed,
                Ok(0) => {}
                Ok(n) => self.to_socket.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return Step::Closed,
            }
        }
        if !self.to_socket.is_empty() {
            match sock.write(&self.to_socket) {
                Ok(n) => {
                    self.to_socket.drain(..n);
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return Step::Closed,
            }
        }
        if moved { Step::Moved } else { Step::Idle }
    }
}

/// Hands the channel's bytes to the returned local socket, on a thread of its own that keeps
/// the session alive until either end closes.
pub fn spawn(sess: Session, mut ch: Channel) -> Result<UnixStream, String> {
    let (local, mut remote) = UnixStream::pair().map_err(|e| e.to_string())?;
    remote.set_nonblocking(true).map_err(|e| e.to_string())?;
    sess.set_blocking(false);
    std::thread::spawn(move || {
        // The session must live as long as its channel: keep it in this thread.
        let _sess = sess;
        let mut buf = vec![0u8; 64 * 1024];
        let mut pipe = Pipe::default();
        let mut idle = Idle::default();
        loop {
            match pipe.step(&mut remote, &mut ch, &mut buf) {
                Step::Moved => idle.reset(),
                Step::Idle => idle.sleep(),
                Step::Closed => break,
            }
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_pauses_grow_to_twenty_ms_and_reset_on_traffic() {
        let mut i = Idle::default();
        let first: Vec<u128> = (0..Idle::PATIENCE).map(|_| i.pause().as_micros()).collect();
        assert!(
            first.iter().all(|&d| d == 200),
            "short while traffic is recent"
        );
        let then: Vec<u128> = (0..9).map(|_| i.pause().as_micros()).collect();
        assert_eq!(then, [200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000]);
        i.reset();
        assert_eq!(i.pause(), Duration::from_micros(200));
    }
}
