//! Evaluating hcl-edit expressions and bodies with positions.
//!
//! Expressions are parsed with hcl-edit (spans) and evaluated with hcl-rs (evaluator). Two things
//! hcl-rs cannot do are added here: `try()`/`can()`, whose arguments must not fail the whole
//! expression, are resolved before evaluation; and `dynamic` blocks are expanded while a body is
//! evaluated. Errors are reported at the attribute they come from, since hcl-rs evaluation
//! errors carry no position.

use crate::diag::{Diagnostics, FileId, Span};
use hcl::Value;
use hcl::eval::{Context, Evaluate};
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression as EExpr, TraversalOperator};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::visit::Visit;
use hcl_edit::visit_mut::VisitMut;

/// Evaluates an hcl-edit expression.
pub fn eval_expr(expr: &EExpr, ctx: &Context) -> Result<Value, String> {
    let mut e = expr.clone();
    let mut lazy = Lazy { ctx, error: None };
    lazy.visit_expr_mut(&mut e);
    if let Some(err) = lazy.error {
        return Err(err);
    }
    let h: hcl::Expression = e.into();
    h.evaluate(ctx).map_err(|e| e.to_string())
}

/// Rewrites `try(a, b, …)` to the first argument that evaluates and `can(x)` to a bool.
struct Lazy<'a, 'c> {
    ctx: &'a Context<'c>,
    error: Option<String>,
}

impl VisitMut for Lazy<'_, '_> {
    fn visit_expr_mut(&mut self, node: &mut EExpr) {
        if let EExpr::FuncCall(call) = node {
            let name = call.name.name.as_str().to_string();
            if call.name.namespace.is_empty() && (name == "try" || name == "can") {
                let args: Vec<EExpr> = call.args.iter().cloned().collect();
                if let Some(v) = self.resolve(&name, &args) {
                    *node = EExpr::from(hcl::Expression::from(v));
                }
                return;
            }
        }
        hcl_edit::visit_mut::visit_expr_mut(self, node);
    }
}

impl Lazy<'_, '_> {
    fn resolve(&mut self, name: &str, args: &[EExpr]) -> Option<Value> {
        let mut last_err = None;
        for arg in args {
            // An argument naming a variable this context does not have (a `for` loop variable)
            // cannot be decided here: leave the call for hcl-rs.
            if refers_to_unknown_root(arg, self.ctx) {
                return None;
            }
            match eval_expr(arg, self.ctx) {
                Ok(_) if name == "can" => return Some(Value::Bool(true)),
                Ok(v) => return Some(v),
                Err(e) => last_err = Some(e),
            }
        }
        if name == "can" {
            return Some(Value::Bool(false));
        }
        self.error = Some(match last_err {
            Some(e) => format!(
                "no expression given to try() evaluated without error; the last error was: {e}"
            ),
            None => "try() needs at least one argument".to_string(),
        });
        None
    }
}

fn refers_to_unknown_root(expr: &EExpr, ctx: &Context) -> bool {
    let mut r = Roots::default();
    r.visit_expr(expr);
    r.roots.iter().any(|root| {
        let probe: hcl::Expression = hcl::Expression::Variable(hcl::Variable::unchecked(root.clone()));
        matches!(probe.evaluate(ctx), Err(e) if matches!(e.kind(), hcl::eval::ErrorKind::UndefinedVar(_)))
    })
}

#[derive(Default)]
struct Roots {
    roots: Vec<String>,
    bound: Vec<String>,
}

impl Visit for Roots {
    fn visit_expr(&mut self, node: &EExpr) {
        if let EExpr::Variable(v) = node {
            let name = v.as_str().to_string();
            if !self.bound.contains(&name) {
                self.roots.push(name);
            }
        }
        hcl_edit::visit::visit_expr(self, node);
    }
    fn visit_for_expr(&mut self, node: &hcl_edit::expr::ForExpr) {
        let before = self.bound.len();
        if let Some(k) = &node.intro.key_var {
            self.bound.push(k.as_str().to_string());
        }
        self.bound.push(node.intro.value_var.as_str().to_string());
        hcl_edit::visit::visit_for_expr(self, node);
        self.bound.truncate(before);
    }
}

