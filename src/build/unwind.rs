//! Cleanup: deletes what a build's journal says is still out there. Instances are terminated
//! (and waited for) first, so the security group, key pair and volumes they use can go; AMIs
//! are deregistered with their snapshots; the rest goes in reverse creation order. Each delete
//! is journaled, so an interrupted cleanup can be resumed with `ambake cleanup <id>`.
//!
//! It runs under its own deadline, never under the build's cancelled token.

use super::journal::{self, Event, Journal, Lifetime, Resource};
use crate::aws::clients::Session;
use crate::aws::wait::{Poll, WaitSpec, wait};
use crate::build::context::{aws_err, is_code};
use crate::ui::Ui;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a cleanup would delete, in order: a pure function of the journal (unit-tested).
pub fn plan(records: &[journal::Record], include_artifacts: bool) -> Vec<Resource> {
    let live: Vec<Resource> = journal::outstanding(records, false)
        .into_iter()
        .filter(|(_, l)| include_artifacts || *l == Lifetime::Temporary)
        .map(|(r, _)| r)
        .collect();
    let rank = |r: &Resource| match r {
        Resource::Instance { .. } | Resource::PendingInstances { .. } => 0,
        Resource::Image { .. } | Resource::PendingImage { .. } => 1,
        Resource::Snapshot { .. } | Resource::InstanceVolumes { .. } => 2,
        _ => 3,
    };
    let mut ordered: Vec<(usize, Resource)> = live.into_iter().rev().enumerate().collect();
    // Stable: within a rank, reverse creation order.
    ordered.sort_by_key(|(i, r)| (rank(r), *i));
    ordered.into_iter().map(|(_, r)| r).collect()
}

/// Deletes everything `plan` lists. Returns what could not be deleted.
pub async fn run(
    journal: &Journal,
    session: &Session,
    ui: &Ui,
    include_artifacts: bool,
    dry_run: bool,
) -> Vec<(Resource, String)> {
    let records = journal::read(journal.path()).unwrap_or_default();
    let todo = plan(&records, include_artifacts);
    if todo.is_empty() {
        return vec![];
    }
    let deadline = CancellationToken::new();
    let d = deadline.clone();
    // The cleanup's own budget: long enough to terminate an instance and wait for it.
    let guard = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1200)).await;
        d.cancel();
    });
    let mut clients: BTreeMap<String, aws_sdk_ec2::Client> = BTreeMap::new();
    let mut failed = Vec::new();
    // A terminated instance no longer lists its volumes: look them up while it still does.
    let mut attached: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &todo {
        if let (
            false,
            Resource::InstanceVolumes {
                region,
                instance_id,
                keep,
            },
        ) = (dry_run, r)
        {
            let vols = volumes_of(ec2_for(region, session, &mut clients), instance_id, keep).await;
            attached.insert(instance_id.clone(), vols);
        }
    }
    // An instance that could not be terminated still holds its volumes and groups: waiting for
    // them to be released would only burn the deadline, so they get one attempt each.
    let mut instance_left = false;
    for r in todo {
        if dry_run {
            ui.message(&format!("would delete {}", r.describe()));
            continue;
        }
        ui.message(&format!("Deleting {}...", r.describe()));
        let patience = if instance_left {
            CancellationToken::new()
        } else {
            deadline.clone()
        };
        if instance_left {
            patience.cancel();
        }
        let result = match &r {
            Resource::InstanceVolumes {
                region,
                instance_id,
                ..
            } => {
                let mut result = Ok(());
                for id in attached.remove(instance_id).unwrap_or_default() {
                    let v = Resource::Volume {
                        region: region.clone(),
                        id,
                    };
                    if let Err(e) = delete(&v, session, &mut clients, &patience).await {
                        result = Err(format!("{}: {e}", v.describe()));
                    }
                }
                result
            }
            _ => delete(&r, session, &mut clients, &patience).await,
        };
        if result.is_err()
            && matches!(
                r,
                Resource::Instance { .. } | Resource::PendingInstances { .. }
            )
        {
            instance_left = true;
        }
        match result {
            Ok(()) => {
                let _ = journal.append(Event::Deleted {
                    resource: r.clone(),
                });
            }
            Err(e) => {
                ui.error(&format!("Error deleting {}: {e}", r.describe()));
                failed.push((r, e));
            }
        }
    }
    guard.abort();
    failed
}

fn ec2_for<'a>(
    region: &str,
    session: &Session,
    clients: &'a mut BTreeMap<String, aws_sdk_ec2::Client>,
) -> &'a aws_sdk_ec2::Client {
    clients
        .entry(region.to_string())
        .or_insert_with(|| session.ec2_in(region))
}

