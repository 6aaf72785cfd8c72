//! String functions: case, trimming, splitting, `format`, and the regex family.

use super::convert::{to_number, to_string, type_name};
use super::{Table, fixed, int_arg, list_arg, variadic};
use hcl::Value;
use hcl::eval::{FuncArgs, ParamType};
use regex::Regex;

pub(super) fn register(t: &mut Table) {
    use ParamType::*;
    fixed(t, "lower", f_lower, &[String]);
    fixed(t, "upper", f_upper, &[String]);
    fixed(t, "title", f_title, &[String]);
    fixed(t, "trimspace", f_trimspace, &[String]);
    fixed(t, "trimprefix", f_trimprefix, &[String, String]);
    fixed(t, "trimsuffix", f_trimsuffix, &[String, String]);
    fixed(t, "trim", f_trim, &[String, String]);
    fixed(t, "chomp", f_chomp, &[String]);
    fixed(t, "strrev", f_strrev, &[String]);
    fixed(t, "substr", f_substr, &[String, Number, Number]);
    fixed(t, "split", f_split, &[String, String]);
    variadic(t, "join", f_join, &[String], Any);
    variadic(t, "format", f_format, &[String], Any);
    fixed(t, "replace", f_replace, &[String, String, String]);
    fixed(
        t,
        "regex_replace",
        f_regex_replace,
        &[String, String, String],
    );
    fixed(t, "regex", f_regex, &[String, String]);
    fixed(t, "regexall", f_regexall, &[String, String]);
    fixed(t, "strcontains", f_strcontains, &[String, String]);
    fixed(t, "startswith", f_startswith, &[String, String]);
    fixed(t, "endswith", f_endswith, &[String, String]);
    fixed(t, "indent", f_indent, &[Number, String]);
}

fn s(a: &FuncArgs, i: usize) -> String {
    a[i].as_str().unwrap_or_default().to_string()
}

fn f_lower(a: FuncArgs) -> Result<Value, String> {
    Ok(s(&a, 0).to_lowercase().into())
}
fn f_upper(a: FuncArgs) -> Result<Value, String> {
    Ok(s(&a, 0).to_uppercase().into())
}
fn f_title(a: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    let mut start = true;
    for c in s(&a, 0).chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(out.into())
}
fn f_trimspace(a: FuncArgs) -> Result<Value, String> {
    Ok(s(&a, 0).trim().into())
}
fn f_trimprefix(a: FuncArgs) -> Result<Value, String> {
    let (v, p) = (s(&a, 0), s(&a, 1));
    Ok(v.strip_prefix(p.as_str()).unwrap_or(&v).into())
}
fn f_trimsuffix(a: FuncArgs) -> Result<Value, String> {
    let (v, p) = (s(&a, 0), s(&a, 1));
    Ok(v.strip_suffix(p.as_str()).unwrap_or(&v).into())
}
fn f_trim(a: FuncArgs) -> Result<Value, String> {
    let cut: Vec<char> = s(&a, 1).chars().collect();
    Ok(s(&a, 0).trim_matches(|c| cut.contains(&c)).into())
}
fn f_chomp(a: FuncArgs) -> Result<Value, String> {
    Ok(s(&a, 0).trim_end_matches(['\n', '\r']).into())
}
fn f_strrev(a: FuncArgs) -> Result<Value, String> {
    Ok(s(&a, 0).chars().rev().collect::<String>().into())
}

