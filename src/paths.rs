//! File paths as Packer reads them: `~` is the home directory.

use std::path::PathBuf;

/// `~/x` → the home directory's `x`; anything else unchanged. Used for every path option too.
pub fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if p == "~" => dirs::home_dir().unwrap_or_else(|| PathBuf::from(p)),
        _ => PathBuf::from(p),
    }
}
