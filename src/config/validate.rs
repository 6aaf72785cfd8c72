//! Packer's cross-field rules for `amazon-ebs` (its `Prepare` checks), with messages a Packer
//! user recognises. Each error points at the option it is about, or at the source block when
//! the problem is a missing option.

use super::decided::Decided;
use super::decode::Spans;
use super::ebs::{AmazonEbs, BlockDevice};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::duration::{parse_duration, parse_go_duration};
use crate::paths::expand_home;
use regex::Regex;

struct Checker<'a> {
    spans: &'a Spans,
    block: &'a Span,
    diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    fn at(&self, key: &str) -> Span {
        self.spans
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.block.clone())
    }
    fn err(&mut self, key: &str, msg: impl Into<String>) {
        let span = self.at(key);
        self.diags.push(Diagnostic::error(msg, Some(span)));
    }
    fn warn(&mut self, key: &str, msg: impl Into<String>) {
        let span = self.at(key);
        self.diags.warning(msg, Some(span));
    }
    fn err_help(&mut self, key: &str, msg: impl Into<String>, help: impl Into<String>) {
        let span = self.at(key);
        self.diags
            .push(Diagnostic::error(msg, Some(span)).with_help(help));
    }
    fn one_of(&mut self, key: &str, value: &Option<String>, allowed: &[&str]) {
        if let Some(v) = value
            && !allowed.contains(&v.as_str())
        {
            self.err(
                key,
                format!(
                    "invalid {key} {v:?}: expected one of {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    /// Like `one_of`, with Packer's own message for the option.
    fn one_of_msg(&mut self, key: &str, value: &Option<String>, allowed: &[&str], msg: &str) {
        if value.as_deref().is_some_and(|v| !allowed.contains(&v)) {
            self.err(key, msg);
        }
    }
    fn duration(&mut self, key: &str, value: &Option<String>, allow_negative: bool) {
        if let Some(v) = value {
            let r = if allow_negative {
                parse_go_duration(v).map(|_| ())
            } else {
                parse_duration(v).map(|_| ())
            };
            if let Err(e) = r {
                self.err(key, format!("Failed parsing {key}: {e}"));
            }
        }
    }
}

/// Checks one source's options. `base_dir` resolves relative file paths (the working directory).
/// Checks one source's options, section by section as Packer's `Prepare` functions do.
pub fn check(c: &AmazonEbs, d: &Decided, spans: &Spans, block: &Span, diags: &mut Diagnostics) {
    let mut k = Checker {
        spans,
        block,
        diags,
    };
    access(c, &mut k);
    ami(c, d, &mut k);
    run(c, d, &mut k);
    communicator(c, &mut k);
}

/// AccessConfig: credentials, assume_role, retries.
fn access(c: &AmazonEbs, k: &mut Checker) {
    if c.access_key.is_some() != c.secret_key.is_some() {
        let key = if c.access_key.is_some() {
            "access_key"
        } else {
            "secret_key"
        };
        k.err(
            key,
            "`access_key` and `secret_key` must both be either set or not set.",
        );
    }
    if let Some(r) = c.max_retries
        && r < 0
    {
        k.err("max_retries", "max_retries must not be negative");
    }
    if let Some(p) = &c.aws_polling
        && (p.delay_seconds.is_some_and(|d| d < 0) || p.max_attempts.is_some_and(|m| m < 0))
    {
        k.err(
            "aws_polling",
            "aws_polling delay_seconds and max_attempts must not be negative",
        );
    }
    // Packer assumes a role only when role_arn is set, and uses mfa_code only for that call:
    // neither is an error without the other (a template passing `role_arn = var.role` with an
    // empty default runs with the caller's own credentials), but say so.
    if c.mfa_code.is_some() && c.role_to_assume().is_none() {
        let span = k.at("mfa_code");
        k.diags.warning(
            "mfa_code is only used to assume a role, and no assume_role role_arn is set: it is ignored",
            Some(span),
        );
    }
    if c.assume_role.is_some() && c.role_to_assume().is_none() {
        let span = k.at("assume_role");
        k.diags.warning(
            "assume_role has no role_arn: no role is assumed (as in Packer)",
            Some(span),
        );
    }
    if let Some(ar) = c.role_to_assume()
        && let Some(d) = ar.duration_seconds
        && !(900..=43200).contains(&d)
    {
        k.err(
            "assume_role.duration_seconds",
            "assume_role duration_seconds must be between 900 and 43200",
        );
    }
}

/// Packer's KMS key id forms: a key or alias ARN, an alias, a key id, a multi-region key id.
/// Compiled on first use: a template without KMS keys (most) never pays for it, and `validate`
/// takes a few milliseconds in all.
fn kms_key_id_valid(id: &str) -> bool {
    static KMS: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+|alias/.+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-f]{32})$")
            .expect("static regex")
    });
    KMS.is_match(id)
}

