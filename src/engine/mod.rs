//! The build engine (the runner): runs each build's steps, journals what it creates, and cleans up on
//! success (temporaries), on failure and on interrupt (everything the build made).

pub mod artifact;
pub mod panics;
mod post_process;
mod release;
pub mod resume;
pub mod signals;
pub mod unwind;

use crate::aws::access::AccessOptions;
use crate::aws::clients;
use crate::cli::OnError;
use crate::config::BuildPlan;
use crate::job::context::{self, Cx, Interrupted};
use crate::job::journal::{self, Event, Journal};
use crate::job::state::BuildState;
use crate::template::legacy::LegacyContext;
use crate::ui::Ui;
use artifact::{Artifact, Built};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub on_error: OnError,
    pub debug: bool,
    pub force: bool,
    /// Packer's PACKER_RUN_UUID: one per `ambake build` run.
    pub run_uuid: String,
    pub now: jiff::Timestamp,
    /// The template as given on the command line (for the resume command a kept build prints).
    pub template: String,
    /// `ambake resume`: the kept build to take over (one build per run).
    pub resume: Option<Arc<resume::ResumeFrom>>,
}

/// How one build ended.
#[derive(Debug)]
pub enum Outcome {
    Success(Built),
    /// The AMIs were made, but some temporary resources could not be removed: the build's
    /// artifact stands, and the run still exits non-zero so nobody misses the leftovers.
    SuccessWithLeftovers(Built, String),
    /// No AMI (skip_create_ami) but nothing failed.
    NoArtifact,
    Failed(String),
    Interrupted,
}

pub fn new_build_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}",
        jiff::Timestamp::now().strftime("%Y%m%d%H%M%S"),
        &u[..8]
    )
}

/// Packer's amazon-ebs sequence, in order. Each step reads the plan and the state earlier
/// steps left, and journals what it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    PreValidate,
    SourceAmi,
    Network,
    KeyPair,
    SecurityGroup,
    InstanceProfile,
    RunInstance,
    Provision,
    StopInstance,
    ModifyInstance,
    DeregisterAmi,
    CreateAmi,
    CopyAmi,
    Deprecate,
    AmiAttributes,
    Tags,
    Protect,
}

const STEPS: &[Step] = &[
    Step::PreValidate,
    Step::SourceAmi,
    Step::Network,
    Step::KeyPair,
    Step::SecurityGroup,
    Step::InstanceProfile,
    Step::RunInstance,
    Step::Provision,
    Step::StopInstance,
    Step::ModifyInstance,
    Step::DeregisterAmi,
    Step::CreateAmi,
    Step::CopyAmi,
    Step::Deprecate,
    Step::AmiAttributes,
    Step::Tags,
    // After the AMIs are committed: a protected AMI cannot be deregistered, so it must never
    // be one a failed build's cleanup still has to remove.
    Step::Protect,
];

impl Step {
    /// The name `-debug` pauses and `-on-error=ask` print.
    fn name(self) -> &'static str {
        match self {
            Step::PreValidate => "pre-validate",
            Step::SourceAmi => "source AMI",
            Step::Network => "network",
            Step::KeyPair => "key pair",
            Step::SecurityGroup => "security group",
            Step::InstanceProfile => "instance profile",
            Step::RunInstance => "run instance",
            Step::Provision => "connect and provision",
            Step::StopInstance => "stop instance",
            Step::ModifyInstance => "modify instance",
            Step::DeregisterAmi => "deregister AMI",
            Step::CreateAmi => "create AMI",
            Step::CopyAmi => "copy AMI",
            Step::Deprecate => "deprecation",
            Step::AmiAttributes => "AMI attributes",
            Step::Tags => "tags",
            Step::Protect => "deregistration protection",
        }
    }

    async fn run(self, cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
        use crate::steps::*;
        match self {
            Step::PreValidate => {
                // The source AMI is looked up meanwhile: both only read, neither needs the
                // other, and a build is one round trip shorter. A failed lookup is left to the
                // source AMI step, which looks again and reports it.
                let (checked, found) = tokio::join!(prevalidate::run(cx), source_ami::find(cx));
                checked?;
                st.source_found = found.ok();
                Ok(())
            }
            Step::SourceAmi => source_ami::run(cx, st).await,
            Step::Network => network::run(cx, st).await,
            Step::KeyPair => security::key_pair(cx, st).await,
            Step::SecurityGroup => security::security_group(cx, st).await,
            Step::InstanceProfile => security::instance_profile(cx, st).await,
            Step::RunInstance => instance::run(cx, st).await,
            Step::Provision => crate::provision::run_all(cx, st).await,
            Step::StopInstance => instance::stop(cx, st).await,
            Step::ModifyInstance => instance::modify(cx, st).await,
            Step::DeregisterAmi => image::force_deregister(cx, st).await,
            Step::CreateAmi => image::create(cx, st).await,
            Step::CopyAmi => image::copy(cx, st).await,
            Step::Deprecate => image::deprecate(cx, st).await,
            Step::AmiAttributes => image::attributes(cx, st).await,
            Step::Tags => image::tags(cx, st).await,
            Step::Protect => image::protect(cx, st).await,
        }
    }
}

