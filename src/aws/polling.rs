//! How long and how often to wait: `aws_polling { delay_seconds, max_attempts }` wins over
//! `AWS_POLL_DELAY_SECONDS` / `AWS_MAX_ATTEMPTS` (`AWS_TIMEOUT_SECONDS`, deprecated, last), as in
//! Packer 1.8+: attempts become a wall-clock budget of attempts × delay, the delay defaulting
//! to 2 s when only attempts are given.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `aws_polling { delay_seconds, max_attempts }` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AwsPolling {
    pub delay_seconds: Option<i64>,
    pub max_attempts: Option<i64>,
}

/// A wait's delay between polls and its total budget. `None` fields: use the waiter's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Polling {
    pub delay: Option<Duration>,
    pub max_wait: Option<Duration>,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The longest pause between polls and the longest wait any setting can ask for: values past
/// them (`AWS_POLL_DELAY_SECONDS=18446744073709551615`) are clamped instead of overflowing.
const MAX_DELAY_S: u64 = 3600;
const MAX_WAIT_S: u64 = 7 * 24 * 3600;

pub fn resolve(block: Option<&AwsPolling>) -> Polling {
    from_values(
        block,
        env_u64("AWS_POLL_DELAY_SECONDS"),
        env_u64("AWS_MAX_ATTEMPTS"),
        env_u64("AWS_TIMEOUT_SECONDS"),
    )
}

/// [`resolve`] without the environment: the block's values win over the variables'.
fn from_values(
    block: Option<&AwsPolling>,
    env_delay: Option<u64>,
    env_attempts: Option<u64>,
    env_timeout: Option<u64>,
) -> Polling {
    let delay_s = block
        .and_then(|b| b.delay_seconds)
        .map(|d| d.max(0) as u64)
        .or(env_delay)
        .map(|d| d.min(MAX_DELAY_S));
    let attempts = block
        .and_then(|b| b.max_attempts)
        .map(|a| a.max(0) as u64)
        .or(env_attempts);
    let delay = delay_s.map(Duration::from_secs);
    let max_wait = match (attempts, env_timeout) {
        (Some(a), _) => Some(a.saturating_mul(delay_s.unwrap_or(2))),
        (None, Some(t)) => Some(t),
        (None, None) => None,
    }
    .map(|s| Duration::from_secs(s.min(MAX_WAIT_S)));
    Polling { delay, max_wait }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_values_are_clamped_not_overflowed() {
        let p = from_values(None, Some(u64::MAX), Some(u64::MAX), None);
        assert_eq!(p.delay, Some(Duration::from_secs(MAX_DELAY_S)));
        assert_eq!(p.max_wait, Some(Duration::from_secs(MAX_WAIT_S)));
        let b = AwsPolling {
            delay_seconds: Some(i64::MAX),
            max_attempts: Some(i64::MAX),
        };
        assert_eq!(
            from_values(Some(&b), None, None, None).max_wait,
            Some(Duration::from_secs(MAX_WAIT_S))
        );
    }

    #[test]
    fn block_wins_and_attempts_become_a_budget() {
        let b = AwsPolling {
            delay_seconds: Some(5),
            max_attempts: Some(10),
        };
        assert_eq!(
            resolve(Some(&b)),
            Polling {
                delay: Some(Duration::from_secs(5)),
                max_wait: Some(Duration::from_secs(50))
            }
        );
        let b = AwsPolling {
            delay_seconds: None,
            max_attempts: Some(30),
        };
        let p = resolve(Some(&b));
        // Unless the environment sets a delay, attempts × 2 s.
        if std::env::var("AWS_POLL_DELAY_SECONDS").is_err() {
            assert_eq!(p.max_wait, Some(Duration::from_secs(60)));
        }
    }
}
