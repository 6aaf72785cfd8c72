//! Running provisioners and post-processors. Provisioners that act on the instance (`shell`,
//! `file`) need the SSH communicator (issue #5); `shell-local` and `breakpoint` run here.
//! Common options (`pause_before`, `max_retries`, `timeout`) are applied in one place.

pub mod local;

use crate::build::context::{Cx, Interrupted};
use crate::build::state::BuildState;
use crate::config::plugins::{Provisioner, ProvisionerKind};
use crate::duration::parse_duration;
use std::time::Duration;

async fn sleep_cancellable(cx: &Cx, d: Duration) -> anyhow::Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = cx.cancel.cancelled() => Err(Interrupted.into()),
    }
}

/// Runs one provisioner with its common options.
pub async fn run_one(cx: &Cx, st: &BuildState, p: &Provisioner) -> anyhow::Result<()> {
    if let Some(d) = p.common.pause_before.as_deref().map(parse_duration).transpose().map_err(anyhow::Error::msg)? {
        cx.ui.say(&format!("Pausing {}s before the next provisioner...", d.as_secs()));
        sleep_cancellable(cx, d).await?;
    }
    let timeout = p.common.timeout.as_deref().map(parse_duration).transpose().map_err(anyhow::Error::msg)?;
    let attempts = p.common.max_retries.unwrap_or(0).max(0) as u32 + 1;
    let mut last = None;
    for attempt in 1..=attempts {
        let fut = dispatch(cx, st, p);
        let r = match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => Err(anyhow::anyhow!("provisioner timed out after {}", crate::duration::format_duration(t))),
            },
            None => fut.await,
        };
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e.is::<Interrupted>() => return Err(e),
            Err(e) => {
                if attempt < attempts {
                    cx.ui.error(&format!("Provisioner failed (attempt {attempt} of {attempts}): {e:#}; retrying"));
                    sleep_cancellable(cx, Duration::from_secs(2)).await?;
                }
                last = Some(e);
            }
        }
    }
    Err(last.expect("at least one attempt"))
}

async fn dispatch(cx: &Cx, st: &BuildState, p: &Provisioner) -> anyhow::Result<()> {
    match &p.kind {
        ProvisionerKind::ShellLocal(s) => {
            cx.ui.say("Running local shell script...");
            local::run(cx, st, s).await
        }
        ProvisionerKind::Breakpoint(b) => local::breakpoint(cx, b).await,
        ProvisionerKind::Shell(_) | ProvisionerKind::File(_) => {
            anyhow::bail!("the shell and file provisioners need the SSH communicator, which is not implemented yet (issue #5); use communicator = \"none\" with shell-local, or Packer, for now")
        }
    }
}

/// Runs the build's provisioners in order; on failure, the error-cleanup provisioner first.
pub async fn run_all(cx: &Cx, st: &BuildState) -> anyhow::Result<()> {
    for p in &cx.plan.provisioners {
        cx.check_cancel()?;
        if let Err(e) = run_one(cx, st, p).await {
            if !e.is::<Interrupted>() {
                if let Some(cleanup) = &cx.plan.error_cleanup {
                    cx.ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...");
                    if let Err(ce) = run_one(cx, st, cleanup).await {
                        cx.ui.error(&format!("The error-cleanup provisioner failed too: {ce:#}"));
                    }
                }
            }
            return Err(e);
        }
    }
    Ok(())
}