async fn delete(
    r: &Resource,
    session: &Session,
    clients: &mut BTreeMap<String, aws_sdk_ec2::Client>,
    deadline: &CancellationToken,
) -> Result<(), String> {
    let gone = |codes: &[&str], e: &dyn aws_smithy_types::error::metadata::ProvideErrorMetadata| {
        e.code().is_some_and(|c| codes.contains(&c))
    };
    match r {
        Resource::InstanceVolumes { .. } => Ok(()), // resolved by `run` before termination
        Resource::PendingInstances { region, build_id } => {
            let ec2 = ec2_for(region, session, clients).clone();
            let out = ec2
                .describe_instances()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name(format!("tag:{}", crate::build::tags::BUILD_ID_TAG))
                        .values(build_id)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_err("ec2:DescribeInstances", region, &e).to_string())?;
            for i in out.reservations().iter().flat_map(|r| r.instances()) {
                if i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated") {
                    let r = Resource::Instance {
                        region: region.clone(),
                        id: i.instance_id().unwrap_or_default().to_string(),
                    };
                    Box::pin(delete(&r, session, clients, deadline)).await?;
                }
            }
            Ok(())
        }
        Resource::PendingImage { region, name } => {
            let ec2 = ec2_for(region, session, clients).clone();
            let out = ec2
                .describe_images()
                .owners("self")
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("name")
                        .values(name)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_err("ec2:DescribeImages", region, &e).to_string())?;
            for img in out.images() {
                // A finished build's AMI of the same name is never touched.
                if img
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some(crate::build::tags::COMMITTED_TAG))
                {
                    continue;
                }
                let r = Resource::Image {
                    region: region.clone(),
                    id: img.image_id().unwrap_or_default().to_string(),
                };
                Box::pin(delete(&r, session, clients, deadline)).await?;
            }
            Ok(())
        }
        Resource::Instance { region, id } => {
            let ec2 = ec2_for(region, session, clients).clone();
            match ec2.terminate_instances().instance_ids(id).send().await {
                Ok(_) => {}
                Err(e) if is_code(&e, &["InvalidInstanceID.NotFound"]) => return Ok(()),
                Err(e) => return Err(aws_err("ec2:TerminateInstances", region, &e).to_string()),
            }
            let spec = WaitSpec::new(
                format!("instance {id} to terminate"),
                Duration::from_secs(600),
            );
            wait(&spec, deadline, || async {
                match ec2.describe_instances().instance_ids(id).send().await {
                    Ok(o) => {
                        let state = o
                            .reservations()
                            .iter()
                            .flat_map(|r| r.instances())
                            .next()
                            .and_then(|i| i.state())
                            .and_then(|s| s.name())
                            .map(|n| n.as_str().to_string());
                        match state.as_deref() {
                            Some("terminated") | None => Ok(Poll::Done(())),
                            Some(s) => Ok(Poll::Pending(s.to_string())),
                        }
                    }
                    Err(e) if is_code(&e, &["InvalidInstanceID.NotFound"]) => Ok(Poll::Done(())),
                    Err(e) => Err(aws_err("ec2:DescribeInstances", region, &e).to_string()),
                }
            })
            .await
            .map_err(|e| e.to_string())
        }
        Resource::Image { region, id } => {
            let ec2 = ec2_for(region, session, clients).clone();
            let snaps = match ec2.describe_images().image_ids(id).send().await {
                Ok(o) => o
                    .images()
                    .first()
                    .map(crate::steps::image::snapshots_of)
                    .unwrap_or_default(),
                Err(e) if is_code(&e, &["InvalidAMIID.NotFound"]) => vec![],
                Err(e) => return Err(aws_err("ec2:DescribeImages", region, &e).to_string()),
            };
            match ec2.deregister_image().image_id(id).send().await {
                Ok(_) => {}
                Err(e) if is_code(&e, &["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"]) => {}
                Err(e) => return Err(aws_err("ec2:DeregisterImage", region, &e).to_string()),
            }
            for s in snaps {
                match ec2.delete_snapshot().snapshot_id(&s).send().await {
                    Ok(_) => {}
                    Err(e) if is_code(&e, &["InvalidSnapshot.NotFound"]) => {}
                    Err(e) => return Err(aws_err("ec2:DeleteSnapshot", region, &e).to_string()),
                }
            }
            Ok(())
        }
        Resource::Snapshot { region, id } => match ec2_for(region, session, clients)
            .delete_snapshot()
            .snapshot_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if gone(&["InvalidSnapshot.NotFound"], &e) => Ok(()),
            Err(e) => Err(aws_err("ec2:DeleteSnapshot", region, &e).to_string()),
        },
        Resource::Volume { region, id } => {
            let ec2 = ec2_for(region, session, clients).clone();
            retry_dependency(deadline, || async {
                match ec2.delete_volume().volume_id(id).send().await {
                    Ok(_) => Ok(true),
                    Err(e) if is_code(&e, &["InvalidVolume.NotFound"]) => Ok(true),
                    Err(e) if is_code(&e, &["VolumeInUse", "IncorrectState"]) => Ok(false),
                    Err(e) => Err(aws_err("ec2:DeleteVolume", region, &e).to_string()),
                }
            })
            .await
        }
        Resource::SecurityGroup { region, id } => {
            let ec2 = ec2_for(region, session, clients).clone();
            // AWS refuses while a terminating instance still holds the group (packer#278).
            retry_dependency(deadline, || async {
                match ec2.delete_security_group().group_id(id).send().await {
                    Ok(_) => Ok(true),
                    Err(e) if is_code(&e, &["InvalidGroup.NotFound"]) => Ok(true),
                    Err(e) if is_code(&e, &["DependencyViolation"]) => Ok(false),
                    Err(e) => Err(aws_err("ec2:DeleteSecurityGroup", region, &e).to_string()),
                }
            })
            .await
        }
        Resource::KeyPair { region, name } => match ec2_for(region, session, clients)
            .delete_key_pair()
            .key_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(aws_err("ec2:DeleteKeyPair", region, &e).to_string()),
        },
        Resource::LaunchTemplate { region, id } => match ec2_for(region, session, clients)
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if is_code(
                    &e,
                    &[
                        "InvalidLaunchTemplateId.NotFound",
                        "InvalidLaunchTemplateId.Malformed",
                    ],
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_err("ec2:DeleteLaunchTemplate", region, &e).to_string()),
        },
        Resource::ProfileRole { profile, role } => match session
            .iam()
            .remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_err("iam:RemoveRoleFromInstanceProfile", "global", &e).to_string()),
        },
        Resource::InstanceProfile { name } => match session
            .iam()
            .delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_err("iam:DeleteInstanceProfile", "global", &e).to_string()),
        },
        Resource::IamRolePolicy { role, name } => match session
            .iam()
            .delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_err("iam:DeleteRolePolicy", "global", &e).to_string()),
        },
        Resource::IamRole { name } => {
            match session.iam().delete_role().role_name(name).send().await {
                Ok(_) => Ok(()),
                Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(()),
                Err(e) => Err(aws_err("iam:DeleteRole", "global", &e).to_string()),
            }
        }
    }
}

