//! How long a build's waits took the last times, kept beside the journals
//! (`wait-times.json`), per build name, region and kind of change ("image-available").
//!
//! A wait that knows roughly how long its change takes need not poll all the way: the same
//! template builds the same AMI from the same source, so its waits take about as long each time.
//! The waiter polls once at the start, then next at 85 % of the shortest time kept, then on its
//! usual schedule (see [`crate::aws::wait::Backoff`]). The file is a hint: unreadable, missing
//! or lost to a concurrent write, the wait just polls on its usual schedule.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Samples kept per key: the shortest of them is the expectation, so one slow day does not
/// make later waits poll late, and a faster AWS is learned from the first run that sees it.
const KEEP: usize = 5;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Kept {
    /// key → seconds each of the last waits took, oldest first.
    waits: BTreeMap<String, Vec<f64>>,
}

#[derive(Debug, Clone)]
pub struct WaitTimes {
    path: PathBuf,
}

impl WaitTimes {
    /// The file beside the journals (`$AMBAKE_STATE_DIR`, else `~/.local/state/ambake/builds`).
    pub fn beside_journals() -> WaitTimes {
        WaitTimes::at(super::journal::dir().join("wait-times.json"))
    }

    pub fn at(path: impl Into<PathBuf>) -> WaitTimes {
        WaitTimes { path: path.into() }
    }

    /// The key of one wait: the build (`amazon-ebs.web`), its region and what it waits for.
    pub fn key(build: &str, region: &str, kind: &str) -> String {
        format!("{build} {region} {kind}")
    }

    fn load(&self) -> Kept {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The shortest time kept for this wait, if any.
    pub fn expected(&self, key: &str) -> Option<Duration> {
        self.load()
            .waits
            .get(key)?
            .iter()
            .copied()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .min_by(f64::total_cmp)
            .map(|s| Duration::from_secs_f64(s.min(7.0 * 86400.0)))
    }

    /// Keeps how long this wait took. Best effort: a write that fails is not the build's
    /// problem, and builds running in parallel may lose one another's sample.
    pub fn record(&self, key: &str, took: Duration) {
        let mut kept = self.load();
        let v = kept.waits.entry(key.to_string()).or_default();
        v.push((took.as_secs_f64() * 1000.0).round() / 1000.0);
        if v.len() > KEEP {
            v.drain(..v.len() - KEEP);
        }
        let _ = write_replacing(&self.path, &kept);
    }
}

/// Written beside and renamed over, so a reader never sees half a file.
fn write_replacing(path: &Path, kept: &Kept) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("{}.{}.tmp", std::process::id(), fastrand::u32(..)));
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(kept).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_five_and_expects_the_shortest() {
        let dir = tempfile::tempdir().unwrap();
        let w = WaitTimes::at(dir.path().join("state/wait-times.json"));
        let k = WaitTimes::key("amazon-ebs.web", "us-east-1", "image-available");
        assert_eq!(w.expected(&k), None);
        for s in [9.0, 31.0, 35.0, 33.5, 40.0, 36.0] {
            w.record(&k, Duration::from_secs_f64(s));
        }
        // 9 s was the oldest of six: gone.
        assert_eq!(w.expected(&k), Some(Duration::from_secs_f64(31.0)));
        let other = WaitTimes::key("amazon-ebs.web", "us-west-2", "image-available");
        assert_eq!(w.expected(&other), None);
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("wait-times.json")]);
    }

    #[test]
    fn an_unreadable_file_is_no_history() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wait-times.json");
        std::fs::write(&p, "{not json").unwrap();
        let w = WaitTimes::at(&p);
        assert_eq!(w.expected("x"), None);
        // And the next record starts it afresh.
        w.record("x", Duration::from_secs(12));
        assert_eq!(w.expected("x"), Some(Duration::from_secs(12)));
    }
}
