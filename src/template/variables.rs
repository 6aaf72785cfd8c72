//! Input variables: declarations, Packer's value precedence, type conversion, validation.
//!
//! Precedence, lowest first: `default` < `PKR_VAR_<name>` < `*.auto.pkrvars.hcl` (in name
//! order) < `-var-file` (in command-line order) < `-var`.

use super::eval::{eval_expr, span_of};
use super::files::Parsed;
use super::types::{Type, convert, parse_type, takes_raw_string};
use crate::diag::{Diagnostic, Diagnostics, FileId, SourceMap, Span, did_you_mean};
use hcl::Value;
use hcl::eval::Context;
use hcl_edit::structure::{Body, Structure};

/// A declared variable after its value has been decided.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub ty: Type,
    pub description: Option<String>,
    pub sensitive: bool,
    pub value: Value,
    /// Where the value came from, for `inspect`: "default", "env", a file name, "-var".
    pub origin: String,
    pub span: Span,
}

struct Decl {
    name: String,
    ty: Type,
    description: Option<String>,
    sensitive: bool,
    default: Option<Value>,
    validations: Vec<(
        hcl_edit::expr::Expression,
        Option<hcl_edit::expr::Expression>,
        Span,
    )>,
    span: Span,
}

/// A value given for a variable, with where it came from.
struct Given {
    value: Given_,
    origin: String,
    span: Option<Span>,
}
enum Given_ {
    Value(Value),
    Raw(String),
}

fn functions_ctx(allow_env: bool) -> Context<'static> {
    let mut ctx = Context::new();
    crate::funcs::declare(&mut ctx, allow_env);
    ctx
}

