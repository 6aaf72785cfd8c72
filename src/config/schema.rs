//! Option tables: every key a block accepts, its HCL shape and type, and whether the engine
//! acts on it. One table drives position-aware type checking, "did you mean" suggestions and the
//! "recognised, not supported yet" refusals, so a key can never be silently ignored.

/// The shape and type of one option.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int,
    Str,
    StrList,
    NumList,
    StrMap,
    /// Any value (e.g. a provisioner's `override` map of objects).
    Any,
    /// A nested block written at most once.
    Block(&'static [Field]),
    /// A nested block that may repeat.
    Blocks(&'static [Field]),
}

/// Whether the engine acts on an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// Known Packer option that ambake does not act on yet: refused rather than ignored.
    NotYet,
    /// Accepted and ignored on purpose, with a warning (Packer ignores it too).
    Ignored(&'static str),
    /// Known Packer option that ambake refuses, with the reason.
    Refused(&'static str),
}

/// Options whose zero value Packer does not treat as "not set": durations, where `""` fails to
/// parse (`ssh_timeout = ""` is an error in Packer too).
pub const ZERO_IS_INVALID: &[&str] = &[
    "ssh_timeout",
    "ssh_wait_timeout",
    "ssh_keep_alive_interval",
    "ssh_read_write_timeout",
    "pause_before_connecting",
    "pause_before_ssm",
    "windows_password_timeout",
    "winrm_timeout",
    "pause_before",
    "timeout",
    "start_retry_timeout",
    "pause_after",
];

/// Options where `false` is a choice, not the zero value: Packer's tri-state booleans
/// (`config.Trilean`) and pointer booleans, which tell "false" from "not set".
pub const FALSE_IS_SET: &[&str] = &[
    "encrypt_boot",
    "ena_support",
    "encrypted",
    "associate_public_ip_address",
    "enable_fast_launch",
    "keep_input_artifact",
    "use_proxy",
];

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub support: Support,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        support: Support::Yes,
    }
}
const fn later(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        support: Support::NotYet,
    }
}
const fn ignored(name: &'static str, kind: Kind, why: &'static str) -> Field {
    Field {
        name,
        kind,
        support: Support::Ignored(why),
    }
}

use Kind::*;

pub const KEY_VALUE: &[Field] = &[f("key", Str), f("value", Str)];
pub const FILTERS: &[Field] = &[f("filters", StrMap)];

pub const ASSUME_ROLE: &[Field] = &[
    f("role_arn", Str),
    f("session_name", Str),
    f("external_id", Str),
    f("duration_seconds", Int),
    f("policy", Str),
    f("policy_arns", StrList),
    f("tags", StrMap),
    f("transitive_tag_keys", StrList),
];
pub const AWS_POLLING: &[Field] = &[f("delay_seconds", Int), f("max_attempts", Int)];
pub const VAULT_AWS_ENGINE: &[Field] = &[
    f("name", Str),
    f("role_arn", Str),
    f("ttl", Str),
    f("engine_name", Str),
];
pub const DEREGISTRATION_PROTECTION: &[Field] = &[f("enabled", Bool), f("with_cooldown", Bool)];
pub const REGION_LAUNCH_TEMPLATE: &[Field] = &[
    f("region", Str),
    f("template_id", Str),
    f("template_name", Str),
    f("template_version", Int),
];
pub const FAST_LAUNCH: &[Field] = &[
    f("enable_fast_launch", Bool),
    f("template_id", Str),
    f("template_name", Str),
    f("template_version", Int),
    f("region_launch_templates", Blocks(REGION_LAUNCH_TEMPLATE)),
    f("max_parallel_launches", Int),
    f("target_resource_count", Int),
];
pub const METADATA_OPTIONS: &[Field] = &[
    f("http_endpoint", Str),
    f("http_tokens", Str),
    f("http_put_response_hop_limit", Int),
    f("instance_metadata_tags", Str),
];
pub const PLACEMENT: &[Field] = &[
    f("host_resource_group_arn", Str),
    f("tenancy", Str),
    f("host_id", Str),
];
pub const SOURCE_AMI_FILTER: &[Field] = &[
    f("filters", StrMap),
    f("owners", StrList),
    f("most_recent", Bool),
    f("include_deprecated", Bool),
];
pub const SUBNET_FILTER: &[Field] = &[
    f("filters", StrMap),
    f("most_free", Bool),
    f("random", Bool),
];
pub const STATEMENT: &[Field] = &[
    f("Effect", Str),
    f("Action", StrList),
    f("Resource", StrList),
];
pub const POLICY_DOCUMENT: &[Field] = &[f("Version", Str), f("Statement", Blocks(STATEMENT))];
pub const BLOCK_DEVICE: &[Field] = &[
    f("delete_on_termination", Bool),
    f("device_name", Str),
    f("encrypted", Bool),
    f("iops", Int),
    f("no_device", Bool),
    f("snapshot_id", Str),
    f("throughput", Int),
    f("virtual_name", Str),
    f("volume_type", Str),
    f("volume_size", Int),
    f("kms_key_id", Str),
];
pub const LICENSE_REQUEST: &[Field] = &[f("license_configuration_arn", Str)];
pub const LICENSE_SPEC: &[Field] = &[f("license_configuration_request", Block(LICENSE_REQUEST))];

