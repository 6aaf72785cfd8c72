//! The one retry helper, with the one waiter's backoff: an AWS call that fails with an answer the
//! caller classifies as *transient* — eventual consistency right after a create
//! (`InvalidGroup.NotFound`), an instance not yet in the state a call needs, an instance
//! profile EC2 cannot see yet — is tried again with the waiter's backoff and jitter, within a
//! wall-clock budget, and stops between tries when the build is cancelled. Any other error
//! returns at once, with its type. Throttling and 5xx are the SDK's own retries, not this.

use super::wait::{Backoff, WaitSpec};
use crate::cancel::Interrupted;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a retried call ended without success.
#[derive(Debug)]
pub enum RetryError<E> {
    /// Its last error: one that is not transient, or a transient one still there when the
    /// budget ran out.
    Failed(E),
    /// The build was cancelled between tries.
    Interrupted,
}

impl<E> RetryError<E> {
    /// The error for the layers above: the call's own, described by `describe`, or
    /// [`Interrupted`].
    pub fn into_anyhow(self, describe: impl FnOnce(E) -> anyhow::Error) -> anyhow::Error {
        match self {
            RetryError::Failed(e) => describe(e),
            RetryError::Interrupted => Interrupted.into(),
        }
    }
}

/// Calls `call` until it succeeds, fails with an error `transient` does not accept, the
/// `budget` is spent, or `cancel` fires. A call in flight is never abandoned — it may be
/// creating or changing something, and its answer is needed — so a cancel is noticed before a
/// call and during the pauses between calls.
pub async fn retry<T, E, F, Fut>(
    what: &str,
    budget: Duration,
    cancel: &CancellationToken,
    transient: &(dyn Fn(&E) -> bool + Sync),
    mut call: F,
) -> Result<T, RetryError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let spec = WaitSpec {
        max_delay: Duration::from_secs(5),
        ..WaitSpec::new(what.to_string(), budget)
    };
    let start = tokio::time::Instant::now();
    let mut backoff = Backoff::new(&spec);
    loop {
        if cancel.is_cancelled() {
            return Err(RetryError::Interrupted);
        }
        let e = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let elapsed = start.elapsed();
        if !transient(&e) || elapsed >= budget {
            return Err(RetryError::Failed(e));
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next(elapsed, budget - elapsed)) => {}
            _ = cancel.cancelled() => return Err(RetryError::Interrupted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn transient(e: &String) -> bool {
        e == "not yet"
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_until_success() {
        let n = AtomicUsize::new(0);
        let r: Result<u8, RetryError<String>> = retry(
            "x",
            Duration::from_secs(60),
            &CancellationToken::new(),
            &transient,
            || {
                let i = n.fetch_add(1, Ordering::SeqCst);
                async move {
                    if i < 3 {
                        Err("not yet".to_string())
                    } else {
                        Ok(7)
                    }
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_return_at_once_and_the_budget_bounds_the_rest() {
        let n = AtomicUsize::new(0);
        let r: Result<u8, RetryError<String>> = retry(
            "x",
            Duration::from_secs(60),
            &CancellationToken::new(),
            &transient,
            || {
                n.fetch_add(1, Ordering::SeqCst);
                async { Err("denied".to_string()) }
            },
        )
        .await;
        assert!(matches!(r, Err(RetryError::Failed(e)) if e == "denied"));
        assert_eq!(n.load(Ordering::SeqCst), 1);

        let r: Result<u8, RetryError<String>> = retry(
            "x",
            Duration::from_secs(10),
            &CancellationToken::new(),
            &transient,
            || async { Err("not yet".to_string()) },
        )
        .await;
        assert!(matches!(r, Err(RetryError::Failed(e)) if e == "not yet"));
    }

    #[tokio::test]
    async fn a_call_in_flight_is_finished_even_when_cancelled() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let r: Result<u8, RetryError<String>> =
            retry("x", Duration::from_secs(60), &cancel, &transient, || {
                let c = c.clone();
                async move {
                    c.cancel();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok(5)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 5, "the answer of a call already sent is kept");
    }

    #[tokio::test]
    async fn a_cancel_stops_the_retries_within_a_poll() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.cancel();
        });
        let started = std::time::Instant::now();
        let r: Result<u8, RetryError<String>> = retry(
            "x",
            Duration::from_secs(600),
            &cancel,
            &transient,
            || async { Err("not yet".to_string()) },
        )
        .await;
        assert!(matches!(r, Err(RetryError::Interrupted)));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
