//! StepKeyPair, StepSecurityGroup, StepIamInstanceProfile.
//! Calls: ec2:CreateKeyPair, ec2:DescribeSecurityGroups, ec2:CreateSecurityGroup,
//! ec2:AuthorizeSecurityGroupIngress, iam:GetInstanceProfile, iam:CreateRole, iam:PutRolePolicy,
//! iam:CreateInstanceProfile, iam:AddRoleToInstanceProfile.

use crate::aws::retry::retry;
use crate::config::BuildPlan;
use crate::config::decided::Communicator;
use crate::config::decided::KeySource;
use crate::job::context::{Cx, aws_err, is_code};
use crate::job::journal::{Lifetime, Resource};
use crate::job::needs::Needs;
use crate::job::state::BuildState;
use crate::job::tags::{BUILD_ID_TAG, spec};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, KeyType, ResourceType};
use std::collections::BTreeMap;
use std::time::Duration;

/// Temporary resource names: `ambake_<build id>` (Packer: `packer_<uuid>`).
pub fn temp_name(cx: &Cx) -> String {
    format!("ambake_{}", cx.build_id)
}

pub async fn key_pair(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let (name, kind) = match &cx.plan.decided.key {
        KeySource::None { key_pair }
        | KeySource::Agent { key_pair }
        | KeySource::Password { key_pair } => {
            // With the agent, the named key pair still goes on the instance.
            st.key = crate::job::state::KeyMaterial {
                name: key_pair.clone(),
                private_key_pem: None,
                public_key: None,
                temporary: false,
            };
            return public_key(cx, st).await;
        }
        KeySource::File { path, key_pair } => {
            let path = crate::paths::expand_home(path);
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                anyhow::anyhow!("cannot read ssh_private_key_file {}: {e}", path.display())
            })?;
            cx.ui.add_secret(&pem);
            st.key = crate::job::state::KeyMaterial {
                name: key_pair.clone(),
                private_key_pem: Some(pem),
                public_key: None,
                temporary: false,
            };
            return public_key(cx, st).await;
        }
        KeySource::Temporary { name, kind } => {
            (name.clone().unwrap_or_else(|| temp_name(cx)), kind.as_str())
        }
    };
    cx.ui
        .say(&format!("Creating temporary {kind} key pair: {name}"));
    let out = cx
        .ec2
        .create_key_pair()
        .key_name(&name)
        .key_type(KeyType::from(kind))
        .tag_specifications(spec(ResourceType::KeyPair, &cx.build_id, &c.run_tags))
        .send()
        .await
        .map_err(|e| aws_err("ec2:CreateKeyPair", cx.region(), e))?;
    cx.record(
        Resource::KeyPair {
            region: cx.region().to_string(),
            name: name.clone(),
            id: out.key_pair_id().map(String::from),
        },
        Lifetime::Temporary,
    )?;
    let pem = crate::aws::errors::required(
        out.key_material(),
        "ec2:CreateKeyPair",
        "the key material",
        cx.region(),
    )?;
    cx.ui.add_secret(&pem);
    if cx.debug {
        let file = format!("ec2_{}.pem", cx.plan.source_name);
        write_private(&file, &pem)?;
        cx.ui
            .message(&format!("Saving key for debug purposes: {file}"));
    }
    st.key = crate::job::state::KeyMaterial {
        name: Some(name),
        private_key_pem: Some(pem),
        public_key: None,
        temporary: true,
    };
    public_key(cx, st).await
}

/// `build.SSHPublicKey` / `{{ .SSHPublicKey }}`: the key pair's public key, read from EC2 (one
/// DescribeKeyPairs) only when the template uses it.
async fn public_key(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let Some(name) = st.key.name.clone() else {
        return Ok(());
    };
    if !cx.plan.uses_build_variable("SSHPublicKey") {
        return Ok(());
    }
    let out = cx
        .ec2
        .describe_key_pairs()
        .key_names(&name)
        .include_public_key(true)
        .send()
        .await
        .map_err(|e| aws_err("ec2:DescribeKeyPairs", cx.region(), e))?;
    st.key.public_key = out
        .key_pairs()
        .first()
        .and_then(|k| k.public_key())
        .map(|k| k.trim().to_string());
    Ok(())
}

/// Writes `-debug`'s copy of the private key: a new 0600 file. An existing file (which would
/// keep its mode) is replaced, and a symlink is never followed (it could point anywhere).
fn write_private(path: &str, pem: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            anyhow::bail!("{path} is a symbolic link: not writing the private key through it")
        }
        Ok(_) => std::fs::remove_file(path)?,
        Err(_) => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(pem.as_bytes())?;
    Ok(())
}

