//! `ambake resume`: a build kept by `-on-error=abort` after a failure in provisioning (or a
//! later step) continues on its own instance — the provisioners from the one that failed, then
//! stop, image, copies, permissions, tags, artifact, manifest and cleanup, as a build does. The
//! journal stays the single source of truth: the resumed build appends to it under the same
//! build id, so an interrupted resume is itself resumable, or cleanable with `ambake cleanup`.

use super::{Outcome, RunOptions, context, drive, provision_step};
use crate::aws::clients::Session;
use crate::config::BuildPlan;
use crate::job::context::{Cx, aws_err};
use crate::job::journal::{self, Event, Journal};
use crate::job::kept::{self, KeptState};
use crate::job::state::{BuildState, KeyMaterial};
use crate::ui::Ui;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The kept build a resume takes over, read from its journal by the command.
#[derive(Debug, Clone)]
pub struct ResumeFrom {
    pub build_id: String,
    pub journal: PathBuf,
    pub kept: KeptState,
    /// `--from N` (1-based on the command line, 0-based here); else the failed provisioner.
    pub from: Option<usize>,
    /// The account the build ran in, as its journal records it.
    pub account: Option<String>,
}

/// What the command checks before anything runs: the journal, its last kept state, and that
/// the template's launch options are those the kept instance was made with.
pub fn load(build_id: &str, plan: &BuildPlan, from: Option<usize>) -> anyhow::Result<ResumeFrom> {
    let path = journal::path_for(build_id);
    let records = journal::read(&path).map_err(|e| {
        anyhow::anyhow!("no journal for build {build_id} ({}): {e}", path.display())
    })?;
    if records
        .iter()
        .any(|r| matches!(r.event, Event::Finished { ref outcome } if outcome == "success"))
    {
        anyhow::bail!("build {build_id} finished successfully: there is nothing to resume");
    }
    let kept = records
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::Kept { state } => Some((**state).clone()),
            _ => None,
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "build {build_id} was not kept for resuming: only a build that failed in provisioning or later, run with -on-error=abort, can be resumed"
            )
        })?;
    let changed = kept::changed(&kept.launch_options, &kept::launch_digests(&plan.config));
    if !changed.is_empty() {
        anyhow::bail!(
            "the template's source options changed since build {build_id} was kept ({}): the kept instance was made with the old ones. Restore them (provisioners may change), or run a new build",
            changed.join(", ")
        );
    }
    if let Some(n) = from
        && n > plan.provisioners.len()
    {
        anyhow::bail!(
            "--from {}: the build has {} provisioner(s)",
            n + 1,
            plan.provisioners.len()
        );
    }
    let account = records.iter().find_map(|r| match &r.event {
        Event::Start { account, .. } => account.clone(),
        _ => None,
    });
    Ok(ResumeFrom {
        build_id: build_id.to_string(),
        journal: path,
        kept,
        from,
        account,
    })
}

/// `-on-error=abort` after a failure in provisioning or later: journals where the build
/// stands and keeps the temporary key (0600, beside the journal). Returns the command that
/// resumes it.
pub fn keep(cx: &Cx, st: &BuildState, failed_step: &str, template: &str) -> anyhow::Result<String> {
    let instance = st.instance()?;
    if st.key.temporary
        && let Some(pem) = &st.key.private_key_pem
    {
        kept::save_key(&cx.build_id, pem)
            .map_err(|e| anyhow::anyhow!("cannot keep the build's private key: {e}"))?;
    }
    let state = KeptState {
        template: template.to_string(),
        failed_step: failed_step.to_string(),
        source_ami: st.source()?.id.clone(),
        instance_id: instance.id.clone(),
        subnet_id: st.subnet_id.clone(),
        availability_zone: st.availability_zone.clone(),
        vpc_id: st.vpc_id.clone(),
        security_group_ids: st.security_group_ids.clone(),
        instance_profile: st.instance_profile.clone(),
        key_name: st.key.name.clone(),
        key_temporary: st.key.temporary,
        spot: st.spot,
        provisioned: st.provisioned,
        launch_options: kept::launch_digests(&cx.plan.config),
    };
    cx.journal
        .append(Event::Kept {
            state: Box::new(state),
        })
        .map_err(|e| anyhow::anyhow!("cannot write the build journal: {e}"))?;
    Ok(format!(
        "ambake resume {} {template} (with the same -var/-var-file options)",
        cx.build_id
    ))
}

