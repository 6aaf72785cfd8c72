//! The artifact of a build (Packer's `AMIs were created:` block), the artifacts its
//! post-processors hand on, and the `manifest` post-processor's `packer-manifest.json`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Artifact {
    pub amis: BTreeMap<String, String>,
}

impl Artifact {
    /// Packer's artifact id: sorted `region:ami` pairs joined with `,`.
    pub fn id(&self) -> String {
        self.amis
            .iter()
            .map(|(r, a)| format!("{r}:{a}"))
            .collect::<Vec<_>>()
            .join(",")
    }
    pub fn describe(&self) -> String {
        let mut s = String::from("AMIs were created:\n");
        for (r, a) in &self.amis {
            s.push_str(&format!("{r}: {a}\n"));
        }
        s
    }
}

/// Files a post-processor made or named (checksum, compress, artifice).
#[derive(Debug, Clone, PartialEq)]
pub struct Files {
    /// Packer's builder id of the post-processor, e.g. `packer.post-processor.compress`.
    pub builder_id: &'static str,
    pub files: Vec<String>,
    /// What the run's artifact list shows for it, in the post-processor's words.
    pub string: String,
}

/// One entry of a build's artifact list: its AMIs, or a post-processor's files.
#[derive(Debug, Clone)]
pub enum Output {
    Amis(Artifact),
    Files(Files),
}

impl Output {
    pub fn builder_id(&self) -> &'static str {
        match self {
            Self::Amis(_) => "mitchellh.amazonebs",
            Self::Files(f) => f.builder_id,
        }
    }
    /// Packer's artifact id: the AMIs' pairs; a file artifact has none.
    pub fn id(&self) -> String {
        match self {
            Self::Amis(a) => a.id(),
            Self::Files(_) => String::new(),
        }
    }
    pub fn string(&self) -> String {
        match self {
            Self::Amis(a) => a.describe(),
            Self::Files(f) => f.string.clone(),
        }
    }
    pub fn files(&self) -> &[String] {
        match self {
            Self::Amis(_) => &[],
            Self::Files(f) => &f.files,
        }
    }
}

/// A build that made its AMIs: them, and the run's artifact list in Packer's order.
#[derive(Debug, Clone)]
pub struct Built {
    pub amis: Artifact,
    pub outputs: Vec<Output>,
}

/// A manifest entry's `files` item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestFile {
    pub name: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestBuild {
    pub name: String,
    pub builder_type: String,
    pub build_time: i64,
    pub files: Option<Vec<ManifestFile>>,
    pub artifact_id: String,
    pub packer_run_uuid: String,
    pub custom_data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Manifest {
    pub builds: Vec<ManifestBuild>,
    pub last_run_uuid: String,
}

/// Appends one build to the manifest file, as Packer does: entries of earlier runs are kept
/// unless `force` (then the file starts over once per run).
pub fn write_manifest(path: &str, entry: ManifestBuild, force: bool) -> anyhow::Result<()> {
    // Parallel builds of one run append to the same file: serialised by an advisory lock on
    // `<manifest>.lock`. The lock dies with its process, so a file left by a crash never
    // blocks a later build (a create-exclusive marker file did, forever).
    let lock_path = format!("{path}.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| anyhow::anyhow!("cannot open {lock_path}: {e}"))?;
    lock.lock()
        .map_err(|e| anyhow::anyhow!("cannot lock {lock_path}: {e}"))?;
    let mut m: Manifest = match std::fs::read_to_string(path) {
        Ok(s) if s.trim().is_empty() => Manifest::default(),
        // An unreadable manifest holds other builds' entries: refuse rather than replace it.
        Ok(s) => serde_json::from_str(&s).map_err(|e| {
            anyhow::anyhow!("cannot read the manifest {path} ({e}); not overwriting it")
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => anyhow::bail!("cannot read the manifest {path}: {e}"),
    };
    if force && m.last_run_uuid != entry.packer_run_uuid {
        m.builds.clear();
    }
    m.last_run_uuid = entry.packer_run_uuid.clone();
    m.builds.push(entry);
    std::fs::write(path, serde_json::to_string_pretty(&m)? + "\n")
        .map_err(|e| anyhow::anyhow!("cannot write manifest {path}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_and_manifest() {
        let a = Artifact {
            amis: [
                ("us-west-2".to_string(), "ami-b".to_string()),
                ("us-east-1".to_string(), "ami-a".to_string()),
            ]
            .into(),
        };
        assert_eq!(a.id(), "us-east-1:ami-a,us-west-2:ami-b");
        assert_eq!(
            a.describe(),
            "AMIs were created:\nus-east-1: ami-a\nus-west-2: ami-b\n"
        );
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        let p = p.to_str().unwrap();
        let e = |run: &str| ManifestBuild {
            name: "x".into(),
            builder_type: "amazon-ebs".into(),
            build_time: 1,
            files: None,
            artifact_id: a.id(),
            packer_run_uuid: run.into(),
            custom_data: Default::default(),
        };
        write_manifest(p, e("r1"), false).unwrap();
        write_manifest(p, e("r2"), false).unwrap();
        let m: Manifest = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert_eq!(m.builds.len(), 2);
        assert_eq!(m.last_run_uuid, "r2");
        write_manifest(p, e("r3"), true).unwrap();
        let m: Manifest = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert_eq!(m.builds.len(), 1, "-force starts over");
        assert!(
            std::fs::read_to_string(p)
                .unwrap()
                .contains("\"files\": null")
        );
    }

    #[test]
    fn a_lock_file_left_by_a_crash_does_not_block_and_a_bad_manifest_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        let p = p.to_str().unwrap();
        std::fs::write(format!("{p}.lock"), "").unwrap();
        let e = ManifestBuild {
            name: "x".into(),
            builder_type: "amazon-ebs".into(),
            build_time: 1,
            files: None,
            artifact_id: "us-east-1:ami-a".into(),
            packer_run_uuid: "r".into(),
            custom_data: Default::default(),
        };
        write_manifest(p, e.clone(), false).expect("a stale lock file is no obstacle");
        std::fs::write(p, "{ not json").unwrap();
        assert!(write_manifest(p, e, false).is_err());
        assert_eq!(std::fs::read_to_string(p).unwrap(), "{ not json");
    }
}
