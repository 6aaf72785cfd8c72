//! A build that panics (a bug in ambake) still removes what it created. The panic hook runs
//! before any unwinding — and before the process aborts in a `panic = "abort"` build — so the
//! cleanup happens there: on a thread of its own with its own runtime, from the build's journal,
//! with the session made again. Which build panicked is known from a task-local set when its
//! context is made; a panic outside a build (or on a blocking thread, whose error reaches the
//! build as an ordinary failure and is cleaned up on the normal path) finds none.

use super::unwind::{self, Scope};
use crate::aws::clients::Session;
use crate::job::journal::Journal;
use crate::ui::Ui;
use std::sync::{Arc, Mutex, Once};

/// What a panicking build's cleanup needs.
struct Registered {
    journal: Arc<Journal>,
    session: Session,
    ui: Ui,
    build_id: String,
}

type Slot = Arc<Mutex<Option<Registered>>>;

tokio::task_local! {
    static CURRENT: Slot;
}

/// Runs one build's future with a slot for its registration.
pub async fn scope<F: std::future::Future>(f: F) -> F::Output {
    CURRENT.scope(Slot::default(), f).await
}

/// Called once a build has its journal and session: from here a panic cleans it up.
pub fn register(journal: &Arc<Journal>, session: &Session, ui: &Ui, build_id: &str) {
    let _ = CURRENT.try_with(|slot| {
        if let Ok(mut s) = slot.lock() {
            *s = Some(Registered {
                journal: journal.clone(),
                session: session.clone(),
                ui: ui.clone(),
                build_id: build_id.to_string(),
            });
        }
    });
}

/// Installs the hook (once per process), ahead of the one already there (which still prints
/// the panic's message).
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            clean_up_current();
            previous(info);
        }));
    });
}

/// A test seam for the tests that prove the above: `AMBAKE_TEST_PANIC_AT=<step name>` makes the
/// build panic when that step starts.
pub fn test_panic_at(step: &str) {
    if std::env::var("AMBAKE_TEST_PANIC_AT").is_ok_and(|s| s == step) {
        panic!("AMBAKE_TEST_PANIC_AT: a deliberate panic at step \"{step}\"");
    }
}

fn clean_up_current() {
    // Taken, not read: a second panic (in the cleanup itself) must not start another.
    let Ok(Some(r)) = CURRENT.try_with(|slot| slot.lock().ok().and_then(|mut s| s.take())) else {
        return;
    };
    r.ui.error(&format!(
        "ambake hit an internal error (a bug, please report it); cleaning up what build {} created before it stops...",
        r.build_id
    ));
    let ui = r.ui.clone();
    let id = r.build_id.clone();
    let cleaned = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        Some(rt.block_on(async {
            // Fresh clients on this runtime; the old session's if the chain cannot answer.
            let session = r.session.renew().await.unwrap_or(r.session);
            unwind::run(
                &r.journal,
                &session,
                &r.ui,
                Scope::Unfinished,
                false,
                &Default::default(),
            )
            .await
        }))
    })
    .join();
    match cleaned {
        Ok(Some(failed)) if failed.is_empty() => {
            ui.error(&format!("Build {id}: cleanup after the internal error is done."))
        }
        Ok(Some(failed)) => ui.error(&format!(
            "Build {id}: {} resource(s) could not be deleted after the internal error; retry with: ambake cleanup {id}",
            failed.len()
        )),
        _ => ui.error(&format!(
            "Build {id}: cleanup after the internal error could not run; run: ambake cleanup {id}"
        )),
    }
}