/// The EBS volumes attached to an instance, but for the devices in `keep`. An instance that is
/// gone or unreadable has nothing left to find.
async fn volumes_of(ec2: &aws_sdk_ec2::Client, instance_id: &str, keep: &[String]) -> Vec<String> {
    let Ok(out) = ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
    else {
        return vec![];
    };
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(|i| i.block_device_mappings())
        .filter(|m| !m.device_name().is_some_and(|d| keep.iter().any(|k| k == d)))
        .filter_map(|m| m.ebs().and_then(|e| e.volume_id()).map(String::from))
        .collect()
}

/// Retries a delete that answers "still in use" (Ok(false)) with backoff, up to 3 minutes.
async fn retry_dependency<F, Fut>(deadline: &CancellationToken, mut f: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    // One attempt even when there is no time left to wait.
    match f().await {
        Ok(true) => return Ok(()),
        Err(e) => return Err(e),
        Ok(false) if deadline.is_cancelled() => {
            return Err("still in use (the instance using it could not be terminated)".into());
        }
        Ok(false) => {}
    }
    let spec = WaitSpec {
        not_found_grace: Duration::from_secs(180),
        ..WaitSpec::new("the resource to be released", Duration::from_secs(180))
    };
    wait(&spec, deadline, || {
        let fut = f();
        async move {
            match fut.await {
                Ok(true) => Ok(Poll::Done(())),
                Ok(false) => Ok(Poll::Pending("in use".into())),
                Err(e) => Err(e),
            }
        }
    })
    .await
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::journal::Record;

    fn created(seq: u64, r: Resource, l: Lifetime) -> Record {
        Record {
            seq,
            ts: String::new(),
            build_id: "b".into(),
            event: Event::Created {
                resource: r,
                lifetime: l,
            },
        }
    }

    #[test]
    fn instances_first_then_images_then_reverse_order() {
        let kp = Resource::KeyPair {
            region: "r".into(),
            name: "k".into(),
        };
        let sg = Resource::SecurityGroup {
            region: "r".into(),
            id: "sg".into(),
        };
        let i = Resource::Instance {
            region: "r".into(),
            id: "i".into(),
        };
        let v = Resource::Volume {
            region: "r".into(),
            id: "v".into(),
        };
        let ami = Resource::Image {
            region: "r".into(),
            id: "ami".into(),
        };
        let recs = vec![
            created(1, kp.clone(), Lifetime::Temporary),
            created(2, sg.clone(), Lifetime::Temporary),
            created(3, i.clone(), Lifetime::Temporary),
            created(4, v.clone(), Lifetime::Temporary),
            created(5, ami.clone(), Lifetime::Artifact),
        ];
        assert_eq!(
            plan(&recs, true),
            vec![i.clone(), ami.clone(), v.clone(), sg.clone(), kp.clone()]
        );
        assert_eq!(
            plan(&recs, false),
            vec![i.clone(), v.clone(), sg.clone(), kp.clone()],
            "success keeps the artifact"
        );
        let mut with_commit = recs.clone();
        with_commit.push(Record {
            seq: 6,
            ts: String::new(),
            build_id: "b".into(),
            event: Event::Committed { resource: ami },
        });
        assert_eq!(
            plan(&with_commit, true),
            vec![i, v, sg, kp],
            "a committed AMI is never touched"
        );
    }
}