pub async fn security_group(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let mut ids: Vec<String> = c.security_group_ids.clone();
    ids.extend(c.security_group_id.clone());
    if !ids.is_empty() {
        cx.ec2
            .describe_security_groups()
            .set_group_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeSecurityGroups", cx.region(), e))?;
        st.security_group_ids = ids;
        return Ok(());
    }
    if let Some(f) = &c.security_group_filter {
        let mut req = cx.ec2.describe_security_groups();
        for (k, v) in &f.filters {
            req = req.filters(Filter::builder().name(k).values(v).build());
        }
        if let Some(v) = &st.vpc_id {
            req = req.filters(Filter::builder().name("vpc-id").values(v).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeSecurityGroups", cx.region(), e))?;
        st.security_group_ids = out
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(String::from))
            .collect();
        if st.security_group_ids.is_empty() {
            anyhow::bail!(
                "No security groups found matching security_group_filter {:?}",
                f.filters
            );
        }
        return Ok(());
    }
    if c.communicator() == "none" {
        // Nothing connects in: the default group is enough, and nothing temporary is made.
        return Ok(());
    }
    let name = temp_name(cx);
    let port = c.ssh_port.unwrap_or(22) as i32;
    // Asked before the group exists: a lookup that fails leaves nothing to clean up.
    let public_ip = match (
        c.temporary_security_group_source_public_ip,
        c.temporary_security_group_source_cidrs.is_empty(),
    ) {
        (true, false) => {
            cx.ui.say("Using temporary_security_group_source_public_ip with temporary_security_group_source_cidrs is unsupported, ignoring temporary_security_group_source_public_ip.");
            None
        }
        (true, true) => {
            cx.ui.say("Checking current host's public IP...");
            let ip = crate::http_get::public_ip()
                .await
                .map_err(anyhow::Error::msg)?;
            cx.ui.say(&format!("Current host's public IP: {ip}"));
            Some(match ip {
                std::net::IpAddr::V4(v4) => format!("{v4}/32"),
                std::net::IpAddr::V6(v6) => format!("{v6}/128"),
            })
        }
        _ => None,
    };
    cx.ui.say(&format!(
        "Creating temporary security group for this instance: {name}"
    ));
    let mut req = cx
        .ec2
        .create_security_group()
        .group_name(&name)
        .description("Temporary group for ambake")
        .tag_specifications(spec(ResourceType::SecurityGroup, &cx.build_id, &c.run_tags));
    if let Some(v) = &st.vpc_id {
        req = req.vpc_id(v);
    }
    let out = req
        .send()
        .await
        .map_err(|e| aws_err("ec2:CreateSecurityGroup", cx.region(), e))?;
    let id = crate::aws::errors::required(
        out.group_id(),
        "ec2:CreateSecurityGroup",
        "a group id",
        cx.region(),
    )?;
    cx.record(
        Resource::SecurityGroup {
            region: cx.region().to_string(),
            id: id.clone(),
        },
        Lifetime::Temporary,
    )?;
    st.security_group_ids = vec![id.clone()];
    if cx.plan.decided.session_manager {
        // SSH arrives through Session Manager: no port is opened (as Packer skips the rule).
        return Ok(());
    }
    let cidrs = if let Some(ip) = public_ip {
        vec![ip]
    } else if c.temporary_security_group_source_cidrs.is_empty() {
        vec![if c.ssh_interface.as_deref() == Some("ipv6") {
            "::/0".to_string()
        } else {
            "0.0.0.0/0".to_string()
        }]
    } else {
        c.temporary_security_group_source_cidrs.clone()
    };
    let mut perm = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port);
    for cidr in &cidrs {
        perm = if cidr.contains(':') {
            perm.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
        } else {
            perm.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        };
    }
    cx.ui.message(&format!(
        "Authorizing access to port {port} from {:?} in the temporary security group...",
        cidrs
    ));
    // A fresh group can be invisible for a moment (eventual consistency): retry NotFound briefly.
    retry(
        "the security group to be visible",
        Duration::from_secs(30),
        &cx.cancel,
        &|e| is_code(e, &["InvalidGroup.NotFound"]),
        || {
            cx.ec2
                .authorize_security_group_ingress()
                .group_id(&id)
                .ip_permissions(perm.clone().build())
                .send()
        },
    )
    .await
    .map_err(|e| e.into_anyhow(|e| aws_err("ec2:AuthorizeSecurityGroupIngress", cx.region(), e)))?;
    Ok(())
}

