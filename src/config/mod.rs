//! The configuration layer: evaluated template values → typed, validated build plans. Steps
//! never see HCL: the output is one plain [`BuildPlan`] per source of each build.

pub mod ansible_rules;
pub mod decided;
pub mod decode;
pub mod ebs;
pub mod plugins;
pub mod schema;
pub mod validate;
#[cfg(test)]
mod zero_values_test;

use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::template::Configuration;
use crate::template::eval::{EBody, eval_body};
use crate::template::legacy::{self, LegacyContext};
use decode::Spans;
use ebs::AmazonEbs;
use hcl::Value;
use plugins::{PostProcessor, Provisioner};
use serde::Serialize;

pub use crate::template::legacy::BUILD_VARIABLES;

/// Which builds to run: Packer's `-only` / `-except` globs and `-force`.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub only: Vec<String>,
    pub except: Vec<String>,
    pub force: bool,
    /// `build`: builds of other builders (and post-processors ambake does not run) that are
    /// not excluded are errors, so nothing is created for a run that cannot finish. `validate`
    /// and `iam-policy` check the amazon-ebs builds and warn about the rest.
    pub others_are_errors: bool,
}

/// Everything one build needs, typed and validated.
#[derive(Debug, Clone, Serialize)]
pub struct BuildPlan {
    /// `[<build name>.]amazon-ebs.<source name>`, as Packer prints and `-only` matches it.
    pub name: String,
    pub build_name: Option<String>,
    pub source_type: String,
    pub source_name: String,
    pub config: AmazonEbs,
    /// What the options add up to, decided once: read this, not the raw options, for spot,
    /// key source and image output. (Not in `inspect --json`, which shows Packer's options.)
    #[serde(skip)]
    pub decided: decided::Decided,
    pub provisioners: Vec<Provisioner>,
    pub error_cleanup: Option<Provisioner>,
    pub post_processors: Vec<Vec<PostProcessor>>,
    #[serde(skip)]
    pub spans: Spans,
    #[serde(skip)]
    pub span: Span,
}

impl BuildPlan {
    /// True when a `{{ .NAME }}` build variable (or `build.NAME`) appears anywhere in the
    /// plan: some of them cost an API call to fill, made only when used.
    pub fn uses_build_variable(&self, name: &str) -> bool {
        let text = serde_json::to_string(self).unwrap_or_default();
        let re = regex::Regex::new(&format!(r"\{{\{{[^}}]*\.{name}\b")).expect("static pattern");
        re.is_match(&text)
    }
}

fn glob_match(patterns: &[String], names: &[String]) -> bool {
    patterns.iter().any(|p| {
        globset::Glob::new(p)
            .map(|g| g.compile_matcher())
            .is_ok_and(|m| names.iter().any(|n| m.is_match(n)))
    })
}

fn build_object(build_name: Option<&str>) -> Value {
    let mut m: hcl::Map<String, Value> = BUILD_VARIABLES
        .iter()
        .map(|v| (v.to_string(), Value::from(format!("{{{{ .{v} }}}}"))))
        .collect();
    m.insert("name".into(), Value::from(build_name.unwrap_or_default()));
    Value::Object(m)
}

/// Renders config-time legacy actions (`{{timestamp}}`, `{{isotime}}`, `{{uuid}}`) in every
/// string; build-time ones stay for the engine.
fn render_legacy(v: &mut Value, lctx: &LegacyContext) -> Result<(), String> {
    match v {
        Value::String(s) if legacy::has_actions(s) => {
            *s = legacy::render(s, lctx)?;
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| render_legacy(i, lctx)),
        Value::Object(o) => o.values_mut().try_for_each(|i| render_legacy(i, lctx)),
        _ => Ok(()),
    }
}

fn render_body(body: &mut EBody, lctx: &LegacyContext, diags: &mut Diagnostics) {
    for a in &mut body.attrs {
        if let Err(e) = render_legacy(&mut a.value, lctx) {
            diags.error(format!("in \"{}\": {e}", a.name), Some(a.span.clone()));
        }
    }
    for b in &mut body.blocks {
        render_body(&mut b.body, lctx, diags);
    }
}

/// Attributes of `over` replace those of `base`; its blocks replace all of `base`'s blocks of
/// the same type.
fn merge_bodies(mut base: EBody, over: EBody) -> EBody {
    for a in over.attrs {
        base.attrs.retain(|b| b.name != a.name);
        base.attrs.push(a);
    }
    let idents: Vec<String> = over.blocks.iter().map(|b| b.ident.clone()).collect();
    base.blocks.retain(|b| !idents.contains(&b.ident));
    base.blocks.extend(over.blocks);
    base
}

