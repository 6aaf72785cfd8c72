//! What every step gets: the plan, the AWS session, output, the journal, cancellation.

use super::journal::{Event, Journal, Lifetime, Resource};
use super::wait_times::WaitTimes;
use crate::aws::clients::Session;
use crate::aws::polling::Polling;
use crate::aws::wait::{OnDone, WaitError, WaitSpec};
use crate::config::BuildPlan;
use crate::template::legacy::{self, LegacyContext};
use crate::ui::Ui;
use aws_smithy_runtime_api::client::result::SdkError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use crate::aws::errors::{aws_err, is_code};
pub use crate::cancel::Interrupted;

pub struct Cx {
    pub plan: BuildPlan,
    pub session: Session,
    pub ui: Ui,
    pub journal: Arc<Journal>,
    pub cancel: CancellationToken,
    pub build_id: String,
    pub polling: Polling,
    /// Config-time legacy values (the run's timestamp and uuid).
    pub legacy: LegacyContext,
    pub debug: bool,
    pub ec2: aws_sdk_ec2::Client,
    /// The account the credentials belong to (checked at the start unless
    /// skip_credential_validation).
    pub account: Option<String>,
    /// Packer's PACKER_RUN_UUID (`build.PackerRunUUID`): one per `ambake build` run.
    pub run_uuid: String,
}

impl Cx {
    pub fn region(&self) -> &str {
        &self.session.region
    }

    /// Journals a resource the moment its create call returned, before anything waits on it.
    pub fn record(&self, resource: Resource, lifetime: Lifetime) -> anyhow::Result<()> {
        self.ui.event(
            "resource_created",
            serde_json::json!({ "resource": resource, "lifetime": lifetime }),
        );
        self.journal
            .append(Event::Created { resource: resource.clone(), lifetime })
            .map_err(|e| anyhow::anyhow!("cannot write the build journal {} ({e}); {} was created and must be removed by hand if this build cannot clean it up", self.journal.path().display(), resource.describe()))
    }

    /// An AMI (and its snapshots) is finished in its region: available, permissions set,
    /// tagged. From here on it is the user's product and no cleanup touches it.
    pub fn commit(&self, resources: impl IntoIterator<Item = Resource>) -> anyhow::Result<()> {
        for resource in resources {
            self.journal
                .append(Event::Committed { resource })
                .map_err(|e| anyhow::anyhow!("cannot write the build journal: {e}"))?;
        }
        Ok(())
    }

    /// The create call failed with an answer from AWS: nothing was made, the intent is void.
    /// (A call that got no answer keeps its intent: it may have been carried out.)
    pub fn void<E, R>(&self, pending: Resource, e: &SdkError<E, R>) {
        void_intent(&self.journal, pending, e)
    }

    /// The create call returned: the concrete resource replaces the intent.
    pub fn fulfil(
        &self,
        pending: Resource,
        resource: Resource,
        lifetime: Lifetime,
    ) -> anyhow::Result<()> {
        self.record(resource, lifetime)?;
        self.journal
            .append(Event::Deleted { resource: pending })
            .map_err(|e| anyhow::anyhow!("cannot write the build journal: {e}"))
    }

    /// EC2 in a region: this build's client for its own region, a new one for another.
    pub fn ec2_in(&self, region: &str) -> aws_sdk_ec2::Client {
        if region == self.region() {
            self.ec2.clone()
        } else {
            self.session.ec2_in(region)
        }
    }

    pub fn check_cancel(&self) -> anyhow::Result<()> {
        if self.cancel.is_cancelled() {
            Err(Interrupted.into())
        } else {
            Ok(())
        }
    }

