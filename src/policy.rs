//! `ambake iam-policy`: the smallest IAM policy a template's builds need, derived from the same
//! configuration the steps act on. Each action says why it is there; actions only needed when a
//! build fails and must undo its work are marked, since a successful run never exercises them.

use crate::config::BuildPlan;
use std::collections::BTreeMap;

/// Why an action is needed, and whether a successful build calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub why: String,
    pub only_on_failure: bool,
}

fn add(m: &mut BTreeMap<String, Need>, action: &str, why: &str, only_on_failure: bool) {
    let e = m.entry(action.to_string()).or_insert(Need {
        why: why.to_string(),
        only_on_failure,
    });
    // Needed on the success path by any reason makes it a success-path action.
    e.only_on_failure &= only_on_failure;
    if !e.why.contains(why) {
        e.why = format!("{}; {why}", e.why);
    }
}

/// Every action the builds of these plans may call, with the reason.
pub fn actions(plans: &[BuildPlan]) -> BTreeMap<String, Need> {
    let mut m = BTreeMap::new();
    for p in plans {
        let c = &p.config;
        let spot = c
            .spot_price
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "0");
        let ssh = c.communicator() == "ssh";
        add(
            &mut m,
            "ec2:DescribeImages",
            "find the source AMI, check the AMI name, wait for AMIs",
            false,
        );
        if !c.skip_region_validation {
            add(
                &mut m,
                "ec2:DescribeRegions",
                "check region and ami_regions",
                false,
            );
        }
        add(
            &mut m,
            "ec2:RunInstances",
            "launch the build instance",
            false,
        );
        add(
            &mut m,
            "ec2:DescribeInstances",
            "wait for the instance",
            false,
        );
        add(
            &mut m,
            "ec2:TerminateInstances",
            "remove the build instance",
            false,
        );
        add(
            &mut m,
            "ec2:CreateTags",
            "tag resources at creation (ambake:build-id) and the AMIs",
            false,
        );
        add(
            &mut m,
            "ec2:DeleteVolume",
            "remove volumes the source AMI leaves behind",
            false,
        );
        if spot {
            add(
                &mut m,
                "ec2:CreateLaunchTemplate",
                "spot: the fleet's launch template",
                false,
            );
            add(
                &mut m,
                "ec2:DeleteLaunchTemplate",
                "spot: remove the launch template",
                false,
            );
            add(
                &mut m,
                "ec2:CreateFleet",
                "spot: launch through an instant fleet",
                false,
            );
        } else {
            add(
                &mut m,
                "ec2:StopInstances",
                "stop the instance before CreateImage",
                false,
            );
        }
        if c.subnet_id.is_some()
            || c.subnet_filter.is_some()
            || c.vpc_id.is_some()
            || c.vpc_filter.is_some()
            || c.associate_public_ip_address.is_some()
        {
            add(&mut m, "ec2:DescribeSubnets", "resolve the subnet", false);
        }
        if c.vpc_filter.is_some() {
            add(&mut m, "ec2:DescribeVpcs", "resolve vpc_filter", false);
        }
        if !c.security_group_ids.is_empty()
            || c.security_group_id.is_some()
            || c.security_group_filter.is_some()
        {
            add(
                &mut m,
                "ec2:DescribeSecurityGroups",
                "check the given security groups",
                false,
            );
        } else if ssh {
            add(
                &mut m,
                "ec2:CreateSecurityGroup",
                "temporary security group for SSH",
                false,
            );
            add(
                &mut m,
                "ec2:AuthorizeSecurityGroupIngress",
                "open ssh_port in the temporary group",
                false,
            );
            add(
                &mut m,
                "ec2:DeleteSecurityGroup",
                "remove the temporary group",
                false,
            );
        }
        if ssh && c.ssh_private_key_file.is_none() && !c.ssh_agent_auth && c.ssh_password.is_none()
        {
            add(&mut m, "ec2:CreateKeyPair", "temporary key pair", false);
            add(
                &mut m,
                "ec2:DeleteKeyPair",
                "remove the temporary key pair",
                false,
            );
            if c.ssh_clear_authorized_keys {
                add(
                    &mut m,
                    "ec2:DescribeKeyPairs",
                    "ssh_clear_authorized_keys reads the public key",
                    false,
                );
            }
        }
        if c.iam_instance_profile.is_some() {
            add(
                &mut m,
                "iam:PassRole",
                "give the instance its profile's role",
                false,
            );
            if !c.skip_profile_validation {
                add(
                    &mut m,
                    "iam:GetInstanceProfile",
                    "check iam_instance_profile",
                    false,
                );
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
                add(&mut m, a, why, false);
            }
        }
        if c.ena_support.is_some() || c.sriov_support {
            add(
                &mut m,
                "ec2:ModifyInstanceAttribute",
                "ena_support / sriov_support",
                false,
            );
        }
        if !c.skip_create_ami {
            add(&mut m, "ec2:CreateImage", "create the AMI", false);
            let intermediary = c.encrypt_boot == Some(true) || c.skip_save_build_region;
            add(
                &mut m,
                "ec2:DeregisterImage",
                "remove the AMIs of a failed build",
                !(intermediary || c.force_deregister),
            );
            add(
                &mut m,
                "ec2:DeleteSnapshot",
                "remove the snapshots of a failed build's AMIs",
                !(intermediary || c.force_deregister && c.force_delete_snapshot),
            );
            add(
                &mut m,
                "ec2:DescribeSnapshots",
                "check that a snapshot left by an interrupted cleanup is not a finished AMI's",
                true,
            );
            if !c.copy_regions().is_empty() || c.encrypt_boot == Some(true) {
                add(
                    &mut m,
                    "ec2:CopyImage",
                    "copy to ami_regions / encrypt_boot",
                    false,
                );
            }
            if c.encrypt_boot == Some(true) {
                for a in [
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                    "kms:Decrypt",
                    "kms:Encrypt",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                ] {
                    add(&mut m, a, "encrypt_boot copies the AMI encrypted", false);
                }
            }
            let launch = !(c.ami_users.is_empty()
                && c.ami_groups.is_empty()
                && c.ami_org_arns.is_empty()
                && c.ami_ou_arns.is_empty());
            if launch
                || c.imds_support.as_deref().is_some_and(|v| !v.is_empty())
                || !c.ami_product_codes.is_empty()
            {
                add(
                    &mut m,
                    "ec2:ModifyImageAttribute",
                    "launch permissions / imds_support / product codes",
                    false,
                );
            }
            if !(c.snapshot_users.is_empty() && c.snapshot_groups.is_empty()) {
                add(
                    &mut m,
                    "ec2:ModifySnapshotAttribute",
                    "snapshot_users / snapshot_groups",
                    false,
                );
            }
        }
        if c.decode_authorization_messages {
            add(
                &mut m,
                "sts:DecodeAuthorizationMessage",
                "decode_authorization_messages",
                true,
            );
        }
    }
    m
}