/// Every secret of the configuration and its plans: sensitive variables and locals, and the
/// secret options of every source.
pub fn secrets(cfg: &Configuration, plans: &[BuildPlan]) -> Vec<String> {
    let mut s = cfg.secrets();
    for p in plans {
        s.extend(p.config.secrets());
    }
    s
}

/// Builds the plans of every selected build. Problems go to `diags`; a plan is returned only
/// for builds that typed without error.
pub fn plan(cfg: &Configuration, opts: &PlanOptions, diags: &mut Diagnostics) -> Vec<BuildPlan> {
    let lctx = LegacyContext::new(cfg.now);
    // Data source arguments are checked even when their values stay unknown.
    for d in &cfg.data {
        let ctx = cfg.context(None, None);
        let body = eval_body(&d.body, d.file, &ctx, &mut Diagnostics::default());
        plugins::data_source(&d.kind, &body, &d.span, diags);
    }
    let mut plans = Vec::new();
    for b in &cfg.builds {
        for r in &b.sources {
            let Some(src) = cfg
                .sources
                .iter()
                .find(|s| s.kind == r.kind && s.name == r.name)
            else {
                continue;
            };
            let effective = r.rename.clone().unwrap_or_else(|| r.name.clone());
            let short = format!("{}.{}", r.kind, effective);
            let full = match &b.name {
                Some(n) => format!("{n}.{short}"),
                None => short.clone(),
            };
            let names = vec![full.clone(), short.clone()];
            if !opts.only.is_empty() && !glob_match(&opts.only, &names) {
                continue;
            }
            if glob_match(&opts.except, &names) {
                continue;
            }
            if r.kind != "amazon-ebs" {
                let msg = format!(
                    "source type \"{}\" (build {full}) is not supported by ambake",
                    r.kind
                );
                let d = if opts.others_are_errors {
                    Diagnostic::error(msg, Some(src.span.clone()))
                } else {
                    Diagnostic::warning(
                        format!("{msg}: only the amazon-ebs builds were checked"),
                        Some(src.span.clone()),
                    )
                };
                diags.push(d.with_help(format!(
                    "ambake builds amazon-ebs sources; skip this one with -except='{full}' (run it with Packer)"
                )));
                continue;
            }
            let mut local = Diagnostics::default();
            let ctx = cfg.context(Some((&r.kind, &effective)), None);
            let mut body = eval_body(&src.body, src.file, &ctx, &mut local);
            if let Some(over) = &r.overrides {
                body = merge_bodies(body, eval_body(over, b.file, &ctx, &mut local));
            }
            render_body(&mut body, &lctx, &mut local);
            let mut spans = Spans::new();
            let what = format!("source \"amazon-ebs\" \"{}\"", r.name);
            let json = decode::decode(
                &body,
                schema::AMAZON_EBS,
                &what,
                &src.span,
                &mut spans,
                "",
                &mut local,
            );
            let mut config: AmazonEbs = match serde_json::from_value(json) {
                Ok(c) => c,
                Err(e) => {
                    local.error(
                        format!("internal: typed configuration rejected: {e}"),
                        Some(src.span.clone()),
                    );
                    AmazonEbs::default()
                }
            };
            if opts.force {
                config.force_deregister = true;
            }
            let decided = decided::Decided::from_options(&config);
            validate::check(&config, &decided, &spans, &src.span, &mut local);

            let pctx = cfg.context(
                Some((&r.kind, &effective)),
                Some(build_object(b.name.as_deref())),
            );
            let applies = vec![
                short.clone(),
                effective.clone(),
                full.clone(),
                r.name.clone(),
                format!("{}.{}", r.kind, r.name),
            ];
            let mut provisioners = Vec::new();
            for p in &b.provisioners {
                if let Some(p) = typed_provisioner(p, &pctx, &lctx, &applies, &mut local)
                    && p.common.applies_to(&applies)
                {
                    provisioners.push(p);
                }
            }
            let error_cleanup = b
                .error_cleanup
                .as_ref()
                .and_then(|p| typed_provisioner(p, &pctx, &lctx, &applies, &mut local));
            let mut post_processors = Vec::new();
            for chain in &b.post_processors {
                let mut typed = Vec::new();
                for p in chain {
                    let mut body = eval_body(&p.body, p.file, &pctx, &mut local);
                    render_body(&mut body, &lctx, &mut local);
                    if !plugins::POST_PROCESSOR_TYPES.contains(&p.kind.as_str()) {
                        // Another builder's post-processor (docker-push after a docker
                        // source, …): nothing to do for a build it does not apply to.
                        if !raw_applies(&body, &applies) {
                            continue;
                        }
                        if !opts.others_are_errors {
                            local.push(
                                Diagnostic::warning(
                                    format!(
                                        "post-processor type \"{}\" is not supported by ambake: `build` stops before creating anything while it applies to {full}",
                                        p.kind
                                    ),
                                    Some(p.span.clone()),
                                )
                                .with_help(
                                    "limit it with only = [...] to the builds of the builder it belongs to",
                                ),
                            );
                            continue;
                        }
                    }
                    if let Some(pp) = plugins::post_processor(&p.kind, &body, &p.span, &mut local)
                        && pp.common.applies_to(&applies)
                    {
                        typed.push(pp);
                    }
                }
                if !typed.is_empty() {
                    plugins::warn_fileless(&typed, &mut local);
                    post_processors.push(typed);
                }
            }
            let failed = local.has_errors();
            diags.extend(local);
            if !failed {
                plans.push(BuildPlan {
                    name: full,
                    build_name: b.name.clone(),
                    source_type: r.kind.clone(),
                    source_name: effective,
                    config,
                    decided,
                    provisioners,
                    error_cleanup,
                    post_processors,
                    spans,
                    span: src.span.clone(),
                });
            }
        }
    }
    if !opts.only.is_empty() || !opts.except.is_empty() {
        let all: Vec<String> = cfg
            .builds
            .iter()
            .flat_map(|b| b.sources.iter().map(move |r| (b, r)))
            .map(|(b, r)| {
                let short = format!(
                    "{}.{}",
                    r.kind,
                    r.rename.clone().unwrap_or_else(|| r.name.clone())
                );
                b.name
                    .as_ref()
                    .map(|n| format!("{n}.{short}"))
                    .unwrap_or(short)
            })
            .collect();
        for p in &opts.only {
            let m = globset::Glob::new(p).map(|g| g.compile_matcher());
            let matched = m.as_ref().is_ok_and(|m| {
                all.iter().any(|n| {
                    m.is_match(n) || n.split_once('.').is_some_and(|(_, rest)| m.is_match(rest))
                })
            });
            if !matched {
                diags.warning(
                    format!("-only={p} matches no build (builds: {})", all.join(", ")),
                    None,
                );
            }
        }
    }
    plans
}