/// Terraform's substr: offsets count characters; a negative offset counts from the end and a
/// length of -1 means "to the end".
fn f_substr(a: FuncArgs) -> Result<Value, String> {
    let chars: Vec<char> = s(&a, 0).chars().collect();
    let n = chars.len() as i64;
    let mut off = int_arg(&a, 1)?;
    let len = int_arg(&a, 2)?;
    if off < 0 {
        off += n;
    }
    if off < 0 || off > n {
        return Err(format!(
            "offset {} is outside the string of length {n}",
            int_arg(&a, 1)?
        ));
    }
    let end = if len < 0 { n } else { (off + len).min(n) };
    Ok(chars[off as usize..end as usize]
        .iter()
        .collect::<String>()
        .into())
}
fn f_split(a: FuncArgs) -> Result<Value, String> {
    let (sep, v) = (s(&a, 0), s(&a, 1));
    if v.is_empty() {
        return Ok(Value::Array(vec![]));
    }
    Ok(Value::Array(
        v.split(sep.as_str()).map(Value::from).collect(),
    ))
}
fn f_join(a: FuncArgs) -> Result<Value, String> {
    let sep = s(&a, 0);
    let mut parts = Vec::new();
    for i in 1..a.len() {
        for v in list_arg(&a, i)? {
            parts.push(to_string(&v)?);
        }
    }
    Ok(parts.join(&sep).into())
}
fn f_strcontains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a, 0).contains(&s(&a, 1))))
}
fn f_startswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a, 0).starts_with(&s(&a, 1))))
}
fn f_endswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a, 0).ends_with(&s(&a, 1))))
}
fn f_indent(a: FuncArgs) -> Result<Value, String> {
    let pad = " ".repeat(int_arg(&a, 0)?.max(0) as usize);
    let text = s(&a, 1);
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    Ok(out.into())
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// `replace(str, search, replacement)`: a search wrapped in slashes is a regular expression.
fn f_replace(a: FuncArgs) -> Result<Value, String> {
    let (v, search, rep) = (s(&a, 0), s(&a, 1), s(&a, 2));
    if search.len() > 1 && search.starts_with('/') && search.ends_with('/') {
        let re = compile(&search[1..search.len() - 1])?;
        return Ok(re.replace_all(&v, rep.as_str()).into_owned().into());
    }
    Ok(v.replace(&search, &rep).into())
}

/// Packer's `regex_replace(str, pattern, replacement)`: Go's ReplaceAllString, whose `$1` /
/// `${name}` expansion (including `$1x` meaning the group named `1x`) the regex crate shares.
fn f_regex_replace(a: FuncArgs) -> Result<Value, String> {
    let re = compile(&s(&a, 1))?;
    Ok(re
        .replace_all(&s(&a, 0), s(&a, 2).as_str())
        .into_owned()
        .into())
}

fn captures_value(re: &Regex, caps: &regex::Captures) -> Value {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Value::from(caps.get(0).map(|m| m.as_str()).unwrap_or_default());
    }
    if names.iter().all(|n| n.is_some()) {
        let mut m = hcl::Map::new();
        for n in names.into_iter().flatten() {
            m.insert(
                n.to_string(),
                caps.name(n)
                    .map(|x| Value::from(x.as_str()))
                    .unwrap_or(Value::Null),
            );
        }
        return Value::Object(m);
    }
    Value::Array(
        (1..caps.len())
            .map(|i| {
                caps.get(i)
                    .map(|x| Value::from(x.as_str()))
                    .unwrap_or(Value::Null)
            })
            .collect(),
    )
}

fn f_regex(a: FuncArgs) -> Result<Value, String> {
    let re = compile(&s(&a, 0))?;
    let text = s(&a, 1);
    let caps = re
        .captures(&text)
        .ok_or_else(|| "pattern did not match any part of the given string".to_string())?;
    Ok(captures_value(&re, &caps))
}
fn f_regexall(a: FuncArgs) -> Result<Value, String> {
    let re = compile(&s(&a, 0))?;
    let text = s(&a, 1);
    Ok(Value::Array(
        re.captures_iter(&text)
            .map(|c| captures_value(&re, &c))
            .collect(),
    ))
}