const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub async fn instance_profile(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let iam = cx.session.iam();
    if let Some(p) = &c.iam_instance_profile {
        if !c.skip_profile_validation {
            iam.get_instance_profile()
                .instance_profile_name(p)
                .send()
                .await
                .map_err(|e| aws_err("iam:GetInstanceProfile", cx.region(), e))?;
        }
        st.instance_profile = Some(p.clone());
        return Ok(());
    }
    let Some(doc) = &c.temporary_iam_instance_profile_policy_document else {
        return Ok(());
    };
    let name = format!("ambake-{}", cx.build_id);
    // The build's region in the path: `cleanup --orphans --region` can tell whose it is.
    let iam_path = format!("/ambake/{}/", cx.region());
    let policy = serde_json::to_string(doc)?;
    let tag = aws_sdk_iam::types::Tag::builder()
        .key(BUILD_ID_TAG)
        .value(&cx.build_id)
        .build()?;
    cx.ui.say(&format!(
        "Creating temporary instance profile for this instance: {name}"
    ));
    iam.create_role()
        .role_name(&name)
        .path(&iam_path)
        .assume_role_policy_document(EC2_TRUST)
        .tags(tag.clone())
        .send()
        .await
        .map_err(|e| aws_err("iam:CreateRole", "global", e))?;
    cx.record(
        Resource::IamRole { name: name.clone() },
        Lifetime::Temporary,
    )?;
    iam.put_role_policy()
        .role_name(&name)
        .policy_name(&name)
        .policy_document(&policy)
        .send()
        .await
        .map_err(|e| aws_err("iam:PutRolePolicy", "global", e))?;
    cx.record(
        Resource::IamRolePolicy {
            role: name.clone(),
            name: name.clone(),
        },
        Lifetime::Temporary,
    )?;
    iam.create_instance_profile()
        .instance_profile_name(&name)
        .path(&iam_path)
        .tags(tag)
        .send()
        .await
        .map_err(|e| aws_err("iam:CreateInstanceProfile", "global", e))?;
    cx.record(
        Resource::InstanceProfile { name: name.clone() },
        Lifetime::Temporary,
    )?;
    iam.add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(&name)
        .send()
        .await
        .map_err(|e| aws_err("iam:AddRoleToInstanceProfile", "global", e))?;
    cx.record(
        Resource::ProfileRole {
            profile: name.clone(),
            role: name.clone(),
        },
        Lifetime::Temporary,
    )?;
    st.instance_profile = Some(name);
    Ok(())
}

/// Tags for run_tags-bearing resources, rendered.
pub fn run_tags(cx: &Cx, st: &BuildState) -> anyhow::Result<BTreeMap<String, String>> {
    cx.render_map(&cx.plan.config.run_tags, st)
}

/// IAM actions of the key pair, security group and instance profile steps
/// (`ambake iam-policy`).
pub fn iam(p: &BuildPlan, n: &mut Needs) {
    let c = &p.config;
    if !c.security_group_ids.is_empty()
        || c.security_group_id.is_some()
        || c.security_group_filter.is_some()
    {
        n.add(
            "ec2:DescribeSecurityGroups",
            "check the given security groups",
        );
    } else if p.decided.communicator == Communicator::Ssh {
        n.add(
            "ec2:CreateSecurityGroup",
            "temporary security group for SSH",
        );
        if !p.decided.session_manager {
            n.add(
                "ec2:AuthorizeSecurityGroupIngress",
                "open ssh_port in the temporary group",
            );
        }
        n.add("ec2:DeleteSecurityGroup", "remove the temporary group");
    }
    if p.decided.session_manager {
        n.add(
            "ssm:StartSession",
            "session_manager: the port-forwarding session",
        );
        n.add("ssm:TerminateSession", "session_manager: end the session");
    }
    if p.uses_build_variable("SSHPublicKey") {
        n.add(
            "ec2:DescribeKeyPairs",
            "build.SSHPublicKey reads the public key",
        );
    }
    if p.decided.key.is_temporary() {
        n.add("ec2:CreateKeyPair", "temporary key pair");
        n.add("ec2:DeleteKeyPair", "remove the temporary key pair");
        n.add(
            "ec2:DescribeKeyPairs",
            "check the name is still the temporary key pair's before deleting it",
        );
        if c.ssh_clear_authorized_keys {
            n.add(
                "ec2:DescribeKeyPairs",
                "ssh_clear_authorized_keys reads the public key",
            );
        }
    }
    if c.iam_instance_profile.is_some() {
        n.add("iam:PassRole", "give the instance its profile's role");
        if !c.skip_profile_validation {
            n.add("iam:GetInstanceProfile", "check iam_instance_profile");
        }
    }
    if c.temporary_iam_instance_profile_policy_document.is_some() {
        for (a, why) in [
            ("iam:CreateRole", "temporary role"),
            ("iam:TagRole", "tag the temporary role"),
            ("iam:PutRolePolicy", "the role's inline policy"),
            ("iam:CreateInstanceProfile", "temporary instance profile"),
            ("iam:TagInstanceProfile", "tag the temporary profile"),
            (
                "iam:AddRoleToInstanceProfile",
                "put the role in the profile",
            ),
            ("iam:PassRole", "give the instance the temporary role"),
            (
                "iam:RemoveRoleFromInstanceProfile",
                "remove the temporary profile",
            ),
            ("iam:DeleteRolePolicy", "remove the temporary role"),
            ("iam:DeleteRole", "remove the temporary role"),
            ("iam:DeleteInstanceProfile", "remove the temporary profile"),
        ] {
            n.add(a, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn debug_key_is_a_fresh_private_file_and_never_follows_a_link() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::write_private(p.to_str().unwrap(), "KEY").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "KEY");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an existing 0644 file must not keep its mode");

        let target = d.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let link = d.path().join("link.pem");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(super::write_private(link.to_str().unwrap(), "KEY").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }
}
