//! An authenticated SSH session and what provisioners do with it: run a command with its
//! output streamed line by line, upload and download files (scp or SFTP, streamed in chunks).

use crate::cancel::Interrupted;
use ssh2::{ExtendedData, Session};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// libssh2's timeout error code: a blocking call gave up after `set_timeout`.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
const CHUNK: usize = 256 * 1024;
/// The longest line of remote output held before it is shown.
const MAX_LINE: usize = 64 * 1024;
const WINDOW: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Scp,
    Sftp,
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    pub exit_code: Option<i32>,
    /// The connection dropped before the command finished (a reboot, `expect_disconnect`).
    pub disconnected: bool,
}

#[derive(Clone)]
pub struct Ssh {
    pub(crate) sess: Arc<Mutex<Session>>,
    pub cancel: Arc<AtomicBool>,
    pub pty: bool,
    pub transfer: Transfer,
    pub rw_timeout: Option<Duration>,
    pub quick_ack: super::quick_ack::QuickAck,
}

/// How an SSH operation failed: cancelled by the build (Ctrl-C), or anything else, described.
#[derive(Debug, thiserror::Error)]
pub enum CommError {
    #[error("interrupted")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

impl From<String> for CommError {
    fn from(s: String) -> Self {
        CommError::Failed(s)
    }
}

impl CommError {
    /// For the layers above: a cancellation is [`Interrupted`], which the engine tells apart
    /// from a failure.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            CommError::Cancelled => Interrupted.into(),
            CommError::Failed(s) => anyhow::anyhow!(s),
        }
    }
}

/// A transfer's I/O error, with what was being done; a cancelled copy stays a cancellation.
fn io_fail(e: std::io::Error, what: &str) -> CommError {
    if e.get_ref().is_some_and(|i| i.is::<Interrupted>()) {
        CommError::Cancelled
    } else {
        CommError::Failed(format!("{what}: {e}"))
    }
}

fn is_timeout(e: &ssh2::Error) -> bool {
    matches!(e.code(), ssh2::ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT))
}
fn io_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) || e.to_string().contains("Timed out")
}