    /// A wait with this build's polling settings.
    pub fn spec(&self, what: impl Into<String>, default_max: Duration) -> WaitSpec {
        let what = what.into();
        let ui = self.ui.clone();
        let label = what.clone();
        let (status_ui, status_label) = (self.ui.clone(), what.clone());
        WaitSpec {
            on_poll: Some(crate::aws::wait::Progress(Arc::new(
                move |last: &str, waited: Duration, polls: usize| {
                    status_ui.status(&format!(
                        "waiting for {status_label}: {last} ({}, {polls} polls)",
                        crate::duration::format_duration(Duration::from_secs(waited.as_secs()))
                    ))
                },
            ))),
            // A long wait says what it is waiting for, so a quiet log is not a hung build.
            progress: Some(crate::aws::wait::Progress(Arc::new(
                move |last: &str, waited: Duration, polls: usize| {
                    if ui.is_json() {
                        ui.event(
                            "wait_progress",
                            serde_json::json!({
                                "awaited": label,
                                "last_state": last,
                                "elapsed_ms": waited.as_millis() as u64,
                                "polls": polls,
                            }),
                        );
                        return;
                    }
                    ui.message(&format!(
                        "Still waiting for {label}: {last} after {} ({polls} polls)",
                        crate::duration::format_duration(waited)
                    ))
                },
            ))),
            ..WaitSpec::new(what, default_max).with_polling(&self.polling)
        }
    }

    /// [`Cx::spec`] for a change this build has waited for before (`kind`, e.g.
    /// "image-available", in `region`): polls when the change is due, and keeps how long it
    /// took this time (see [`super::wait_times`]).
    pub fn learned_spec(
        &self,
        kind: &str,
        region: &str,
        what: impl Into<String>,
        default_max: Duration,
    ) -> WaitSpec {
        let times = WaitTimes::beside_journals();
        let key = WaitTimes::key(&self.plan.name, region, kind);
        WaitSpec {
            expected: times.expected(&key),
            on_done: Some(OnDone(Arc::new(move |took| times.record(&key, took)))),
            ..self.spec(what, default_max)
        }
    }

    /// Runs a wait; cancellation becomes [`Interrupted`].
    pub async fn wait<T, F, Fut>(&self, spec: WaitSpec, poll: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<crate::aws::wait::Poll<T>, String>>,
    {
        match crate::aws::wait::wait(&spec, &self.cancel, poll).await {
            Ok(v) => Ok(v),
            Err(WaitError::Cancelled(_)) => Err(Interrupted.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// The run's own tags plus the build-time rendering of `{{ .SourceAMIName }}`-style values.
    pub fn render_map(
        &self,
        m: &BTreeMap<String, String>,
        st: &super::state::BuildState,
    ) -> anyhow::Result<BTreeMap<String, String>> {
        let ctx = self.legacy_ctx(st);
        m.iter()
            .map(|(k, v)| {
                Ok((
                    legacy::render(k, &ctx).map_err(anyhow::Error::msg)?,
                    legacy::render(v, &ctx).map_err(anyhow::Error::msg)?,
                ))
            })
            .collect()
    }

    pub fn render(&self, s: &str, st: &super::state::BuildState) -> anyhow::Result<String> {
        legacy::render(s, &self.legacy_ctx(st)).map_err(anyhow::Error::msg)
    }

    pub fn legacy_ctx(&self, st: &super::state::BuildState) -> LegacyContext {
        let c = &self.plan.config;
        let ssh = self.plan.decided.communicator == crate::config::decided::Communicator::Ssh;
        st.legacy_context(
            &self.legacy,
            &super::state::BuildValues {
                region: self.region(),
                user: ssh.then(|| c.ssh_username.as_deref().unwrap_or_default()),
                port: c.ssh_port.unwrap_or(22) as u16,
                password: c.ssh_password.as_deref(),
                key_file: c.ssh_private_key_file.as_deref(),
                agent_auth: c.ssh_agent_auth,
                run_uuid: &self.run_uuid,
            },
        )
    }
}

/// A create call that AWS answered with an error made nothing: its intent is resolved. One
/// that got no answer (timeout, dropped connection) may have been carried out: the intent stays
/// for cleanup to resolve by tag.
pub fn void_intent<E, R>(journal: &Journal, pending: Resource, e: &SdkError<E, R>) {
    if matches!(e, SdkError::ServiceError(_)) {
        let _ = journal.append(Event::Deleted { resource: pending });
    }
}