/// IAM actions of the engine itself (`ambake iam-policy`).
pub fn iam(p: &BuildPlan, n: &mut crate::job::needs::Needs) {
    if p.config.decode_authorization_messages {
        n.undo(
            "sts:DecodeAuthorizationMessage",
            "decode_authorization_messages",
        );
    }
}

async fn pause(ui: &Ui, msg: &str, cancel: &CancellationToken) {
    ui.say(msg);
    let _hold = ui.hold_for_input();
    let read = tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        let _ = std::io::stdin().read_line(&mut s);
    });
    tokio::select! {
        _ = read => {}
        _ = cancel.cancelled() => {}
    }
}

async fn ask(ui: &Ui, err: &str, step: &str) -> char {
    ui.error(&format!("Step \"{step}\" failed: {err}"));
    ui.say("[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may fail even if retry succeeds)?");
    let _hold = ui.hold_for_input();
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        match std::io::stdin().read_line(&mut s) {
            Ok(0) | Err(_) => 'c',
            Ok(_) => s.trim().chars().next().unwrap_or('c'),
        }
    })
    .await
    .unwrap_or('c')
}

/// Runs one build from start to cleanup.
pub async fn run_one(
    plan: BuildPlan,
    ui: Ui,
    cancel: CancellationToken,
    opts: RunOptions,
    journals: Arc<std::sync::Mutex<Vec<std::path::PathBuf>>>,
) -> Outcome {
    let access = AccessOptions::from(&plan.config);
    for s in plan.config.secrets() {
        ui.add_secret(&s);
    }
    let session = match clients::session(&access).await {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("{e:#}")),
    };
    let calls = session.calls.clone();
    let outcome = run_session(plan, ui.clone(), cancel, opts, journals, session, access).await;
    ui.tally_calls(calls.get());
    outcome
}

/// A build once its AWS session is made.
async fn run_session(
    plan: BuildPlan,
    ui: Ui,
    cancel: CancellationToken,
    opts: RunOptions,
    journals: Arc<std::sync::Mutex<Vec<std::path::PathBuf>>>,
    session: clients::Session,
    access: AccessOptions,
) -> Outcome {
    // The account is checked before anything is created and written into the journal, so a
    // later `ambake cleanup` with other credentials refuses instead of "cleaning" nothing.
    let account = if plan.config.skip_credential_validation {
        None
    } else {
        match session.sts().get_caller_identity().send().await {
            Ok(id) => id.account().map(String::from),
            Err(e) => {
                return Outcome::Failed(format!(
                    "{:#}",
                    context::aws_err("sts:GetCallerIdentity", &session.region, e)
                ));
            }
        }
    };
    if let Some(r) = opts.resume.clone() {
        return resume::run(plan, ui, cancel, opts, journals, session, account, r).await;
    }
    let build_id = new_build_id();
    let journal = match Journal::create(&build_id) {
        Ok(j) => Arc::new(j),
        Err(e) => {
            return Outcome::Failed(format!(
                "cannot create the build journal in {}: {e}",
                journal::dir().display()
            ));
        }
    };
    let start = Event::Start {
        build: plan.name.clone(),
        region: session.region.clone(),
        endpoint: access.custom_endpoint_ec2.clone(),
        profile: access.profile.clone(),
        assume_role: access.assume_role.as_ref().and_then(|a| a.role_arn.clone()),
        account: account.clone(),
        credentials: Some(session.source.to_string()),
    };
    if let Err(e) = journal.append(start) {
        // Nothing was created yet: an empty journal would only confuse `cleanup --all`.
        let _ = std::fs::remove_file(journal.path());
        return Outcome::Failed(format!("cannot write the build journal: {e}"));
    }
    if let Ok(mut j) = journals.lock() {
        j.push(journal.path().to_path_buf());
    }
    ui.say(&format!(
        "Build {build_id}: credentials from {}; region {} (from {})",
        session.source, session.region, session.region_origin
    ));
    ui.event(
        "build_started",
        serde_json::json!({
            "build_id": build_id,
            "region": session.region,
            "account": account,
            "credentials": session.source.to_string(),
        }),
    );
    let cx = context(plan, session, ui, journal, cancel, build_id, account, &opts);
    drive(&cx, BuildState::default(), 0, &opts).await
}

