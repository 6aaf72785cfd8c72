//! The one waiter. Every wait in a build goes through [`wait`]: wall-clock budget, polls that
//! start fast and back off with jitter, NotFound right after a create treated as pending for a
//! grace window, terminal states failing at once, and cancellation noticed immediately.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What one poll saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll<T> {
    Done(T),
    /// Still on the way; the state seen, for messages.
    Pending(String),
    /// The resource is not visible (yet).
    NotFound,
    /// It will never get there (image `failed`, instance `terminated`): the reason.
    Failed(String),
}

/// Told now and then what a long wait is waiting for: the last state seen, the time waited and
/// the number of polls.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<ProgressFn>);

/// (last state seen, time waited, polls so far)
pub type ProgressFn = dyn Fn(&str, Duration, usize) + Send + Sync;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Told how long a wait took when it saw its change (the time of the poll that saw it).
#[derive(Clone)]
pub struct OnDone(pub std::sync::Arc<dyn Fn(Duration) + Send + Sync>);

impl std::fmt::Debug for OnDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnDone")
    }
}

/// How often a long wait reports, at most.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct WaitSpec {
    /// "instance i-… to be running", for messages.
    pub what: String,
    pub max_wait: Duration,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// A fixed delay (`aws_polling.delay_seconds`) instead of backing off.
    pub fixed_delay: Option<Duration>,
    pub not_found_grace: Duration,
    /// Called at most every [`PROGRESS_EVERY`] while the wait goes on.
    pub progress: Option<Progress>,
    /// Called after every poll (a live status line).
    pub on_poll: Option<Progress>,
    /// About how long the change takes (the same wait in earlier builds): the second poll is
    /// put off until 85 % of it. Only worth it for changes of seconds (2 s or more).
    pub expected: Option<Duration>,
    pub on_done: Option<OnDone>,
}

impl WaitSpec {
    pub fn new(what: impl Into<String>, max_wait: Duration) -> Self {
        WaitSpec {
            what: what.into(),
            max_wait,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
            fixed_delay: None,
            not_found_grace: Duration::from_secs(30),
            progress: None,
            on_poll: None,
            expected: None,
            on_done: None,
        }
    }
    /// Applies `aws_polling` / `AWS_POLL_DELAY_SECONDS` / `AWS_MAX_ATTEMPTS`.
    pub fn with_polling(mut self, p: &super::polling::Polling) -> Self {
        if let Some(d) = p.delay {
            self.fixed_delay = Some(d);
        }
        if let Some(m) = p.max_wait {
            self.max_wait = m;
        }
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("cancelled while waiting for {0}")]
    Cancelled(String),
    #[error("{what}: {reason}")]
    Failed { what: String, reason: String },
    #[error(
        "timed out after {waited} waiting for {what} (last state seen: {last}). If the resource is just slow, wait longer with aws_polling {{ delay_seconds = …, max_attempts = … }} (or AWS_MAX_ATTEMPTS / AWS_POLL_DELAY_SECONDS); a KMS key the account cannot use, or credentials that expired during the build, also end this way (ResourceNotReady)"
    )]
    TimedOut {
        what: String,
        waited: String,
        last: String,
    },
    #[error("{0}")]
    Poll(String),
}

