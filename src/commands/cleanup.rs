//! `ambake cleanup`: removes what interrupted or crashed builds left behind, from their
//! journals (`BUILD_ID`, `--all`) or, when the journal is gone, by the `ambake:build-id` tag
//! (`--orphans`). It lists before it deletes, and never touches a finished build's AMIs.

use crate::aws::access::AccessOptions;
use crate::aws::clients;
use crate::build::journal::{self, Event, Journal, Lifetime, Resource};
use crate::build::tags::{BUILD_ID_TAG, COMMITTED_TAG};
use crate::build::unwind;
use crate::cli::CleanupArgs;
use crate::exit::Exit;
use crate::ui::{Ui, UiOptions};
use aws_sdk_ec2::types::Filter;

pub fn run(a: &CleanupArgs) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        if a.orphans {
            return orphans(a).await;
        }
        let paths: Vec<std::path::PathBuf> = match (&a.build_id, a.all) {
            (Some(id), _) => vec![journal::path_for(id)],
            (None, true) => {
                let mut v: Vec<_> = std::fs::read_dir(journal::dir()).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect()).unwrap_or_default();
                v.sort();
                v
            }
            (None, false) => anyhow::bail!("say which build to clean up: ambake cleanup BUILD_ID, --all (every journal in {}), or --orphans (by tag)", journal::dir().display()),
        };
        let mut failed = 0;
        for p in paths {
            failed += from_journal(&p, a).await?;
        }
        Ok(if failed > 0 { Exit::Failed } else { Exit::Ok })
    })
}

async fn from_journal(path: &std::path::Path, a: &CleanupArgs) -> anyhow::Result<usize> {
    let records = journal::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read journal {}: {e}", path.display()))?;
    let Some(Event::Start {
        build,
        region,
        endpoint,
        profile,
        assume_role,
    }) = records.first().map(|r| r.event.clone())
    else {
        anyhow::bail!("{} is not an ambake build journal", path.display());
    };
    let id = records[0].build_id.clone();
    let ui = Ui::new(&build, UiOptions::default(), vec![]);
    let todo = unwind::plan(&records, true);
    if todo.is_empty() {
        ui.say(&format!("Build {id}: nothing left to clean up"));
        if !a.dry_run {
            let _ = std::fs::remove_file(path);
        }
        return Ok(0);
    }
    ui.say(&format!(
        "Build {id}: {} resource(s) to delete:",
        todo.len()
    ));
    for r in &todo {
        ui.message(&r.describe());
    }
    let access = AccessOptions {
        region: Some(region),
        custom_endpoint_ec2: endpoint,
        profile,
        assume_role: assume_role.map(|arn| crate::config::ebs::AssumeRole {
            role_arn: Some(arn),
            ..Default::default()
        }),
        ..Default::default()
    };
    let session = clients::session(&access).await?;
    let j = Journal::reopen(path)?;
    let failed = unwind::run(&j, &session, &ui, true, a.dry_run).await;
    if failed.is_empty() && !a.dry_run {
        let _ = std::fs::remove_file(path);
        ui.say(&format!("Build {id}: cleaned up"));
    }
    Ok(failed.len())
}

fn older(created: Option<&aws_sdk_ec2::primitives::DateTime>, cutoff: Option<i64>) -> bool {
    match (cutoff, created) {
        (None, _) => true,
        (Some(c), Some(t)) => t.secs() <= c,
        (Some(_), None) => true,
    }
}

