//! StepDeregisterAMI, stepCreateAMI (with encrypt_boot's encrypted copy), StepAMIRegionCopy,
//! StepModifyAMIAttributes, StepCreateTags. Calls: ec2:DescribeImages, ec2:DeregisterImage,
//! ec2:DeleteSnapshot, ec2:CreateImage, ec2:CopyImage, ec2:ModifyImageAttribute,
//! ec2:ModifySnapshotAttribute, ec2:CreateTags.
//!
//! Every AMI is journaled the moment CreateImage/CopyImage returns its id, before the wait: a
//! cancel or timeout during the wait still deregisters it (Packer's bug packer#10248).

use super::ami_tags::AmiTags;
use crate::aws::images::{owned_named, snapshots_of, wait_available};
use crate::aws::retry::{RetryError, retry};
use crate::aws::wait::WaitSpec;
use crate::config::BuildPlan;
use crate::job::context::{Cx, Interrupted, aws_err, is_code};
use crate::job::journal::{self, Event, Journal, Lifetime, Resource};
use crate::job::needs::Needs;
use crate::job::state::BuildState;
use crate::job::tags::{ec2_tags, spec};
use aws_sdk_ec2::operation::create_image::CreateImageError;
use aws_sdk_ec2::types::*;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Packer's default wait for an AMI to become available.
pub const IMAGE_WAIT: Duration = Duration::from_secs(1800);

/// The AMI's name and description, rendered once (build-time values such as
/// `{{ .SourceAMIName }}` are known after the source-AMI step) and checked against EC2's rules.
fn naming(cx: &Cx, st: &mut BuildState) -> anyhow::Result<(String, Option<String>)> {
    if let Some(n) = &st.naming {
        return Ok(n.clone());
    }
    let c = &cx.plan.config;
    let name = cx.render(&c.ami_name, st)?;
    crate::ami_name::check(&name).map_err(anyhow::Error::msg)?;
    let description = c
        .ami_description
        .as_ref()
        .map(|d| cx.render(d, st))
        .transpose()?;
    st.naming = Some((name, description));
    Ok(st.naming.clone().expect("just set"))
}

pub async fn force_deregister(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    if !c.force_deregister || c.skip_create_ami {
        return Ok(());
    }
    let (name, _) = naming(cx, st)?;
    for region in std::iter::once(cx.region().to_string()).chain(c.copy_regions()) {
        let ec2 = cx.ec2_in(&region);
        for img in &owned_named(&ec2, &region, &name).await? {
            let id = img.image_id().unwrap_or_default();
            cx.ui
                .say(&format!("Deregistered AMI {name} ({id}) in {region}"));
            ec2.deregister_image()
                .image_id(id)
                .send()
                .await
                .map_err(|e| aws_err("ec2:DeregisterImage", &region, e))?;
            if c.force_delete_snapshot {
                for s in snapshots_of(img) {
                    cx.ui.message(&format!("Deleted snapshot {s}"));
                    ec2.delete_snapshot()
                        .snapshot_id(&s)
                        .send()
                        .await
                        .map_err(|e| aws_err("ec2:DeleteSnapshot", &region, e))?;
                }
            }
        }
    }
    Ok(())
}