/// The 148 user-facing keys of `source "amazon-ebs"` (packer-plugin-amazon's hcl2spec).
pub const AMAZON_EBS: &[Field] = &[
    // AccessConfig
    f("access_key", Str),
    f("secret_key", Str),
    f("token", Str),
    f("region", Str),
    f("profile", Str),
    f("shared_credentials_file", Str),
    f("assume_role", Block(ASSUME_ROLE)),
    f("mfa_code", Str),
    later("vault_aws_engine", Block(VAULT_AWS_ENGINE)),
    f("custom_endpoint_ec2", Str),
    f("insecure_skip_tls_verify", Bool),
    f("max_retries", Int),
    f("skip_credential_validation", Bool),
    ignored(
        "skip_metadata_api_check",
        Bool,
        "skip_metadata_api_check is ignored, as in Packer 1.8+",
    ),
    f("decode_authorization_messages", Bool),
    f("aws_polling", Block(AWS_POLLING)),
    // AMIConfig / SnapshotConfig
    f("ami_name", Str),
    f("ami_description", Str),
    f("ami_virtualization_type", Str),
    f("ami_users", StrList),
    f("ami_groups", StrList),
    f("ami_org_arns", StrList),
    f("ami_ou_arns", StrList),
    f("ami_product_codes", StrList),
    f("ami_regions", StrList),
    f("skip_region_validation", Bool),
    f("snapshot_copy_duration_minutes", Int),
    f("tags", StrMap),
    f("tag", Blocks(KEY_VALUE)),
    f("snapshot_tags", StrMap),
    f("snapshot_tag", Blocks(KEY_VALUE)),
    f("snapshot_users", StrList),
    f("snapshot_groups", StrList),
    f("ena_support", Bool),
    f("sriov_support", Bool),
    f("force_deregister", Bool),
    f("force_delete_snapshot", Bool),
    f("encrypt_boot", Bool),
    f("kms_key_id", Str),
    f("region_kms_key_ids", StrMap),
    f("skip_save_build_region", Bool),
    f("imds_support", Str),
    f("deprecate_at", Str),
    f(
        "deregistration_protection",
        Block(DEREGISTRATION_PROTECTION),
    ),
    // ebs-only
    f("launch_block_device_mappings", Blocks(BLOCK_DEVICE)),
    f("ami_block_device_mappings", Blocks(BLOCK_DEVICE)),
    f("run_volume_tags", StrMap),
    f("run_volume_tag", Blocks(KEY_VALUE)),
    f("skip_create_ami", Bool),
    f("skip_ami_run_tags", Bool),
    f("no_ephemeral", Bool),
    later("fast_launch", Block(FAST_LAUNCH)),
    // RunConfig
    f("instance_type", Str),
    f("source_ami", Str),
    f("source_ami_filter", Block(SOURCE_AMI_FILTER)),
    f("subnet_id", Str),
    f("subnet_filter", Block(SUBNET_FILTER)),
    f("vpc_id", Str),
    f("vpc_filter", Block(FILTERS)),
    f("security_group_id", Str),
    f("security_group_ids", StrList),
    f("security_group_filter", Block(FILTERS)),
    f("temporary_security_group_source_cidrs", StrList),
    f("temporary_security_group_source_public_ip", Bool),
    f("associate_public_ip_address", Bool),
    f("availability_zone", Str),
    f("iam_instance_profile", Str),
    f(
        "temporary_iam_instance_profile_policy_document",
        Block(POLICY_DOCUMENT),
    ),
    f("user_data", Str),
    f("user_data_file", Str),
    f("run_tags", StrMap),
    f("run_tag", Blocks(KEY_VALUE)),
    f("spot_price", Str),
    f("spot_instance_types", StrList),
    f("spot_allocation_strategy", Str),
    // An ambake extension, not Packer's.
    f("spot_fallback_on_demand", Bool),
    f("spot_tags", StrMap),
    f("spot_tag", Blocks(KEY_VALUE)),
    f("fleet_tags", StrMap),
    f("fleet_tag", Blocks(KEY_VALUE)),
    ignored(
        "block_duration_minutes",
        Int,
        "block_duration_minutes is deprecated and ignored (AWS no longer offers spot blocks)",
    ),
    ignored(
        "spot_price_auto_product",
        Str,
        "spot_price_auto_product is deprecated and ignored",
    ),
    f("shutdown_behavior", Str),
    f("metadata_options", Block(METADATA_OPTIONS)),
    f("ebs_optimized", Bool),
    f("enable_unlimited_credits", Bool),
    f("enable_t2_unlimited", Bool),
    f("enable_nitro_enclave", Bool),
    f("placement", Block(PLACEMENT)),
    f("tenancy", Str),
    f("capacity_reservation_preference", Str),
    f("capacity_reservation_id", Str),
    f("capacity_reservation_group_arn", Str),
    f("license_specifications", Blocks(LICENSE_SPEC)),
    f("disable_stop_instance", Bool),
    f("skip_profile_validation", Bool),
    later("windows_password_timeout", Str),
    f("ssh_interface", Str),
    f("pause_before_ssm", Str),
    f("session_manager_port", Int),
    // Communicator
    f("communicator", Str),
    f("ssh_username", Str),
    f("ssh_password", Str),
    f("ssh_port", Int),
    f("ssh_timeout", Str),
    f("ssh_wait_timeout", Str),
    f("ssh_handshake_attempts", Int),
    f("ssh_host", Str),
    f("ssh_keypair_name", Str),
    f("ssh_private_key_file", Str),
    f("ssh_agent_auth", Bool),
    f("temporary_key_pair_name", Str),
    f("temporary_key_pair_type", Str),
    ignored(
        "temporary_key_pair_bits",
        Int,
        "temporary_key_pair_bits has no effect: EC2 generates the key",
    ),
    f("ssh_bastion_host", Str),
    f("ssh_bastion_port", Int),
    f("ssh_bastion_username", Str),
    f("ssh_bastion_password", Str),
    f("ssh_bastion_private_key_file", Str),
    f("ssh_bastion_agent_auth", Bool),
    f("ssh_bastion_interactive", Bool),
    f("ssh_bastion_certificate_file", Str),
    f("ssh_proxy_host", Str),
    f("ssh_proxy_port", Int),
    f("ssh_proxy_username", Str),
    f("ssh_proxy_password", Str),
    f("ssh_pty", Bool),
    f("ssh_file_transfer_method", Str),
    f("ssh_keep_alive_interval", Str),
    f("ssh_read_write_timeout", Str),
    f("ssh_clear_authorized_keys", Bool),
    f("ssh_ciphers", StrList),
    f("ssh_key_exchange_algorithms", StrList),
    f("ssh_certificate_file", Str),
    f("ssh_disable_agent_forwarding", Bool),
    f("ssh_local_tunnels", StrList),
    f("ssh_remote_tunnels", StrList),
    f("pause_before_connecting", Str),
    later("ssh_private_key", NumList),
    later("ssh_public_key", NumList),
    later("winrm_username", Str),
    later("winrm_password", Str),
    later("winrm_host", Str),
    later("winrm_port", Int),
    later("winrm_timeout", Str),
    later("winrm_use_ssl", Bool),
    later("winrm_insecure", Bool),
    later("winrm_use_ntlm", Bool),
    later("winrm_no_proxy", Bool),
];