/// The context of one build (a new one, or a resumed one with its own id and journal).
#[allow(clippy::too_many_arguments)]
fn context(
    plan: BuildPlan,
    session: clients::Session,
    ui: Ui,
    journal: Arc<Journal>,
    cancel: CancellationToken,
    build_id: String,
    account: Option<String>,
    opts: &RunOptions,
) -> Cx {
    let mut legacy = LegacyContext::new(opts.now);
    legacy.uuid = opts.run_uuid.clone();
    panics::register(&journal, &session, &ui, &build_id);
    Cx {
        polling: crate::aws::polling::resolve(plan.config.aws_polling.as_ref()),
        ec2: session.ec2(),
        plan,
        session,
        ui,
        journal,
        cancel,
        build_id,
        legacy,
        debug: opts.debug,
        account,
        run_uuid: opts.run_uuid.clone(),
    }
}

/// Runs the steps from `first` on, then cleans up (or keeps, with -on-error=abort).
async fn drive(cx: &Cx, mut st: BuildState, first: usize, opts: &RunOptions) -> Outcome {
    let ui = cx.ui.clone();
    let mut failure: Option<anyhow::Error> = None;
    let mut failed_at = None;
    let mut release = release::Release::default();
    let mut i = first;
    while i < STEPS.len() {
        let step = STEPS[i];
        let name = step.name();
        let started = std::time::Instant::now();
        ui.event("step_started", serde_json::json!({ "step": name }));
        ui.status(name);
        panics::test_panic_at(name);
        let r = match cx.check_cancel() {
            Ok(()) => step.run(cx, &mut st).await,
            Err(e) => Err(e),
        };
        ui.event(
            "step_finished",
            serde_json::json!({
                "step": name,
                "ok": r.is_ok(),
                "duration_ms": started.elapsed().as_millis() as u64,
            }),
        );
        match r {
            Ok(()) => {
                if step == Step::CreateAmi {
                    release = release::Release::start(cx, &st, opts.on_error);
                }
                if cx.debug && i + 1 < STEPS.len() {
                    pause(
                        &ui,
                        &format!("Pausing after run of step '{name}'. Press enter to continue."),
                        &cx.cancel,
                    )
                    .await;
                }
                i += 1;
            }
            Err(e) => {
                if !e.is::<Interrupted>() && opts.on_error == OnError::Ask {
                    match ask(&ui, &format!("{e:#}"), name).await {
                        'r' => continue,
                        'a' => {
                            return finish(cx, &st, Some(e), Some(i), OnError::Abort, opts).await;
                        }
                        _ => {}
                    }
                }
                failure = Some(e);
                failed_at = Some(i);
                break;
            }
        }
    }
    // A Ctrl-C during the last call still cancels the build: the user asked for it.
    if failure.is_none() && cx.cancel.is_cancelled() {
        failure = Some(Interrupted.into());
    }
    release.finish().await;
    finish(cx, &st, failure, failed_at, opts.on_error, opts).await
}

/// The index of the provisioning step: a failure there or later can be resumed.
fn provision_step() -> usize {
    STEPS
        .iter()
        .position(|s| matches!(s, Step::Provision))
        .expect("provisioning is a step")
}

