//! The legacy Go-template engine Packer still runs inside HCL2 strings: `{{timestamp}}`,
//! `{{isotime "2006-01-02"}}`, `{{uuid}}`, `{{ .SourceAMIName }}`, pipelines such as
//! `{{ isotime | clean_resource_name }}`, and the filters `lower`, `upper`, `replace`,
//! `replace_all`, `split`, `clean_resource_name`.
//!
//! Rendering happens in two phases, like Packer: at configuration time only the values known
//! then are rendered (time, uuid); an action that names a build-time variable
//! (`.SourceAMIName`, `.BuildRegion`, …) is kept verbatim and rendered again once the build
//! knows the value. So `render` never fails on a variable it does not have: it defers it.

use std::collections::BTreeMap;

/// A value a template variable can take: build data is strings, except `SourceAMITags`.
#[derive(Debug, Clone, PartialEq)]
pub enum LegacyValue {
    Str(String),
    Map(BTreeMap<String, String>),
}

/// The build variables Packer fills in at build time — the one list: at configuration time
/// `build.X` evaluates to the placeholder `{{ .X }}`, and the engine fills every one of them
/// (a unit test of `BuildState::legacy_context` holds it to that).
pub const BUILD_VARIABLES: &[&str] = &[
    "ID",
    "Host",
    "Port",
    "User",
    "Password",
    "ConnType",
    "SSHPublicKey",
    "SSHPrivateKey",
    "SSHPrivateKeyFile",
    "SSHAgentAuth",
    "WinRMPassword",
    "PackerRunUUID",
    "PackerHTTPAddr",
    "PackerHTTPIP",
    "PackerHTTPPort",
    "SourceAMI",
    "SourceAMIName",
    "SourceAMICreationDate",
    "SourceAMIOwner",
    "SourceAMIOwnerName",
    "BuildRegion",
];

/// The variables known to one rendering pass, and the instant `timestamp`/`isotime` use.
#[derive(Debug, Clone)]
pub struct LegacyContext {
    pub vars: BTreeMap<String, LegacyValue>,
    pub now: jiff::Timestamp,
    /// Returned by `{{uuid}}`; fixed per pass so one string sees one value.
    pub uuid: String,
}

impl LegacyContext {
    pub fn new(now: jiff::Timestamp) -> Self {
        LegacyContext {
            vars: BTreeMap::new(),
            now,
            uuid: uuid::Uuid::new_v4().to_string(),
        }
    }
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars
            .insert(name.to_string(), LegacyValue::Str(value.into()));
        self
    }
}

/// True when the string contains a `{{ … }}` action.
pub fn has_actions(s: &str) -> bool {
    s.contains("{{") && s.contains("}}")
}

/// Where the next `{{ … }}` action in `s` is: the offset of its `{{` and of its `}}`. An action
/// never closed is text.
fn next_action(s: &str) -> Option<(usize, usize)> {
    let start = s.find("{{")?;
    let end = start + 2 + s[start + 2..].find("}}")?;
    Some((start, end))
}

/// The text outside the `{{ … }}` actions (what is literal whatever the actions render to).
pub fn without_actions(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((start, end)) = next_action(rest) {
        out.push_str(&rest[..start]);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Renders every action it can; keeps the ones that need variables not in `ctx`.
pub fn render(s: &str, ctx: &LegacyContext) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some((start, end)) = next_action(rest) {
        let mut before = &rest[..start];
        let mut inner = &rest[start + 2..end];
        let mut after = &rest[end + 2..];
        if let Some(i) = inner.strip_prefix('-') {
            inner = i;
            before = before.trim_end();
        }
        if let Some(i) = inner.strip_suffix('-') {
            inner = i;
            after = after.trim_start();
        }
        out.push_str(before);
        match eval_action(inner.trim(), ctx)? {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..end + 2]),
        }
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Field(Vec<String>),
    Str(String),
    Num(i64),
    Pipe,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string in {{{{{s}}}}}")),
                        Some('"') => break,
                        Some('\\') => {
                            let esc = chars.get(i + 1).copied().unwrap_or('\\');
                            v.push(match esc {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                            i += 2;
                            continue;
                        }
                        Some(&ch) => v.push(ch),
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Str(v));
            }
            '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or("unterminated raw string")?;
                toks.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '.' => {
                let mut j = i;
                let mut path = Vec::new();
                while j < chars.len() && chars[j] == '.' {
                    let k = j + 1;
                    let mut e = k;
                    while e < chars.len()
                        && (chars[e].is_alphanumeric()
                            || chars[e] == '_'
                            || chars[e] == '-'
                            || chars[e] == ':')
                    {
                        e += 1;
                    }
                    path.push(chars[k..e].iter().collect());
                    j = e;
                }
                toks.push(Tok::Field(path));
                i = j;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let n: String = chars[i..j].iter().collect();
                toks.push(Tok::Num(n.parse().map_err(|_| format!("bad number {n}"))?));
                i = j;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                toks.push(Tok::Ident(chars[i..j].iter().collect()));
                i = j;
            }
            other => {
                return Err(format!(
                    "unexpected {other:?} in template action {{{{{s}}}}}"
                ));
            }
        }
    }
    Ok(toks)
}