impl Ssh {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Runs `cmd`, calling `on_line` for every line of its output (stdout and stderr merged).
    pub fn exec_blocking(
        &self,
        cmd: &str,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<ExecResult, CommError> {
        let sess = self
            .sess
            .lock()
            .map_err(|_| "ssh session lock poisoned".to_string())?;
        let _acking = self.quick_ack.during_operation();
        let mut ch = loop {
            match sess.channel_session() {
                Ok(c) => break c,
                Err(e) if is_timeout(&e) && !self.cancelled() => continue,
                Err(e) => return Err(format!("cannot open an SSH channel: {e}").into()),
            }
        };
        if self.pty {
            ch.request_pty("xterm", None, None)
                .map_err(|e| format!("cannot get a pty: {e}"))?;
        }
        ch.handle_extended_data(ExtendedData::Merge)
            .map_err(|e| e.to_string())?;
        ch.exec(cmd)
            .map_err(|e| format!("cannot start the remote command: {e}"))?;
        let started = Instant::now();
        let mut buf = vec![0u8; 16 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let mut disconnected = false;
        loop {
            if self.cancelled() {
                let _ = ch.close();
                return Err(CommError::Cancelled);
            }
            if let Some(t) = self.rw_timeout
                && started.elapsed() > t
            {
                let _ = ch.close();
                return Err(format!(
                    "the remote command ran longer than ssh_read_write_timeout ({}s)",
                    t.as_secs()
                )
                .into());
            }
            match ch.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=pos).collect();
                        on_line(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
                    }
                    // Output without a newline (a progress bar, a binary) is shown in pieces
                    // of at most MAX_LINE bytes instead of growing without bound.
                    while pending.len() >= MAX_LINE {
                        let piece: Vec<u8> = pending.drain(..MAX_LINE).collect();
                        on_line(&String::from_utf8_lossy(&piece));
                    }
                }
                Err(e) if io_timeout(&e) => {
                    // Quiet commands: keep the connection alive (libssh2 sends only when the
                    // ssh_keep_alive_interval has passed).
                    let _ = sess.keepalive_send();
                    continue;
                }
                Err(_) => {
                    disconnected = true;
                    break;
                }
            }
        }
        if !pending.is_empty() {
            on_line(String::from_utf8_lossy(&pending).trim_end());
        }
        if disconnected {
            return Ok(ExecResult {
                exit_code: None,
                disconnected: true,
            });
        }
        let mut waited = 0;
        loop {
            match ch.wait_close() {
                Ok(()) => break,
                Err(e) if is_timeout(&e) && waited < 30 && !self.cancelled() => waited += 1,
                Err(_) => {
                    return Ok(ExecResult {
                        exit_code: None,
                        disconnected: true,
                    });
                }
            }
        }
        let code = ch.exit_status().ok();
        // A command killed by a signal has no status, only the signal.
        let signalled = ch.exit_signal().ok().and_then(|s| s.exit_signal).is_some();
        Ok(ExecResult {
            exit_code: if signalled { None } else { code },
            disconnected: false,
        })
    }

    /// Streams `reader` (`size` bytes) to `remote` with `mode`.
    pub fn upload_blocking(
        &self,
        reader: &mut dyn Read,
        size: u64,
        remote: &str,
        mode: i32,
    ) -> Result<(), CommError> {
        let sess = self
            .sess
            .lock()
            .map_err(|_| "ssh session lock poisoned".to_string())?;
        let _acking = self.quick_ack.during_operation();
        let mut buf = vec![0u8; CHUNK];
        match self.transfer {
            Transfer::Scp => {
                let mut ch = retry(
                    || sess.scp_send(Path::new(remote), mode, size, None),
                    &self.cancel,
                )
                .map_err(|e| format!("scp to {remote}: {e}"))?;
                copy(reader, &mut ch, &mut buf, &self.cancel)
                    .map_err(|e| io_fail(e, &format!("scp to {remote}")))?;
                let _ = ch.send_eof();
                let _ = retry(|| ch.wait_eof(), &self.cancel);
                let _ = ch.close();
                let _ = retry(|| ch.wait_close(), &self.cancel);
            }
            Transfer::Sftp => {
                let sftp = retry(|| sess.sftp(), &self.cancel).map_err(|e| format!("sftp: {e}"))?;
                let mut f = retry(|| sftp.create(Path::new(remote)), &self.cancel)
                    .map_err(|e| format!("sftp create {remote}: {e}"))?;
                copy(reader, &mut f, &mut buf, &self.cancel)
                    .map_err(|e| io_fail(e, &format!("sftp write {remote}")))?;
                drop(f);
                let stat = ssh2::FileStat {
                    size: None,
                    uid: None,
                    gid: None,
                    perm: Some(mode as u32),
                    atime: None,
                    mtime: None,
                };
                retry(
                    || sftp.setstat(Path::new(remote), stat.clone()),
                    &self.cancel,
                )
                .map_err(|e| format!("sftp chmod {remote}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Streams `remote` into `writer`; returns its mode.
    pub fn download_blocking(
        &self,
        remote: &str,
        writer: &mut dyn Write,
    ) -> Result<i32, CommError> {
        let sess = self
            .sess
            .lock()
            .map_err(|_| "ssh session lock poisoned".to_string())?;
        let _acking = self.quick_ack.during_operation();
        let mut buf = vec![0u8; CHUNK];
        match self.transfer {
            Transfer::Scp => {
                let (mut ch, stat) = retry(|| sess.scp_recv(Path::new(remote)), &self.cancel)
                    .map_err(|e| format!("scp from {remote}: {e}"))?;
                // A larger receive window keeps more data in flight: downloads were window-bound.
                let _ = retry(|| ch.adjust_receive_window(WINDOW, false), &self.cancel);
                let mut left = stat.size();
                while left > 0 {
                    if self.cancelled() {
                        return Err(CommError::Cancelled);
                    }
                    let want = (left as usize).min(buf.len());
                    match ch.read(&mut buf[..want]) {
                        // The stream ended with bytes still owed: a truncated file, not a
                        // download.
                        Ok(0) => {
                            return Err(format!(
                                "scp from {remote}: the transfer ended after {} of {} bytes",
                                stat.size() - left,
                                stat.size()
                            )
                            .into());
                        }
                        Ok(n) => {
                            writer.write_all(&buf[..n]).map_err(|e| e.to_string())?;
                            left -= n as u64;
                        }
                        Err(e) if io_timeout(&e) => continue,
                        Err(e) => return Err(format!("scp from {remote}: {e}").into()),
                    }
                }
                let _ = ch.send_eof();
                let _ = ch.close();
                Ok(stat.mode())
            }
            Transfer::Sftp => {
                let sftp = retry(|| sess.sftp(), &self.cancel).map_err(|e| format!("sftp: {e}"))?;
                let mut f = retry(|| sftp.open(Path::new(remote)), &self.cancel)
                    .map_err(|e| format!("sftp open {remote}: {e}"))?;
                let mode = f.stat().ok().and_then(|s| s.perm).unwrap_or(0o644) as i32;
                copy(&mut f, writer, &mut buf, &self.cancel)
                    .map_err(|e| io_fail(e, &format!("sftp read {remote}")))?;
                Ok(mode & 0o7777)
            }
        }
    }
}

fn retry<T>(
    mut f: impl FnMut() -> Result<T, ssh2::Error>,
    cancel: &AtomicBool,
) -> Result<T, ssh2::Error> {
    loop {
        match f() {
            Err(e) if is_timeout(&e) && !cancel.load(Ordering::SeqCst) => continue,
            other => return other,
        }
    }
}

fn copy(
    r: &mut dyn Read,
    w: &mut dyn Write,
    buf: &mut [u8],
    cancel: &AtomicBool,
) -> std::io::Result<u64> {
    let mut total = 0;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(std::io::Error::other(Interrupted));
        }
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if io_timeout(&e) => continue,
            Err(e) => return Err(e),
        };
        let mut off = 0;
        while off < n {
            match w.write(&buf[off..n]) {
                Ok(0) => {
                    return Err(std::io::Error::other(
                        "the connection closed during the transfer",
                    ));
                }
                Ok(k) => off += k,
                Err(e) if io_timeout(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        total += n as u64;
    }
}
