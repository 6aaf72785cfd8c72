//! Time functions: timestamp, formatdate, timeadd, legacy_isotime, legacy_strftime, and the
//! format translators they need (Terraform date tokens and Go reference layouts → strftime).

use super::{Table, env, fixed, str_arg};
use crate::duration::parse_go_duration;
use hcl::Value;
use hcl::eval::{FuncArgs, ParamType};
use jiff::Timestamp;

pub(super) fn register(t: &mut Table) {
    use ParamType::*;
    fixed(t, "timestamp", f_timestamp, &[]);
    fixed(t, "formatdate", f_formatdate, &[String, String]);
    fixed(t, "timeadd", f_timeadd, &[String, String]);
    fixed(t, "legacy_isotime", f_legacy_isotime, &[String]);
    fixed(t, "legacy_strftime", f_legacy_strftime, &[String]);
}

/// RFC 3339 in UTC with a `Z`, exactly like Terraform's `timestamp()`.
pub fn rfc3339(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_ts(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>()
        .map_err(|e| format!("not a valid RFC 3339 timestamp {s:?}: {e}"))
}

fn f_timestamp(_: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(rfc3339(env().now)))
}

fn f_formatdate(a: FuncArgs) -> Result<Value, String> {
    let ts = parse_ts(&str_arg(&a, 1)?)?;
    Ok(Value::from(
        ts.strftime(&terraform_to_strftime(&str_arg(&a, 0)?)?)
            .to_string(),
    ))
}

fn f_timeadd(a: FuncArgs) -> Result<Value, String> {
    let ts = parse_ts(&str_arg(&a, 0)?)?;
    let ns = parse_go_duration(&str_arg(&a, 1)?)?;
    let span = jiff::SignedDuration::from_nanos_i128(ns);
    let out = ts.checked_add(span).map_err(|e| e.to_string())?;
    Ok(Value::from(rfc3339(out)))
}

fn f_legacy_isotime(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(format_go(env().now, &str_arg(&a, 0)?)))
}

fn f_legacy_strftime(a: FuncArgs) -> Result<Value, String> {
    let f = str_arg(&a, 0)?;
    jiff::fmt::strtime::format(
        f.as_str(),
        &env().now.to_zoned_datetime(jiff::tz::TimeZone::UTC),
    )
    .map(Value::from)
    .map_err(|e| format!("invalid strftime format {f:?}: {e}"))
}

/// Formats `ts` (UTC) with a Go reference layout such as `"2006-01-02T15:04:05Z07:00"`.
pub fn format_go(ts: Timestamp, layout: &str) -> String {
    let f = go_layout_to_strftime(layout);
    jiff::fmt::strtime::format(f.as_str(), &ts.to_zoned_datetime(jiff::tz::TimeZone::UTC))
        .unwrap_or_else(|_| layout.to_string())
}

/// Go layout tokens, longest first so `2006` wins over `2`.
const GO_TOKENS: &[(&str, &str)] = &[
    ("January", "%B"),
    ("Monday", "%A"),
    ("Z07:00", "Z"),
    ("-07:00", "%:z"),
    ("Z0700", "Z"),
    ("-0700", "%z"),
    (".000000000", ".%9f"),
    (".000000", ".%6f"),
    (".000", ".%3f"),
    ("2006", "%Y"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "UTC"),
    ("002", "%j"),
    ("_2", "%e"),
    ("01", "%m"),
    ("02", "%d"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("06", "%y"),
    ("15", "%H"),
    ("PM", "%p"),
    ("pm", "%P"),
    ("1", "%-m"),
    ("2", "%-d"),
    ("3", "%-I"),
    ("4", "%-M"),
    ("5", "%-S"),
];

pub fn go_layout_to_strftime(layout: &str) -> String {
    let mut out = String::new();
    let mut rest = layout;
    'outer: while let Some(c) = rest.chars().next() {
        for (tok, rep) in GO_TOKENS {
            if rest.starts_with(tok) {
                out.push_str(rep);
                rest = &rest[tok.len()..];
                continue 'outer;
            }
        }
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Terraform `formatdate` tokens → strftime. Unknown letter runs are errors, as in Terraform.
pub fn terraform_to_strftime(spec: &str) -> Result<String, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' inside quotes is a literal quote.
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated literal in date format {spec:?}")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('%') => {
                        out.push_str("%%");
                        i += 1;
                    }
                    Some(&ch) => {
                        out.push(ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if c == '%' {
                out.push_str("%%")
            } else {
                out.push(c)
            }
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run: String = chars[i..j].iter().collect();
        let rep = match run.as_str() {
            "YYYY" => "%Y",
            "YY" => "%y",
            "MMMM" => "%B",
            "MMM" => "%b",
            "MM" => "%m",
            "M" => "%-m",
            "DD" => "%d",
            "D" => "%-d",
            "EEEE" => "%A",
            "EEE" => "%a",
            "hh" => "%H",
            "h" => "%-H",
            "HH" => "%I",
            "H" => "%-I",
            "mm" => "%M",
            "m" => "%-M",
            "ss" => "%S",
            "s" => "%-S",
            "AA" => "%p",
            "aa" => "%P",
            "ZZZZZ" => "%:z",
            "ZZZZ" => "%z",
            "ZZZ" => "UTC",
            "Z" => "Z",
            other => return Err(format!("invalid date format verb {other:?} in {spec:?}")),
        };
        out.push_str(rep);
        i = j;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::test_support::{eval, ok};

    #[test]
    fn formatdate_tokens() {
        assert_eq!(
            ok("formatdate(\"YYYYMMDDhhmmss\", \"2026-11-28T23:05:09Z\")"),
            Value::from("20261128230509")
        );
        assert_eq!(
            ok("formatdate(\"DD MMM YYYY hh:mm ZZZ\", \"2026-01-02T03:04:05Z\")"),
            Value::from("02 Jan 2026 03:04 UTC")
        );
        assert_eq!(
            ok("formatdate(\"YYYY-MM-DD'T'hh\", \"2026-01-02T03:04:05Z\")"),
            Value::from("2026-01-02T03")
        );
        assert!(eval("formatdate(\"YYYY-QQ\", \"2026-01-02T03:04:05Z\")").is_err());
    }

    #[test]
    fn timeadd_and_timestamp() {
        assert_eq!(
            ok("timeadd(\"2026-01-01T00:00:00Z\", \"1h30m\")"),
            Value::from("2026-01-01T01:30:00Z")
        );
        assert_eq!(
            ok("timeadd(\"2026-01-01T00:00:00Z\", \"-10m\")"),
            Value::from("2025-12-31T23:50:00Z")
        );
        let ts = ok("timestamp()");
        assert!(ts.as_str().unwrap().parse::<Timestamp>().is_ok());
    }

    #[test]
    fn go_layouts() {
        let ts: Timestamp = "2026-03-04T05:06:07Z".parse().unwrap();
        assert_eq!(
            format_go(ts, "2006-01-02T15:04:05Z07:00"),
            "2026-03-04T05:06:07Z"
        );
        assert_eq!(format_go(ts, "20060102150405"), "20260304050607");
        assert_eq!(format_go(ts, "Jan 2, 2006 3:04 PM"), "Mar 4, 2026 5:06 AM");
    }
}