#[derive(Debug)]
enum Arg {
    Str(String),
    Num(i64),
}

/// Evaluates one action. `Ok(None)` means it refers to a variable not known yet.
fn eval_action(action: &str, ctx: &LegacyContext) -> Result<Option<String>, String> {
    let toks = tokenize(action)?;
    let mut piped: Option<String> = None;
    for cmd in toks.split(|t| *t == Tok::Pipe) {
        let Some((head, rest)) = cmd.split_first() else {
            return Err(format!("empty command in {{{{{action}}}}}"));
        };
        let mut args = Vec::new();
        for t in rest {
            match t {
                Tok::Str(s) => args.push(Arg::Str(s.clone())),
                Tok::Num(n) => args.push(Arg::Num(*n)),
                Tok::Field(path) => match lookup(ctx, path) {
                    Some(v) => args.push(Arg::Str(v)),
                    None => return Ok(None),
                },
                other => return Err(format!("unexpected {other:?} in {{{{{action}}}}}")),
            }
        }
        if let Some(p) = piped.take() {
            args.push(Arg::Str(p));
        }
        let value = match head {
            Tok::Field(path) => match lookup(ctx, path) {
                Some(v) if args.is_empty() => v,
                Some(_) => {
                    return Err(format!("a field cannot take arguments in {{{{{action}}}}}"));
                }
                None => return Ok(None),
            },
            Tok::Str(s) => s.clone(),
            Tok::Num(n) => n.to_string(),
            Tok::Ident(name) => call(name, &args, ctx, action)?,
            Tok::Pipe => unreachable!("split removes pipes"),
        };
        piped = Some(value);
    }
    Ok(piped)
}

fn lookup(ctx: &LegacyContext, path: &[String]) -> Option<String> {
    match (ctx.vars.get(path.first()?)?, path.get(1)) {
        (LegacyValue::Str(s), None) => Some(s.clone()),
        (LegacyValue::Map(m), Some(k)) => Some(m.get(k).cloned().unwrap_or_default()),
        (LegacyValue::Map(m), None) => Some(format!("{m:?}")),
        (LegacyValue::Str(_), Some(_)) => None,
    }
}

fn str_of(a: &Arg) -> String {
    match a {
        Arg::Str(s) => s.clone(),
        Arg::Num(n) => n.to_string(),
    }
}

fn call(name: &str, args: &[Arg], ctx: &LegacyContext, action: &str) -> Result<String, String> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{name} takes {n} argument(s), got {} in {{{{{action}}}}}",
                args.len()
            ))
        }
    };
    Ok(match name {
        "timestamp" => {
            want(0)?;
            ctx.now.as_second().to_string()
        }
        "isotime" => match args {
            [] => crate::funcs::time::rfc3339(ctx.now),
            [layout] => crate::funcs::time::format_go(ctx.now, &str_of(layout)),
            _ => {
                return Err(format!(
                    "isotime takes at most one layout in {{{{{action}}}}}"
                ));
            }
        },
        "uuid" => {
            want(0)?;
            ctx.uuid.clone()
        }
        "lower" => {
            want(1)?;
            str_of(&args[0]).to_lowercase()
        }
        "upper" => {
            want(1)?;
            str_of(&args[0]).to_uppercase()
        }
        "clean_resource_name" => {
            want(1)?;
            clean_resource_name(&str_of(&args[0]))
        }
        // Go's strings.Replace(s, old, new, n) with Packer's argument order: old new n s.
        "replace" => {
            want(4)?;
            let n = match args[2] {
                Arg::Num(n) => n,
                _ => return Err("replace's third argument must be a number".into()),
            };
            let (old, new, s) = (str_of(&args[0]), str_of(&args[1]), str_of(&args[3]));
            if n < 0 {
                s.replace(&old, &new)
            } else {
                s.replacen(&old, &new, n as usize)
            }
        }
        "replace_all" => {
            want(3)?;
            str_of(&args[2]).replace(&str_of(&args[0]), &str_of(&args[1]))
        }
        // split s sep n → the n-th part.
        "split" => {
            want(3)?;
            let n = match args[2] {
                Arg::Num(n) => n as usize,
                _ => return Err("split's third argument must be a number".into()),
            };
            str_of(&args[0])
                .split(&str_of(&args[1]))
                .nth(n)
                .unwrap_or_default()
                .to_string()
        }
        "build" => {
            want(1)?;
            let key = str_of(&args[0]);
            match ctx.vars.get(&key) {
                Some(LegacyValue::Str(s)) => s.clone(),
                _ => return Ok(format!("{{{{{action}}}}}")),
            }
        }
        other => {
            return Err(format!(
                "function {other:?} not defined in template action {{{{{action}}}}}"
            ));
        }
    })
}

