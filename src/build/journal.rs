//! The build journal: an append-only JSON-lines file per build, fsync'd per record, so that
//! every cloud resource ambake creates is known on disk before anything waits on it. Cleanup
//! (after a failure, Ctrl-C, or `kill -9` followed by `ambake cleanup`) replays it.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A cloud resource ambake created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    KeyPair {
        region: String,
        name: String,
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
    /// Written just before CreateImage / CopyImage: found by name if the id never got written.
    PendingImage {
        region: String,
        name: String,
    },
}

impl Resource {
    pub fn describe(&self) -> String {
        match self {
            Resource::KeyPair { region, name } => format!("key pair {name} ({region})"),
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
    pub fn create(build_id: &str) -> std::io::Result<Journal> {
        let path = path_for(build_id);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Journal {
            build_id: build_id.to_string(),
            path,
            inner: Mutex::new((file, 0)),
        })
    }

    /// Reopens a journal to append (cleanup of an earlier build).
    pub fn reopen(path: &Path) -> std::io::Result<Journal> {
        let records = read(path)?;
        let build_id = records
            .first()
            .map(|r| r.build_id.clone())
            .unwrap_or_default();
        let seq = records.last().map(|r| r.seq).unwrap_or(0);
        let mut file = OpenOptions::new().append(true).open(path)?;
        // Finish a torn last line so the next record starts on its own line.
        if std::fs::read(path)?.last().is_some_and(|b| *b != b'\n') {
            file.write_all(b"\n")?;
        }
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

/// Reads a journal, skipping a torn last line (a crash in the middle of a write).
pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
    let f = File::open(path)?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        // A torn line (a crash mid-write) is skipped; records after it still count.
        if let Ok(r) = serde_json::from_str::<Record>(&line) {
            out.push(r);
        }
    }
    Ok(out)
}

/// What is still out there: created, not deleted, in creation order. Artifacts that were
/// committed are left out unless `include_committed`.
pub fn outstanding(records: &[Record], include_committed: bool) -> Vec<(Resource, Lifetime)> {
    let mut live: Vec<(Resource, Lifetime)> = Vec::new();
    for r in records {
        match &r.event {
            Event::Created { resource, lifetime } => live.push((resource.clone(), *lifetime)),
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
        let recs = read(&p).unwrap();
        assert_eq!(recs.len(), 5, "the record after the torn line is read");
        assert_eq!(outstanding(&recs, false), vec![(kp, Lifetime::Temporary)]);
    }
}
