//! What `-on-error=abort` keeps for `ambake resume`: where the build stood when it failed
//! (journaled, never a secret), the private key of a temporary key pair (a 0600 file beside the
//! journal, removed by cleanup), and digests of the options that shaped the kept instance, so a
//! resume can refuse a template whose source changed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptState {
    /// The template as given on the command line, for the resume command printed.
    pub template: String,
    /// The step that failed; resume needs it to be provisioning or later.
    pub failed_step: String,
    pub source_ami: String,
    pub instance_id: String,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub vpc_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub instance_profile: Option<String>,
    pub key_name: Option<String>,
    pub key_temporary: bool,
    pub spot: bool,
    /// How many provisioners had finished: resume starts with the next one.
    pub provisioned: usize,
    /// Digest of each launch option's value (sha-256 of its JSON), by option name.
    pub launch_options: BTreeMap<String, String>,
}

/// The options whose values shaped the instance a resume reuses. Anything else (provisioners,
/// the AMI's name, tags, regions, sharing) may change between the failure and the resume.
pub const LAUNCH_OPTIONS: &[&str] = &[
    "region",
    "source_ami",
    "source_ami_filter",
    "instance_type",
    "spot_price",
    "spot_instance_types",
    "subnet_id",
    "subnet_filter",
    "vpc_id",
    "vpc_filter",
    "availability_zone",
    "security_group_id",
    "security_group_ids",
    "security_group_filter",
    "associate_public_ip_address",
    "iam_instance_profile",
    "temporary_iam_instance_profile_policy_document",
    "user_data",
    "user_data_file",
    "launch_block_device_mappings",
    "ebs_optimized",
    "metadata_options",
    "placement",
    "tenancy",
    "communicator",
    "ssh_username",
    "ssh_keypair_name",
    "ssh_private_key_file",
    "temporary_key_pair_type",
    "temporary_key_pair_bits",
];

/// The digests of the launch options of a configuration (options left out are absent).
pub fn launch_digests(config: &crate::config::ebs::AmazonEbs) -> BTreeMap<String, String> {
    use sha2::Digest as _;
    let v = serde_json::to_value(config).unwrap_or_default();
    LAUNCH_OPTIONS
        .iter()
        .filter_map(|k| {
            let val = v.get(*k).filter(|x| !x.is_null())?;
            let digest = sha2::Sha256::digest(val.to_string().as_bytes());
            Some((k.to_string(), hex(&digest)))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The options whose values differ between the kept build and this configuration.
pub fn changed(kept: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> Vec<String> {
    LAUNCH_OPTIONS
        .iter()
        .filter(|k| kept.get(**k) != now.get(**k))
        .map(|k| k.to_string())
        .collect()
}

/// Where a kept build's private key lives: next to its journal, 0600.
pub fn key_path(build_id: &str) -> PathBuf {
    super::journal::path_for(build_id).with_extension("key")
}

/// Writes the key (fresh, 0600; `create_new` refuses any existing path, a symlink included).
pub fn save_key(build_id: &str, pem: &str) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = key_path(build_id);
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(pem.as_bytes())?;
    f.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_launch_options_count_as_changes() {
        let mut a = crate::config::ebs::AmazonEbs {
            instance_type: Some("t3.micro".into()),
            ami_name: "one".into(),
            ..Default::default()
        };
        let before = launch_digests(&a);
        a.ami_name = "two".into();
        assert!(changed(&before, &launch_digests(&a)).is_empty());
        a.instance_type = Some("t3.large".into());
        assert_eq!(changed(&before, &launch_digests(&a)), ["instance_type"]);
    }
}