pub async fn create(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let output = &cx.plan.decided.image;
    if !output.create {
        cx.ui.say("Skipping AMI creation...");
        return Ok(());
    }
    let (name, description) = naming(cx, st)?;
    let intermediary = output.intermediary;
    let image_name = if intermediary {
        format!("ambake-intermediary-{}", cx.build_id)
    } else {
        name.clone()
    };
    let mut image_tags = if c.skip_ami_run_tags {
        BTreeMap::new()
    } else {
        super::security::run_tags(cx, st)?
    };
    image_tags.remove(crate::job::tags::BUILD_ID_TAG);
    let final_tags = AmiTags::render(cx, st)?;
    let tag_specs = if intermediary {
        // Deregistered once its copies exist: only traceable, not a product.
        vec![spec(ResourceType::Image, &cx.build_id, &image_tags)]
    } else {
        final_tags.specs(&cx.build_id, &image_tags)
    };
    let instance = st.instance()?.id.clone();
    cx.ui.say(&format!(
        "Creating AMI {image_name} from instance {instance}"
    ));
    let mut req = cx
        .ec2
        .create_image()
        .instance_id(&instance)
        .name(&image_name)
        .set_description(description.clone())
        .set_block_device_mappings(
            Some(super::instance::block_devices(&c.ami_block_device_mappings))
                .filter(|v| !v.is_empty()),
        )
        // Snapshots are reached through their AMI (cleanup deletes them with it); see
        // ami_tags for which tags go on at creation.
        .set_tag_specifications(Some(tag_specs));
    if c.no_ephemeral {
        for l in 'a'..='z' {
            req = req.block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(format!("xvdc{l}"))
                    .no_device("")
                    .build(),
            );
        }
    }
    let lifetime = if intermediary {
        Lifetime::Temporary
    } else {
        Lifetime::Artifact
    };
    let pending = Resource::PendingImage {
        region: cx.region().to_string(),
        name: image_name.clone(),
    };
    cx.record(pending.clone(), lifetime)?;
    // CreateImage right after a stop can see "Instance is not in state": retried, bounded.
    let not_in_state = |e: &SdkError<CreateImageError, HttpResponse>| {
        is_code(e, &["IncorrectInstanceState"])
            || crate::aws::errors::explain(e)
                .to_string()
                .contains("is not in state")
    };
    let out = match retry(
        "the instance to be ready for CreateImage",
        Duration::from_secs(900),
        &cx.cancel,
        &not_in_state,
        || req.clone().send(),
    )
    .await
    {
        Ok(o) => o,
        Err(RetryError::Failed(e)) => {
            cx.void(pending, &e);
            return Err(aws_err("ec2:CreateImage", cx.region(), e));
        }
        Err(RetryError::Interrupted) => return Err(Interrupted.into()),
    };
    let id = crate::aws::errors::required(
        out.image_id(),
        "ec2:CreateImage",
        "an image id",
        cx.region(),
    )?;
    cx.fulfil(
        pending,
        Resource::Image {
            region: cx.region().to_string(),
            id: id.clone(),
        },
        lifetime,
    )?;
    cx.ui.message(&format!("AMI: {id}"));
    cx.ui.say("Waiting for AMI to become ready...");
    let spec = cx.learned_spec(
        "image-available",
        cx.region(),
        format!("AMI {id} to be available"),
        IMAGE_WAIT,
    );
    let bar = cx.ui.percent_bar(&format!("{id} snapshots"));
    let snaps = wait_available(&cx.ec2, cx.region(), &id, &spec, &cx.cancel, bar.as_ref()).await?;
    // Journaled now: once the AMI is deregistered it no longer lists them.
    cx.journal
        .record_all(journal::snapshots(cx.region(), &snaps), lifetime)
        .map_err(|e| anyhow::anyhow!("cannot write the build journal: {e}"))?;
    if !intermediary {
        st.amis.insert(cx.region().to_string(), id);
        st.snapshots.insert(cx.region().to_string(), snaps);
        return Ok(());
    }
    if output.encrypt && output.keep_build_region {
        // encrypt_boot: the final AMI is an encrypted copy of the intermediary, same region.
        let kms = output.kms_for_build_region(cx.region());
        let job = CopyJob::new(
            cx,
            cx.region().to_string(),
            id.clone(),
            (name.clone(), description),
            (true, kms),
            final_tags.specs(&cx.build_id, &BTreeMap::new()),
        );
        let (region, ami, snaps) = job.run().await?;
        st.amis.insert(region.clone(), ami);
        st.snapshots.insert(region, snaps);
    } else {
        // skip_save_build_region: the intermediary only feeds the copies.
        st.amis.insert(format!("{}#intermediary", cx.region()), id);
    }
    Ok(())
}

/// One CopyImage into a region and its wait: owned values, so copies run as parallel tasks.
struct CopyJob {
    ec2: aws_sdk_ec2::Client,
    journal: Arc<Journal>,
    cancel: CancellationToken,
    ui: crate::ui::Ui,
    spec: WaitSpec,
    region: String,
    source_region: String,
    source_id: String,
    name: String,
    description: Option<String>,
    encrypted: bool,
    kms: Option<String>,
    duration: Option<i64>,
    token: String,
    tags: Vec<TagSpecification>,
}

impl CopyJob {
    fn new(
        cx: &Cx,
        region: String,
        source_id: String,
        (name, description): (String, Option<String>),
        (encrypted, kms): (bool, Option<String>),
        tags: Vec<TagSpecification>,
    ) -> CopyJob {
        let ec2 = cx.ec2_in(&region);
        CopyJob {
            ec2,
            journal: cx.journal.clone(),
            cancel: cx.cancel.clone(),
            ui: cx.ui.clone(),
            spec: cx.learned_spec(
                "copy-available",
                &region,
                format!("AMI copy in {region} to be available"),
                IMAGE_WAIT,
            ),
            // Time-based copies apply to the cross-region copies, not to encrypt_boot's own.
            duration: if region == cx.region() {
                None
            } else {
                cx.plan.config.snapshot_copy_duration_minutes
            },
            token: format!("{}-copy-{region}", cx.build_id),
            tags,
            region,
            source_region: cx.region().to_string(),
            source_id,
            name,
            description,
            encrypted,
            kms,
        }
    }

