//! Finding what builds left in AWS without a journal: every resource tagged `ambake:build-id`
//! in the given regions, and the temporary IAM roles and instance profiles under `/ambake/`,
//! grouped by build with the time the build was last active (its newest resource), so that
//! `cleanup --orphans` can leave builds that may still be running alone.

use crate::aws::clients::Session;
use crate::aws::errors::explain;
use crate::job::journal::Resource;
use crate::job::tags::{BUILD_ID_TAG, COMMITTED_TAG};
use aws_sdk_ec2::types::{Filter, Tag};
use std::collections::BTreeMap;

/// One build's leftovers.
#[derive(Debug, Default)]
pub struct Build {
    pub resources: Vec<Resource>,
    /// When the build was last active (seconds since the epoch): its newest resource, or the
    /// time in its id when no resource says when it was made.
    pub newest: i64,
}

#[derive(Debug, Default)]
pub struct Found {
    pub builds: BTreeMap<String, Build>,
    /// Every lookup that failed (operation, region, AWS error): reported, never swallowed.
    pub errors: Vec<String>,
}

impl Found {
    fn add(&mut self, build_id: &str, r: Resource, created: Option<i64>) {
        let b = self.builds.entry(build_id.to_string()).or_default();
        let t = created
            .into_iter()
            .chain(build_started(build_id))
            .max()
            .unwrap_or(0);
        b.newest = b.newest.max(t);
        b.resources.push(r);
    }
}

/// The start time written in a build id (`YYYYmmddHHMMSS-xxxxxxxx`, UTC).
pub fn build_started(build_id: &str) -> Option<i64> {
    let stamp = build_id.get(..14)?;
    let dt = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", stamp).ok()?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(dt)
        .ok()
        .map(|t| t.as_second())
}

fn build_tag(tags: &[Tag]) -> Option<&str> {
    tags.iter()
        .find(|t| t.key() == Some(BUILD_ID_TAG))
        .and_then(|t| t.value())
        .filter(|v| !v.is_empty())
}

fn secs(t: Option<&aws_sdk_ec2::primitives::DateTime>) -> Option<i64> {
    t.map(|t| t.secs())
}

/// The region a temporary IAM role or profile was made for: its path is `/ambake/<region>/`.
/// Older builds used `/ambake/` alone: no region, so it matches any.
fn iam_region_matches(path: &str, regions: &[String]) -> bool {
    match path.trim_matches('/').split_once('/') {
        Some((_, region)) => regions.iter().any(|r| r == region),
        None => true,
    }
}

pub async fn find(session: &Session, regions: &[String]) -> Found {
    let mut f = Found::default();
    let tag = || {
        Filter::builder()
            .name("tag-key")
            .values(BUILD_ID_TAG)
            .build()
    };
    for region in regions {
        let ec2 = session.ec2_in(region);
        let fail = |op: &str, e: String| f_err(op, region, e);
        match ec2.describe_instances().filters(tag()).send().await {
            Ok(out) => {
                for i in out.reservations().iter().flat_map(|r| r.instances()) {
                    let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
                    if let (Some(id), Some(b), false) = (
                        i.instance_id(),
                        build_tag(i.tags()),
                        state == Some("terminated"),
                    ) {
                        f.add(
                            b,
                            Resource::Instance {
                                region: region.clone(),
                                id: id.into(),
                            },
                            secs(i.launch_time()),
                        );
                    }
                }
            }
            Err(e) => f
                .errors
                .push(fail("ec2:DescribeInstances", explain(&e).to_string())),
        }
        match ec2
            .describe_images()
            .owners("self")
            .filters(tag())
            .send()
            .await
        {
            Ok(out) => {
                for img in out.images() {
                    // A finished build's AMI is the user's: never an orphan.
                    if img.tags().iter().any(|t| t.key() == Some(COMMITTED_TAG)) {
                        continue;
                    }
                    let created = img
                        .creation_date()
                        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                        .map(|t| t.as_second());
                    if let (Some(id), Some(b)) = (img.image_id(), build_tag(img.tags())) {
                        f.add(
                            b,
                            Resource::Image {
                                region: region.clone(),
                                id: id.into(),
                            },
                            created,
                        );
                    }
                }
            }
            Err(e) => f
                .errors
                .push(fail("ec2:DescribeImages", explain(&e).to_string())),
        }
        match ec2
            .describe_volumes()
            .filters(tag())
            .filters(Filter::builder().name("status").values("available").build())
            .send()
            .await
        {
            Ok(out) => {
                for v in out.volumes() {
                    if let (Some(id), Some(b)) = (v.volume_id(), build_tag(v.tags())) {
                        f.add(
                            b,
                            Resource::Volume {
                                region: region.clone(),
                                id: id.into(),
                            },
                            secs(v.create_time()),
                        );
                    }
                }
            }
            Err(e) => f
                .errors
                .push(fail("ec2:DescribeVolumes", explain(&e).to_string())),
        }
        match ec2.describe_launch_templates().filters(tag()).send().await {
            Ok(out) => {
                for t in out.launch_templates() {
                    if let (Some(id), Some(b)) = (t.launch_template_id(), build_tag(t.tags())) {
                        f.add(
                            b,
                            Resource::LaunchTemplate {
                                region: region.clone(),
                                id: id.into(),
                            },
                            secs(t.create_time()),
                        );
                    }
                }
            }
            Err(e) => f
                .errors
                .push(fail("ec2:DescribeLaunchTemplates", explain(&e).to_string())),
        }
        match ec2.describe_security_groups().filters(tag()).send().await {
            Ok(out) => {
                for g in out.security_groups() {
                    // Groups have no creation time: the build's start stands for it.
                    if let (Some(id), Some(b)) = (g.group_id(), build_tag(g.tags())) {
                        f.add(
                            b,
                            Resource::SecurityGroup {
                                region: region.clone(),
                                id: id.into(),
                            },
                            None,
                        );
                    }
                }
            }
            Err(e) => f
                .errors
                .push(fail("ec2:DescribeSecurityGroups", explain(&e).to_string())),
        }
        match ec2.describe_key_pairs().filters(tag()).send().await {
            Ok(out) => {
                for k in out.key_pairs() {
                    if let (Some(name), Some(b)) = (k.key_name(), build_tag(k.tags())) {
                        f.add(
                            b,
                            Resource::KeyPair {
                                region: region.clone(),
                                name: name.into(),
                                id: k.key_pair_id().map(String::from),
                            },
                            secs(k.create_time()),
                        );
                    }
                }
            }
            Err(e) => f
                .errors
                .push(fail("ec2:DescribeKeyPairs", explain(&e).to_string())),
        }
    }
    find_iam(session, regions, &mut f).await;
    f
}