/// The key the kept instance accepts: the kept temporary key, or the configured key file.
fn key(r: &ResumeFrom, plan: &BuildPlan) -> anyhow::Result<KeyMaterial> {
    let pem = if r.kept.key_temporary {
        let path = kept::key_path(&r.build_id);
        Some(std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "the private key of build {} is gone ({}: {e}): the kept instance cannot be reached; remove the build with `ambake cleanup {}`",
                r.build_id,
                path.display(),
                r.build_id
            )
        })?)
    } else {
        plan.config
            .ssh_private_key_file
            .as_deref()
            .map(|f| {
                let f = crate::paths::expand_home(f);
                std::fs::read_to_string(&f)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))
            })
            .transpose()?
    };
    Ok(KeyMaterial {
        name: r.kept.key_name.clone(),
        private_key_pem: pem,
        public_key: None,
        temporary: r.kept.key_temporary,
    })
}

/// The kept instance, running: started again if a later step had stopped it; gone is an error.
async fn instance(cx: &Cx, id: &str) -> anyhow::Result<aws_sdk_ec2::types::Instance> {
    let out = cx
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| {
            if crate::job::context::is_code(&e, &["InvalidInstanceID.NotFound"]) {
                anyhow::anyhow!("the kept instance {id} is gone: nothing to resume on; run a new build (and `ambake cleanup {}` for the rest)", cx.build_id)
            } else {
                aws_err("ec2:DescribeInstances", cx.region(), e)
            }
        })?;
    let inst = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the kept instance {id} is gone: nothing to resume on"))?;
    let state = inst
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    match state.as_str() {
        "running" => Ok(inst),
        "stopped" | "stopping" => {
            cx.ui
                .say(&format!("Starting the kept instance {id} again..."));
            cx.ec2
                .start_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| aws_err("ec2:StartInstances", cx.region(), e))?;
            crate::steps::instance::wait_state(cx, &cx.ec2, id, "running", cx.region()).await
        }
        "pending" => {
            crate::steps::instance::wait_state(cx, &cx.ec2, id, "running", cx.region()).await
        }
        other => anyhow::bail!(
            "the kept instance {id} is {other}: nothing to resume on; run a new build (and `ambake cleanup {}` for the rest)",
            cx.build_id
        ),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    plan: BuildPlan,
    ui: Ui,
    cancel: CancellationToken,
    opts: RunOptions,
    journals: Arc<std::sync::Mutex<Vec<PathBuf>>>,
    session: Session,
    account: Option<String>,
    r: Arc<ResumeFrom>,
) -> Outcome {
    // Other credentials would not see the kept instance (and must not act on the build).
    if let (Some(then), Some(now)) = (&r.account, &account)
        && then != now
    {
        return Outcome::Failed(format!(
            "build {} ran in AWS account {then}, and these credentials are for account {now}: resume it with the credentials it ran with",
            r.build_id
        ));
    }
    let key = match key(&r, &plan) {
        Ok(k) => k,
        Err(e) => return Outcome::Failed(format!("{e:#}")),
    };
    let journal = match Journal::reopen(&r.journal) {
        Ok(j) => Arc::new(j),
        Err(e) if journal::is_busy(&e) => {
            return Outcome::Failed(format!(
                "build {} is running (its journal is locked): resume it when it has stopped",
                r.build_id
            ));
        }
        Err(e) => return Outcome::Failed(format!("cannot open the build journal: {e}")),
    };
    if let Ok(mut j) = journals.lock() {
        j.push(journal.path().to_path_buf());
    }
    ui.say(&format!(
        "Resuming build {} (it failed at step \"{}\"): credentials from {}; region {}",
        r.build_id, r.kept.failed_step, session.source, session.region
    ));
    let cx = context(
        plan,
        session,
        ui,
        journal,
        cancel,
        r.build_id.clone(),
        account,
        &opts,
    );
    let inst = match instance(&cx, &r.kept.instance_id).await {
        Ok(i) => i,
        Err(e) => return Outcome::Failed(format!("{e:#}")),
    };
    if let Err(e) = cx.journal.append(Event::Resumed) {
        return Outcome::Failed(format!("cannot write the build journal: {e}"));
    }
    // The source image, for the build variables (SourceAMIName, …); a deregistered one still
    // has its id.
    let source = crate::aws::images::find(
        &cx.ec2,
        cx.region(),
        &crate::aws::images::ImageQuery {
            id: Some(r.kept.source_ami.clone()),
            include_deprecated: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|_| crate::aws::images::SourceImage {
        id: r.kept.source_ami.clone(),
        ..Default::default()
    });
    let mut st = BuildState {
        source_image: Some(source),
        vpc_id: r.kept.vpc_id.clone(),
        subnet_id: r.kept.subnet_id.clone(),
        availability_zone: r.kept.availability_zone.clone(),
        key,
        security_group_ids: r.kept.security_group_ids.clone(),
        instance_profile: r.kept.instance_profile.clone(),
        instance: Some(crate::steps::instance::info(&inst)),
        spot: r.kept.spot,
        ..Default::default()
    };
    st.provision_from = r.from.unwrap_or(r.kept.provisioned);
    drive(&cx, st, provision_step(), &opts).await
}