    async fn run(self) -> anyhow::Result<(String, String, Vec<String>)> {
        self.ui.message(&format!(
            "Copying AMI ({}) to {}",
            self.source_id, self.region
        ));
        let journal_err =
            |e: std::io::Error| anyhow::anyhow!("cannot write the build journal: {e}");
        let pending = Resource::PendingImage {
            region: self.region.clone(),
            name: self.name.clone(),
        };
        self.journal
            .append(Event::Created {
                resource: pending.clone(),
                lifetime: Lifetime::Artifact,
            })
            .map_err(journal_err)?;
        let mut req = self
            .ec2
            .copy_image()
            .source_image_id(&self.source_id)
            .source_region(&self.source_region)
            .name(&self.name)
            .set_description(self.description.clone())
            .client_token(&self.token)
            .set_tag_specifications(Some(self.tags.clone()));
        if self.encrypted {
            req = req.encrypted(true).set_kms_key_id(self.kms.clone());
        }
        if let Some(m) = self.duration {
            req = req.snapshot_copy_completion_duration_minutes(m);
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) => {
                crate::job::context::void_intent(&self.journal, pending, &e);
                return Err(aws_err("ec2:CopyImage", &self.region, e));
            }
        };
        let id = crate::aws::errors::required(
            out.image_id(),
            "ec2:CopyImage",
            "an image id",
            &self.region,
        )?;
        let copy = Resource::Image {
            region: self.region.clone(),
            id: id.clone(),
        };
        self.ui.event(
            "resource_created",
            serde_json::json!({ "resource": copy, "lifetime": Lifetime::Artifact }),
        );
        self.journal
            .append(Event::Created {
                resource: copy,
                lifetime: Lifetime::Artifact,
            })
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot write the build journal ({e}); AMI {id} in {} must be removed by hand",
                    self.region
                )
            })?;
        self.journal
            .append(Event::Deleted { resource: pending })
            .map_err(journal_err)?;
        let spec = WaitSpec {
            what: format!("AMI {id} in {} to be available", self.region),
            ..self.spec.clone()
        };
        let bar = self
            .ui
            .percent_bar(&format!("copy to {} ({id})", self.region));
        let snaps = wait_available(
            &self.ec2,
            &self.region,
            &id,
            &spec,
            &self.cancel,
            bar.as_ref(),
        )
        .await?;
        self.journal
            .record_all(journal::snapshots(&self.region, &snaps), Lifetime::Artifact)
            .map_err(journal_err)?;
        Ok((self.region, id, snaps))
    }
}

pub async fn copy(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let out = &cx.plan.decided.image;
    if !out.create {
        return Ok(());
    }
    let mut copies = out.copies.clone();
    let intermediary_key = format!("{}#intermediary", cx.region());
    let source = match st.amis.remove(&intermediary_key) {
        Some(i) => {
            // skip_save_build_region: the build region gets nothing but the copies elsewhere.
            i
        }
        None => match st.amis.get(cx.region()) {
            Some(a) => a.clone(),
            None => return Ok(()),
        },
    };
    copies.retain(|r| !st.amis.contains_key(&r.region));
    if copies.is_empty() {
        return Ok(());
    }
    let (name, description) = naming(cx, st)?;
    let tags = AmiTags::render(cx, st)?.specs(&cx.build_id, &BTreeMap::new());
    let mut set = tokio::task::JoinSet::new();
    for copy in &copies {
        let job = CopyJob::new(
            cx,
            copy.region.clone(),
            source.clone(),
            (name.clone(), description.clone()),
            (out.encrypt, copy.kms_key_id.clone()),
            tags.clone(),
        );
        set.spawn(job.run());
    }
    // Every region's outcome is collected before failing, so the error names them all.
    let mut errors = Vec::new();
    while let Some(res) = set.join_next().await {
        match res {
            Ok(Ok((region, id, snaps))) => {
                cx.ui.message(&format!("AMI copied to {region}: {id}"));
                st.amis.insert(region.clone(), id);
                st.snapshots.insert(region, snaps);
            }
            Ok(Err(e)) if e.is::<Interrupted>() => errors.push("interrupted".to_string()),
            Ok(Err(e)) => errors.push(format!("{e:#}")),
            Err(e) => errors.push(format!("copy task failed: {e}")),
        }
    }
    if cx.cancel.is_cancelled() {
        return Err(Interrupted.into());
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "copying the AMI failed in {} of {} regions: {}",
            errors.len(),
            copies.len(),
            errors.join("; ")
        );
    }
    Ok(())
}