/// The `prefix.name` references an expression makes, e.g. `local.x` or `data.amazon-ami.y`
/// (for data, the two labels are joined with `.`). Used to order locals and data sources.
pub fn references(expr: &EExpr) -> Vec<(String, String, Option<std::ops::Range<usize>>)> {
    #[derive(Default)]
    struct Refs(Vec<(String, String, Option<std::ops::Range<usize>>)>);
    impl Visit for Refs {
        fn visit_traversal(&mut self, node: &hcl_edit::expr::Traversal) {
            if let EExpr::Variable(root) = &node.expr {
                let attrs: Vec<String> = node
                    .operators
                    .iter()
                    .map_while(|op| match op.value() {
                        TraversalOperator::GetAttr(a) => Some(a.as_str().to_string()),
                        _ => None,
                    })
                    .collect();
                match (root.as_str(), attrs.as_slice()) {
                    ("local", [name, ..]) => {
                        self.0.push(("local".into(), name.clone(), node.span()))
                    }
                    ("data", [t, n, ..]) => {
                        self.0
                            .push(("data".into(), format!("{t}.{n}"), node.span()))
                    }
                    ("var", [name, ..]) => self.0.push(("var".into(), name.clone(), node.span())),
                    _ => {}
                }
            }
            hcl_edit::visit::visit_traversal(self, node);
        }
    }
    let mut r = Refs::default();
    r.visit_expr(expr);
    r.0
}

/// An evaluated attribute with the positions of its key and value.
#[derive(Debug, Clone)]
pub struct EAttr {
    pub name: String,
    pub value: Value,
    pub key_span: Span,
    pub span: Span,
}

/// An evaluated block (dynamic blocks already expanded).
#[derive(Debug, Clone)]
pub struct EBlock {
    pub ident: String,
    pub labels: Vec<String>,
    pub body: EBody,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct EBody {
    pub attrs: Vec<EAttr>,
    pub blocks: Vec<EBlock>,
}

impl EBody {
    pub fn attr(&self, name: &str) -> Option<&EAttr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

pub fn span_of(file: FileId, s: &impl hcl_edit::Span) -> Span {
    Span::new(file, s.span())
}

/// Evaluates every attribute of a body; failures become diagnostics at the attribute and the
/// attribute is left out, so one run reports every broken attribute.
pub fn eval_body(body: &Body, file: FileId, ctx: &Context, diags: &mut Diagnostics) -> EBody {
    let mut out = EBody::default();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => match eval_expr(&a.value, ctx) {
                Ok(value) => out.attrs.push(EAttr {
                    name: a.key.as_str().to_string(),
                    value,
                    key_span: span_of(file, &a.key),
                    span: span_of(file, &a.value),
                }),
                Err(e) => diags.error(
                    format!("cannot evaluate \"{}\": {e}", a.key.as_str()),
                    Some(span_of(file, &a.value)),
                ),
            },
            Structure::Block(b) if b.ident.as_str() == "dynamic" => {
                expand_dynamic(b, file, ctx, diags, &mut out)
            }
            Structure::Block(b) => out.blocks.push(EBlock {
                ident: b.ident.as_str().to_string(),
                labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
                body: eval_body(&b.body, file, ctx, diags),
                span: span_of(file, &b.ident),
            }),
        }
    }
    out
}

