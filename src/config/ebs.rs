//! The typed `amazon-ebs` configuration: one plain Rust value per build. Field names are
//! Packer's, so `serde` maps the decoded options 1:1 and `inspect --json` speaks Packer.
//! Options the engine does not act on yet are absent on purpose: the option table refuses them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

// Options the AWS layer takes as they are written (it knows nothing of templates).
pub use crate::aws::access::AssumeRole;
pub use crate::aws::polling::AwsPolling;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AmiFilter {
    pub filters: Tags,
    pub owners: Vec<String>,
    pub most_recent: bool,
    pub include_deprecated: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SubnetFilter {
    pub filters: Tags,
    pub most_free: bool,
    pub random: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    pub filters: Tags,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BlockDevice {
    pub delete_on_termination: bool,
    pub device_name: Option<String>,
    pub encrypted: Option<bool>,
    pub iops: Option<i64>,
    pub no_device: bool,
    pub snapshot_id: Option<String>,
    pub throughput: Option<i64>,
    pub virtual_name: Option<String>,
    pub volume_type: Option<String>,
    pub volume_size: Option<i64>,
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataOptions {
    pub http_endpoint: Option<String>,
    pub http_tokens: Option<String>,
    pub http_put_response_hop_limit: Option<i64>,
    pub instance_metadata_tags: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DeregistrationProtection {
    pub enabled: bool,
    pub with_cooldown: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Placement {
    pub host_resource_group_arn: Option<String>,
    pub tenancy: Option<String>,
    pub host_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "Effect")]
    pub effect: Option<String>,
    #[serde(rename = "Action")]
    pub action: Vec<String>,
    #[serde(rename = "Resource")]
    pub resource: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: Option<String>,
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LicenseRequest {
    pub license_configuration_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LicenseSpecification {
    pub license_configuration_request: Option<LicenseRequest>,
}

/// Every `source "amazon-ebs"` option the engine acts on, with Packer's names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AmazonEbs {
    // Access
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub token: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub shared_credentials_file: Option<String>,
    pub assume_role: Option<AssumeRole>,
    pub mfa_code: Option<String>,
    pub decode_authorization_messages: bool,
    pub custom_endpoint_ec2: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub max_retries: Option<i64>,
    pub skip_credential_validation: bool,
    pub aws_polling: Option<AwsPolling>,
    // AMI
    pub ami_name: String,
    pub ami_description: Option<String>,
    pub ami_virtualization_type: Option<String>,
    pub ami_users: Vec<String>,
    pub ami_groups: Vec<String>,
    pub ami_org_arns: Vec<String>,
    pub ami_ou_arns: Vec<String>,
    pub ami_product_codes: Vec<String>,
    pub ami_regions: Vec<String>,
    pub snapshot_copy_duration_minutes: Option<i64>,
    pub imds_support: Option<String>,
    pub deprecate_at: Option<String>,
    pub deregistration_protection: Option<DeregistrationProtection>,
    pub skip_region_validation: bool,
    pub tags: Tags,
    pub snapshot_tags: Tags,
    pub snapshot_users: Vec<String>,
    pub snapshot_groups: Vec<String>,
    pub ena_support: Option<bool>,
    pub sriov_support: bool,
    pub force_deregister: bool,
    pub force_delete_snapshot: bool,
    pub encrypt_boot: Option<bool>,
    pub kms_key_id: Option<String>,
    pub region_kms_key_ids: Tags,
    pub skip_save_build_region: bool,
    pub launch_block_device_mappings: Vec<BlockDevice>,
    pub ami_block_device_mappings: Vec<BlockDevice>,
    pub run_volume_tags: Tags,
    pub skip_create_ami: bool,
    pub skip_ami_run_tags: bool,
    pub no_ephemeral: bool,
    // Run
    pub instance_type: Option<String>,
    pub source_ami: Option<String>,
    pub source_ami_filter: Option<AmiFilter>,
    pub subnet_id: Option<String>,
    pub subnet_filter: Option<SubnetFilter>,
    pub vpc_id: Option<String>,
    pub vpc_filter: Option<Filter>,
    pub security_group_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub security_group_filter: Option<Filter>,
    pub temporary_security_group_source_cidrs: Vec<String>,
    pub temporary_security_group_source_public_ip: bool,
    pub associate_public_ip_address: Option<bool>,
    pub availability_zone: Option<String>,
    pub iam_instance_profile: Option<String>,
    pub temporary_iam_instance_profile_policy_document: Option<PolicyDocument>,
    pub user_data: Option<String>,
    pub user_data_file: Option<String>,
    pub run_tags: Tags,
    pub spot_price: Option<String>,
    pub spot_instance_types: Vec<String>,
    pub spot_allocation_strategy: Option<String>,
    /// ambake's own option (Packer refuses it): launch on demand when no spot pool has
    /// capacity.
    pub spot_fallback_on_demand: bool,
    pub spot_tags: Tags,
    pub fleet_tags: Tags,
    pub shutdown_behavior: Option<String>,
    pub metadata_options: Option<MetadataOptions>,
    pub ebs_optimized: bool,
    pub enable_unlimited_credits: bool,
    pub enable_t2_unlimited: bool,
    pub enable_nitro_enclave: bool,
    pub placement: Option<Placement>,
    pub tenancy: Option<String>,
    pub capacity_reservation_preference: Option<String>,
    pub capacity_reservation_id: Option<String>,
    pub capacity_reservation_group_arn: Option<String>,
    pub license_specifications: Vec<LicenseSpecification>,
    pub disable_stop_instance: bool,
    pub skip_profile_validation: bool,
    pub ssh_interface: Option<String>,
    // Communicator
    pub communicator: Option<String>,
    pub ssh_username: Option<String>,
    pub ssh_password: Option<String>,
    pub ssh_port: Option<i64>,
    pub ssh_timeout: Option<String>,
    pub ssh_wait_timeout: Option<String>,
    pub ssh_handshake_attempts: Option<i64>,
    pub ssh_host: Option<String>,
    pub ssh_keypair_name: Option<String>,
    pub ssh_private_key_file: Option<String>,
    pub ssh_agent_auth: bool,
    pub temporary_key_pair_name: Option<String>,
    pub temporary_key_pair_type: Option<String>,
    pub ssh_bastion_host: Option<String>,
    pub ssh_bastion_port: Option<i64>,
    pub ssh_bastion_username: Option<String>,
    pub ssh_bastion_password: Option<String>,
    pub ssh_bastion_private_key_file: Option<String>,
    pub ssh_bastion_agent_auth: bool,
    pub ssh_bastion_interactive: bool,
    pub ssh_pty: bool,
    pub session_manager_port: Option<i64>,
    pub pause_before_ssm: Option<String>,
    pub ssh_proxy_host: Option<String>,
    pub ssh_proxy_port: Option<i64>,
    pub ssh_proxy_username: Option<String>,
    pub ssh_proxy_password: Option<String>,
    pub ssh_ciphers: Vec<String>,
    pub ssh_local_tunnels: Vec<String>,
    pub ssh_remote_tunnels: Vec<String>,
    pub ssh_certificate_file: Option<String>,
    pub ssh_bastion_certificate_file: Option<String>,
    pub ssh_key_exchange_algorithms: Vec<String>,
    pub ssh_file_transfer_method: Option<String>,
    pub ssh_keep_alive_interval: Option<String>,
    pub ssh_read_write_timeout: Option<String>,
    pub ssh_clear_authorized_keys: bool,
    pub ssh_disable_agent_forwarding: bool,
    pub pause_before_connecting: Option<String>,
}

impl AmazonEbs {
    /// The role to assume: an `assume_role` block counts only with a role_arn (Packer's rule;
    /// the decoder already dropped empty strings).
    pub fn role_to_assume(&self) -> Option<&AssumeRole> {
        self.assume_role
            .as_ref()
            .filter(|a| a.role_arn.as_deref().is_some_and(|r| !r.is_empty()))
    }

    /// Values that must never be printed, written literally or not: they are masked in every
    /// output (inspect --json shows the whole configuration).
    pub fn secrets(&self) -> Vec<String> {
        [
            &self.secret_key,
            &self.token,
            &self.mfa_code,
            &self.ssh_password,
            &self.ssh_bastion_password,
            &self.ssh_proxy_password,
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect()
    }

    /// The communicator, `ssh` unless set.
    pub fn communicator(&self) -> &str {
        self.communicator.as_deref().unwrap_or("ssh")
    }
    /// The bastion's key file and certificate: its own, else (Packer's rule) the instance's
    /// `ssh_private_key_file` with its `ssh_certificate_file`.
    pub fn bastion_key(&self) -> (Option<&str>, Option<&str>) {
        match &self.ssh_bastion_private_key_file {
            Some(k) => (Some(k), self.ssh_bastion_certificate_file.as_deref()),
            None => (
                self.ssh_private_key_file.as_deref(),
                self.ssh_certificate_file.as_deref(),
            ),
        }
    }
    /// `ami_regions` without duplicates and without the build region, as Packer uses it.
    pub fn copy_regions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.ami_regions {
            if Some(r) != self.region.as_ref() && !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }
}

/// The AWS layer's view of a source's access options.
impl From<&AmazonEbs> for crate::aws::access::AccessOptions {
    fn from(c: &AmazonEbs) -> Self {
        crate::aws::access::AccessOptions {
            access_key: c.access_key.clone(),
            secret_key: c.secret_key.clone(),
            token: c.token.clone(),
            profile: c.profile.clone(),
            shared_credentials_file: c.shared_credentials_file.clone(),
            region: c.region.clone(),
            assume_role: c.role_to_assume().cloned(),
            custom_endpoint_ec2: c.custom_endpoint_ec2.clone(),
            max_retries: c.max_retries,
            mfa_code: c.mfa_code.clone(),
            insecure_skip_tls_verify: c.insecure_skip_tls_verify,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::{AMAZON_EBS, Kind, Support};

    /// Every supported key in the option table must land in a struct field (deny_unknown_fields
    /// turns a missing field into an error), and every field must be in the table.
    #[test]
    fn struct_matches_option_table() {
        let mut obj = serde_json::Map::new();
        for f in AMAZON_EBS.iter().filter(|f| f.support == Support::Yes) {
            let sample = match f.kind {
                Kind::Bool => serde_json::json!(true),
                Kind::Int => serde_json::json!(1),
                Kind::Str => serde_json::json!("x"),
                Kind::StrList => serde_json::json!(["x"]),
                Kind::NumList => serde_json::json!([1]),
                Kind::StrMap => serde_json::json!({"k": "v"}),
                Kind::Any => serde_json::json!({}),
                Kind::Block(_) => serde_json::json!({}),
                Kind::Blocks(_) => serde_json::json!([]),
            };
            // Block-list forms of maps are folded into the maps by the decoder.
            if [
                "tag",
                "snapshot_tag",
                "run_tag",
                "run_volume_tag",
                "spot_tag",
                "fleet_tag",
            ]
            .contains(&f.name)
            {
                continue;
            }
            obj.insert(f.name.to_string(), sample);
        }
        let parsed: AmazonEbs = serde_json::from_value(serde_json::Value::Object(obj.clone()))
            .expect("every table key is a field");
        let back = serde_json::to_value(&parsed).unwrap();
        let fields: Vec<&String> = back.as_object().unwrap().keys().collect();
        for k in fields {
            assert!(
                obj.contains_key(k),
                "field {k} is not in the option table as supported"
            );
        }
    }
}