pub async fn attributes(cx: &Cx, st: &BuildState) -> anyhow::Result<()> {
    cx.check_cancel()?;
    // Every region at once: each region's calls are its own (none when nothing is to be set).
    futures_util::future::try_join_all(
        st.amis
            .iter()
            .map(|(region, ami)| attributes_in(cx, st, region, ami)),
    )
    .await?;
    Ok(())
}

/// The attributes of one region's AMI and its snapshots.
async fn attributes_in(cx: &Cx, st: &BuildState, region: &str, ami: &str) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let launch = cx.plan.decided.image.share_launch;
    let snap = cx.plan.decided.image.share_snapshots;
    let imds = c.imds_support.as_deref().filter(|v| !v.is_empty());
    let ec2 = cx.ec2_in(region);
    if let Some(v) = imds {
        ec2.modify_image_attribute()
            .image_id(ami)
            .imds_support(AttributeValue::builder().value(v).build())
            .send()
            .await
            .map_err(|e| aws_err("ec2:ModifyImageAttribute", region, e))?;
    }
    if !c.ami_product_codes.is_empty() {
        ec2.modify_image_attribute()
            .image_id(ami)
            .set_product_codes(Some(c.ami_product_codes.clone()))
            .send()
            .await
            .map_err(|e| aws_err("ec2:ModifyImageAttribute", region, e))?;
    }
    if launch {
        cx.ui.say(&format!(
            "Modifying attributes on AMI ({ami}) in {region}..."
        ));
        let mut m = LaunchPermissionModifications::builder();
        for u in &c.ami_users {
            m = m.add(LaunchPermission::builder().user_id(u).build());
        }
        for g in &c.ami_groups {
            m = m.add(
                LaunchPermission::builder()
                    .group(PermissionGroup::from(g.as_str()))
                    .build(),
            );
        }
        for o in &c.ami_org_arns {
            m = m.add(LaunchPermission::builder().organization_arn(o).build());
        }
        for o in &c.ami_ou_arns {
            m = m.add(
                LaunchPermission::builder()
                    .organizational_unit_arn(o)
                    .build(),
            );
        }
        ec2.modify_image_attribute()
            .image_id(ami)
            .launch_permission(m.build())
            .send()
            .await
            .map_err(|e| aws_err("ec2:ModifyImageAttribute", region, e))?;
    }
    if snap {
        for s in st.snapshots.get(region).into_iter().flatten() {
            let mut req = ec2
                .modify_snapshot_attribute()
                .snapshot_id(s)
                .attribute(SnapshotAttributeName::CreateVolumePermission)
                .operation_type(OperationType::Add);
            for u in &c.snapshot_users {
                req = req.user_ids(u);
            }
            for g in &c.snapshot_groups {
                req = req.group_names(g);
            }
            req.send()
                .await
                .map_err(|e| aws_err("ec2:ModifySnapshotAttribute", region, e))?;
        }
    }
    Ok(())
}

/// The commit, in every region: one CreateTags puts `ambake:committed` (and the AMI tags, when
/// the snapshots did not get theirs at creation, see ami_tags) on the AMI and its snapshots at
/// once, so an AMI that carries the marker always has snapshots that do. Right after, it is
/// journaled as committed — a finished product that no cleanup deletes, whatever happens next.
pub async fn tags(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let commit = AmiTags::render(cx, st)?.commit();
    // One region after the other, unlike the attributes: a region whose call fails stops the
    // rest, so a failed build leaves as few finished AMIs as it can (once tagged, an AMI is
    // kept by every cleanup).
    let amis: Vec<(String, String)> = st.amis.clone().into_iter().collect();
    for (region, ami) in amis {
        cx.check_cancel()?;
        let snaps = st.snapshots.get(&region).cloned().unwrap_or_default();
        commit_in(cx, &commit, &region, &ami, &snaps).await?;
        st.committed.insert(region, ami);
    }
    Ok(())
}

