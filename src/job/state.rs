//! Typed build state: what earlier steps found out, for later steps. No string-keyed bag.

use crate::template::legacy::{LegacyContext, LegacyValue};
use std::collections::BTreeMap;

pub use crate::aws::images::SourceImage;

/// The SSH key the build logs in with. The private key is a secret: never printed.
#[derive(Clone, Default)]
pub struct KeyMaterial {
    pub name: Option<String>,
    pub private_key_pem: Option<String>,
    /// The key pair's public key (OpenSSH format), read when the template uses it.
    pub public_key: Option<String>,
    pub temporary: bool,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("name", &self.name)
            .field("temporary", &self.temporary)
            .finish_non_exhaustive()
    }
}

/// One EBS volume attached to an instance, as DescribeInstances lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedVolume {
    pub device: Option<String>,
    pub volume_id: String,
    pub delete_on_termination: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct InstanceInfo {
    pub id: String,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub public_dns: Option<String>,
    pub private_dns: Option<String>,
    pub ipv6: Option<String>,
    pub vpc_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct BuildState {
    pub source_image: Option<SourceImage>,
    /// The source AMI as found while the build was pre-validated (both only read AWS, so they
    /// run at once); the source AMI step takes it, checks it and announces it.
    pub source_found: Option<SourceImage>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    /// The other subnets the configuration allows, for a launch that finds no capacity in the
    /// chosen one (most free first).
    pub alternate_subnets: Vec<crate::steps::capacity::Pool>,
    pub key: KeyMaterial,
    pub security_group_ids: Vec<String>,
    pub instance_profile: Option<String>,
    pub instance: Option<InstanceInfo>,
    /// The instance's volumes as the stop wait saw them: after the provisioners (which may
    /// attach more) and nothing of the build changes them later, so the cleanup reads them here
    /// instead of describing the instance again. None when the build did not stop it (spot) or
    /// was resumed.
    pub stopped_volumes: Option<Vec<AttachedVolume>>,
    pub spot: bool,
    /// The AMI in each region (the build region and every copy).
    pub amis: BTreeMap<String, String>,
    pub snapshots: BTreeMap<String, Vec<String>>,
    /// The AMIs finished in their region (tagged `ambake:committed`, journaled as committed).
    pub committed: BTreeMap<String, String>,
    /// The AMI's rendered name and description (rendered once, by the first image step).
    pub naming: Option<(String, Option<String>)>,
    /// The SSH address the communicator used, for `build.Host`.
    pub host: Option<String>,
    /// `ambake resume`: the provisioners before this index already ran.
    pub provision_from: usize,
    /// How many provisioners have finished (for a resume after a failure).
    pub provisioned: usize,
}

impl BuildState {
    pub fn instance(&self) -> anyhow::Result<&InstanceInfo> {
        self.instance.as_ref().ok_or_else(|| {
            anyhow::anyhow!("internal: no instance yet (run_instance must come before this step)")
        })
    }
    pub fn source(&self) -> anyhow::Result<&SourceImage> {
        self.source_image
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("internal: no source AMI yet"))
    }

    /// The values `{{ .SourceAMIName }}`-style actions and `build.X` placeholders render to:
    /// every name of [`crate::template::legacy::BUILD_VARIABLES`], empty until known, plus the `SourceAMITags` map.
    pub fn legacy_context(&self, base: &LegacyContext, v: &BuildValues) -> LegacyContext {
        let mut c = base.clone();
        let mut set = |k: &str, v: String| {
            c.vars.insert(k.to_string(), LegacyValue::Str(v));
        };
        let src = self.source_image.clone().unwrap_or_default();
        let ssh = v.user.is_some();
        set("BuildRegion", v.region.to_string());
        set("BuilderType", "amazon-ebs".to_string());
        set("SourceAMI", src.id);
        set("SourceAMIName", src.name);
        set("SourceAMICreationDate", src.creation_date);
        set("SourceAMIOwner", src.owner);
        set("SourceAMIOwnerName", src.owner_alias);
        set(
            "ID",
            self.instance
                .as_ref()
                .map(|i| i.id.clone())
                .unwrap_or_default(),
        );
        set("Host", self.host.clone().unwrap_or_default());
        set("Port", v.port.to_string());
        set("User", v.user.unwrap_or_default().to_string());
        set("Password", v.password.unwrap_or_default().to_string());
        set("ConnType", if ssh { "ssh" } else { "none" }.to_string());
        set(
            "SSHPrivateKey",
            self.key.private_key_pem.clone().unwrap_or_default(),
        );
        set(
            "SSHPublicKey",
            self.key.public_key.clone().unwrap_or_default(),
        );
        set(
            "SSHPrivateKeyFile",
            v.key_file.unwrap_or_default().to_string(),
        );
        set("SSHAgentAuth", v.agent_auth.to_string());
        set("PackerRunUUID", v.run_uuid.to_string());
        // amazon-ebs has no WinRM (refused by name) and no HTTP server: Packer leaves them empty.
        for k in [
            "WinRMPassword",
            "PackerHTTPAddr",
            "PackerHTTPIP",
            "PackerHTTPPort",
        ] {
            set(k, String::new());
        }
        c.vars
            .insert("SourceAMITags".into(), LegacyValue::Map(src.tags));
        c
    }
}

/// What the build's settings contribute to the build variables.
#[derive(Debug, Clone, Default)]
pub struct BuildValues<'a> {
    pub region: &'a str,
    /// The SSH user; `None` with communicator = "none".
    pub user: Option<&'a str>,
    pub port: u16,
    pub password: Option<&'a str>,
    pub key_file: Option<&'a str>,
    pub agent_auth: bool,
    pub run_uuid: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::legacy::BUILD_VARIABLES;

    #[test]
    fn every_build_variable_is_filled() {
        let st = BuildState {
            source_image: Some(SourceImage {
                id: "ami-1".into(),
                owner: "137112412989".into(),
                creation_date: "2024-01-01T00:00:00.000Z".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = BuildValues {
            region: "eu-west-1",
            user: Some("ec2-user"),
            port: 22,
            run_uuid: "run-1",
            ..Default::default()
        };
        let c = st.legacy_context(&LegacyContext::new(jiff::Timestamp::UNIX_EPOCH), &v);
        for name in BUILD_VARIABLES {
            assert!(c.vars.contains_key(*name), "{name} is never filled");
        }
        let get = |k: &str| match &c.vars[k] {
            LegacyValue::Str(s) => s.clone(),
            LegacyValue::Map(_) => panic!("{k} is a map"),
        };
        assert_eq!(get("PackerRunUUID"), "run-1");
        assert_eq!(get("BuildRegion"), "eu-west-1");
        assert_eq!(get("SourceAMIOwner"), "137112412989");
        assert_eq!(get("SourceAMICreationDate"), "2024-01-01T00:00:00.000Z");
        assert_eq!(get("ConnType"), "ssh");
        assert_eq!(get("SSHAgentAuth"), "false");
        assert!(matches!(c.vars["SourceAMITags"], LegacyValue::Map(_)));
    }
}