/// What the *caller* needs when the builds assume a role: sts:AssumeRole on exactly those
/// roles (and sts:TagSession when session tags are passed). The build's own actions are then
/// the role's policy ([`document`]). None when no build assumes a role.
pub fn caller_document(plans: &[BuildPlan]) -> Option<serde_json::Value> {
    let roles: std::collections::BTreeSet<&str> = plans
        .iter()
        .filter_map(|p| p.config.role_to_assume())
        .filter_map(|a| a.role_arn.as_deref())
        .collect();
    if roles.is_empty() {
        return None;
    }
    let tags = plans
        .iter()
        .filter_map(|p| p.config.role_to_assume())
        .any(|a| !a.tags.is_empty() || !a.transitive_tag_keys.is_empty());
    let mut actions = vec!["sts:AssumeRole"];
    if tags {
        actions.push("sts:TagSession");
    }
    Some(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": "AmbakeAssumeBuildRole", "Effect": "Allow", "Action": actions, "Resource": roles }]
    }))
}

/// The policy document: one statement, every action, any resource (scoping resources by tag is
/// not possible for several of these calls, e.g. RunInstances' images and subnets).
pub fn document(plans: &[BuildPlan]) -> serde_json::Value {
    let actions: Vec<String> = actions(plans).into_keys().collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": "AmbakeBuild", "Effect": "Allow", "Action": actions, "Resource": "*" }]
    })
}