const COMMON: [Field; 7] = [
    f("name", Str),
    f("pause_before", Str),
    f("max_retries", Int),
    f("timeout", Str),
    f("only", StrList),
    f("except", StrList),
    f("override", Any),
];

/// A data source's options: the access options every AWS data source takes, then its own.
macro_rules! with_access {
    ($($field:expr),* $(,)?) => {
        &[
            ACCESS[0], ACCESS[1], ACCESS[2], ACCESS[3], ACCESS[4], ACCESS[5], ACCESS[6],
            ACCESS[7], ACCESS[8], ACCESS[9], ACCESS[10], ACCESS[11], $($field),*
        ]
    };
}

macro_rules! with_common {
    ($($field:expr),* $(,)?) => {
        &[COMMON[0], COMMON[1], COMMON[2], COMMON[3], COMMON[4], COMMON[5], COMMON[6], $($field),*]
    };
}

pub const SHELL: &[Field] = with_common![
    f("inline", StrList),
    f("script", Str),
    f("scripts", StrList),
    f("environment_vars", StrList),
    f("env", StrMap),
    f("execute_command", Str),
    f("inline_shebang", Str),
    f("remote_folder", Str),
    f("remote_file", Str),
    f("remote_path", Str),
    f("expect_disconnect", Bool),
    f("valid_exit_codes", NumList),
    f("skip_clean", Bool),
    f("start_retry_timeout", Str),
    f("pause_after", Str),
    f("use_env_var_file", Bool),
    f("binary", Bool),
    f("env_var_format", Str),
];
pub const FILE: &[Field] = with_common![
    f("source", Str),
    f("sources", StrList),
    f("content", Str),
    f("destination", Str),
    f("direction", Str),
    f("generated", Bool),
];
pub const SHELL_LOCAL: &[Field] = with_common![
    f("command", Str),
    f("inline", StrList),
    f("script", Str),
    f("scripts", StrList),
    f("environment_vars", StrList),
    f("env", StrMap),
    f("execute_command", StrList),
    f("inline_shebang", Str),
    f("only_on", StrList),
    f("use_linux_pathing", Bool),
    f("valid_exit_codes", NumList),
    f("env_var_format", Str),
    f("tempfile_extension", Str),
    f("keep_input_artifact", Bool),
];
/// Packer's `ansible` provisioner (packer-plugin-ansible). The options of its SSH adapter have
/// no meaning here: ambake hands Ansible a port forward to the instance's own sshd instead.
pub const ANSIBLE: &[Field] = with_common![
    f("command", Str),
    f("extra_arguments", StrList),
    f("ansible_env_vars", StrList),
    f("playbook_file", Str),
    f("ansible_ssh_extra_args", StrList),
    f("groups", StrList),
    f("empty_groups", StrList),
    f("host_alias", Str),
    f("user", Str),
    f("local_port", Int),
    f("skip_version_check", Bool),
    f("use_sftp", Bool),
    f("inventory_directory", Str),
    f("inventory_file_template", Str),
    f("inventory_file", Str),
    f("keep_inventory_file", Bool),
    f("galaxy_file", Str),
    f("galaxy_command", Str),
    f("galaxy_force_install", Bool),
    f("galaxy_force_with_deps", Bool),
    f("roles_path", Str),
    f("collections_path", Str),
    f("use_proxy", Bool),
    ignored("ssh_host_key_file", Str, ADAPTER),
    ignored("ssh_authorized_key_file", Str, ADAPTER),
    ignored("ansible_proxy_key_type", Str, ADAPTER),
    ignored("sftp_command", Str, ADAPTER),
    ignored(
        "ansible_winrm_use_http",
        Bool,
        "ansible_winrm_use_http is ignored: ambake builds over SSH only"
    ),
];
const ADAPTER: &str = "ignored: this option configures Packer's SSH proxy adapter; ambake gives Ansible a port forward to the instance's own sshd instead";

