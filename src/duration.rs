//! Go-style durations (`"5m"`, `"1h30m"`, `"1.5s"`, `"-10m"`), the syntax Packer uses for every
//! timeout option and for `timeadd()`.

use std::time::Duration;

/// A signed duration in nanoseconds, as Go's `time.ParseDuration` returns it.
pub fn parse_go_duration(s: &str) -> Result<i128, String> {
    let orig = s;
    let s = s.trim();
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(format!("invalid duration {orig:?}"));
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "invalid duration {orig:?}: expected a number at {rest:?}"
            ));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("invalid duration {orig:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "missing unit in duration {orig:?} (use e.g. \"30s\", \"5m\", \"1h\")"
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit {other:?} in duration {orig:?} (use ns, us, ms, s, m, h)"
                ));
            }
        };
        total += value * scale;
    }
    // Go's limit: an int64 of nanoseconds (about 292 years); past it, an error, not a wrap.
    if !total.is_finite() || total > i64::MAX as f64 {
        return Err(format!("invalid duration {orig:?}: out of range"));
    }
    let ns = total.round() as i128;
    Ok(if neg { -ns } else { ns })
}

/// A non-negative Go duration as a std [`Duration`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let ns = parse_go_duration(s)?;
    if ns < 0 {
        return Err(format!("duration {s:?} must not be negative"));
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// Short human form used in messages: `5m0s` style like Go prints durations.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let frac = d.subsec_millis();
    let s_part = if frac > 0 {
        format!("{s}.{frac:03}s")
    } else {
        format!("{s}s")
    };
    match (h, m) {
        (0, 0) => s_part,
        (0, m) => format!("{m}m{s_part}"),
        (h, m) => format!("{h}h{m}m{s_part}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("-10m").unwrap(), -600_000_000_000);
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h2m5s");
        assert_eq!(format_duration(Duration::from_secs(12)), "12s");
    }

    #[test]
    fn huge_durations_are_errors_not_wraps() {
        assert!(
            parse_duration("9999999999999999h")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_duration("2562047h").is_ok(), "just under Go's limit");
        assert!(parse_duration("2562048h").is_err(), "just over it");
    }
}