/// Packer's `clean_resource_name`: keep `[A-Za-z0-9()\[\] ./\-'@_]`, replace anything else
/// with `-`, and cut to 128 characters (the AMI name limit).
pub fn clean_resource_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if crate::ami_name::allowed(c) { c } else { '-' })
        .collect();
    cleaned
        .chars()
        .take(*crate::ami_name::LENGTH.end())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> LegacyContext {
        LegacyContext::new("2026-03-04T05:06:07Z".parse().unwrap())
    }

    #[test]
    fn the_literal_text_leaves_the_actions_out() {
        assert_eq!(
            without_actions("app-{{timestamp}}-{{ .SourceAMIName }}!"),
            "app--!"
        );
        assert_eq!(without_actions("no actions"), "no actions");
        // An action never closed is text.
        assert_eq!(without_actions("a-{{b"), "a-{{b");
    }

    #[test]
    fn config_time_values() {
        assert_eq!(
            render("app-{{timestamp}}", &ctx()).unwrap(),
            "app-1772600767"
        );
        assert_eq!(
            render("{{isotime \"2006-01-02\"}}", &ctx()).unwrap(),
            "2026-03-04"
        );
        assert_eq!(
            render("x {{ isotime | clean_resource_name }}", &ctx()).unwrap(),
            "x 2026-03-04T05-06-07Z"
        );
        assert_eq!(render("{{uuid}}", &ctx()).unwrap().len(), 36);
        assert_eq!(render("{{ \"A B\" | lower }}", &ctx()).unwrap(), "a b");
        assert_eq!(
            render("{{ replace_all \"-\" \"\" \"a-b-c\" }}", &ctx()).unwrap(),
            "abc"
        );
    }

    #[test]
    fn build_values_are_deferred_then_rendered() {
        let s = "from {{ .SourceAMIName }} in {{.BuildRegion}} at {{timestamp}}";
        let first = render(s, &ctx()).unwrap();
        assert_eq!(
            first,
            "from {{ .SourceAMIName }} in {{.BuildRegion}} at 1772600767"
        );
        let late = ctx()
            .with("SourceAMIName", "al2023")
            .with("BuildRegion", "us-east-1");
        assert_eq!(
            render(&first, &late).unwrap(),
            "from al2023 in us-east-1 at 1772600767"
        );
        let mut tags = ctx();
        tags.vars.insert(
            "SourceAMITags".into(),
            LegacyValue::Map([("Name".to_string(), "base".to_string())].into()),
        );
        assert_eq!(render("{{ .SourceAMITags.Name }}", &tags).unwrap(), "base");
        // Shell execute_command keeps its own variables for the provisioner.
        assert_eq!(
            render("chmod +x {{ .Path }}; {{ .Vars }} {{ .Path }}", &ctx()).unwrap(),
            "chmod +x {{ .Path }}; {{ .Vars }} {{ .Path }}"
        );
    }

    #[test]
    fn errors() {
        assert!(
            render("{{ nosuch }}", &ctx())
                .unwrap_err()
                .contains("not defined")
        );
        assert!(render("{{ \"x }}", &ctx()).is_err());
        assert_eq!(clean_resource_name("a:b*c"), "a-b-c");
    }
}
