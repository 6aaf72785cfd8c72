//! The raw (not yet evaluated) blocks of a configuration: sources, data sources, builds with
//! their provisioners and post-processors. Source and plugin bodies stay as syntax until the
//! configuration layer evaluates them in the scope of each build.

use super::eval::{eval_expr, span_of};
use crate::diag::{Diagnostic, Diagnostics, FileId, Span, did_you_mean};
use hcl::Value;
use hcl::eval::Context;
use hcl_edit::structure::{Block, Body, Structure};

/// A block with a type label and a name label: `source "amazon-ebs" "x"`, `data "amazon-ami" "y"`.
#[derive(Debug, Clone)]
pub struct LabeledBlock {
    pub kind: String,
    pub name: String,
    pub body: Body,
    pub file: FileId,
    pub span: Span,
}

pub type SourceBlock = LabeledBlock;
pub type DataBlock = LabeledBlock;

/// A provisioner, error-cleanup provisioner or post-processor block.
#[derive(Debug, Clone)]
pub struct PluginBlock {
    pub kind: String,
    pub body: Body,
    pub file: FileId,
    pub span: Span,
    /// Set for blocks a `dynamic "provisioner"` generated: the iterator's name and value,
    /// declared when the body is evaluated.
    pub iterator: Option<(String, Value)>,
}

/// `sources = ["source.amazon-ebs.x"]` or `source "source.amazon-ebs.x" { name = …, … }`.
#[derive(Debug, Clone)]
pub struct SourceRef {
    pub kind: String,
    pub name: String,
    /// `name = …` in an override block: the build's name for this source.
    pub rename: Option<String>,
    /// The other attributes of an override block, applied over the source's.
    pub overrides: Option<Body>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct BuildBlock {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sources: Vec<SourceRef>,
    pub provisioners: Vec<PluginBlock>,
    pub error_cleanup: Option<PluginBlock>,
    /// Each inner list is one chain: a lone `post-processor` is a chain of one.
    pub post_processors: Vec<Vec<PluginBlock>>,
    pub file: FileId,
    pub span: Span,
}

/// Parses `source.amazon-ebs.x`, `sources.amazon-ebs.x` or `amazon-ebs.x`. Packer drops the
/// first segment whenever there are three.
pub fn parse_source_ref(s: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = s.split('.').collect();
    match parts.as_slice() {
        [_, t, n] | [t, n] if !t.is_empty() && !n.is_empty() => {
            Some((t.to_string(), n.to_string()))
        }
        _ => None,
    }
}

fn plugin(file: FileId, b: &Block, diags: &mut Diagnostics) -> Option<PluginBlock> {
    let span = span_of(file, &b.ident);
    match b.labels.as_slice() {
        [kind] => Some(PluginBlock {
            kind: kind.as_str().to_string(),
            body: b.body.clone(),
            file,
            span,
            iterator: None,
        }),
        _ => {
            diags.error(
                format!(
                    "a {} block needs exactly one label: its type, e.g. {} \"shell\"",
                    b.ident.as_str(),
                    b.ident.as_str()
                ),
                Some(span),
            );
            None
        }
    }
}

/// Reads one `build` block. `ctx` evaluates `name`, `description` and `sources` (variables and
/// locals are allowed there).
pub fn read_build(file: FileId, b: &Block, ctx: &Context, diags: &mut Diagnostics) -> BuildBlock {
    let mut out = BuildBlock {
        name: None,
        description: None,
        sources: vec![],
        provisioners: vec![],
        error_cleanup: None,
        post_processors: vec![],
        file,
        span: span_of(file, &b.ident),
    };
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => {
                let vspan = span_of(file, &a.value);
                match a.key.as_str() {
                    "name" | "description" => match eval_expr(&a.value, ctx) {
                        Ok(Value::String(v)) if a.key.as_str() == "name" => out.name = Some(v),
                        Ok(Value::String(v)) => out.description = Some(v),
                        Ok(_) => diags.error(
                            format!("build {} must be a string", a.key.as_str()),
                            Some(vspan),
                        ),
                        Err(e) => diags.error(
                            format!("cannot evaluate build {}: {e}", a.key.as_str()),
                            Some(vspan),
                        ),
                    },
                    "sources" => match eval_expr(&a.value, ctx) {
                        Ok(Value::Array(items)) => {
                            for item in items {
                                match item.as_str().and_then(parse_source_ref) {
                                    Some((kind, name)) => out.sources.push(SourceRef { kind, name, rename: None, overrides: None, span: vspan.clone() }),
                                    None => diags.error(format!("invalid source reference {item}: expected \"source.<type>.<name>\""), Some(vspan.clone())),
                                }
                            }
                        }
                        Ok(_) => diags.error(
                            "sources must be a list of strings such as [\"source.amazon-ebs.x\"]",
                            Some(vspan),
                        ),
                        Err(e) => diags.error(format!("cannot evaluate sources: {e}"), Some(vspan)),
                    },
                    other => {
                        let mut d = Diagnostic::error(
                            format!("unsupported argument \"{other}\" in build block"),
                            Some(span_of(file, &a.key)),
                        );
                        if let Some(s) = did_you_mean(other, ["name", "description", "sources"]) {
                            d = d.with_help(format!("did you mean \"{s}\"?"));
                        }
                        diags.push(d);
                    }
                }
            }
            Structure::Block(inner) => {
                let ispan = span_of(file, &inner.ident);
                match inner.ident.as_str() {
                    "source" => match inner.labels.first().and_then(|l| parse_source_ref(l.as_str())) {
                        Some((kind, name)) => {
                            let mut body = inner.body.clone();
                            let rename = body.remove_attribute("name").and_then(|a| eval_expr(&a.value, ctx).ok()).and_then(|v| v.as_str().map(String::from));
                            out.sources.push(SourceRef { kind, name, rename, overrides: Some(body), span: ispan });
                        }
                        None => diags.error("a source block inside build needs a label like \"source.amazon-ebs.x\"", Some(ispan)),
                    },
                    "provisioner" => out.provisioners.extend(plugin(file, inner, diags)),
                    "error-cleanup-provisioner" => {
                        if out.error_cleanup.is_some() {
                            diags.error("only one error-cleanup-provisioner is allowed per build", Some(ispan));
                        }
                        out.error_cleanup = plugin(file, inner, diags);
                    }
                    "post-processor" => out.post_processors.extend(plugin(file, inner, diags).map(|p| vec![p])),
                    "post-processors" => {
                        let mut chain = Vec::new();
                        for s in inner.body.iter() {
                            match s {
                                Structure::Block(pp) if pp.ident.as_str() == "post-processor" => chain.extend(plugin(file, pp, diags)),
                                other => diags.error("post-processors contains only post-processor blocks", Some(match other {
                                    Structure::Block(b) => span_of(file, &b.ident),
                                    Structure::Attribute(a) => span_of(file, &a.key),
                                })),
                            }
                        }
                        out.post_processors.push(chain);
                    }
                    "hcp_packer_registry" => {}
                    "dynamic" if inner.labels.first().map(|l| l.as_str()) == Some("provisioner") => {
                        out.provisioners.extend(dynamic_provisioners(file, inner, ctx, diags));
                    }
                    "dynamic" => diags.error("inside build, only dynamic \"provisioner\" blocks are supported", Some(ispan)),
                    other => {
                        let mut d = Diagnostic::error(format!("unsupported block \"{other}\" in build"), Some(ispan));
                        if let Some(s) = did_you_mean(other, ["source", "provisioner", "post-processor", "post-processors", "error-cleanup-provisioner"]) {
                            d = d.with_help(format!("did you mean \"{s}\"?"));
                        }
                        diags.push(d);
                    }
                }
            }
        }
    }
    if out.sources.is_empty() {
        diags.error(
            "a build block needs at least one source (sources = [\"source.amazon-ebs.x\"])",
            Some(out.span.clone()),
        );
    }
    out
}