/// Packer's `ansible-local` provisioner: runs ansible-playbook on the instance.
pub const ANSIBLE_LOCAL: &[Field] = with_common![
    f("command", Str),
    f("extra_arguments", StrList),
    f("group_vars", Str),
    f("host_vars", Str),
    f("playbook_dir", Str),
    f("playbook_file", Str),
    f("playbook_files", StrList),
    f("playbook_paths", StrList),
    f("role_paths", StrList),
    f("collection_paths", StrList),
    f("staging_directory", Str),
    f("clean_staging_directory", Bool),
    f("inventory_file", Str),
    f("inventory_groups", StrList),
    f("galaxy_file", Str),
    f("galaxy_command", Str),
    f("galaxy_force_install", Bool),
    f("galaxy_roles_path", Str),
    f("galaxy_collections_path", Str),
];
pub const BREAKPOINT: &[Field] = with_common![f("disable", Bool), f("note", Str)];
pub const MANIFEST: &[Field] = with_common![
    f("output", Str),
    f("strip_path", Bool),
    f("strip_time", Bool),
    f("custom_data", StrMap),
    f("keep_input_artifact", Bool),
];

/// Packer's generic `checksum` post-processor.
pub const CHECKSUM: &[Field] = with_common![
    f("checksum_types", StrList),
    f("output", Str),
    f("keep_input_artifact", Bool),
];
/// Packer's generic `compress` post-processor.
pub const COMPRESS: &[Field] = with_common![
    f("output", Str),
    f("format", Str),
    f("compression_level", Int),
    f("keep_input_artifact", Bool),
];
/// Packer's generic `artifice` post-processor.
pub const ARTIFICE: &[Field] = with_common![f("files", StrList), f("keep_input_artifact", Bool),];

