//! The build journal: an append-only JSON-lines file per build, fsync'd per record, so that
//! every cloud resource ambake creates is known on disk before anything waits on it. Cleanup
//! (after a failure, Ctrl-C, or `kill -9` followed by `ambake cleanup`) replays it.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A cloud resource ambake created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    KeyPair {
        region: String,
        name: String,
        /// The id CreateKeyPair returned: the delete checks the name still belongs to it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    SecurityGroup {
        region: String,
        id: String,
    },
    Instance {
        region: String,
        id: String,
    },
    LaunchTemplate {
        region: String,
        id: String,
    },
    Volume {
        region: String,
        id: String,
    },
    Image {
        region: String,
        id: String,
    },
    Snapshot {
        region: String,
        id: String,
    },
    IamRole {
        name: String,
    },
    IamRolePolicy {
        role: String,
        name: String,
    },
    InstanceProfile {
        name: String,
    },
    /// A role added to a profile (removed before either can be deleted).
    ProfileRole {
        profile: String,
        role: String,
    },
    /// The EBS volumes attached to an instance that may survive its termination: resolved
    /// (DescribeInstances) before the instance is terminated, deleted after. Devices in `keep`
    /// (listed in launch_block_device_mappings) are the user's and stay.
    InstanceVolumes {
        region: String,
        instance_id: String,
        keep: Vec<String>,
    },
    /// Written just before RunInstances / CreateFleet: if the process dies before the instance
    /// id is journaled, cleanup finds the instances by this build's tag.
    PendingInstances {
        region: String,
        build_id: String,
    },
    /// Written just before CreateImage / CopyImage: if the id never got written, cleanup finds
    /// the image by its name *and* this build's `ambake:build-id` tag (never by name alone: an
    /// AMI of the same name made by anyone else is not this build's).
    PendingImage {
        region: String,
        name: String,
    },
}

impl Resource {
    pub fn describe(&self) -> String {
        match self {
            Resource::KeyPair { region, name, .. } => format!("key pair {name} ({region})"),
            Resource::SecurityGroup { region, id } => format!("security group {id} ({region})"),
            Resource::Instance { region, id } => format!("instance {id} ({region})"),
            Resource::LaunchTemplate { region, id } => format!("launch template {id} ({region})"),
            Resource::Volume { region, id } => format!("volume {id} ({region})"),
            Resource::Image { region, id } => format!("AMI {id} ({region})"),
            Resource::Snapshot { region, id } => format!("snapshot {id} ({region})"),
            Resource::IamRole { name } => format!("IAM role {name}"),
            Resource::IamRolePolicy { role, name } => {
                format!("IAM inline policy {name} of role {role}")
            }
            Resource::InstanceProfile { name } => format!("instance profile {name}"),
            Resource::ProfileRole { profile, role } => {
                format!("role {role} in instance profile {profile}")
            }
            Resource::PendingInstances { region, build_id } => {
                format!("instances tagged ambake:build-id={build_id} ({region})")
            }
            Resource::PendingImage { region, name } => format!("AMI named {name:?} ({region})"),
            Resource::InstanceVolumes {
                region,
                instance_id,
                ..
            } => format!("volumes left by instance {instance_id} ({region})"),
        }
    }
}

/// Temporary resources go at the end of every build; artifacts stay when the build succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifetime {
    Temporary,
    Artifact,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Written first: what cleanup needs to reach AWS again (never any secret).
    Start {
        build: String,
        region: String,
        endpoint: Option<String>,
        profile: Option<String>,
        assume_role: Option<String>,
        /// The AWS account the build ran in (sts:GetCallerIdentity), when it was checked:
        /// cleanup refuses to run with another account's credentials.
        #[serde(default)]
        account: Option<String>,
        /// Where the credentials came from ("environment variables", "profile x", …).
        #[serde(default)]
        credentials: Option<String>,
    },
    Created {
        resource: Resource,
        lifetime: Lifetime,
    },
    Deleted {
        resource: Resource,
    },
    /// An artifact the finished build keeps: cleanup never touches it.
    Committed {
        resource: Resource,
    },
    Finished {
        outcome: String,
    },
    /// `-on-error=abort` kept the build for `ambake resume`: where it stood.
    Kept {
        state: Box<super::kept::KeptState>,
    },
    /// `ambake resume` took the build over again.
    Resumed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub ts: String,
    pub build_id: String,
    #[serde(flatten)]
    pub event: Event,
}

/// Where journals live: `$AMBAKE_STATE_DIR`, else the user's state dir (`~/.local/state/ambake`).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AMBAKE_STATE_DIR") {
        return PathBuf::from(d);
    }
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("ambake")
        .join("builds")
}