/// `dynamic "provisioner" { for_each = …, labels = ["shell"], content { … } }` inside build:
/// one provisioner per element, its body evaluated later with the iterator in scope.
fn dynamic_provisioners(
    file: FileId,
    b: &Block,
    ctx: &Context,
    diags: &mut Diagnostics,
) -> Vec<PluginBlock> {
    let span = span_of(file, &b.ident);
    let Some(for_each) = b.body.get_attribute("for_each") else {
        diags.error(
            "dynamic \"provisioner\" needs a for_each attribute",
            Some(span),
        );
        return vec![];
    };
    let Some(content) = b.body.get_blocks("content").next() else {
        diags.error("dynamic \"provisioner\" needs a content block", Some(span));
        return vec![];
    };
    let iterator = match b.body.get_attribute("iterator").map(|a| &a.value) {
        Some(hcl_edit::expr::Expression::Variable(v)) => v.as_str().to_string(),
        _ => "provisioner".to_string(),
    };
    let items: Vec<(Value, Value)> = match eval_expr(&for_each.value, ctx) {
        Ok(Value::Array(v)) => v
            .into_iter()
            .enumerate()
            .map(|(i, x)| (Value::from(i as i64), x))
            .collect(),
        Ok(Value::Object(o)) => o.into_iter().map(|(k, x)| (Value::from(k), x)).collect(),
        Ok(Value::Null) => vec![],
        Ok(other) => {
            diags.error(
                format!("for_each must be a list or map, got {other}"),
                Some(span_of(file, &for_each.value)),
            );
            return vec![];
        }
        Err(e) => {
            diags.error(
                format!("cannot evaluate for_each: {e}"),
                Some(span_of(file, &for_each.value)),
            );
            return vec![];
        }
    };
    let mut out = Vec::new();
    for (key, value) in items {
        let mut it = hcl::Map::new();
        it.insert("key".to_string(), key);
        it.insert("value".to_string(), value);
        let mut child = ctx.clone();
        child.declare_var(iterator.as_str(), Value::Object(it.clone()));
        let kind = match b
            .body
            .get_attribute("labels")
            .map(|a| eval_expr(&a.value, &child))
        {
            Some(Ok(Value::Array(l))) if l.len() == 1 && l[0].is_string() => {
                l[0].as_str().unwrap_or_default().to_string()
            }
            _ => {
                diags.error(
                    "dynamic \"provisioner\" needs labels = [\"<type>\"], e.g. [\"shell\"]",
                    Some(span.clone()),
                );
                return out;
            }
        };
        out.push(PluginBlock {
            kind,
            body: content.body.clone(),
            file,
            span: span.clone(),
            iterator: Some((iterator.clone(), Value::Object(it))),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_source_ref;

    #[test]
    fn source_refs() {
        let want = Some(("amazon-ebs".to_string(), "x".to_string()));
        assert_eq!(parse_source_ref("source.amazon-ebs.x"), want);
        assert_eq!(parse_source_ref("sources.amazon-ebs.x"), want);
        assert_eq!(parse_source_ref("amazon-ebs.x"), want);
        assert_eq!(parse_source_ref("x"), None);
    }
}