/// Polls until done, failed, timed out or cancelled. The first poll is immediate.
pub async fn wait<T, F, Fut>(
    spec: &WaitSpec,
    cancel: &CancellationToken,
    mut poll: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, String>>,
{
    let start = tokio::time::Instant::now();
    let mut backoff = Backoff::new(spec);
    let mut last: String;
    let mut polls = 0usize;
    let mut reported = start;
    loop {
        if cancel.is_cancelled() {
            return Err(WaitError::Cancelled(spec.what.clone()));
        }
        let result = tokio::select! {
            r = poll() => r,
            _ = cancel.cancelled() => return Err(WaitError::Cancelled(spec.what.clone())),
        };
        match result.map_err(WaitError::Poll)? {
            Poll::Done(v) => {
                if let Some(d) = &spec.on_done {
                    (d.0)(start.elapsed());
                }
                return Ok(v);
            }
            Poll::Failed(reason) => {
                return Err(WaitError::Failed {
                    what: spec.what.clone(),
                    reason,
                });
            }
            Poll::Pending(state) => last = state,
            Poll::NotFound => {
                if start.elapsed() > spec.not_found_grace {
                    return Err(WaitError::Failed {
                        what: spec.what.clone(),
                        reason: format!("not found after {}s", spec.not_found_grace.as_secs()),
                    });
                }
                last = "not found yet".into();
            }
        }
        polls += 1;
        let elapsed = start.elapsed();
        if let Some(p) = &spec.on_poll {
            (p.0)(&last, elapsed, polls);
        }
        if let Some(p) = &spec.progress
            && reported.elapsed() >= PROGRESS_EVERY
        {
            (p.0)(&last, elapsed, polls);
            reported = tokio::time::Instant::now();
        }
        if elapsed >= spec.max_wait {
            return Err(WaitError::TimedOut {
                what: spec.what.clone(),
                waited: crate::duration::format_duration(elapsed),
                last,
            });
        }
        let sleep = backoff.next(elapsed, spec.max_wait - elapsed);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = cancel.cancelled() => return Err(WaitError::Cancelled(spec.what.clone())),
        }
    }
}

/// The pauses between polls (or tries). After `elapsed` of waiting the next pause is at most
/// a fifth of it plus a second (`first_delay` the first time, `max_delay` at most): whatever a
/// change takes, it is noticed within 20 % of its time + 1 s, and long waits cost one call per
/// `max_delay`. Jitter only shortens a pause (down to 85 %), so parallel builds do not poll in
/// lock step and the bound holds. With `aws_polling`, the fixed delay, jittered ±20 %.
///
/// When the wait's usual length E is known (`expected`, 2 s or more), the poll after the first
/// is at 0.85 E, then the schedule above: a change that takes about as long as before costs
/// three polls and is still noticed within 20 % + 1 s; one that comes sooner than 0.7 E is
/// noticed at 0.85 E.
pub struct Backoff {
    first: Duration,
    lead: Option<Duration>,
    fixed: Option<Duration>,
    max_delay: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(spec: &WaitSpec) -> Backoff {
        Backoff {
            first: spec.first_delay,
            lead: spec
                .expected
                .filter(|e| *e >= Duration::from_secs(2))
                .map(|e| e.mul_f64(0.85)),
            fixed: spec.fixed_delay,
            max_delay: spec.max_delay,
            rng: fastrand::Rng::new(),
        }
    }

