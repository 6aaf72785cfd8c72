//! Locals and data sources, evaluated together in dependency order: a local may use a data
//! source's value and a data source's arguments may use locals. A cycle is an error that names
//! every member.

use super::Configuration;
use super::blocks::DataBlock;
use super::eval::{EBody, eval_body, eval_expr, references, span_of};
use super::files::Parsed;
use crate::diag::{Diagnostics, Span};
use hcl::Value;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub struct Local {
    pub name: String,
    pub value: Value,
    pub sensitive: bool,
    pub span: Span,
}

/// Supplies data source values. Without AWS (`validate`), [`UnknownData`] gives placeholders.
pub trait DataResolver {
    fn resolve(&self, block: &DataBlock, args: &EBody) -> Result<Value, String>;
    /// A warning to show about this data source (its values are placeholders, …).
    fn note(&self, _block: &DataBlock) -> Option<String> {
        None
    }
}

/// Data sources of HCP Packer, which ambake does not talk to: their outputs, so a template
/// that reads them validates (with unknown values) and a build can say what to do instead.
pub const HCP_DATA: &[(&str, &[&str])] = &[
    (
        "hcp-packer-version",
        &[
            "id",
            "bucket_name",
            "channel_name",
            "fingerprint",
            "name",
            "author_id",
            "status",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "hcp-packer-artifact",
        &[
            "id",
            "external_identifier",
            "platform",
            "region",
            "type",
            "component_type",
            "build_id",
            "version_id",
            "channel_id",
            "packer_run_uuid",
            "created_at",
        ],
    ),
    (
        "hcp-packer-iteration",
        &[
            "id",
            "bucket_name",
            "channel_id",
            "channel_name",
            "fingerprint",
            "incremental_version",
            "author_id",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "hcp-packer-image",
        &[
            "id",
            "cloud_image_id",
            "region",
            "cloud_provider",
            "component_type",
            "build_id",
            "iteration_id",
            "channel_id",
            "packer_run_uuid",
            "created_at",
        ],
    ),
];

/// Data sources whose value is not known: the attributes exist so references type-check, with
/// placeholder strings, as `packer validate` treats them as unknown.
pub struct UnknownData;

impl DataResolver for UnknownData {
    fn resolve(&self, block: &DataBlock, _args: &EBody) -> Result<Value, String> {
        let fields: &[&str] = match block.kind.as_str() {
            "amazon-ami" => &["id", "name", "creation_date", "owner", "owner_name"],
            "amazon-parameterstore" => &["value", "version", "arn"],
            "http" => &["url", "body"],
            "amazon-secretsmanager" => &["value", "secret_string", "secret_binary", "version_id"],
            other if HCP_DATA.iter().any(|(k, _)| *k == other) => {
                HCP_DATA
                    .iter()
                    .find(|(k, _)| *k == other)
                    .expect("just found")
                    .1
            }
            other => {
                return Err(format!(
                    "data source type \"{other}\" is not supported by ambake (supported: amazon-ami, amazon-parameterstore, amazon-secretsmanager, http)"
                ));
            }
        };
        let mut m: hcl::Map<String, Value> = fields
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    Value::from(format!("unknown-data.{}.{}.{f}", block.kind, block.name)),
                )
            })
            .collect();
        match block.kind.as_str() {
            "amazon-ami" => {
                m.insert("tags".into(), Value::Object(hcl::Map::new()));
            }
            "http" => {
                m.insert("request_headers".into(), Value::Object(hcl::Map::new()));
            }
            _ => {}
        }
        if block.kind == "hcp-packer-artifact" || block.kind == "hcp-packer-image" {
            m.insert("labels".into(), Value::Object(hcl::Map::new()));
        }
        Ok(Value::Object(m))
    }
    fn note(&self, block: &DataBlock) -> Option<String> {
        HCP_DATA.iter().any(|(k, _)| *k == block.kind).then(|| {
            format!(
                "data \"{}\" \"{}\" reads HCP Packer, which ambake does not talk to: its values are unknown here, and `ambake build` cannot run this template (pass the value as a variable instead)",
                block.kind, block.name
            )
        })
    }
}

enum Node<'a> {
    Local {
        name: String,
        expr: &'a Expression,
        sensitive: bool,
        file: usize,
        span: Span,
    },
    Data(&'a DataBlock),
}

impl Node<'_> {
    fn key(&self) -> String {
        match self {
            Node::Local { name, .. } => format!("local.{name}"),
            Node::Data(d) => format!("data.{}.{}", d.kind, d.name),
        }
    }
    fn span(&self) -> Span {
        match self {
            Node::Local { span, .. } => span.clone(),
            Node::Data(d) => d.span.clone(),
        }
    }
}

fn body_refs(body: &Body, out: &mut Vec<String>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => out.extend(refs(&a.value)),
            Structure::Block(b) => body_refs(&b.body, out),
        }
    }
}
fn refs(e: &Expression) -> Vec<String> {
    references(e)
        .into_iter()
        .filter(|(k, _, _)| k != "var")
        .map(|(k, n, _)| format!("{k}.{n}"))
        .collect()
}