const ACCESS: [Field; 12] = [
    f("access_key", Str),
    f("secret_key", Str),
    f("token", Str),
    f("region", Str),
    f("profile", Str),
    f("shared_credentials_file", Str),
    f("assume_role", Block(ASSUME_ROLE)),
    f("mfa_code", Str),
    f("custom_endpoint_ec2", Str),
    f("insecure_skip_tls_verify", Bool),
    f("max_retries", Int),
    f("skip_credential_validation", Bool),
];
pub const DATA_AMAZON_AMI: &[Field] = with_access![
    f("filters", StrMap),
    f("owners", StrList),
    f("most_recent", Bool),
    f("include_deprecated", Bool),
];
pub const DATA_PARAMETERSTORE: &[Field] = with_access![f("name", Str), f("with_decryption", Bool),];

pub const DATA_SECRETSMANAGER: &[Field] = with_access![
    f("name", Str),
    f("key", Str),
    f("version_id", Str),
    f("version_stage", Str),
];

/// Packer's built-in `data "http"`.
pub const DATA_HTTP: &[Field] = &[
    f("url", Str),
    f("method", Str),
    f("request_headers", StrMap),
    f("request_body", Str),
];

/// Block forms of map options: `tag { key, value }` adds to `tags`.
pub const KV_BLOCK_TO_MAP: &[(&str, &str)] = &[
    ("tag", "tags"),
    ("snapshot_tag", "snapshot_tags"),
    ("run_tag", "run_tags"),
    ("run_volume_tag", "run_volume_tags"),
    ("spot_tag", "spot_tags"),
    ("fleet_tag", "fleet_tags"),
];

pub fn find(fields: &'static [Field], name: &str) -> Option<&'static Field> {
    fields.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Packer's 148 amazon-ebs keys, plus ambake's own `spot_fallback_on_demand`.
    fn amazon_ebs_has_149_unique_user_keys() {
        let mut names: Vec<&str> = AMAZON_EBS.iter().map(|f| f.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate key in the table");
        assert_eq!(n, 149);
        assert!(names.contains(&"spot_fallback_on_demand"));
    }
}