/// Removes a journal whose work is done, with the private key a kept build had beside it.
pub fn discard(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("key"));
}

pub fn path_for(build_id: &str) -> PathBuf {
    dir().join(format!("{build_id}.jsonl"))
}

/// An open journal. Appends are serialised (parallel region copies write concurrently).
pub struct Journal {
    build_id: String,
    path: PathBuf,
    inner: Mutex<(File, u64)>,
}

impl Journal {
    /// Creates a new journal (0600, in a 0700 directory) and holds an exclusive lock on it for
    /// as long as it is open: `ambake cleanup` on this machine skips a journal whose build is
    /// still running.
    pub fn create(build_id: &str) -> std::io::Result<Journal> {
        Self::create_in(&dir(), build_id)
    }

    fn create_in(dir: &Path, build_id: &str) -> std::io::Result<Journal> {
        let path = dir.join(format!("{build_id}.jsonl"));
        create_private_dir(dir)?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        file.try_lock().map_err(lock_error)?;
        // The new directory entry must survive a crash as surely as the records in it.
        File::open(dir)?.sync_all()?;
        Ok(Journal {
            build_id: build_id.to_string(),
            path,
            inner: Mutex::new((file, 0)),
        })
    }

    /// Reopens a journal to append (cleanup of an earlier build), taking its lock: a journal
    /// whose build is still running answers [`Busy`].
    pub fn reopen(path: &Path) -> std::io::Result<Journal> {
        let file = OpenOptions::new().append(true).open(path)?;
        file.try_lock().map_err(lock_error)?;
        // Cut a torn last line (a crash in the middle of a write) so the next record starts on
        // its own line and the torn bytes never read as corruption in the middle.
        let bytes = std::fs::read(path)?;
        if bytes.last().is_some_and(|b| *b != b'\n') {
            let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            file.set_len(keep as u64)?;
        }
        let records = read(path)?;
        let build_id = records
            .first()
            .map(|r| r.build_id.clone())
            .unwrap_or_default();
        let seq = records.last().map(|r| r.seq).unwrap_or(0);
        Ok(Journal {
            build_id,
            path: path.to_path_buf(),
            inner: Mutex::new((file, seq)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn build_id(&self) -> &str {
        &self.build_id
    }

    /// Appends and fsyncs one record. A journal that cannot be written stops the build: a
    /// resource nobody knows about is exactly what it exists to prevent.
    pub fn append(&self, event: Event) -> std::io::Result<()> {
        off_the_workers(|| self.append_now(event))
    }

    fn append_now(&self, event: Event) -> std::io::Result<()> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.1 += 1;
        let rec = Record {
            seq: g.1,
            ts: jiff::Timestamp::now().to_string(),
            build_id: self.build_id.clone(),
            event,
        };
        let mut line = serde_json::to_string(&rec).map_err(std::io::Error::other)?;
        line.push('\n');
        g.0.write_all(line.as_bytes())?;
        g.0.sync_data()
    }
}

/// Runs a blocking write (the lock, then fsync, which can take long on a busy disk) without
/// stalling the async workers: on a multi-threaded runtime the worker hands its other tasks
/// over first (`block_in_place`); elsewhere (tests, a current-thread runtime, no runtime) it
/// just runs.
fn off_the_workers<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// The journal of a build that is still running (its process holds the lock).
#[derive(Debug, thiserror::Error)]
#[error("the build is still running (its journal is locked by another ambake process)")]
pub struct Busy;

fn lock_error(e: std::fs::TryLockError) -> std::io::Error {
    match e {
        std::fs::TryLockError::WouldBlock => {
            std::io::Error::new(std::io::ErrorKind::WouldBlock, Busy)
        }
        std::fs::TryLockError::Error(e) => e,
    }
}

/// True when `e` says the journal belongs to a running build.
pub fn is_busy(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<Busy>())
}

/// True when another process holds this journal's lock (its build is running).
pub fn is_locked(path: &Path) -> bool {
    match File::open(path) {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Creates the state directory, private (0700) for every level it creates; an existing
/// directory keeps its mode (it may be shared, like a `$AMBAKE_STATE_DIR` of /tmp).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A journal read back: its records, and the line numbers of records that could not be read.
#[derive(Debug, Default)]
pub struct Replay {
    pub records: Vec<Record>,
    /// Unreadable lines before the last one: a record there is lost, and what it named may be
    /// missed by a cleanup (reported, never silently dropped).
    pub corrupt: Vec<usize>,
}

impl Journal {
    /// Records resources found after the fact (an AMI's snapshots once it is available).
    pub fn record_all(
        &self,
        resources: impl IntoIterator<Item = Resource>,
        lifetime: Lifetime,
    ) -> std::io::Result<()> {
        for resource in resources {
            self.append(Event::Created { resource, lifetime })?;
        }
        Ok(())
    }
}

/// An AMI's snapshots as journal resources.
pub fn snapshots(region: &str, ids: &[String]) -> Vec<Resource> {
    ids.iter()
        .map(|id| Resource::Snapshot {
            region: region.to_string(),
            id: id.clone(),
        })
        .collect()
}

/// Reads a journal. A torn last line (a crash in the middle of a write) is expected and
/// skipped; an unreadable line elsewhere is listed in [`Replay::corrupt`].
pub fn replay(path: &Path) -> std::io::Result<Replay> {
    let text = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut out = Replay::default();
    for (i, (n, line)) in lines.iter().enumerate() {
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.records.push(r),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(_) => out.corrupt.push(n + 1),
        }
    }
    Ok(out)
}

/// The readable records of a journal (see [`replay`] for the unreadable ones).
pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
    replay(path).map(|r| r.records)
}

/// What is still out there: created, not deleted, in creation order. Artifacts that were
/// committed are left out unless `include_committed`.
pub fn outstanding(records: &[Record], include_committed: bool) -> Vec<(Resource, Lifetime)> {
    let mut live: Vec<(Resource, Lifetime)> = Vec::new();
    for r in records {
        match &r.event {
            Event::Created { resource, lifetime }
                // Recorded twice (e.g. an AMI's snapshots, journaled when it became available
                // and again just before it is deregistered): one entry.
                if !live.iter().any(|(x, _)| x == resource) => {
                    live.push((resource.clone(), *lifetime))
                }
            Event::Deleted { resource } => live.retain(|(x, _)| x != resource),
            Event::Committed { resource } if !include_committed => {
                live.retain(|(x, _)| x != resource)
            }
            _ => {}
        }
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_and_torn_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b.jsonl");
        let j = Journal {
            build_id: "b".into(),
            path: p.clone(),
            inner: Mutex::new((File::create(&p).unwrap(), 0)),
        };
        let kp = Resource::KeyPair {
            region: "r".into(),
            name: "k".into(),
            id: None,
        };
        let i = Resource::Instance {
            region: "r".into(),
            id: "i-1".into(),
        };
        let ami = Resource::Image {
            region: "r".into(),
            id: "ami-1".into(),
        };
        j.append(Event::Created {
            resource: kp.clone(),
            lifetime: Lifetime::Temporary,
        })
        .unwrap();
        j.append(Event::Created {
            resource: i.clone(),
            lifetime: Lifetime::Temporary,
        })
        .unwrap();
        j.append(Event::Created {
            resource: ami.clone(),
            lifetime: Lifetime::Artifact,
        })
        .unwrap();
        j.append(Event::Deleted {
            resource: i.clone(),
        })
        .unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"seq\":5,\"ts\":\"x\",\"build_id\":\"b\",\"ev")
            .unwrap();
        let recs = read(&p).unwrap();
        assert_eq!(recs.len(), 4);
        assert_eq!(
            outstanding(&recs, true),
            vec![
                (kp.clone(), Lifetime::Temporary),
                (ami.clone(), Lifetime::Artifact)
            ]
        );
        drop(j);
        let j = Journal::reopen(&p).unwrap();
        j.append(Event::Committed { resource: ami }).unwrap();
        let r = replay(&p).unwrap();
        assert_eq!(r.records.len(), 5, "the record after the torn line is read");
        assert!(r.corrupt.is_empty(), "a torn tail is cut, not corruption");
        assert_eq!(
            outstanding(&r.records, false),
            vec![(kp, Lifetime::Temporary)]
        );
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b.jsonl");
        let good = |seq: u64| {
            serde_json::to_string(&Record {
                seq,
                ts: String::new(),
                build_id: "b".into(),
                event: Event::Finished {
                    outcome: "x".into(),
                },
            })
            .unwrap()
        };
        std::fs::write(&p, format!("{}\n{{garbage\n{}\n", good(1), good(3))).unwrap();
        let r = replay(&p).unwrap();
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.corrupt, vec![2]);
    }

    #[test]
    fn journals_are_private_and_locked_while_open() {
        use std::os::unix::fs::PermissionsExt as _;
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("a/b");
        let j = Journal::create_in(&state, "x").unwrap();
        let path = j.path().to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&d.path().join("a")), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert!(is_locked(&path));
        let e = Journal::reopen(&path).err().expect("locked");
        assert!(is_busy(&e), "{e}");
        drop(j);
        assert!(!is_locked(&path));
    }
}
