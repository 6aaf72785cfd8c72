//! Clock check: the `Date` header of an AWS response against the local clock. The SDK corrects
//! skew silently for its own retries; users still want to know ("is the clock right?").

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::{Arc, Mutex};

/// Remembers the `Date` of the last response and when it arrived.
#[derive(Debug, Clone, Default)]
pub struct ClockCheck {
    seen: Arc<Mutex<Option<(String, jiff::Timestamp)>>>,
}

impl Intercept for ClockCheck {
    fn name(&self) -> &'static str {
        "ambake-clock-check"
    }
    fn read_after_transmit(
        &self,
        ctx: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(d) = ctx.response().headers().get("date")
            && let Ok(mut s) = self.seen.lock()
        {
            *s = Some((d.to_string(), jiff::Timestamp::now()));
        }
        Ok(())
    }
}

impl ClockCheck {
    /// Local clock minus AWS's clock, in seconds (positive: this machine is ahead).
    pub fn skew_seconds(&self) -> Option<i64> {
        let (date, local) = self.seen.lock().ok()?.clone()?;
        let remote = parse_http_date(&date)?;
        Some(local.as_second() - remote.as_second())
    }
}

/// RFC 9110 dates: `Sat, 28 Nov 2026 23:41:43 GMT`.
pub fn parse_http_date(s: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(s).ok().map(|z| z.timestamp())
}

/// The warning to print when the skew is above five minutes.
pub fn skew_warning(skew: i64) -> Option<String> {
    (skew.abs() > 300).then(|| {
        let dir = if skew > 0 { "ahead of" } else { "behind" };
        format!(
            "this machine's clock is {} {dir} AWS's. AWS rejects signed requests more than 5 minutes off (AuthFailure / RequestTimeTooSkewed): sync the clock (chrony, `timedatectl set-ntp true`).",
            crate::duration::format_duration(std::time::Duration::from_secs(skew.unsigned_abs()))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_and_warning() {
        let t = parse_http_date("Sat, 28 Nov 2026 23:41:43 GMT").unwrap();
        assert_eq!(t.to_string(), "2026-11-28T23:41:43Z");
        assert!(skew_warning(299).is_none());
        assert!(skew_warning(-601).unwrap().contains("10m1s behind"));
    }
}
