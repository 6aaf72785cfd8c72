//! Cleanup: deletes what a build's journal says is still out there. Instances are terminated
//! (and waited for) first, so the security group, key pair and volumes they use can go; AMIs
//! are deregistered with their snapshots (journaled before the deregistration, so a failed
//! snapshot delete is retried by the next cleanup); the rest goes in reverse creation order.
//! Each delete is journaled, so an interrupted cleanup can be resumed with `ambake cleanup <id>`.
//!
//! What it never deletes: an AMI (or snapshot) that carries `ambake:committed` or has a
//! `Committed` record — a finished build's product — unless the scope is
//! [`Scope::Everything`] (`ambake cleanup --include-artifacts`); an image found by name that
//! does not carry this build's `ambake:build-id`.
//!
//! It runs under its own deadline, never under the build's cancelled token.

use crate::aws::clients::Session;
use crate::aws::wait::{Poll, WaitSpec, wait};
use crate::job::context::{aws_err, is_code};
use crate::job::journal::{self, Event, Journal, Lifetime, Resource};
use crate::job::state::{AttachedVolume, BuildState};
use crate::job::tags::{BUILD_ID_TAG, COMMITTED_TAG, of_build};
use crate::ui::Ui;
use aws_sdk_ec2::types::Filter;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How far a cleanup reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The end of a successful build: its temporary resources.
    Temporaries,
    /// Once the build region's AMI is available: the instance and the temporaries only it
    /// used (its volumes, security group, key pair, instance profile, launch template). Images
    /// and snapshots stay, temporary ones too: an intermediary AMI is the copies' source.
    Instance,
    /// A failed or interrupted build, or `ambake cleanup`: everything the build made except
    /// the AMIs it finished (committed).
    Unfinished,
    /// `ambake cleanup --include-artifacts`: the finished AMIs as well.
    Everything,
}

impl Scope {
    fn artifacts(self) -> bool {
        matches!(self, Scope::Unfinished | Scope::Everything)
    }
    fn images(self) -> bool {
        self != Scope::Instance
    }
    fn committed(self) -> bool {
        self == Scope::Everything
    }
}

/// What a cleanup would delete, in order: a pure function of the journal (unit-tested).
pub fn plan(records: &[journal::Record], scope: Scope) -> Vec<(Resource, Lifetime)> {
    let live: Vec<(Resource, Lifetime)> = journal::outstanding(records, scope.committed())
        .into_iter()
        .filter(|(_, l)| scope.artifacts() || *l == Lifetime::Temporary)
        .filter(|(r, _)| {
            scope.images()
                || !matches!(
                    r,
                    Resource::Image { .. }
                        | Resource::PendingImage { .. }
                        | Resource::Snapshot { .. }
                )
        })
        .collect();
    let rank = |r: &Resource| match r {
        Resource::Instance { .. } | Resource::PendingInstances { .. } => 0,
        Resource::Image { .. } | Resource::PendingImage { .. } => 1,
        Resource::Snapshot { .. } | Resource::InstanceVolumes { .. } => 2,
        _ => 3,
    };
    let mut ordered: Vec<(usize, (Resource, Lifetime))> =
        live.into_iter().rev().enumerate().collect();
    // Stable: within a rank, reverse creation order.
    ordered.sort_by_key(|(i, (r, _))| (rank(r), *i));
    ordered.into_iter().map(|(_, r)| r).collect()
}

/// What the build saw itself that a cleanup would otherwise ask EC2 for. Empty for `ambake
/// cleanup` and after a crash: then EC2 is asked.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Per instance id: its volumes when the build stopped it ([`BuildState::stopped_volumes`]).
    pub volumes: BTreeMap<String, Vec<AttachedVolume>>,
}

impl Seen {
    pub fn of(st: &BuildState) -> Seen {
        let mut volumes = BTreeMap::new();
        if let (Some(i), Some(v)) = (&st.instance, &st.stopped_volumes) {
            volumes.insert(i.id.clone(), v.clone());
        }
        Seen { volumes }
    }
}

/// What became of one resource.
enum Done {
    Deleted,
    /// A finished build's AMI or snapshot: left alone, with the reason.
    Kept(String),
}

/// What one cleanup needs at hand: clients per region, the journal, its limits.
struct Unwinder<'a> {
    session: &'a Session,
    journal: &'a Journal,
    ui: &'a Ui,
    scope: Scope,
    clients: BTreeMap<String, aws_sdk_ec2::Client>,
    /// What this run deleted already (an AMI's snapshots go with it): not asked about again.
    deleted: std::sync::Mutex<Vec<Resource>>,
}

