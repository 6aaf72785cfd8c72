//! Type-checks an evaluated body against an option table and turns it into JSON for serde.
//!
//! Doing the checks here, with the attribute's span at hand, is what lets every type error and
//! unknown key point at `file:line:col`; serde then only maps already-correct values to structs.

use super::schema::{FALSE_IS_SET, Field, KV_BLOCK_TO_MAP, Kind, Support, ZERO_IS_INVALID, find};
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};
use crate::funcs::convert::{to_bool, to_number, to_string, type_name};
use crate::template::eval::{EBlock, EBody};
use hcl::Value;
use serde_json::{Map, Value as J};
use std::collections::BTreeMap;

/// Where each decoded option was written, by dotted path (`source_ami_filter.owners`).
pub type Spans = BTreeMap<String, Span>;

/// Decodes `body` against `fields`. `what` names the block in messages (`source "amazon-ebs" "x"`).
pub fn decode(
    body: &EBody,
    fields: &'static [Field],
    what: &str,
    block_span: &Span,
    spans: &mut Spans,
    prefix: &str,
    diags: &mut Diagnostics,
) -> J {
    let mut out = Map::new();
    for a in &body.attrs {
        let path = format!("{prefix}{}", a.name);
        let Some(field) = known(fields, &a.name, what, &a.key_span, diags) else {
            continue;
        };
        if matches!(field.kind, Kind::Block(_) | Kind::Blocks(_)) {
            diags.push(
                Diagnostic::error(
                    format!("\"{}\" is a block, not an attribute, in {what}", a.name),
                    Some(a.key_span.clone()),
                )
                .with_help(format!("write it as {} {{ … }} without \"=\"", a.name)),
            );
            continue;
        }
        if out.contains_key(&a.name) {
            diags.error(
                format!("\"{}\" is set more than once in {what}", a.name),
                Some(a.key_span.clone()),
            );
            continue;
        }
        // null means "not set": defaults apply.
        if a.value.is_null() {
            continue;
        }
        // So does a zero value (Go's rule: `""`, `0`, `false`, `[]`, `{}`), which is how
        // templates pass `default = ""` variables into options. Before the support check: a
        // zero value of an option ambake does not act on yet asks nothing of it.
        let converted = convert(&a.value, field.kind);
        if converted.as_ref().is_ok_and(|v| is_zero(field, v)) {
            continue;
        }
        if !supported(field, &a.key_span, diags) {
            continue;
        }
        match converted {
            Ok(v) => {
                spans.insert(path, a.span.clone());
                out.insert(a.name.clone(), v);
            }
            Err(e) => diags.error(
                format!("invalid value for \"{}\" in {what}: {e}", a.name),
                Some(a.span.clone()),
            ),
        }
    }
    let mut groups: BTreeMap<&str, Vec<&EBlock>> = BTreeMap::new();
    for b in &body.blocks {
        let Some(field) = known(fields, &b.ident, what, &b.span, diags) else {
            continue;
        };
        match field.kind {
            Kind::Block(_) | Kind::Blocks(_) => groups.entry(field.name).or_default().push(b),
            _ => {
                diags.push(
                    Diagnostic::error(
                        format!("\"{}\" is an attribute, not a block, in {what}", b.ident),
                        Some(b.span.clone()),
                    )
                    .with_help(format!(
                        "write it as {} = {{ … }} (current Packer rejects the block form of maps)",
                        b.ident
                    )),
                );
            }
        }
    }
    for (name, blocks) in groups {
        let field = find(fields, name).expect("grouped by known name");
        if !supported(field, &blocks[0].span, diags) {
            continue;
        }
        let path = format!("{prefix}{name}");
        spans.insert(path.clone(), blocks[0].span.clone());
        match field.kind {
            Kind::Block(inner) => {
                if blocks.len() > 1 {
                    diags.error(
                        format!("only one \"{name}\" block is allowed in {what}"),
                        Some(blocks[1].span.clone()),
                    );
                }
                let v = decode(
                    &blocks[0].body,
                    inner,
                    &format!("{name} block"),
                    &blocks[0].span,
                    spans,
                    &format!("{path}."),
                    diags,
                );
                // A block whose every option is unset is the zero value of its struct in
                // Packer (`assume_role { role_arn = var.empty }`): as if it were not written.
                if v.as_object().is_some_and(Map::is_empty) {
                    spans.remove(&path);
                    continue;
                }
                out.insert(name.to_string(), v);
            }
            Kind::Blocks(inner) => {
                let items: Vec<J> = blocks
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        decode(
                            &b.body,
                            inner,
                            &format!("{name} block"),
                            &b.span,
                            spans,
                            &format!("{path}[{i}]."),
                            diags,
                        )
                    })
                    .collect();
                out.insert(name.to_string(), J::Array(items));
            }
            _ => unreachable!(),
        }
    }
    // `tag { key = …, value = … }` blocks add to the `tags` map.
    for (block, map) in KV_BLOCK_TO_MAP {
        let Some(J::Array(items)) = out.remove(*block) else {
            continue;
        };
        let mut m = match out.remove(*map) {
            Some(J::Object(m)) => m,
            _ => Map::new(),
        };
        for item in items {
            match (
                item.get("key").and_then(J::as_str),
                item.get("value").and_then(J::as_str),
            ) {
                (Some(k), Some(v)) => {
                    m.insert(k.to_string(), J::String(v.to_string()));
                }
                _ => diags.error(
                    format!("each {block} block needs key and value"),
                    spans
                        .get(&format!("{prefix}{block}"))
                        .cloned()
                        .or(Some(block_span.clone())),
                ),
            }
        }
        out.insert(map.to_string(), J::Object(m));
    }
    J::Object(out)
}