async fn finish(
    cx: &Cx,
    st: &BuildState,
    failure: Option<anyhow::Error>,
    failed_at: Option<usize>,
    on_error: OnError,
    opts: &RunOptions,
) -> Outcome {
    let interrupted = failure.as_ref().is_some_and(|e| e.is::<Interrupted>());
    let ok = failure.is_none();
    let mut message = failure
        .as_ref()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    if !ok
        && cx.plan.config.decode_authorization_messages
        && let Some(decoded) =
            crate::aws::errors::decode_authorization(&cx.session.sts(), &message).await
    {
        message.push_str(&format!(
            "\nDecoded authorization failure message: {decoded}"
        ));
    }
    if failure.is_some() {
        if interrupted {
            cx.ui.error("Build was cancelled.");
        } else {
            cx.ui.error(&format!("Error: {message}"));
        }
    }
    let keep_everything =
        !ok && matches!(on_error, OnError::Abort | OnError::RunCleanupProvisioner);
    let left = if keep_everything {
        let recs = journal::read(cx.journal.path()).unwrap_or_default();
        let kept = unwind::plan(&recs, unwind::Scope::Unfinished);
        if !kept.is_empty() {
            cx.ui
                .say("-on-error=abort: kept these resources for inspection:");
            for (r, _) in &kept {
                cx.ui.message(&r.describe());
            }
            cx.ui
                .message(&format!("Remove them with: ambake cleanup {}", cx.build_id));
        }
        if let Some(at) = failed_at.filter(|at| *at >= provision_step() && !interrupted) {
            match resume::keep(cx, st, STEPS[at].name(), &opts.template) {
                Ok(cmd) => cx
                    .ui
                    .message(&format!("Fix what failed, then continue with: {cmd}")),
                Err(e) => cx.ui.error(&format!("This build cannot be resumed: {e:#}")),
            }
        }
        kept.len()
    } else {
        // Not after a Ctrl-C: the user asked to stop, not to be asked again.
        if cx.debug && !interrupted {
            pause(
                &cx.ui,
                "Pausing before cleanup. Press enter to continue.",
                &CancellationToken::new(),
            )
            .await;
        }
        if !ok && !interrupted && failed_at.is_some_and(|at| at >= provision_step()) {
            cx.ui.message(
                "To keep the instance and continue from this point once the cause is fixed, run the build with -on-error=abort, then `ambake resume`",
            );
        }
        cx.ui.say(if ok {
            "Cleaning up temporary resources..."
        } else {
            "Cleaning up everything this build created..."
        });
        let scope = if ok {
            unwind::Scope::Temporaries
        } else {
            unwind::Scope::Unfinished
        };
        let seen = unwind::Seen::of(st);
        let failed = unwind::run(&cx.journal, &cx.session, &cx.ui, scope, false, &seen).await;
        if !failed.is_empty() {
            cx.ui.error(&format!(
                "{} resource(s) could not be deleted; retry with: ambake cleanup {}",
                failed.len(),
                cx.build_id
            ));
        }
        failed.len()
    };
    if !ok && !st.committed.is_empty() {
        // Finished in their regions before the failure: products, never cleaned up.
        cx.ui
            .say("These AMIs were finished before the build stopped and are kept:");
        for (region, id) in &st.committed {
            cx.ui.message(&format!("{region}: {id}"));
        }
    }
    let outcome = if interrupted {
        "cancelled"
    } else if ok {
        "success"
    } else {
        "failed"
    };
    let _ = cx.journal.append(Event::Finished {
        outcome: outcome.to_string(),
    });
    if left == 0 && !keep_everything {
        // Nothing left to clean: the journal has done its job (and a resumed build's key).
        journal::discard(cx.journal.path());
    }
    match failure {
        Some(_) if interrupted => Outcome::Interrupted,
        Some(_) => Outcome::Failed(message),
        None if st.amis.is_empty() && left > 0 => Outcome::Failed(format!(
            "{left} temporary resource(s) could not be removed; remove them with: ambake cleanup {}",
            cx.build_id
        )),
        None if st.amis.is_empty() => Outcome::NoArtifact,
        None => {
            let amis = Artifact {
                amis: st.amis.clone(),
            };
            let (outputs, errors) = post_process::run(cx, st, &amis, opts).await;
            if !errors.is_empty() {
                // Packer's multi-error, then what a user must not miss: the AMIs exist.
                return Outcome::Failed(format!(
                    "{} error(s) occurred:\n\n{}\n\nThe AMIs were created and are kept: {}",
                    errors.len(),
                    errors
                        .iter()
                        .map(|e| format!("* {e}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    amis.id()
                ));
            }
            let artifact = Built { amis, outputs };
            if left > 0 {
                return Outcome::SuccessWithLeftovers(
                    artifact,
                    format!(
                        "{left} temporary resource(s) could not be removed; remove them with: ambake cleanup {}",
                        cx.build_id
                    ),
                );
            }
            Outcome::Success(artifact)
        }
    }
}