/// One region's commit: the CreateTags, then the journal's `committed` records.
async fn commit_in(
    cx: &Cx,
    commit: &BTreeMap<String, String>,
    region: &str,
    ami: &str,
    snaps: &[String],
) -> anyhow::Result<()> {
    let ec2 = cx.ec2_in(region);
    cx.ui
        .say(&format!("Adding tags to AMI ({ami}) in {region}..."));
    // Snapshots first in the call, as they were when these were two calls.
    let mut ids = snaps.to_vec();
    ids.push(ami.to_string());
    // A new AMI or snapshot can be invisible to CreateTags for a moment.
    retry(
        "the AMI to be visible to CreateTags",
        Duration::from_secs(30),
        &cx.cancel,
        &|e| is_code(e, &["InvalidAMIID.NotFound", "InvalidSnapshot.NotFound"]),
        || {
            ec2.create_tags()
                .set_resources(Some(ids.clone()))
                .set_tags(Some(ec2_tags(commit)))
                .send()
        },
    )
    .await
    .map_err(|e| e.into_anyhow(|e| aws_err("ec2:CreateTags", region, e)))?;
    let mut done = vec![Resource::Image {
        region: region.to_string(),
        id: ami.to_string(),
    }];
    done.extend(journal::snapshots(region, snaps));
    cx.commit(done)
}

/// `deprecate_at`: every AMI of the build (the copies too) is deprecated at that time.
pub async fn deprecate(cx: &Cx, st: &BuildState) -> anyhow::Result<()> {
    let out = &cx.plan.decided.image;
    let Some(at) = out.deprecate_at.filter(|_| out.create) else {
        return Ok(());
    };
    let when = aws_smithy_types::DateTime::from_secs(at.as_second());
    for (region, ami) in &st.amis {
        cx.check_cancel()?;
        cx.ui.say(&format!(
            "Enabling deprecation on AMI ({ami}) in region \"{region}\" ..."
        ));
        cx.ec2_in(region)
            .enable_image_deprecation()
            .image_id(ami)
            .deprecate_at(when)
            .send()
            .await
            .map_err(|e| aws_err("ec2:EnableImageDeprecation", region, e))?;
    }
    Ok(())
}

/// `deregistration_protection`: run after the AMIs are committed, so cleanup never meets a
/// protected AMI it would have to remove.
pub async fn protect(cx: &Cx, st: &BuildState) -> anyhow::Result<()> {
    let out = &cx.plan.decided.image;
    let Some(cooldown) = out.protect.filter(|_| out.create) else {
        return Ok(());
    };
    for (region, ami) in &st.committed {
        cx.check_cancel()?;
        cx.ui.say(&format!(
            "Enabling deregistration protection on AMI ({ami}) in region \"{region}\"{} ...",
            if cooldown {
                ", with a 24-hour cooldown"
            } else {
                ""
            }
        ));
        cx.ec2_in(region)
            .enable_image_deregistration_protection()
            .image_id(ami)
            .with_cooldown(cooldown)
            .send()
            .await
            .map_err(|e| aws_err("ec2:EnableImageDeregistrationProtection", region, e))?;
    }
    Ok(())
}

/// IAM actions of the image steps (`ambake iam-policy`).
pub fn iam(p: &BuildPlan, n: &mut Needs) {
    let c = &p.config;
    let out = &p.decided.image;
    if !out.create {
        return;
    }
    n.add("ec2:DescribeImages", "wait for AMIs");
    n.add("ec2:CreateImage", "create the AMI");
    n.put(
        "ec2:DeregisterImage",
        "remove the AMIs of a failed build",
        !(out.intermediary || c.force_deregister),
    );
    n.put(
        "ec2:DeleteSnapshot",
        "remove the snapshots of a failed build's AMIs",
        !(out.intermediary || c.force_deregister && c.force_delete_snapshot),
    );
    n.undo(
        "ec2:DescribeSnapshots",
        "check that a snapshot left by an interrupted cleanup is not a finished AMI's",
    );
    if !out.copies.is_empty() || out.encrypt {
        n.add("ec2:CopyImage", "copy to ami_regions / encrypt_boot");
    }
    if out.encrypt {
        for a in [
            "kms:DescribeKey",
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        ] {
            n.add(a, "encrypt_boot copies the AMI encrypted");
        }
    }
    if out.share_launch
        || c.imds_support.as_deref().is_some_and(|v| !v.is_empty())
        || !c.ami_product_codes.is_empty()
    {
        n.add(
            "ec2:ModifyImageAttribute",
            "launch permissions / imds_support / product codes",
        );
    }
    if out.deprecate_at.is_some() {
        n.add("ec2:EnableImageDeprecation", "deprecate_at");
    }
    if out.protect.is_some() {
        n.add(
            "ec2:EnableImageDeregistrationProtection",
            "deregistration_protection",
        );
    }
    if out.share_snapshots {
        n.add(
            "ec2:ModifySnapshotAttribute",
            "snapshot_users / snapshot_groups",
        );
    }
}
