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

pub fn resolve(block: Option<&AwsPolling>) -> Polling {
    let delay_s = block
        .and_then(|b| b.delay_seconds)
        .map(|d| d.max(0) as u64)
        .or_else(|| env_u64("AWS_POLL_DELAY_SECONDS"));
    let attempts = block
        .and_then(|b| b.max_attempts)
        .map(|a| a.max(0) as u64)
        .or_else(|| env_u64("AWS_MAX_ATTEMPTS"));
    let timeout = env_u64("AWS_TIMEOUT_SECONDS");
    let delay = delay_s.map(Duration::from_secs);
    let max_wait = match (attempts, timeout) {
        (Some(a), _) => Some(Duration::from_secs(a * delay_s.unwrap_or(2))),
        (None, Some(t)) => Some(Duration::from_secs(t)),
        (None, None) => None,
    };
    Polling { delay, max_wait }
}

#[cfg(test)]
mod tests {
    use super::*;

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