fn f_err(op: &str, region: &str, e: String) -> String {
    format!("{op} in {region} failed: {e}")
}

/// Temporary roles and instance profiles: named `ambake-<build id>`, under `/ambake/<region>/`.
async fn find_iam(session: &Session, regions: &[String], f: &mut Found) {
    let iam = session.iam();
    let build_of = |name: &str| name.strip_prefix("ambake-").map(String::from);
    match iam
        .list_instance_profiles()
        .path_prefix("/ambake/")
        .send()
        .await
    {
        Ok(out) => {
            for p in out.instance_profiles() {
                let name = p.instance_profile_name();
                let (Some(b), true) = (build_of(name), iam_region_matches(p.path(), regions))
                else {
                    continue;
                };
                let created = Some(p.create_date().secs());
                for r in p.roles() {
                    f.add(
                        &b,
                        Resource::ProfileRole {
                            profile: name.into(),
                            role: r.role_name().into(),
                        },
                        created,
                    );
                }
                f.add(&b, Resource::InstanceProfile { name: name.into() }, created);
            }
        }
        Err(e) => f.errors.push(f_err(
            "iam:ListInstanceProfiles",
            "global",
            explain(&e).to_string(),
        )),
    }
    match iam.list_roles().path_prefix("/ambake/").send().await {
        Ok(out) => {
            for r in out.roles() {
                let name = r.role_name();
                let (Some(b), true) = (build_of(name), iam_region_matches(r.path(), regions))
                else {
                    continue;
                };
                let created = Some(r.create_date().secs());
                match iam.list_role_policies().role_name(name).send().await {
                    Ok(pols) => {
                        for p in pols.policy_names() {
                            f.add(
                                &b,
                                Resource::IamRolePolicy {
                                    role: name.into(),
                                    name: p.clone(),
                                },
                                created,
                            );
                        }
                    }
                    Err(e) => f.errors.push(f_err(
                        "iam:ListRolePolicies",
                        "global",
                        format!("{name}: {}", explain(&e)),
                    )),
                }
                f.add(&b, Resource::IamRole { name: name.into() }, created);
            }
        }
        Err(e) => f
            .errors
            .push(f_err("iam:ListRoles", "global", explain(&e).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids_carry_their_start() {
        assert_eq!(
            build_started("20261201050000-abcdef12"),
            Some(
                "2026-12-01T05:00:00Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_second()
            )
        );
        assert_eq!(build_started("orphans-x"), None);
    }

    #[test]
    fn iam_paths_name_their_region() {
        let r = vec!["us-east-1".to_string()];
        assert!(iam_region_matches("/ambake/us-east-1/", &r));
        assert!(!iam_region_matches("/ambake/eu-west-1/", &r));
        assert!(
            iam_region_matches("/ambake/", &r),
            "older builds: any region"
        );
    }

    #[test]
    fn a_build_is_as_young_as_its_newest_resource() {
        let mut f = Found::default();
        let id = "20200101000000-aaaaaaaa";
        let start = build_started(id).unwrap();
        let kp = Resource::KeyPair {
            region: "r".into(),
            name: "k".into(),
            id: None,
        };
        f.add(id, kp.clone(), None);
        assert_eq!(f.builds[id].newest, start);
        f.add(id, kp, Some(start + 3600));
        assert_eq!(f.builds[id].newest, start + 3600);
    }
}
