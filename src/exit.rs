//! Exit codes, one place: scripts and CI gate on these.

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The build or validation failed.
    Failed = 1,
    /// Bad command line, or a command that does not exist yet.
    Usage = 2,
    /// `fmt -check` found unformatted files (Packer uses 3 too).
    Unformatted = 3,
    /// Stopped by Ctrl-C / SIGTERM.
    Interrupted = 130,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