/// Finds resources tagged `ambake:build-id` in each region (plus IAM under /ambake/).
async fn orphans(a: &CleanupArgs) -> anyhow::Result<Exit> {
    let access = AccessOptions {
        region: a.region.first().cloned(),
        ..Default::default()
    };
    let session = clients::session(&access).await?;
    let regions = if a.region.is_empty() {
        vec![session.region.clone()]
    } else {
        a.region.clone()
    };
    let cutoff = a
        .older_than
        .as_deref()
        .map(crate::duration::parse_duration)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .map(|d| jiff::Timestamp::now().as_second() - d.as_secs() as i64);
    let tag = || {
        Filter::builder()
            .name("tag-key")
            .values(BUILD_ID_TAG)
            .build()
    };
    let mut found: Vec<Resource> = Vec::new();
    for region in &regions {
        let ec2 = session.ec2_in(region);
        let e = |op: &str, err: String| anyhow::anyhow!("{op} in {region}: {err}");
        let out = ec2
            .describe_instances()
            .filters(tag())
            .send()
            .await
            .map_err(|x| e("ec2:DescribeInstances", crate::aws::errors::explain(&x)))?;
        for i in out.reservations().iter().flat_map(|r| r.instances()) {
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str())
                .unwrap_or("");
            if state != "terminated" && older(i.launch_time(), cutoff) {
                found.push(Resource::Instance {
                    region: region.clone(),
                    id: i.instance_id().unwrap_or_default().into(),
                });
            }
        }
        let out = ec2
            .describe_images()
            .owners("self")
            .filters(tag())
            .send()
            .await
            .map_err(|x| e("ec2:DescribeImages", crate::aws::errors::explain(&x)))?;
        for img in out.images() {
            let committed = img.tags().iter().any(|t| t.key() == Some(COMMITTED_TAG));
            let created = img
                .creation_date()
                .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                .map(|t| t.as_second());
            let old = match (cutoff, created) {
                (Some(c), Some(t)) => t <= c,
                _ => true,
            };
            if !committed && old {
                found.push(Resource::Image {
                    region: region.clone(),
                    id: img.image_id().unwrap_or_default().into(),
                });
            }
        }
        let out = ec2
            .describe_volumes()
            .filters(tag())
            .filters(Filter::builder().name("status").values("available").build())
            .send()
            .await
            .map_err(|x| e("ec2:DescribeVolumes", crate::aws::errors::explain(&x)))?;
        for v in out.volumes() {
            if older(v.create_time(), cutoff) {
                found.push(Resource::Volume {
                    region: region.clone(),
                    id: v.volume_id().unwrap_or_default().into(),
                });
            }
        }
        let out = ec2
            .describe_launch_templates()
            .filters(tag())
            .send()
            .await
            .map_err(|x| {
                e(
                    "ec2:DescribeLaunchTemplates",
                    crate::aws::errors::explain(&x),
                )
            })?;
        for t in out.launch_templates() {
            if older(t.create_time(), cutoff) {
                found.push(Resource::LaunchTemplate {
                    region: region.clone(),
                    id: t.launch_template_id().unwrap_or_default().into(),
                });
            }
        }
        let out = ec2
            .describe_security_groups()
            .filters(tag())
            .send()
            .await
            .map_err(|x| {
                e(
                    "ec2:DescribeSecurityGroups",
                    crate::aws::errors::explain(&x),
                )
            })?;
        for g in out.security_groups() {
            found.push(Resource::SecurityGroup {
                region: region.clone(),
                id: g.group_id().unwrap_or_default().into(),
            });
        }
        let out = ec2
            .describe_key_pairs()
            .filters(tag())
            .send()
            .await
            .map_err(|x| e("ec2:DescribeKeyPairs", crate::aws::errors::explain(&x)))?;
        for k in out.key_pairs() {
            if older(k.create_time(), cutoff) {
                found.push(Resource::KeyPair {
                    region: region.clone(),
                    name: k.key_name().unwrap_or_default().into(),
                });
            }
        }
    }
    let iam = session.iam();
    if let Ok(out) = iam
        .list_instance_profiles()
        .path_prefix("/ambake/")
        .send()
        .await
    {
        for p in out.instance_profiles() {
            for r in p.roles() {
                found.push(Resource::ProfileRole {
                    profile: p.instance_profile_name().into(),
                    role: r.role_name().into(),
                });
            }
            found.push(Resource::InstanceProfile {
                name: p.instance_profile_name().into(),
            });
        }
    }
    if let Ok(out) = iam.list_roles().path_prefix("/ambake/").send().await {
        for r in out.roles() {
            if let Ok(pols) = iam
                .list_role_policies()
                .role_name(r.role_name())
                .send()
                .await
            {
                for p in pols.policy_names() {
                    found.push(Resource::IamRolePolicy {
                        role: r.role_name().into(),
                        name: p.clone(),
                    });
                }
            }
            found.push(Resource::IamRole {
                name: r.role_name().into(),
            });
        }
    }
    let ui = Ui::new("cleanup", UiOptions::default(), vec![]);
    if found.is_empty() {
        ui.say(&format!(
            "No leftover ambake resources found in {}",
            regions.join(", ")
        ));
        return Ok(Exit::Ok);
    }
    ui.say(&format!(
        "Found {} leftover resource(s) tagged {BUILD_ID_TAG}:",
        found.len()
    ));
    for r in &found {
        ui.message(&r.describe());
    }
    // Replayed through a journal of their own, so an interrupted orphan cleanup can resume too.
    let j = Journal::create(&format!("orphans-{}", crate::build::new_build_id()))?;
    j.append(Event::Start {
        build: "orphans".into(),
        region: session.region.clone(),
        endpoint: None,
        profile: None,
        assume_role: None,
    })?;
    // The journal is replayed last-first: record in the reverse of the deletion order wanted
    // (IAM last, instances first is handled by the planner).
    for r in found.iter().rev() {
        j.append(Event::Created {
            resource: r.clone(),
            lifetime: Lifetime::Temporary,
        })?;
    }
    let failed = unwind::run(&j, &session, &ui, true, a.dry_run).await;
    if failed.is_empty() {
        let _ = std::fs::remove_file(j.path());
    }
    Ok(if failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    })
}
