//! `ambake iam-policy`: the smallest IAM policy a template's builds need, derived from the same
//! configuration the steps act on. Each action says why it is there; actions only needed when a
//! build fails and must undo its work are marked, since a successful run never exercises them.

use crate::config::BuildPlan;
use std::collections::BTreeMap;

pub use crate::job::needs::{Need, Needs};

/// Every action the builds of these plans may call, with the reason: each step declares its
/// own, next to the code that makes the calls.
pub fn actions(plans: &[BuildPlan], data: &[String]) -> BTreeMap<String, Need> {
    let mut n = Needs::default();
    crate::datasources::iam(data, &mut n);
    for p in plans {
        crate::steps::prevalidate::iam(p, &mut n);
        crate::steps::source_ami::iam(p, &mut n);
        crate::steps::network::iam(p, &mut n);
        crate::steps::security::iam(p, &mut n);
        crate::steps::instance::iam(p, &mut n);
        crate::steps::image::iam(p, &mut n);
        crate::engine::iam(p, &mut n);
    }
    n.into_map()
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
pub fn document(plans: &[BuildPlan], data: &[String]) -> serde_json::Value {
    let actions: Vec<String> = actions(plans, data).into_keys().collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": "AmbakeBuild", "Effect": "Allow", "Action": actions, "Resource": "*" }]
    })
}