pub fn evaluate(
    templates: &[Parsed],
    cfg: &Configuration,
    resolver: &dyn DataResolver,
    diags: &mut Diagnostics,
) -> (Vec<Local>, hcl::Map<String, Value>) {
    let mut nodes: Vec<Node> = Vec::new();
    for p in templates {
        for s in p.body.iter() {
            let Structure::Block(b) = s else { continue };
            match b.ident.as_str() {
                "locals" => {
                    for s in b.body.iter() {
                        match s {
                            Structure::Attribute(a) => nodes.push(Node::Local {
                                name: a.key.as_str().to_string(),
                                expr: &a.value,
                                sensitive: false,
                                file: p.file,
                                span: span_of(p.file, &a.key),
                            }),
                            Structure::Block(inner) => diags.error(
                                "locals contains only attributes (name = expression)",
                                Some(span_of(p.file, &inner.ident)),
                            ),
                        }
                    }
                }
                "local" => {
                    let span = span_of(p.file, &b.ident);
                    let Some(name) = b.labels.first() else {
                        diags.error("a local block needs a label: its name", Some(span));
                        continue;
                    };
                    let Some(expr) = b.body.get_attribute("expression") else {
                        diags.error(
                            format!("local \"{}\" needs an expression attribute", name.as_str()),
                            Some(span),
                        );
                        continue;
                    };
                    let sensitive = b
                        .body
                        .get_attribute("sensitive")
                        .is_some_and(|a| matches!(&a.value, Expression::Bool(v) if *v.value()));
                    nodes.push(Node::Local {
                        name: name.as_str().to_string(),
                        expr: &expr.value,
                        sensitive,
                        file: p.file,
                        span,
                    });
                }
                _ => {}
            }
        }
    }
    for d in &cfg.data {
        nodes.push(Node::Data(d));
    }

    // Duplicates.
    let mut seen = BTreeSet::new();
    let mut unique = Vec::new();
    for n in nodes {
        if !seen.insert(n.key()) {
            diags.error(format!("duplicate {}", n.key()), Some(n.span()));
        } else {
            unique.push(n);
        }
    }
    let nodes = unique;
    let index: BTreeMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key(), i))
        .collect();
    let deps: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            let mut r = Vec::new();
            match n {
                Node::Local { expr, .. } => r.extend(refs(expr)),
                Node::Data(d) => body_refs(&d.body, &mut r),
            }
            r.into_iter()
                .filter_map(|k| index.get(&k).copied())
                .collect()
        })
        .collect();

    // Depth-first topological order; a back edge is a cycle.
    let mut order = Vec::new();
    let mut state = vec![0u8; nodes.len()]; // 0 new, 1 on stack, 2 done
    let mut in_cycle = vec![false; nodes.len()];
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        stack: &mut Vec<usize>,
        order: &mut Vec<usize>,
        cycles: &mut Vec<Vec<usize>>,
    ) {
        if state[i] == 2 {
            return;
        }
        if state[i] == 1 {
            let from = stack.iter().position(|&s| s == i).unwrap_or(0);
            cycles.push(stack[from..].to_vec());
            return;
        }
        state[i] = 1;
        stack.push(i);
        for &d in &deps[i] {
            visit(d, deps, state, stack, order, cycles);
        }
        stack.pop();
        state[i] = 2;
        order.push(i);
    }
    let mut cycles = Vec::new();
    for i in 0..nodes.len() {
        visit(
            i,
            &deps,
            &mut state,
            &mut Vec::new(),
            &mut order,
            &mut cycles,
        );
    }
    for c in &cycles {
        let mut names: Vec<String> = c.iter().map(|&i| nodes[i].key()).collect();
        names.push(names[0].clone());
        diags.error(
            format!("dependency cycle: {}", names.join(" → ")),
            Some(nodes[c[0]].span()),
        );
        c.iter().for_each(|&i| in_cycle[i] = true);
    }

    let mut locals: Vec<Local> = Vec::new();
    let mut data: hcl::Map<String, Value> = hcl::Map::new();
    for i in order {
        if in_cycle[i] {
            continue;
        }
        let ctx = cfg.context_with(&locals, &data, None, None);
        match &nodes[i] {
            Node::Local {
                name,
                expr,
                sensitive,
                file,
                span,
            } => match eval_expr(expr, &ctx) {
                Ok(value) => locals.push(Local {
                    name: name.clone(),
                    value,
                    sensitive: *sensitive,
                    span: span.clone(),
                }),
                Err(e) => diags.error(
                    format!("cannot evaluate local \"{name}\": {e}"),
                    Some(span_of(*file, *expr)),
                ),
            },
            Node::Data(d) => {
                let args = eval_body(&d.body, d.file, &ctx, diags);
                if let Some(w) = resolver.note(d) {
                    diags.warning(w, Some(d.span.clone()));
                }
                match resolver.resolve(d, &args) {
                    Ok(v) => {
                        data.insert(format!("{}.{}", d.kind, d.name), v);
                    }
                    Err(e) => diags.error(e, Some(d.span.clone())),
                }
            }
        }
    }
    (locals, data)
}