/// `dynamic "name" { for_each = …, iterator = it, labels = […], content { … } }`.
fn expand_dynamic(
    b: &hcl_edit::structure::Block,
    file: FileId,
    ctx: &Context,
    diags: &mut Diagnostics,
    out: &mut EBody,
) {
    let span = span_of(file, &b.ident);
    let Some(name) = b.labels.first().map(|l| l.as_str().to_string()) else {
        diags.error(
            "a dynamic block needs a label naming the block to generate",
            Some(span),
        );
        return;
    };
    let Some(for_each) = b.body.get_attribute("for_each") else {
        diags.error(
            format!("dynamic \"{name}\" needs a for_each attribute"),
            Some(span),
        );
        return;
    };
    let collection = match eval_expr(&for_each.value, ctx) {
        Ok(v) => v,
        Err(e) => {
            diags.error(
                format!("cannot evaluate for_each: {e}"),
                Some(span_of(file, &for_each.value)),
            );
            return;
        }
    };
    let iterator = match b.body.get_attribute("iterator") {
        Some(a) => match &a.value {
            EExpr::Variable(v) => v.as_str().to_string(),
            _ => {
                diags.error(
                    "iterator must be a bare name",
                    Some(span_of(file, &a.value)),
                );
                return;
            }
        },
        None => name.clone(),
    };
    let Some(content) = b.body.get_blocks("content").next() else {
        diags.error(
            format!("dynamic \"{name}\" needs a content block"),
            Some(span),
        );
        return;
    };
    let items: Vec<(Value, Value)> = match collection {
        Value::Array(v) => v
            .into_iter()
            .enumerate()
            .map(|(i, x)| (Value::from(i as i64), x))
            .collect(),
        Value::Object(o) => o.into_iter().map(|(k, x)| (Value::from(k), x)).collect(),
        Value::Null => vec![],
        other => {
            diags.error(
                format!("for_each must be a list, set or map, got {other}"),
                Some(span_of(file, &for_each.value)),
            );
            return;
        }
    };
    for (key, value) in items {
        let mut child = ctx.clone();
        let mut it = hcl::Map::new();
        it.insert("key".to_string(), key);
        it.insert("value".to_string(), value);
        child.declare_var(iterator.as_str(), Value::Object(it));
        let labels = match b.body.get_attribute("labels") {
            Some(a) => match eval_expr(&a.value, &child) {
                Ok(Value::Array(ls)) => ls
                    .iter()
                    .map(|l| l.as_str().unwrap_or_default().to_string())
                    .collect(),
                Ok(_) | Err(_) => {
                    diags.error(
                        "labels must be a list of strings",
                        Some(span_of(file, &a.value)),
                    );
                    vec![]
                }
            },
            None => vec![],
        };
        out.blocks.push(EBlock {
            ident: name.clone(),
            labels,
            body: eval_body(&content.body, file, &child, diags),
            span: span.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        let mut c = Context::new();
        crate::funcs::declare(&mut c, false);
        let mut var = hcl::Map::new();
        var.insert("x".to_string(), Value::from("v"));
        var.insert("n".to_string(), Value::Null);
        c.declare_var("var", Value::Object(var));
        c
    }
    fn ev(s: &str) -> Result<Value, String> {
        eval_expr(&hcl_edit::parser::parse_expr(s).unwrap(), &ctx())
    }

    #[test]
    fn interpolation_keeps_type() {
        assert_eq!(ev("\"${var.x}\"").unwrap(), Value::from("v"));
        assert_eq!(ev("\"${[1, 2]}\"").unwrap(), Value::from(vec![1, 2]));
    }

    #[test]
    fn try_and_can() {
        assert_eq!(
            ev("try(var.nope, \"fallback\")").unwrap(),
            Value::from("fallback")
        );
        assert_eq!(ev("try(var.x, \"fallback\")").unwrap(), Value::from("v"));
        assert_eq!(
            ev("\"a-${try(var.nope.deeper, \"b\")}\"").unwrap(),
            Value::from("a-b")
        );
        assert_eq!(ev("can(var.nope)").unwrap(), Value::Bool(false));
        assert_eq!(ev("can(var.x)").unwrap(), Value::Bool(true));
        assert!(
            ev("try(var.nope, var.nope2)")
                .unwrap_err()
                .contains("try()")
        );
        // A try over a for loop variable is left to hcl-rs and still works when it succeeds.
        assert_eq!(
            ev("[for s in [\"a\"] : try(s, \"z\")]").unwrap(),
            Value::from(vec!["a"])
        );
    }

    #[test]
    fn conditionals_for_splat() {
        assert_eq!(ev("var.x == \"v\" ? 1 : 2").unwrap(), Value::from(1));
        assert_eq!(
            ev("[for i, s in [\"a\", \"b\"] : \"${i}${s}\" if s != \"b\"]").unwrap(),
            Value::from(vec!["0a"])
        );
        assert_eq!(
            ev("[{a = 1}, {a = 2}][*].a").unwrap(),
            Value::from(vec![1, 2])
        );
        assert_eq!(
            ev("{for k, v in {a = 1} : upper(k) => v}").unwrap(),
            ev("{A = 1}").unwrap()
        );
    }

    #[test]
    fn dynamic_blocks_expand() {
        let src = r#"
dynamic "tag" {
  for_each = { a = "1", b = "2" }
  content {
    key   = tag.key
    value = try(tag.value.missing, tag.value)
  }
}
dynamic "ebs" {
  for_each = ["x"]
  iterator = dev
  content { name = dev.value }
}
"#;
        let body = hcl_edit::parser::parse_body(src).unwrap();
        let mut d = Diagnostics::default();
        let b = eval_body(&body, 0, &ctx(), &mut d);
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(b.blocks.len(), 3);
        assert_eq!(
            b.blocks[1].body.attr("value").unwrap().value,
            Value::from("2")
        );
        assert_eq!(
            b.blocks[2].body.attr("name").unwrap().value,
            Value::from("x")
        );
    }

    #[test]
    fn references_found() {
        let e = hcl_edit::parser::parse_expr("\"${local.a}-${data.amazon-ami.base.id}\"").unwrap();
        let r: Vec<(String, String)> = references(&e).into_iter().map(|(a, b, _)| (a, b)).collect();
        assert_eq!(
            r,
            vec![
                ("local".into(), "a".into()),
                ("data".into(), "amazon-ami.base".into())
            ]
        );
    }
}
