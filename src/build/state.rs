//! Typed build state: what earlier steps found out, for later steps. No string-keyed bag.

use crate::template::legacy::{LegacyContext, LegacyValue};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct SourceImage {
    pub id: String,
    pub name: String,
    pub creation_date: String,
    pub owner: String,
    pub owner_alias: String,
    pub root_device_type: String,
    pub root_device_name: String,
    pub virtualization_type: String,
    pub tags: BTreeMap<String, String>,
}

/// The SSH key the build logs in with. The private key is a secret: never printed.
#[derive(Clone, Default)]
pub struct KeyMaterial {
    pub name: Option<String>,
    pub private_key_pem: Option<String>,
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
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub key: KeyMaterial,
    pub security_group_ids: Vec<String>,
    pub instance_profile: Option<String>,
    pub instance: Option<InstanceInfo>,
    pub spot: bool,
    /// The AMI in each region (the build region and every copy).
    pub amis: BTreeMap<String, String>,
    pub snapshots: BTreeMap<String, Vec<String>>,
    /// The AMIs finished in their region (tagged `ambake:committed`, journaled as committed).
    pub committed: BTreeMap<String, String>,
    /// The SSH address the communicator used, for `build.Host`.
    pub host: Option<String>,
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

    /// The values `{{ .SourceAMIName }}`-style actions and `build.X` placeholders render to.
    pub fn legacy_context(
        &self,
        base: &LegacyContext,
        region: &str,
        user: Option<&str>,
        port: u16,
    ) -> LegacyContext {
        let mut c = base.clone();
        let mut set = |k: &str, v: String| {
            c.vars.insert(k.to_string(), LegacyValue::Str(v));
        };
        set("BuildRegion", region.to_string());
        set("BuilderType", "amazon-ebs".to_string());
        if let Some(s) = &self.source_image {
            set("SourceAMI", s.id.clone());
            set("SourceAMIName", s.name.clone());
            set("SourceAMICreationDate", s.creation_date.clone());
            set("SourceAMIOwner", s.owner.clone());
            set("SourceAMIOwnerName", s.owner_alias.clone());
        }
        if let Some(i) = &self.instance {
            set("ID", i.id.clone());
        }
        set("Host", self.host.clone().unwrap_or_default());
        set("Port", port.to_string());
        set("User", user.unwrap_or_default().to_string());
        set(
            "ConnType",
            if user.is_some() {
                "ssh".into()
            } else {
                "none".into()
            },
        );
        set(
            "SSHPrivateKey",
            self.key.private_key_pem.clone().unwrap_or_default(),
        );
        if let Some(s) = &self.source_image {
            c.vars
                .insert("SourceAMITags".into(), LegacyValue::Map(s.tags.clone()));
        }
        c
    }
}
