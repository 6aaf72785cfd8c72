//! Releasing the instance early: once the build region's AMI is available the instance has
//! done its job, so it is terminated — and its security group, key pair, instance profile and
//! surviving volumes removed — while the copies, attributes and tags go on. On AWS that takes
//! the instance's termination wait (often a minute) off the end of the build and stops its
//! bill sooner; Packer keeps it until the very end.
//!
//! Only when nothing could still want the instance: the default `-on-error=cleanup` (with
//! `abort`, `ask` or `run-cleanup-provisioner` a later failure keeps it for inspection or
//! `ambake resume`), and not under `-debug` (which pauses before cleanup so it can be looked
//! at). Images and snapshots are never part of it ([`Scope::Instance`]): a temporary
//! intermediary AMI is the copies' source. What the release could not delete stays in the
//! journal, and the build's final cleanup, which waits for the release first, tries again.
//! The instance's volumes are those the stop wait saw ([`unwind::Seen`]): no DescribeInstances.

use super::unwind::{self, Scope};
use crate::cli::OnError;
use crate::job::context::Cx;
use crate::job::state::BuildState;
use tokio::task::JoinHandle;

/// The release running beside the rest of the build, if it was started.
#[derive(Default)]
pub struct Release(Option<JoinHandle<()>>);

impl Release {
    /// Starts the release if this build may let its instance go now.
    pub fn start(cx: &Cx, st: &BuildState, on_error: OnError) -> Release {
        // skip_create_ami: no AMI was made, and the end of the build is next anyway.
        if on_error != OnError::Cleanup || cx.debug || !cx.plan.decided.image.create {
            return Release(None);
        }
        cx.ui
            .say("The AMI is available: terminating the instance and its temporary resources...");
        let (journal, session, ui) = (cx.journal.clone(), cx.session.clone(), cx.ui.clone());
        let seen = unwind::Seen::of(st);
        Release(Some(tokio::spawn(async move {
            // Failures were shown; what is left is still outstanding in the journal and the
            // final cleanup retries it.
            let _ = unwind::run(&journal, &session, &ui, Scope::Instance, false, &seen).await;
        })))
    }

    /// Waits for the release to finish, so the final cleanup never races it.
    pub async fn finish(self) {
        if let Some(h) = self.0 {
            let _ = h.await;
        }
    }
}