/// AMIConfig: name, sharing, encryption and keys, block devices of the image.
fn ami(c: &AmazonEbs, d: &Decided, k: &mut Checker) {
    if !c.skip_create_ami {
        if c.ami_name.is_empty() {
            k.err_help(
                "ami_name",
                "ami_name must be specified",
                "add ami_name = \"my-image-{{timestamp}}\" to the source block",
            );
        } else {
            // Parts still to be rendered at build time ({{ .SourceAMIName }}) are checked then.
            let literal = crate::template::legacy::without_actions(&c.ami_name);
            let n = c.ami_name.chars().count();
            if !c.ami_name.contains("{{") && !crate::ami_name::LENGTH.contains(&n) {
                k.err(
                    "ami_name",
                    format!("ami_name must be between 3 and 128 characters long, it is {n}"),
                );
            }
            if !literal.chars().all(crate::ami_name::allowed) {
                k.err("ami_name", crate::ami_name::CHARS_MESSAGE);
            }
        }
    }
    if c.ami_groups.iter().any(|g| g != "all") {
        k.err(
            "ami_groups",
            "ami_groups accepts only \"all\" (make the AMI public)",
        );
    }
    let encrypt = d.image.encrypt;
    if (c.kms_key_id.is_some() || !c.region_kms_key_ids.is_empty()) && !encrypt {
        let key = if c.kms_key_id.is_some() {
            "kms_key_id"
        } else {
            "region_kms_key_ids"
        };
        k.err(key, "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.");
    }
    if let Some(id) = &c.kms_key_id
        && !kms_key_id_valid(id)
    {
        k.err("kms_key_id", format!("{id:?} is not a valid KMS Key Id."));
    }
    for (region, id) in &c.region_kms_key_ids {
        if !id.is_empty() && !kms_key_id_valid(id) {
            k.err(
                "region_kms_key_ids",
                format!("{id:?} is not a valid KMS Key Id (region {region})."),
            );
        }
    }
    if !c.region_kms_key_ids.is_empty() {
        // Packer's two checks, on the ami_regions as written (the build region included).
        for r in c.region_kms_key_ids.keys() {
            if !c.ami_regions.contains(r) {
                k.err(
                    "region_kms_key_ids",
                    format!("Region {r} is in region_kms_key_ids but not in ami_regions"),
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in c.ami_regions.iter().filter(|r| seen.insert(r.as_str())) {
            if !c.region_kms_key_ids.contains_key(r) {
                k.err(
                    "region_kms_key_ids",
                    format!("Region {r} is in ami_regions but not in region_kms_key_ids"),
                );
            }
        }
    }
    // Sharing what the account's default key encrypted: Packer's conditions exactly (ami_groups
    // is not part of them).
    let default_key = c.kms_key_id.is_none() && c.region_kms_key_ids.is_empty() && encrypt;
    let empty_region_key = c.region_kms_key_ids.values().any(|v| v.is_empty());
    if !(c.ami_users.is_empty() && c.ami_org_arns.is_empty() && c.ami_ou_arns.is_empty()) {
        if default_key {
            k.err(
                "ami_users",
                "Cannot share AMI encrypted with default KMS key",
            );
        }
        if empty_region_key {
            k.err(
                "ami_users",
                "Cannot share AMI encrypted with default KMS key for other regions",
            );
        }
    }
    if !c.snapshot_users.is_empty() {
        if default_key {
            k.err("snapshot_users", "Cannot share snapshot encrypted with default KMS key, see https://www.packer.io/docs/builders/amazon-ebs#region_kms_key_ids for more information");
        }
        if empty_region_key {
            k.err(
                "snapshot_users",
                "Cannot share snapshot encrypted with default KMS key",
            );
        }
    }
    if let Some(v) = &c.deprecate_at
        && v.parse::<jiff::Timestamp>().is_err()
    {
        k.err(
            "deprecate_at",
            format!(
                "deprecate_at is not a valid time: {v:?}. Expect time format: YYYY-MM-DDTHH:MM:SSZ"
            ),
        );
    }
    if let Some(v) = &c.imds_support
        && !v.is_empty()
        && v != "v2.0"
    {
        k.err(
            "imds_support",
            format!("imds_support must be \"\" or \"v2.0\", not {v:?}"),
        );
    }
    if let Some(m) = c.snapshot_copy_duration_minutes
        && (m <= 0 || m % 15 != 0)
    {
        k.err(
            "snapshot_copy_duration_minutes",
            "snapshot_copy_duration_minutes must be a positive multiple of 15",
        );
    }
    if let Some(v) = &c.ami_virtualization_type {
        k.one_of(
            "ami_virtualization_type",
            &Some(v.clone()),
            &["hvm", "paravirtual"],
        );
    }
}

/// RunConfig: instance type, spot, source AMI, network, placement, credits, launch devices.
fn run(c: &AmazonEbs, d: &Decided, k: &mut Checker) {
    let spot = d.launch.is_spot();
    match (
        c.instance_type.as_deref().unwrap_or(""),
        c.spot_instance_types.is_empty(),
    ) {
        ("", true) => k.err_help(
            "instance_type",
            "An instance_type must be specified",
            "e.g. instance_type = \"t3.micro\"",
        ),
        (t, false) if !t.is_empty() => k.err(
            "spot_instance_types",
            "Only one of instance_type or spot_instance_types should be specified",
        ),
        _ => {}
    }
    if !c.spot_instance_types.is_empty() && !spot {
        // Packer accepts this and the build fails at RunInstances without an instance type.
        let span = k.at("spot_instance_types");
        k.diags.warning(
            "spot_instance_types is used only with spot_price (e.g. spot_price = \"auto\"); without it the build has no instance type",
            Some(span),
        );
    }
    if let Some(p) = &c.spot_price
        && p != "auto"
        && !p.is_empty()
        && p.parse::<f64>().is_err()
    {
        k.err(
            "spot_price",
            format!("spot_price must be \"auto\", \"0\" or a price such as \"0.05\", not {p:?}"),
        );
    }
    if !spot && !c.spot_tags.is_empty() {
        k.err(
            "spot_tags",
            "spot_tags should not be set when not requesting a spot instance",
        );
    }
    if !spot && !c.fleet_tags.is_empty() {
        k.err(
            "fleet_tags",
            "fleet_tags should not be set when not requesting a spot instance",
        );
    }
    if spot && (c.ena_support == Some(true) || c.sriov_support) {
        k.err(if c.sriov_support { "sriov_support" } else { "ena_support" }, "Spot instances do not support modification, which is required when either `ena_support` or `sriov_support` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.");
    }
    if let Some(s) = &c.spot_allocation_strategy
        && ![
            "price-capacity-optimized",
            "capacity-optimized",
            "capacity-optimized-prioritized",
            "diversified",
            "lowest-price",
        ]
        .contains(&s.as_str())
    {
        k.err(
            "spot_allocation_strategy",
            format!("Unknown spot_allocation_strategy: {s}"),
        );
    }
    match (&c.source_ami, &c.source_ami_filter) {
        (None, None) => k.err_help("source_ami", "A source_ami or source_ami_filter must be specified", "set source_ami = \"ami-…\" or a source_ami_filter { filters = {…}, owners = [\"…\"] } block"),
        (_, Some(f)) if f.owners.is_empty() => k.err("source_ami_filter", "For security reasons, your source AMI filter must declare an owner."),
        _ => {}
    }
    k.one_of_msg(
        "shutdown_behavior",
        &c.shutdown_behavior,
        &["stop", "terminate"],
        "shutdown_behavior only accepts 'stop' or 'terminate' values.",
    );
    if c.user_data.is_some() && c.user_data_file.is_some() {
        k.err(
            "user_data_file",
            "Only one of user_data or user_data_file can be specified.",
        );
    }
    if let Some(f) = &c.user_data_file
        && !expand_home(f).is_file()
    {
        k.err("user_data_file", format!("user_data_file not found: {f}"));
    }
    if let Some(m) = &c.metadata_options {
        k.one_of_msg(
            "metadata_options.http_endpoint",
            &m.http_endpoint,
            &["enabled", "disabled"],
            "http_endpoint requires either disabled or enabled as its value",
        );
        k.one_of_msg(
            "metadata_options.http_tokens",
            &m.http_tokens,
            &["optional", "required"],
            "http_tokens requires either optional or required as its value",
        );
        k.one_of_msg(
            "metadata_options.instance_metadata_tags",
            &m.instance_metadata_tags,
            &["enabled", "disabled"],
            "instance_metadata_tags requires either disabled or enabled as its value",
        );
        if let Some(h) = m.http_put_response_hop_limit
            && !(1..=64).contains(&h)
        {
            k.err(
                "metadata_options.http_put_response_hop_limit",
                "http_put_response_hop_limit requires a number between 1 and 64",
            );
        }
    }
    if let Some(i) = &c.ssh_interface
        && ![
            "public_ip",
            "private_ip",
            "public_dns",
            "private_dns",
            "ipv6",
            "session_manager",
        ]
        .contains(&i.as_str())
    {
        k.err("ssh_interface", format!("Unknown interface type: {i}"));
    }
    if c.ssh_interface.as_deref() == Some("session_manager")
        && c.iam_instance_profile.is_none()
        && c.temporary_iam_instance_profile_policy_document.is_none()
    {
        k.err(
            "ssh_interface",
            "no iam_instance_profile defined; session_manager connectivity requires a valid instance profile with AmazonSSMManagedInstanceCore permissions. Alternatively a temporary_iam_instance_profile_policy_document can be used.",
        );
    }
    if let Some(p) = c.session_manager_port
        && !(0..=65535).contains(&p)
    {
        k.err(
            "session_manager_port",
            "session_manager_port must be between 0 and 65535",
        );
    }
    k.duration("pause_before_ssm", &c.pause_before_ssm, false);
    for cidr in &c.temporary_security_group_source_cidrs {
        if !valid_cidr(cidr) {
            k.err(
                "temporary_security_group_source_cidrs",
                format!("Error parsing CIDR in temporary_security_group_source_cidrs: invalid CIDR address: {cidr}"),
            );
        }
    }
    if c.security_group_id.is_some() && !c.security_group_ids.is_empty() {
        k.err(
            "security_group_id",
            "Only one of security_group_id or security_group_ids can be specified.",
        );
    }
    if c.iam_instance_profile.is_some()
        && c.temporary_iam_instance_profile_policy_document.is_some()
    {
        k.err("temporary_iam_instance_profile_policy_document", "Only one of iam_instance_profile or temporary_iam_instance_profile_policy_document can be specified");
    }
    if c.tenancy.is_some() && c.placement.as_ref().is_some_and(|p| p.tenancy.is_some()) {
        k.err(
            "tenancy",
            "Error: Please set only one of placement.tenancy and tenancy (deprecated)",
        );
    }
    let tenancy = c
        .tenancy
        .clone()
        .or_else(|| c.placement.as_ref().and_then(|p| p.tenancy.clone()));
    if let Some(t) = &tenancy
        && !["default", "dedicated", "host"].contains(&t.as_str())
    {
        let key = if c.tenancy.is_some() {
            "tenancy"
        } else {
            "placement.tenancy"
        };
        k.err(key, format!("Error: Unknown tenancy type {t}"));
    }
    k.one_of_msg(
        "capacity_reservation_preference",
        &c.capacity_reservation_preference,
        &["open", "none"],
        "capacity_reservation_preference only accepts 'none' or 'open' values",
    );
    let target = c.capacity_reservation_id.is_some() || c.capacity_reservation_group_arn.is_some();
    if c.capacity_reservation_id.is_some() && c.capacity_reservation_group_arn.is_some() {
        k.err("capacity_reservation_id", "capacity_reservation_id and capacity_reservation_group_arn are mutually exclusive, only one should be used");
    }
    if target && c.capacity_reservation_preference.is_some() {
        k.err("capacity_reservation_preference", "capacity_reservation_id, capacity_reservation_group_arn and capacity_reservation_preference are mutually exclusive, only one should be set");
    }
    // Packer's rules: burstable types only (t2, t3, t3a, t4g); with spot, not on t2. Its spot
    // test here is `spot_price != ""`, so "0" counts.
    let unlimited = c.enable_unlimited_credits || c.enable_t2_unlimited;
    let instance_type = c.instance_type.as_deref().unwrap_or("");
    if unlimited {
        let key = if c.enable_t2_unlimited {
            "enable_t2_unlimited"
        } else {
            "enable_unlimited_credits"
        };
        let burstable = Regex::new(r"^t(2|3a?|4g)\.").expect("static regex");
        if !burstable.is_match(instance_type) {
            k.err(key, format!("Error: Instance Type: {instance_type} is not within the supported types for Unlimited credits. Supported instance types are T2, T3, and T4g"));
        }
        if c.spot_price.is_some() && instance_type.starts_with("t2.") {
            k.err(
                key,
                "Error: Unlimited credits cannot be used in conjunction with Spot Instances",
            );
        }
    }
    if c.enable_nitro_enclave {
        if c.spot_price.is_some() {
            k.err(
                "enable_nitro_enclave",
                "Error: Nitro Enclave cannot be used in conjunction with Spot Instances",
            );
        }
        if instance_type.starts_with('t') {
            k.err(
                "enable_nitro_enclave",
                format!("Error: Nitro Enclaves cannot be used in conjunction with burstable instance types: {instance_type}"),
            );
        }
    }
    for (i, d) in c.launch_block_device_mappings.iter().enumerate() {
        block_device(k, &format!("launch_block_device_mappings[{i}]"), d, true);
    }
    for (i, d) in c.ami_block_device_mappings.iter().enumerate() {
        block_device(k, &format!("ami_block_device_mappings[{i}]"), d, false);
    }
}

/// The communicator: SSH settings.
fn communicator(c: &AmazonEbs, k: &mut Checker) {
    match c.communicator() {
        "ssh" => {
            if c.ssh_username.as_deref().unwrap_or("").is_empty() {
                k.err_help("ssh_username", "An ssh_username must be specified", "the login user of the source AMI, e.g. ec2-user (Amazon Linux), ubuntu (Ubuntu), admin (Debian)");
            }
        }
        "none" => {}
        "winrm" => k.err(
            "communicator",
            "recognised, not supported yet: communicator = \"winrm\"",
        ),
        other => k.err(
            "communicator",
            format!(
                "invalid communicator {other:?}: expected ssh or none (winrm is not supported yet)"
            ),
        ),
    }
    if c.ssh_keypair_name.is_some() && c.ssh_private_key_file.is_none() && !c.ssh_agent_auth {
        k.err("ssh_keypair_name", "ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified");
    }
    if let Some(f) = &c.ssh_private_key_file
        && let Err(e) = std::fs::read(expand_home(f))
    {
        k.err(
            "ssh_private_key_file",
            format!("ssh_private_key_file is invalid: {f}: {e}"),
        );
    }
    k.one_of_msg(
        "temporary_key_pair_type",
        &c.temporary_key_pair_type,
        &["rsa", "ed25519"],
        "temporary_key_pair_type requires either rsa or ed25519 as its value",
    );
    k.one_of(
        "ssh_file_transfer_method",
        &c.ssh_file_transfer_method,
        &["scp", "sftp"],
    );
    if let Some(f) = &c.ssh_bastion_private_key_file
        && let Err(e) = std::fs::read(expand_home(f))
    {
        k.err(
            "ssh_bastion_private_key_file",
            format!("ssh_bastion_private_key_file is invalid: {f}: {e}"),
        );
    }
    for key in ["ssh_certificate_file", "ssh_bastion_certificate_file"] {
        let v = if key == "ssh_certificate_file" {
            &c.ssh_certificate_file
        } else {
            &c.ssh_bastion_certificate_file
        };
        if let Some(f) = v
            && let Err(e) = std::fs::read(expand_home(f))
        {
            k.err(key, format!("{key} is invalid: {f}: {e}"));
        }
    }
    // Packer's prepareSSH: a certificate needs its key (checked before the bastion borrows the
    // instance's key), a bastion needs credentials (its own or the instance's key file), and a
    // bastion and a SOCKS proxy exclude each other.
    if c.ssh_certificate_file.is_some() && c.ssh_private_key_file.is_none() {
        k.err(
            "ssh_certificate_file",
            "ssh_private_key_file must be specified if ssh_certificate_file is specified",
        );
    }
    if c.ssh_bastion_certificate_file.is_some() && c.ssh_bastion_private_key_file.is_none() {
        k.err(
            "ssh_bastion_certificate_file",
            "ssh_bastion_private_key_file must be specified if ssh_bastion_certificate_file is specified",
        );
    }
    if c.ssh_bastion_host.is_some() {
        if c.ssh_bastion_username.is_none() {
            k.err(
                "ssh_bastion_host",
                "ssh_bastion_username must be specified when ssh_bastion_host is set",
            );
        }
        if c.ssh_bastion_password.is_none()
            && c.bastion_key().0.is_none()
            && !c.ssh_bastion_agent_auth
        {
            k.err(
                "ssh_bastion_host",
                "ssh_bastion_password, ssh_bastion_private_key_file or ssh_bastion_agent_auth must be specified",
            );
        }
        if c.ssh_proxy_host.is_some() {
            k.err(
                "ssh_proxy_host",
                "please specify either ssh_bastion_host or ssh_proxy_host, not both",
            );
        }
    }
    for (key, list) in [
        ("ssh_local_tunnels", &c.ssh_local_tunnels),
        ("ssh_remote_tunnels", &c.ssh_remote_tunnels),
    ] {
        for t in list {
            if let Err(e) = crate::comm::tunnels::parse(t) {
                k.err(key, format!("{key} ('{t}') is invalid: {e}"));
            }
        }
    }
    for (key, list, method) in [
        ("ssh_ciphers", &c.ssh_ciphers, ssh2::MethodType::CryptCs),
        (
            "ssh_key_exchange_algorithms",
            &c.ssh_key_exchange_algorithms,
            ssh2::MethodType::Kex,
        ),
    ] {
        if !list.is_empty() {
            let known = crate::comm::connect::supported_algorithms(method);
            let unknown: Vec<&String> = list.iter().filter(|a| !known.contains(a)).collect();
            if unknown.len() == list.len() {
                k.err(
                    key,
                    format!(
                        "{key}: none of {list:?} is supported by libssh2, ambake's SSH library (it supports: {})",
                        known.join(", ")
                    ),
                );
            } else if !unknown.is_empty() {
                k.warn(
                    key,
                    format!("{key}: {unknown:?} not supported by libssh2; the others are offered"),
                );
            }
        }
    }
    for (key, v) in [
        ("ssh_port", c.ssh_port),
        ("ssh_bastion_port", c.ssh_bastion_port),
        ("ssh_proxy_port", c.ssh_proxy_port),
    ] {
        if let Some(p) = v
            && !(1..=65535).contains(&p)
        {
            k.err(key, format!("{key} must be between 1 and 65535"));
        }
    }
    k.duration("ssh_timeout", &c.ssh_timeout, false);
    k.duration("ssh_wait_timeout", &c.ssh_wait_timeout, false);
    k.duration("ssh_keep_alive_interval", &c.ssh_keep_alive_interval, true);
    k.duration("ssh_read_write_timeout", &c.ssh_read_write_timeout, false);
    k.duration("pause_before_connecting", &c.pause_before_connecting, false);
}

fn block_device(k: &mut Checker, path: &str, d: &BlockDevice, launch: bool) {
    if d.device_name.as_deref().unwrap_or("").is_empty() {
        k.err(
            path,
            "The `device_name` must be specified for every device in the block device mapping.",
        );
    }
    let vt = d.volume_type.as_deref();
    k.one_of(
        &format!("{path}.volume_type"),
        &d.volume_type,
        &["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"],
    );
    if let Some(iops) = d.iops {
        let range = if vt == Some("gp3") {
            3000..=16000
        } else {
            100..=256000
        };
        if !range.contains(&iops) {
            k.err(
                &format!("{path}.iops"),
                format!(
                    "iops {iops} is out of range for volume type {}",
                    vt.unwrap_or("(unset)")
                ),
            );
        }
        if !matches!(vt, Some("gp3" | "io1" | "io2")) {
            k.err(
                &format!("{path}.iops"),
                "iops can only be set for gp3, io1 and io2 volumes",
            );
        }
    }
    if let Some(t) = d.throughput {
        if vt != Some("gp3") {
            k.err(
                &format!("{path}.throughput"),
                "throughput can only be set for gp3 volumes",
            );
        } else if !(125..=1000).contains(&t) {
            k.err(
                &format!("{path}.throughput"),
                "throughput must be between 125 and 1000 MiB/s",
            );
        }
    }
    if d.kms_key_id.is_some() {
        if !launch {
            k.err(
                &format!("{path}.kms_key_id"),
                "kms_key_id is not a valid option for ami_block_device_mappings",
            );
        } else if d.encrypted != Some(true) {
            k.err(
                &format!("{path}.kms_key_id"),
                format!(
                    "The device {}, must also have `encrypted: true` when setting a kms_key_id.",
                    d.device_name.as_deref().unwrap_or("?")
                ),
            );
        }
    }
}

fn valid_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
        (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32,
        (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128,
        _ => false,
    }
}
