//! The Ctrl-C ladder. First SIGINT/SIGTERM: cancel the builds (every wait notices at once) and
//! clean up. Second: say what is still being cleaned and how to resume. Third: exit 130 at
//! once, leaving the journals for `ambake cleanup`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

pub fn install(
    cancel: CancellationToken,
    journals: Arc<Mutex<Vec<PathBuf>>>,
) -> anyhow::Result<()> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            count += 1;
            match count {
                1 => {
                    eprintln!(
                        "==> Cancelling build after receiving interrupt; cleaning up what it created (Ctrl-C again for status, three times to quit at once)"
                    );
                    cancel.cancel();
                }
                2 => {
                    let ids: Vec<String> = journals
                        .lock()
                        .map(|j| {
                            j.iter()
                                .filter(|p| p.exists())
                                .map(|p| {
                                    p.file_stem()
                                        .unwrap_or_default()
                                        .to_string_lossy()
                                        .into_owned()
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    eprintln!(
                        "==> Cleanup in progress for {} build(s). Ctrl-C once more to quit now; resume later with: ambake cleanup {}",
                        ids.len(),
                        ids.join(" ")
                    );
                }
                _ => {
                    eprintln!(
                        "==> Quitting without finishing cleanup. The journals are kept: run `ambake cleanup --all` to remove what is left."
                    );
                    std::process::exit(130);
                }
            }
        }
    });
    Ok(())
}