/// A block's `only`/`except` before it is typed (for post-processors ambake cannot type).
fn raw_applies(body: &EBody, names: &[String]) -> bool {
    let list = |k: &str| -> Vec<String> {
        match body.attr(k).map(|a| &a.value) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => vec![],
        }
    };
    let (only, except) = (list("only"), list("except"));
    let hit = |l: &[String]| l.iter().any(|n| names.contains(n));
    (only.is_empty() || hit(&only)) && !hit(&except)
}

fn typed_provisioner(
    p: &crate::template::blocks::PluginBlock,
    ctx: &hcl::eval::Context,
    lctx: &LegacyContext,
    names: &[String],
    diags: &mut Diagnostics,
) -> Option<Provisioner> {
    let mut body = match &p.iterator {
        Some((name, value)) => {
            let mut child = ctx.clone();
            child.declare_var(name.as_str(), value.clone());
            eval_body(&p.body, p.file, &child, diags)
        }
        None => eval_body(&p.body, p.file, ctx, diags),
    };
    render_body(&mut body, lctx, diags);
    // `override = { "amazon-ebs.x" = { … } }`: per-source replacements of attributes.
    // Replacements are reported at the `override` attribute's position.
    if let Some(ov_attr) = body.attr("override").cloned()
        && let Value::Object(o) = &ov_attr.value
        && let Some(Value::Object(repl)) = names.iter().find_map(|n| o.get(n))
    {
        for (k, v) in repl {
            body.attrs.retain(|a| &a.name != k);
            body.attrs.push(crate::template::eval::EAttr {
                name: k.clone(),
                value: v.clone(),
                ..ov_attr.clone()
            });
        }
    }
    plugins::provisioner(&p.kind, &body, &p.span, diags)
}