    /// The next pause after `elapsed` of waiting, never longer than `remaining`.
    pub fn next(&mut self, elapsed: Duration, remaining: Duration) -> Duration {
        let pause = match (self.fixed, self.lead) {
            (Some(d), _) => d.mul_f64(0.8 + self.rng.f64() * 0.4),
            (None, Some(lead)) if elapsed < lead => lead - elapsed,
            (None, _) => {
                let bound = if elapsed.is_zero() {
                    self.first
                } else {
                    (elapsed / 5 + Duration::from_secs(1)).clamp(self.first, self.max_delay)
                };
                bound.mul_f64(0.85 + self.rng.f64() * 0.15)
            }
        };
        pause.min(remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // An `impl FnMut` cannot be named in a type alias.
    #[allow(clippy::type_complexity)]
    fn scripted(
        states: Vec<Poll<u8>>,
    ) -> (
        Arc<AtomicUsize>,
        impl FnMut() -> std::future::Ready<Result<Poll<u8>, String>>,
    ) {
        let n = Arc::new(AtomicUsize::new(0));
        let c = n.clone();
        (n, move || {
            let i = c.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(states
                .get(i)
                .cloned()
                .unwrap_or(Poll::Pending("pending".into()))))
        })
    }

    #[tokio::test(start_paused = true)]
    async fn long_waits_report_at_most_every_30_seconds() {
        let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
        let r = reports.clone();
        let spec = WaitSpec {
            progress: Some(Progress(Arc::new(move |last, waited, polls| {
                r.lock()
                    .unwrap()
                    .push((last.to_string(), waited.as_secs(), polls));
            }))),
            ..WaitSpec::new("x", Duration::from_secs(100))
        };
        let (_, poll) = scripted(vec![]);
        let e = wait(&spec, &CancellationToken::new(), poll).await;
        assert!(matches!(e, Err(WaitError::TimedOut { .. })));
        let reports = reports.lock().unwrap();
        assert!((2..=3).contains(&reports.len()), "{reports:?}");
        assert!(reports.iter().all(|(last, _, _)| last == "pending"));
        for pair in reports.windows(2) {
            assert!(pair[1].1 - pair[0].1 >= 30, "{reports:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fast_change_is_seen_fast_and_backoff_grows() {
        let (n, f) = scripted(vec![
            Poll::Pending("pending".into()),
            Poll::Pending("pending".into()),
            Poll::Done(7),
        ]);
        let t0 = tokio::time::Instant::now();
        let v = wait(
            &WaitSpec::new("x", Duration::from_secs(600)),
            &CancellationToken::new(),
            f,
        )
        .await
        .unwrap();
        assert_eq!(v, 7);
        assert_eq!(n.load(Ordering::SeqCst), 3);
        // 0.5 s then 0.8 s (±20%): well under two seconds of (virtual) time.
        assert!(
            t0.elapsed() < Duration::from_millis(1700),
            "{:?}",
            t0.elapsed()
        );
    }

    /// With the usual length known, a change of about that length costs three polls and keeps
    /// the promise below; a change much faster than usual is seen at 85 % of the usual length.
    #[test]
    fn a_known_length_is_polled_for_when_due() {
        let spec = WaitSpec {
            expected: Some(Duration::from_secs(33)),
            ..WaitSpec::new("x", Duration::from_secs(7200))
        };
        let polls_until = |took: f64| {
            let mut b = Backoff::new(&spec);
            let (mut t, mut polls) = (0.0f64, 1);
            while t < took {
                t += b
                    .next(Duration::from_secs_f64(t), Duration::from_secs(7200))
                    .as_secs_f64();
                polls += 1;
            }
            (t, polls)
        };
        // (The kept time is when a poll saw the change, at or after it: a change takes that
        // long or a little less.) A slower one costs a poll or two more.
        for (took, most) in [(29.0, 3), (31.0, 3), (33.0, 3), (36.0, 4), (40.0, 4)] {
            for _ in 0..50 {
                let (t, polls) = polls_until(took);
                assert!(t - took <= took * 0.2 + 1.0, "{took} s seen at {t:.2}");
                assert!(polls <= most, "{took} s: {polls} polls");
            }
        }
        // Much faster than usual: seen at the lead, 28.05 s.
        let (t, polls) = polls_until(5.0);
        assert!((t - 28.05).abs() < 0.01 && polls == 2, "{t} {polls}");
        // Sub-second history (an instant emulator) changes nothing.
        let instant = WaitSpec {
            expected: Some(Duration::from_millis(300)),
            ..WaitSpec::new("x", Duration::from_secs(60))
        };
        let first = Backoff::new(&instant).next(Duration::ZERO, Duration::from_secs(60));
        assert!(first <= Duration::from_millis(500), "{first:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_time_a_change_took_is_told() {
        let took = Arc::new(std::sync::Mutex::new(None));
        let t = took.clone();
        let spec = WaitSpec {
            on_done: Some(OnDone(Arc::new(move |d| *t.lock().unwrap() = Some(d)))),
            expected: Some(Duration::from_secs(20)),
            ..WaitSpec::new("x", Duration::from_secs(600))
        };
        let (n, f) = scripted(vec![Poll::Pending("pending".into()), Poll::Done(1)]);
        wait(&spec, &CancellationToken::new(), f).await.unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 2);
        assert_eq!(*took.lock().unwrap(), Some(Duration::from_secs(17)));
    }

    /// The promise of the schedule, for changes from a fraction of a second to an hour: each
    /// is seen by a poll within 20 % of the time it took + 1 s.
    #[test]
    fn every_change_is_noticed_within_a_fifth_of_its_time_plus_a_second() {
        let spec = WaitSpec::new("x", Duration::from_secs(7200));
        for took in [0.2, 0.9, 3.0, 10.0, 33.0, 47.0, 95.0, 600.0, 3600.0] {
            for _ in 0..50 {
                let mut b = Backoff::new(&spec);
                let mut t = 0.0f64;
                while t < took {
                    t += b
                        .next(Duration::from_secs_f64(t), Duration::from_secs(7200))
                        .as_secs_f64();
                }
                let late = t - took;
                assert!(
                    late <= took * 0.2 + 1.0,
                    "{took} s noticed {late:.2} s late"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn budget_is_wall_clock_and_message_is_useful() {
        let (n, f) = scripted(vec![]);
        let t0 = tokio::time::Instant::now();
        let e = wait(
            &WaitSpec::new("image ami-1 to be available", Duration::from_secs(120)),
            &CancellationToken::new(),
            f,
        )
        .await
        .unwrap_err();
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_secs(120) && waited < Duration::from_secs(121),
            "{waited:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("timed out after 2m0s waiting for image ami-1 to be available (last state seen: pending)"), "{msg}");
        assert!(msg.contains("aws_polling"));
        // Pauses of a fifth of the time waited + 1 s, capped at 15 s (reached at 70 s): about
        // 15 polls to 70 s, then 15 s steps.
        let polls = n.load(Ordering::SeqCst);
        assert!((17..=24).contains(&polls), "{polls} polls");
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_delay_from_aws_polling() {
        let (n, f) = scripted(vec![]);
        let p = crate::aws::polling::Polling {
            delay: Some(Duration::from_secs(5)),
            max_wait: Some(Duration::from_secs(50)),
        };
        let spec = WaitSpec::new("x", Duration::from_secs(600)).with_polling(&p);
        assert!(wait(&spec, &CancellationToken::new(), f).await.is_err());
        // Polls at 0 then every 4–6 s until 50 s: 9 to 14 polls whatever the jitter.
        let polls = n.load(Ordering::SeqCst);
        assert!((9..=14).contains(&polls), "{polls}");
    }

    #[tokio::test(start_paused = true)]
    async fn terminal_state_fails_at_once() {
        let (n, f) = scripted(vec![
            Poll::Pending("pending".into()),
            Poll::Failed("image state failed: Client.InternalError".into()),
        ]);
        let e = wait(
            &WaitSpec::new("image ami-1 to be available", Duration::from_secs(600)),
            &CancellationToken::new(),
            f,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, WaitError::Failed { .. }));
        assert!(e.to_string().contains("Client.InternalError"));
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_is_pending_within_grace() {
        let (_, f) = scripted(vec![Poll::NotFound, Poll::NotFound, Poll::Done(1)]);
        assert_eq!(
            wait(
                &WaitSpec::new("x", Duration::from_secs(600)),
                &CancellationToken::new(),
                f
            )
            .await
            .unwrap(),
            1
        );
        let (_, f) = scripted((0..100).map(|_| Poll::NotFound).collect());
        let e = wait(
            &WaitSpec::new("x", Duration::from_secs(600)),
            &CancellationToken::new(),
            f,
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("not found after 30s"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_interrupts_a_sleep_within_a_second() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(20)).await;
            c.cancel();
        });
        let (_, f) = scripted(vec![]);
        let t0 = tokio::time::Instant::now();
        let e = wait(&WaitSpec::new("x", Duration::from_secs(600)), &cancel, f)
            .await
            .unwrap_err();
        assert!(matches!(e, WaitError::Cancelled(_)));
        let latency = t0.elapsed() - Duration::from_secs(20);
        assert!(
            latency < Duration::from_secs(1),
            "cancel noticed after {latency:?}"
        );
    }
}