/// Go's zero value for an option of this kind, which Packer cannot tell from "not set".
fn is_zero(field: &Field, v: &J) -> bool {
    match (field.kind, v) {
        (Kind::Any, _) => false,
        (_, J::String(s)) => s.is_empty() && !ZERO_IS_INVALID.contains(&field.name),
        (_, J::Bool(b)) => !b && !FALSE_IS_SET.contains(&field.name),
        (_, J::Number(n)) => n.as_f64() == Some(0.0),
        (_, J::Array(a)) => a.is_empty(),
        (_, J::Object(o)) => o.is_empty(),
        (_, J::Null) => true,
    }
}

fn known(
    fields: &'static [Field],
    name: &str,
    what: &str,
    span: &Span,
    diags: &mut Diagnostics,
) -> Option<&'static Field> {
    match find(fields, name) {
        Some(f) => Some(f),
        None => {
            let mut d = Diagnostic::error(
                format!("unknown option \"{name}\" in {what}"),
                Some(span.clone()),
            );
            if let Some(s) = did_you_mean(name, fields.iter().map(|f| f.name)) {
                d = d.with_help(format!("did you mean \"{s}\"?"));
            }
            diags.push(d);
            None
        }
    }
}

fn supported(field: &Field, span: &Span, diags: &mut Diagnostics) -> bool {
    match field.support {
        Support::Yes => true,
        Support::Ignored(why) => {
            diags.warning(why, Some(span.clone()));
            false
        }
        Support::Refused(why) => {
            diags.push(
                Diagnostic::error(
                    format!("recognised, not supported: {}", field.name),
                    Some(span.clone()),
                )
                .with_help(why),
            );
            false
        }
        Support::NotYet => {
            diags.push(
                Diagnostic::error(format!("recognised, not supported yet: {}", field.name), Some(span.clone()))
                    .with_help("ambake refuses options it would not act on rather than ignoring them; remove it or use Packer for this template"),
            );
            false
        }
    }
}

/// Converts one value to the option's type with HCL's safe conversions.
pub fn convert(v: &Value, kind: Kind) -> Result<J, String> {
    match kind {
        Kind::Bool => to_bool(v).map(J::Bool),
        Kind::Int => {
            let n = to_number(v)?;
            if n.fract() != 0.0 {
                return Err(format!("expected a whole number, got {n}"));
            }
            Ok(J::from(n as i64))
        }
        Kind::Str => to_string(v).map(J::String),
        Kind::StrList | Kind::NumList => match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    match kind {
                        Kind::NumList => to_number(x).map(|n| J::from(n as i64)),
                        _ => to_string(x).map(J::String),
                    }
                    .map_err(|e| format!("element {i}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(J::Array),
            other => Err(format!("expected a list, got a {}", type_name(other))),
        },
        Kind::StrMap => match v {
            Value::Object(o) => o
                .iter()
                .map(|(k, x)| {
                    to_string(x)
                        .map(|s| (k.clone(), J::String(s)))
                        .map_err(|e| format!("key {k:?}: {e}"))
                })
                .collect::<Result<Map<_, _>, _>>()
                .map(J::Object),
            other => Err(format!("expected a map, got a {}", type_name(other))),
        },
        Kind::Any => Ok(crate::funcs::encoding_to_json(v)),
        Kind::Block(_) | Kind::Blocks(_) => Err("expected a block".into()),
    }
}