/// Go/Terraform style `format`: `%s %d %f %v %q %t %%`, with flags, width and precision.
fn f_format(a: FuncArgs) -> Result<Value, String> {
    let spec = s(&a, 0);
    let mut out = String::new();
    let mut args = a.iter().skip(1);
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "-+ 0#".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let verb = chars
            .next()
            .ok_or("format string ends with an unfinished %")?;
        let arg = args
            .next()
            .ok_or_else(|| format!("not enough arguments for format string {spec:?}"))?;
        let body = match verb {
            's' => to_string(arg)?,
            'q' => format!("{:?}", to_string(arg)?),
            'v' => match arg {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            't' => match arg {
                Value::Bool(b) => b.to_string(),
                other => return Err(format!("%t needs a bool, got {}", type_name(other))),
            },
            'd' => {
                let n = to_number(arg)?;
                let v = format!("{}", n.trunc() as i64);
                if flags.contains('+') && n >= 0.0 {
                    format!("+{v}")
                } else {
                    v
                }
            }
            'f' | 'e' | 'g' => {
                let n = to_number(arg)?;
                match verb {
                    'e' => format!("{:.*e}", prec.unwrap_or(6), n),
                    'g' => format!("{n}"),
                    _ => format!("{:.*}", prec.unwrap_or(6), n),
                }
            }
            'x' => format!("{:x}", to_number(arg)? as i64),
            'X' => format!("{:X}", to_number(arg)? as i64),
            'o' => format!("{:o}", to_number(arg)? as i64),
            'b' => format!("{:b}", to_number(arg)? as i64),
            other => return Err(format!("unsupported format verb %{other}")),
        };
        let body = match (verb, prec) {
            ('s' | 'v', Some(p)) => body.chars().take(p).collect(),
            _ => body,
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                out.push_str(&body);
                out.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && verb != 's' {
                let (sign, digits) =
                    body.split_at(if body.starts_with(['-', '+']) { 1 } else { 0 });
                out.push_str(sign);
                out.push_str(&"0".repeat(pad));
                out.push_str(digits);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use crate::funcs::test_support::{eval, ok};
    use hcl::Value;

    #[test]
    fn case_and_trim() {
        assert_eq!(ok("lower(\"AbC\")"), Value::from("abc"));
        assert_eq!(ok("upper(\"abc\")"), Value::from("ABC"));
        assert_eq!(ok("title(\"hello world\")"), Value::from("Hello World"));
        assert_eq!(ok("trimspace(\"  x \\n\")"), Value::from("x"));
        assert_eq!(ok("trimprefix(\"ami-123\", \"ami-\")"), Value::from("123"));
        assert_eq!(
            ok("trimsuffix(\"a.pkr.hcl\", \".hcl\")"),
            Value::from("a.pkr")
        );
    }

    #[test]
    fn substr_split_join() {
        assert_eq!(ok("substr(\"hello world\", 1, 4)"), Value::from("ello"));
        assert_eq!(ok("substr(\"hello\", -3, -1)"), Value::from("llo"));
        assert_eq!(ok("split(\",\", \"a,b\")"), Value::from(vec!["a", "b"]));
        assert_eq!(
            ok("join(\"-\", [\"a\", \"b\"], [\"c\"])"),
            Value::from("a-b-c")
        );
    }

    #[test]
    fn regexes() {
        // The idiom 24 of 24 real templates use.
        assert_eq!(
            ok("regex_replace(\"2026-11-28T23:29:18Z\", \"[- TZ:]\", \"\")"),
            Value::from("20261128232918")
        );
        assert_eq!(ok("replace(\"a-b-c\", \"-\", \"_\")"), Value::from("a_b_c"));
        assert_eq!(
            ok("replace(\"a1b22\", \"/[0-9]+/\", \"#\")"),
            Value::from("a#b#")
        );
        assert_eq!(ok("regex(\"[a-z]+\", \"123abc\")"), Value::from("abc"));
        assert_eq!(
            ok("regex(\"(\\\\d+)-(\\\\d+)\", \"10-20\")"),
            Value::from(vec!["10", "20"])
        );
        assert_eq!(
            ok("regexall(\"[0-9]\", \"a1b2\")"),
            Value::from(vec!["1", "2"])
        );
        assert!(eval("regex(\"x\", \"abc\")").is_err());
        assert_eq!(ok("strcontains(\"hello\", \"ell\")"), Value::Bool(true));
    }

    #[test]
    fn format_verbs() {
        assert_eq!(
            ok("format(\"%s-%03d\", \"web\", 7)"),
            Value::from("web-007")
        );
        assert_eq!(ok("format(\"%.2f%%\", 3.14159)"), Value::from("3.14%"));
        assert_eq!(ok("format(\"%-4s|\", \"ab\")"), Value::from("ab  |"));
        assert_eq!(ok("format(\"%q\", \"x\")"), Value::from("\"x\""));
        assert!(eval("format(\"%s %s\", \"a\")").is_err());
    }
}