/// Deletes everything `plan` lists. Returns what could not be deleted. A pass that met
/// expired credentials (`ExpiredToken`, `RequestExpired`) is followed by one more with the
/// session made again, for what is left: a long build's credentials may run out before its
/// cleanup, and a provider that can refresh them (SSO, assume-role, a credential process)
/// then still gets everything removed.
pub async fn run(
    journal: &Journal,
    session: &Session,
    ui: &Ui,
    scope: Scope,
    dry_run: bool,
    seen: &Seen,
) -> Vec<(Resource, String)> {
    let expired_before = crate::aws::errors::expired_count();
    let failed = pass(journal, session, ui, scope, dry_run, seen).await;
    if failed.is_empty() || dry_run || crate::aws::errors::expired_count() == expired_before {
        return failed;
    }
    ui.say("The credentials expired during cleanup: asking for them again and retrying what is left...");
    match session.renew().await {
        Ok(fresh) => pass(journal, &fresh, ui, scope, false, seen).await,
        Err(e) => {
            ui.error(&format!("Could not renew the credentials: {e:#}"));
            failed
        }
    }
}

async fn pass(
    journal: &Journal,
    session: &Session,
    ui: &Ui,
    scope: Scope,
    dry_run: bool,
    seen: &Seen,
) -> Vec<(Resource, String)> {
    let records = journal::read(journal.path()).unwrap_or_default();
    let todo = plan(&records, scope);
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
    let mut u = Unwinder {
        session,
        journal,
        ui,
        scope,
        clients: BTreeMap::new(),
        deleted: Default::default(),
    };
    let mut failed = Vec::new();
    // A terminated instance no longer lists its volumes: look them up while it still does
    // (unless the build saw them when it stopped the instance).
    let mut attached: BTreeMap<String, Result<Vec<String>, String>> = BTreeMap::new();
    for (r, _) in &todo {
        if let (
            false,
            Resource::InstanceVolumes {
                region,
                instance_id,
                keep,
            },
        ) = (dry_run, r)
        {
            let vols = match seen.volumes.get(instance_id) {
                Some(v) => Ok(v.clone()),
                None => volumes_of(u.ec2(region), region, instance_id).await,
            };
            let ours = match vols.map(|v| surviving(&v, keep)) {
                Ok(left) if !left.is_empty() => u.made_by_build(region, &left).await,
                other => other,
            };
            attached.insert(instance_id.clone(), ours);
        }
    }
    // An instance that could not be terminated still holds its volumes and groups: waiting for
    // them to be released would only burn the deadline, so they get one attempt each.
    let mut instance_left = false;
    for (r, lifetime) in todo {
        if dry_run {
            ui.message(&format!("would delete {}", r.describe()));
            continue;
        }
        if u.already_deleted(&r) {
            continue;
        }
        ui.message(&format!("Deleting {}...", r.describe()));
        let patience = if instance_left {
            let t = CancellationToken::new();
            t.cancel();
            t
        } else {
            deadline.clone()
        };
        let result = match &r {
            Resource::InstanceVolumes {
                region,
                instance_id,
                ..
            } => match attached.remove(instance_id).unwrap_or(Ok(vec![])) {
                Err(e) => Err(e),
                Ok(ids) => {
                    let mut result = Ok(Done::Deleted);
                    for id in ids {
                        let v = Resource::Volume {
                            region: region.clone(),
                            id,
                        };
                        if let Err(e) = u.delete(&v, lifetime, &patience).await {
                            result = Err(format!("{}: {e}", v.describe()));
                        }
                    }
                    result
                }
            },
            _ => u.delete(&r, lifetime, &patience).await,
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
            Ok(Done::Deleted) => {
                ui.event("resource_deleted", serde_json::json!({ "resource": r }));
                u.note(Event::Deleted {
                    resource: r.clone(),
                })
            }
            Ok(Done::Kept(why)) => {
                ui.message(&format!("Kept {}: {why}", r.describe()));
                u.note(Event::Committed {
                    resource: r.clone(),
                })
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

/// The EBS volumes attached to an instance, as EC2 lists them now. An instance that is gone has
/// nothing left to find; one that cannot be read is an error (its record stays).
async fn volumes_of(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    instance_id: &str,
) -> Result<Vec<AttachedVolume>, String> {
    let out = match ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if is_code(&e, &["InvalidInstanceID.NotFound"]) => return Ok(vec![]),
        Err(e) => return Err(aws_err("ec2:DescribeInstances", region, e).to_string()),
    };
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(crate::steps::instance::attached)
        .collect())
}

/// The volumes a terminated instance leaves behind that may be the build's to delete: all but
/// the devices in `keep` (the user's launch_block_device_mappings, which follow their own
/// delete_on_termination, as in Packer) and those EC2 deletes itself. Which of them the build
/// made is then asked by tag ([`Unwinder::made_by_build`]).
fn surviving(attached: &[AttachedVolume], keep: &[String]) -> Vec<String> {
    attached
        .iter()
        .filter(|v| !v.device.as_ref().is_some_and(|d| keep.contains(d)))
        // EC2 deletes these itself when the instance terminates: deleting them too only races
        // it and costs a call.
        .filter(|v| v.delete_on_termination != Some(true))
        .map(|v| v.volume_id.clone())
        .collect()
}

fn committed(tags: &[aws_sdk_ec2::types::Tag]) -> bool {
    tags.iter().any(|t| t.key() == Some(COMMITTED_TAG))
}

const KEPT_COMMITTED: &str = "it belongs to a finished build (tag ambake:committed); `ambake cleanup --include-artifacts` removes it";

impl Unwinder<'_> {
    /// Of the volumes a terminated instance leaves, those its launch made (tagged with this
    /// build's id at creation). One attached to it since — a user's data volume a provisioner
    /// mounted, say — is not the build's to delete: it is named and kept.
    async fn made_by_build(
        &mut self,
        region: &str,
        left: &[String],
    ) -> Result<Vec<String>, String> {
        let build = of_build(self.journal.build_id());
        let out = self
            .ec2(region)
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("volume-id")
                    .set_values(Some(left.to_vec()))
                    .build(),
            )
            .filters(build)
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeVolumes", region, e).to_string())?;
        let ours: Vec<String> = out
            .volumes()
            .iter()
            .filter_map(|v| v.volume_id().map(String::from))
            .collect();
        for id in left.iter().filter(|id| !ours.contains(id)) {
            self.ui.message(&format!(
                "Kept volume {id} ({region}): attached to the instance but not made by this build (no {BUILD_ID_TAG} tag of its own)"
            ));
        }
        Ok(ours)
    }

    fn ec2(&mut self, region: &str) -> &aws_sdk_ec2::Client {
        let session = self.session;
        self.clients
            .entry(region.to_string())
            .or_insert_with(|| session.ec2_in(region))
    }

    /// Journals what cleanup did. A journal that cannot be written here only costs a repeated
    /// (idempotent) delete next time, so it does not stop the cleanup.
    fn already_deleted(&self, r: &Resource) -> bool {
        self.deleted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(r)
    }

    fn note(&self, e: Event) {
        if let Event::Deleted { resource } = &e {
            self.deleted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(resource.clone());
        }
        if let Err(err) = self.journal.append(e) {
            self.ui.error(&format!(
                "cannot write the build journal {}: {err}",
                self.journal.path().display()
            ));
        }
    }

    async fn delete(
        &mut self,
        r: &Resource,
        lifetime: Lifetime,
        deadline: &CancellationToken,
    ) -> Result<Done, String> {
        match r {
            Resource::InstanceVolumes { .. } => Ok(Done::Deleted), // resolved by `run` first
            Resource::PendingInstances { region, build_id } => {
                let ec2 = self.ec2(region).clone();
                let out = ec2
                    .describe_instances()
                    .filters(of_build(build_id))
                    .send()
                    .await
                    .map_err(|e| aws_err("ec2:DescribeInstances", region, e).to_string())?;
                for i in out.reservations().iter().flat_map(|r| r.instances()) {
                    let Some(id) = i.instance_id().filter(|s| !s.is_empty()) else {
                        continue;
                    };
                    if i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated") {
                        let r = Resource::Instance {
                            region: region.clone(),
                            id: id.to_string(),
                        };
                        Box::pin(self.delete(&r, lifetime, deadline)).await?;
                    }
                }
                Ok(Done::Deleted)
            }
            Resource::PendingImage { region, name } => {
                // By name *and* this build's tag: an AMI of that name made by anyone else —
                // Packer, a person, a concurrent build of the same template — is not ours.
                let build_id = self.journal.build_id().to_string();
                let ec2 = self.ec2(region).clone();
                let out = ec2
                    .describe_images()
                    .owners("self")
                    .filters(Filter::builder().name("name").values(name).build())
                    .filters(of_build(&build_id))
                    .send()
                    .await
                    .map_err(|e| aws_err("ec2:DescribeImages", region, e).to_string())?;
                let mut done = Done::Deleted;
                for img in out.images() {
                    let Some(id) = img.image_id().filter(|s| !s.is_empty()) else {
                        continue;
                    };
                    let r = Resource::Image {
                        region: region.clone(),
                        id: id.to_string(),
                    };
                    // Journaled as found, so a failure from here on names the image by its id.
                    self.note(Event::Created {
                        resource: r.clone(),
                        lifetime,
                    });
                    match self.delete_image(region, id, lifetime, deadline).await? {
                        Done::Deleted => self.note(Event::Deleted { resource: r }),
                        Done::Kept(why) => {
                            self.note(Event::Committed { resource: r });
                            done = Done::Kept(why);
                        }
                    }
                }
                Ok(done)
            }
            Resource::Instance { region, id } => {
                let ec2 = self.ec2(region).clone();
                match ec2.terminate_instances().instance_ids(id).send().await {
                    Ok(_) => {}
                    Err(e) if is_code(&e, &["InvalidInstanceID.NotFound"]) => {
                        return Ok(Done::Deleted);
                    }
                    Err(e) => return Err(aws_err("ec2:TerminateInstances", region, e).to_string()),
                }
                // Terminating cannot be undone: no wait here. What the instance still holds
                // while it shuts down (its volumes, the security group) is retried on
                // VolumeInUse / DependencyViolation when its turn comes, so instant clouds
                // spend no polls and slow ones spend them where the dependency is.
                Ok(Done::Deleted)
            }
            Resource::Image { region, id } => {
                self.delete_image(region, id, lifetime, deadline).await
            }
            Resource::Snapshot { region, id } => {
                let ec2 = self.ec2(region).clone();
                match ec2.describe_snapshots().snapshot_ids(id).send().await {
                    Ok(o)
                        if o.snapshots().iter().any(|s| committed(s.tags()))
                            && !self.scope.committed() =>
                    {
                        return Ok(Done::Kept(KEPT_COMMITTED.into()));
                    }
                    Ok(_) => {}
                    Err(e) if is_code(&e, &["InvalidSnapshot.NotFound"]) => {
                        return Ok(Done::Deleted);
                    }
                    Err(e) => return Err(aws_err("ec2:DescribeSnapshots", region, e).to_string()),
                }
                delete_snapshot(&ec2, region, id, deadline)
                    .await
                    .map(|()| Done::Deleted)
            }
            Resource::Volume { region, id } => {
                let ec2 = self.ec2(region).clone();
                retry_dependency(deadline, || async {
                    match ec2.delete_volume().volume_id(id).send().await {
                        Ok(_) => Ok(true),
                        Err(e) if is_code(&e, &["InvalidVolume.NotFound"]) => Ok(true),
                        Err(e) if is_code(&e, &["VolumeInUse", "IncorrectState"]) => Ok(false),
                        Err(e) => Err(aws_err("ec2:DeleteVolume", region, e).to_string()),
                    }
                })
                .await
                .map(|()| Done::Deleted)
            }
            Resource::SecurityGroup { region, id } => {
                let ec2 = self.ec2(region).clone();
                // AWS refuses while a terminating instance still holds the group (packer#278).
                retry_dependency(deadline, || async {
                    match ec2.delete_security_group().group_id(id).send().await {
                        Ok(_) => Ok(true),
                        Err(e) if is_code(&e, &["InvalidGroup.NotFound"]) => Ok(true),
                        Err(e) if is_code(&e, &["DependencyViolation"]) => Ok(false),
                        Err(e) => Err(aws_err("ec2:DeleteSecurityGroup", region, e).to_string()),
                    }
                })
                .await
                .map(|()| Done::Deleted)
            }
            Resource::KeyPair { region, name, id } => {
                let ec2 = self.ec2(region).clone();
                // DeleteKeyPair goes by name: first make sure the name is still the pair this
                // build made (its id), not one made since by someone else.
                if let Some(id) = id {
                    match ec2.describe_key_pairs().key_names(name).send().await {
                        Ok(o) => match o.key_pairs().first().and_then(|k| k.key_pair_id()) {
                            None => return Ok(Done::Deleted),
                            Some(now) if now != id => {
                                return Ok(Done::Kept(format!(
                                    "the name now belongs to another key pair ({now}, not {id})"
                                )));
                            }
                            Some(_) => {}
                        },
                        Err(e) if is_code(&e, &["InvalidKeyPair.NotFound"]) => {
                            return Ok(Done::Deleted);
                        }
                        Err(e) => {
                            return Err(aws_err("ec2:DescribeKeyPairs", region, e).to_string());
                        }
                    }
                }
                match ec2.delete_key_pair().key_name(name).send().await {
                    Ok(_) => Ok(Done::Deleted),
                    Err(e) => Err(aws_err("ec2:DeleteKeyPair", region, e).to_string()),
                }
            }
            Resource::LaunchTemplate { region, id } => {
                match self
                    .ec2(region)
                    .delete_launch_template()
                    .launch_template_id(id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Done::Deleted),
                    Err(e)
                        if is_code(
                            &e,
                            &[
                                "InvalidLaunchTemplateId.NotFound",
                                "InvalidLaunchTemplateId.Malformed",
                            ],
                        ) =>
                    {
                        Ok(Done::Deleted)
                    }
                    Err(e) => Err(aws_err("ec2:DeleteLaunchTemplate", region, e).to_string()),
                }
            }
            Resource::ProfileRole { profile, role } => match self
                .session
                .iam()
                .remove_role_from_instance_profile()
                .instance_profile_name(profile)
                .role_name(role)
                .send()
                .await
            {
                Ok(_) => Ok(Done::Deleted),
                Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(Done::Deleted),
                Err(e) => {
                    Err(aws_err("iam:RemoveRoleFromInstanceProfile", "global", e).to_string())
                }
            },
            Resource::InstanceProfile { name } => match self
                .session
                .iam()
                .delete_instance_profile()
                .instance_profile_name(name)
                .send()
                .await
            {
                Ok(_) => Ok(Done::Deleted),
                Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(Done::Deleted),
                Err(e) => Err(aws_err("iam:DeleteInstanceProfile", "global", e).to_string()),
            },
            Resource::IamRolePolicy { role, name } => match self
                .session
                .iam()
                .delete_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
            {
                Ok(_) => Ok(Done::Deleted),
                Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(Done::Deleted),
                Err(e) => Err(aws_err("iam:DeleteRolePolicy", "global", e).to_string()),
            },
            Resource::IamRole { name } => {
                match self
                    .session
                    .iam()
                    .delete_role()
                    .role_name(name)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Done::Deleted),
                    Err(e) if is_code(&e, &["NoSuchEntity"]) => Ok(Done::Deleted),
                    Err(e) => Err(aws_err("iam:DeleteRole", "global", e).to_string()),
                }
            }
        }
    }

    /// Deregisters an AMI and deletes its snapshots — unless it is a finished build's. The
    /// snapshots are journaled before the deregistration: afterwards the AMI no longer lists
    /// them, and a snapshot whose delete fails must still be known to the next cleanup.
    async fn delete_image(
        &mut self,
        region: &str,
        id: &str,
        lifetime: Lifetime,
        deadline: &CancellationToken,
    ) -> Result<Done, String> {
        let ec2 = self.ec2(region).clone();
        let img = match ec2.describe_images().image_ids(id).send().await {
            Ok(o) => o.images().first().cloned(),
            Err(e) if is_code(&e, &["InvalidAMIID.NotFound"]) => None,
            Err(e) => return Err(aws_err("ec2:DescribeImages", region, e).to_string()),
        };
        let Some(img) = img else {
            return Ok(Done::Deleted);
        };
        if committed(img.tags()) && !self.scope.committed() {
            return Ok(Done::Kept(KEPT_COMMITTED.into()));
        }
        let snaps: Vec<Resource> = crate::aws::images::snapshots_of(&img)
            .into_iter()
            .map(|id| Resource::Snapshot {
                region: region.to_string(),
                id,
            })
            .collect();
        for s in &snaps {
            self.note(Event::Created {
                resource: s.clone(),
                lifetime,
            });
        }
        match ec2.deregister_image().image_id(id).send().await {
            Ok(_) => {}
            Err(e) if is_code(&e, &["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"]) => {}
            Err(e) => return Err(aws_err("ec2:DeregisterImage", region, e).to_string()),
        }
        self.note(Event::Deleted {
            resource: Resource::Image {
                region: region.to_string(),
                id: id.to_string(),
            },
        });
        let mut errors = Vec::new();
        for s in snaps {
            let Resource::Snapshot { id, .. } = &s else {
                continue;
            };
            match delete_snapshot(&ec2, region, id, deadline).await {
                Ok(()) => self.note(Event::Deleted { resource: s }),
                Err(e) => errors.push(format!("snapshot {id}: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(Done::Deleted)
        } else {
            Err(format!(
                "deregistered, but {} (kept in the journal: `ambake cleanup` retries them)",
                errors.join("; ")
            ))
        }
    }
}

/// Deletes a snapshot; AWS refuses for a moment after its AMI is deregistered (InUse): retried.
async fn delete_snapshot(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
    deadline: &CancellationToken,
) -> Result<(), String> {
    retry_dependency(deadline, || async {
        match ec2.delete_snapshot().snapshot_id(id).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, &["InvalidSnapshot.NotFound"]) => Ok(true),
            Err(e) if is_code(&e, &["InvalidSnapshot.InUse"]) => Ok(false),
            Err(e) => Err(aws_err("ec2:DeleteSnapshot", region, e).to_string()),
        }
    })
    .await
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
    use crate::job::journal::Record;

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
            id: None,
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
        let names = |s: Scope, recs: &[Record]| -> Vec<Resource> {
            plan(recs, s).into_iter().map(|(r, _)| r).collect()
        };
        assert_eq!(
            names(Scope::Unfinished, &recs),
            vec![i.clone(), ami.clone(), v.clone(), sg.clone(), kp.clone()]
        );
        assert_eq!(
            names(Scope::Temporaries, &recs),
            vec![i.clone(), v.clone(), sg.clone(), kp.clone()],
            "success keeps the artifact"
        );
        let mut with_commit = recs.clone();
        with_commit.push(Record {
            seq: 6,
            ts: String::new(),
            build_id: "b".into(),
            event: Event::Committed {
                resource: ami.clone(),
            },
        });
        assert_eq!(
            names(Scope::Unfinished, &with_commit),
            vec![i.clone(), v.clone(), sg.clone(), kp.clone()],
            "a committed AMI is not touched"
        );
        assert_eq!(
            names(Scope::Everything, &with_commit),
            vec![i, ami, v, sg, kp],
            "--include-artifacts reaches it"
        );
    }

    #[test]
    fn the_candidates_are_volumes_ec2_leaves_and_the_user_did_not_list() {
        let v = |dev: &str, id: &str, dot: Option<bool>| AttachedVolume {
            device: Some(dev.into()),
            volume_id: id.into(),
            delete_on_termination: dot,
        };
        let attached = [
            v("/dev/xvda", "vol-root", Some(true)),
            v("/dev/xvdb", "vol-listed", Some(false)),
            v("/dev/sdf", "vol-attached", Some(false)),
            v("/dev/sdg", "vol-unknown", None),
        ];
        assert_eq!(
            surviving(&attached, &["/dev/xvdb".to_string()]),
            ["vol-attached", "vol-unknown"]
        );
    }

    #[test]
    fn what_the_stop_saw_is_known_by_instance() {
        let vols = vec![AttachedVolume {
            device: Some("/dev/sdf".into()),
            volume_id: "vol-1".into(),
            delete_on_termination: Some(false),
        }];
        let mut st = BuildState {
            instance: Some(crate::job::state::InstanceInfo {
                id: "i-1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(Seen::of(&st).volumes.is_empty(), "not stopped yet");
        st.stopped_volumes = Some(vols.clone());
        assert_eq!(Seen::of(&st).volumes.get("i-1"), Some(&vols));
    }

    #[test]
    fn releasing_the_instance_keeps_every_image() {
        let sg = Resource::SecurityGroup {
            region: "r".into(),
            id: "sg".into(),
        };
        let i = Resource::Instance {
            region: "r".into(),
            id: "i".into(),
        };
        // ami_skip_build_region / encrypt_boot: the build region's AMI is temporary, and the
        // copies still read from it.
        let intermediary = Resource::Image {
            region: "r".into(),
            id: "ami".into(),
        };
        let snap = Resource::Snapshot {
            region: "r".into(),
            id: "snap".into(),
        };
        let pending_copy = Resource::PendingImage {
            region: "r2".into(),
            name: "n".into(),
        };
        let recs = vec![
            created(1, sg.clone(), Lifetime::Temporary),
            created(2, i.clone(), Lifetime::Temporary),
            created(3, intermediary, Lifetime::Temporary),
            created(4, snap, Lifetime::Temporary),
            created(5, pending_copy, Lifetime::Artifact),
        ];
        let got: Vec<Resource> = plan(&recs, Scope::Instance)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(got, vec![i, sg]);
    }
}
