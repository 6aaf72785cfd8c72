//! StepKeyPair, StepSecurityGroup, StepIamInstanceProfile.
//! Calls: ec2:CreateKeyPair, ec2:DescribeSecurityGroups, ec2:CreateSecurityGroup,
//! ec2:AuthorizeSecurityGroupIngress, iam:GetInstanceProfile, iam:CreateRole, iam:PutRolePolicy,
//! iam:CreateInstanceProfile, iam:AddRoleToInstanceProfile.

use crate::build::context::{Cx, aws_err};
use crate::build::journal::{Lifetime, Resource};
use crate::build::state::BuildState;
use crate::build::tags::{BUILD_ID_TAG, spec};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, KeyType, ResourceType};
use std::collections::BTreeMap;

/// Temporary resource names: `ambake_<build id>` (Packer: `packer_<uuid>`).
pub fn temp_name(cx: &Cx) -> String {
    format!("ambake_{}", cx.build_id)
}

pub async fn key_pair(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    if c.communicator() == "none"
        || c.ssh_agent_auth
        || c.ssh_password.is_some() && c.ssh_private_key_file.is_none()
    {
        // With the agent, the named key pair still goes on the instance.
        st.key = crate::build::state::KeyMaterial {
            name: c.ssh_keypair_name.clone(),
            private_key_pem: None,
            temporary: false,
        };
        return Ok(());
    }
    if let Some(f) = &c.ssh_private_key_file {
        let path = crate::funcs::expand_home(f);
        let pem = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!("cannot read ssh_private_key_file {}: {e}", path.display())
        })?;
        cx.ui.add_secret(&pem);
        st.key = crate::build::state::KeyMaterial {
            name: c.ssh_keypair_name.clone(),
            private_key_pem: Some(pem),
            temporary: false,
        };
        return Ok(());
    }
    let name = c
        .temporary_key_pair_name
        .clone()
        .unwrap_or_else(|| temp_name(cx));
    let kind = c.temporary_key_pair_type.as_deref().unwrap_or("rsa");
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
        .map_err(|e| aws_err("ec2:CreateKeyPair", cx.region(), &e))?;
    cx.record(
        Resource::KeyPair {
            region: cx.region().to_string(),
            name: name.clone(),
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
    st.key = crate::build::state::KeyMaterial {
        name: Some(name),
        private_key_pem: Some(pem),
        temporary: true,
    };
    Ok(())
}

fn write_private(path: &str, pem: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
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
            .map_err(|e| aws_err("ec2:DescribeSecurityGroups", cx.region(), &e))?;
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
            .map_err(|e| aws_err("ec2:DescribeSecurityGroups", cx.region(), &e))?;
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
        .map_err(|e| aws_err("ec2:CreateSecurityGroup", cx.region(), &e))?;
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
    let cidrs = if c.temporary_security_group_source_cidrs.is_empty() {
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
    let mut tries = 0;
    loop {
        match cx
            .ec2
            .authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(perm.clone().build())
            .send()
            .await
        {
            Ok(_) => break,
            Err(e)
                if tries < 10 && crate::build::context::is_code(&e, &["InvalidGroup.NotFound"]) =>
            {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500 * tries)).await;
                cx.check_cancel()?;
            }
            Err(e) => {
                return Err(aws_err(
                    "ec2:AuthorizeSecurityGroupIngress",
                    cx.region(),
                    &e,
                ));
            }
        }
    }
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
                .map_err(|e| aws_err("iam:GetInstanceProfile", cx.region(), &e))?;
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
        .map_err(|e| aws_err("iam:CreateRole", "global", &e))?;
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
        .map_err(|e| aws_err("iam:PutRolePolicy", "global", &e))?;
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
        .map_err(|e| aws_err("iam:CreateInstanceProfile", "global", &e))?;
    cx.record(
        Resource::InstanceProfile { name: name.clone() },
        Lifetime::Temporary,
    )?;
    iam.add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(&name)
        .send()
        .await
        .map_err(|e| aws_err("iam:AddRoleToInstanceProfile", "global", &e))?;
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