/// Reads the `variable` and `variables` blocks of all template files.
fn declarations(templates: &[Parsed], diags: &mut Diagnostics) -> Vec<Decl> {
    let mut out: Vec<Decl> = Vec::new();
    let defaults_ctx = functions_ctx(true);
    for p in templates {
        for s in p.body.iter() {
            let Structure::Block(b) = s else { continue };
            match b.ident.as_str() {
                "variable" => {
                    let span = span_of(p.file, &b.ident);
                    let [label] = b.labels.as_slice() else {
                        diags.error(
                            "a variable block needs exactly one label: its name",
                            Some(span),
                        );
                        continue;
                    };
                    if let Some(d) =
                        declare(p.file, label.as_str(), &b.body, span, &defaults_ctx, diags)
                    {
                        push_unique(&mut out, d, diags);
                    }
                }
                "variables" => {
                    for s in b.body.iter() {
                        match s {
                            Structure::Attribute(a) => match eval_expr(&a.value, &defaults_ctx) {
                                Ok(v) => push_unique(
                                    &mut out,
                                    Decl {
                                        name: a.key.as_str().to_string(),
                                        ty: Type::Any,
                                        description: None,
                                        sensitive: false,
                                        default: Some(v),
                                        validations: vec![],
                                        span: span_of(p.file, &a.key),
                                    },
                                    diags,
                                ),
                                Err(e) => diags.error(
                                    format!(
                                        "cannot evaluate the default of variable \"{}\": {e}",
                                        a.key.as_str()
                                    ),
                                    Some(span_of(p.file, &a.value)),
                                ),
                            },
                            Structure::Block(inner) => diags.error(
                                "the variables block takes only attributes (name = default)",
                                Some(span_of(p.file, &inner.ident)),
                            ),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn push_unique(out: &mut Vec<Decl>, d: Decl, diags: &mut Diagnostics) {
    if out.iter().any(|o| o.name == d.name) {
        diags.error(
            format!(
                "duplicate variable \"{}\": a variable can be declared only once",
                d.name
            ),
            Some(d.span),
        );
    } else {
        out.push(d);
    }
}

fn declare(
    file: FileId,
    name: &str,
    body: &Body,
    span: Span,
    ctx: &Context,
    diags: &mut Diagnostics,
) -> Option<Decl> {
    let mut d = Decl {
        name: name.to_string(),
        ty: Type::Any,
        description: None,
        sensitive: false,
        default: None,
        validations: vec![],
        span,
    };
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                let vspan = span_of(file, &a.value);
                match key {
                    "type" => match parse_type(&a.value.clone().into()) {
                        Ok(t) => d.ty = t,
                        Err(e) => diags.error(
                            format!("invalid type for variable \"{name}\": {e}"),
                            Some(vspan),
                        ),
                    },
                    "default" => match eval_expr(&a.value, ctx) {
                        Ok(v) => d.default = Some(v),
                        Err(e) => diags.error(
                            format!("cannot evaluate the default of variable \"{name}\": {e}"),
                            Some(vspan),
                        ),
                    },
                    "description" => {
                        d.description = eval_expr(&a.value, ctx)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                    }
                    "sensitive" => match eval_expr(&a.value, ctx) {
                        Ok(Value::Bool(b)) => d.sensitive = b,
                        _ => diags.error("sensitive must be true or false", Some(vspan)),
                    },
                    "nullable" => {}
                    other => {
                        let mut diag = Diagnostic::error(
                            format!("unsupported argument \"{other}\" in variable \"{name}\""),
                            Some(span_of(file, &a.key)),
                        );
                        if let Some(s) = did_you_mean(
                            other,
                            ["type", "default", "description", "sensitive", "validation"],
                        ) {
                            diag = diag.with_help(format!("did you mean \"{s}\"?"));
                        }
                        diags.push(diag);
                    }
                }
            }
            Structure::Block(b) if b.ident.as_str() == "validation" => {
                let bspan = span_of(file, &b.ident);
                match b.body.get_attribute("condition") {
                    Some(c) => d.validations.push((
                        c.value.clone(),
                        b.body
                            .get_attribute("error_message")
                            .map(|m| m.value.clone()),
                        span_of(file, &c.value),
                    )),
                    None => diags.error("a validation block needs a condition", Some(bspan)),
                }
            }
            Structure::Block(b) => diags.error(
                format!(
                    "unsupported block \"{}\" in variable \"{name}\"",
                    b.ident.as_str()
                ),
                Some(span_of(file, &b.ident)),
            ),
        }
    }
    if let Some(def) = &d.default {
        match convert(def, &d.ty) {
            Ok(v) => d.default = Some(v),
            Err(e) => {
                let at = body
                    .get_attribute("default")
                    .map(|a| span_of(file, &a.value));
                diags.error(
                    format!("the default of variable \"{name}\" does not match its type: {e}"),
                    at,
                );
                return None;
            }
        }
    }
    Some(d)
}

/// Values from a var file (`.pkrvars.hcl` or `.json`): attributes only, no variable references.
fn var_file_values(p: &Parsed, map: &SourceMap, diags: &mut Diagnostics) -> Vec<(String, Given)> {
    let ctx = functions_ctx(false);
    let mut out = Vec::new();
    let origin = map.get(p.file).name.clone();
    for s in p.body.iter() {
        match s {
            Structure::Attribute(a) => match eval_expr(&a.value, &ctx) {
                Ok(v) => out.push((a.key.as_str().to_string(), Given { value: Given_::Value(v), origin: origin.clone(), span: Some(span_of(p.file, &a.key)) })),
                Err(e) => diags.error(format!("cannot evaluate \"{}\": {e} (variable files cannot refer to other variables)", a.key.as_str()), Some(span_of(p.file, &a.value))),
            },
            Structure::Block(b) => diags.error("variable files contain only assignments (name = value), not blocks", Some(span_of(p.file, &b.ident))),
        }
    }
    out
}

/// Decides every variable's value. `cli_vars` are `name=value` strings from `-var`.
pub fn resolve(
    templates: &[Parsed],
    auto_files: &[Parsed],
    var_files: &[Parsed],
    cli_vars: &[String],
    map: &SourceMap,
    diags: &mut Diagnostics,
) -> Vec<Variable> {
    let decls = declarations(templates, diags);
    let mut given: Vec<(String, Given)> = Vec::new();
    for d in &decls {
        if let Ok(v) = std::env::var(format!("PKR_VAR_{}", d.name)) {
            given.push((
                d.name.clone(),
                Given {
                    value: Given_::Raw(v),
                    origin: format!("PKR_VAR_{}", d.name),
                    span: None,
                },
            ));
        }
    }
    for f in auto_files.iter().chain(var_files) {
        for (name, g) in var_file_values(f, map, diags) {
            if decls.iter().any(|d| d.name == name) {
                given.push((name, g));
            } else {
                let mut w = Diagnostic::warning(
                    format!(
                        "undeclared variable \"{name}\" is assigned in a variable file and ignored"
                    ),
                    g.span.clone(),
                );
                if let Some(s) = did_you_mean(&name, decls.iter().map(|d| d.name.as_str())) {
                    w = w.with_help(format!("did you mean \"{s}\"?"));
                }
                diags.push(w);
            }
        }
    }
    for kv in cli_vars {
        let Some((name, raw)) = kv.split_once('=') else {
            diags.error(format!("invalid -var \"{kv}\": expected name=value"), None);
            continue;
        };
        if !decls.iter().any(|d| d.name == name) {
            let mut e = Diagnostic::error(
                format!("undeclared variable \"{name}\" given with -var"),
                None,
            );
            if let Some(s) = did_you_mean(name, decls.iter().map(|d| d.name.as_str())) {
                e = e.with_help(format!("did you mean \"{s}\"?"));
            } else {
                e = e.with_help(format!("declare it with a variable \"{name}\" {{}} block"));
            }
            diags.push(e);
            continue;
        }
        given.push((
            name.to_string(),
            Given {
                value: Given_::Raw(raw.to_string()),
                origin: "-var".into(),
                span: None,
            },
        ));
    }

    let mut vars = Vec::new();
    for d in decls {
        // The last value given wins: the list is in precedence order.
        let chosen = given
            .iter()
            .rev()
            .find(|(n, _)| *n == d.name)
            .map(|(_, g)| g);
        let (value, origin) = match chosen {
            Some(g) => {
                let raw_value = match &g.value {
                    Given_::Value(v) => Ok(v.clone()),
                    Given_::Raw(s) if takes_raw_string(&d.ty) => Ok(Value::from(s.clone())),
                    Given_::Raw(s) => parse_cli_value(s),
                };
                match raw_value.and_then(|v| convert(&v, &d.ty)) {
                    Ok(v) => (v, g.origin.clone()),
                    Err(e) => {
                        diags.error(
                            format!(
                                "invalid value for variable \"{}\" from {}: {e}",
                                d.name, g.origin
                            ),
                            g.span.clone().or(Some(d.span.clone())),
                        );
                        continue;
                    }
                }
            }
            None => match &d.default {
                Some(v) => (v.clone(), "default".to_string()),
                None => {
                    diags.push(
                        Diagnostic::error(format!("unset variable \"{}\": it has no default and no value was given", d.name), Some(d.span.clone()))
                            .with_help(format!("set it with -var '{0}=…', a -var-file, a *.auto.pkrvars.hcl file or PKR_VAR_{0}", d.name)),
                    );
                    continue;
                }
            },
        };
        vars.push((
            d.validations.clone(),
            Variable {
                name: d.name,
                ty: d.ty,
                description: d.description,
                sensitive: d.sensitive,
                value,
                origin,
                span: d.span,
            },
        ));
    }

    // Validation conditions see every variable, like Packer's.
    let mut ctx = functions_ctx(false);
    ctx.declare_var(
        "var",
        Value::Object(
            vars.iter()
                .map(|(_, v)| (v.name.clone(), v.value.clone()))
                .collect(),
        ),
    );
    for (validations, v) in &vars {
        for (cond, msg, span) in validations {
            match eval_expr(cond, &ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    let text = msg
                        .as_ref()
                        .and_then(|m| eval_expr(m, &ctx).ok())
                        .and_then(|m| m.as_str().map(String::from))
                        .unwrap_or_else(|| "the validation condition is false".into());
                    diags.error(
                        format!("invalid value for variable \"{}\": {text}", v.name),
                        Some(span.clone()),
                    );
                }
                Ok(other) => diags.error(
                    format!("a validation condition must be true or false, got {other}"),
                    Some(span.clone()),
                ),
                Err(e) => diags.error(
                    format!("cannot evaluate the validation of \"{}\": {e}", v.name),
                    Some(span.clone()),
                ),
            }
        }
    }
    vars.into_iter().map(|(_, v)| v).collect()
}

/// A `-var` value for a non-string variable is an HCL expression (`-var 'regions=["a"]'`).
fn parse_cli_value(s: &str) -> Result<Value, String> {
    let expr = hcl_edit::parser::parse_expr(s)
        .map_err(|e| format!("\"{s}\" is not a valid HCL value: {}", e.message()))?;
    eval_expr(&expr, &functions_ctx(false))
}
