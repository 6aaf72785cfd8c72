//! The template language: Packer HCL2 text → evaluated values. Knows nothing about AWS.
//!
//! [`load`] reads a file, a directory or stdin, decides every variable's value, evaluates
//! locals (and data sources, as unknown placeholders unless a resolver is given) in dependency
//! order, and keeps sources and builds as syntax for the configuration layer, which evaluates
//! them in the scope of each build through [`Configuration::context`].

pub mod blocks;
pub mod eval;
pub mod files;
pub mod json;
pub mod legacy;
pub mod locals;
pub mod types;
pub mod variables;

use crate::diag::{Diagnostic, Diagnostics, SourceMap, did_you_mean};
use anyhow::Result;
use blocks::{BuildBlock, DataBlock, SourceBlock};
use eval::span_of;
use hcl::Value;
use hcl::eval::Context;
use hcl_edit::structure::Structure;
use std::path::PathBuf;

pub use locals::{DataResolver, Local, UnknownData};
pub use variables::Variable;

/// Packer's version this tool stands in for, as `packer.version` shows it.
pub const PACKER_COMPAT_VERSION: &str = "1.11.2";

/// What the user gave on the command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub path: String,
    pub vars: Vec<String>,
    pub var_files: Vec<String>,
}

/// A loaded configuration: values decided, sources and builds still syntax.
pub struct Configuration {
    pub map: SourceMap,
    pub root: PathBuf,
    pub cwd: PathBuf,
    pub variables: Vec<Variable>,
    pub locals: Vec<Local>,
    /// `data.<type>.<name>` values (placeholders when not evaluated).
    pub data_values: hcl::Map<String, Value>,
    pub data: Vec<DataBlock>,
    pub sources: Vec<SourceBlock>,
    pub builds: Vec<BuildBlock>,
    pub required_version: Option<String>,
    /// One time for the whole run: `timestamp()`, `{{timestamp}}`.
    pub now: jiff::Timestamp,
}

const TOP_LEVEL: &[&str] = &[
    "packer",
    "variable",
    "variables",
    "locals",
    "local",
    "source",
    "data",
    "build",
];

/// Loads and evaluates everything that does not depend on a build. Problems go to `diags` (the
/// returned configuration is then partial, but its source map can render them); `Err` only for
/// I/O problems such as a missing file.
pub fn load(
    opts: &LoadOptions,
    resolver: &dyn DataResolver,
    diags: &mut Diagnostics,
) -> Result<Configuration> {
    let now = jiff::Timestamp::now();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    crate::funcs::set_env(crate::funcs::FuncEnv {
        cwd: cwd.clone(),
        now,
    });

    let mut inputs = files::read(&opts.path, diags)?;
    let mut var_files = Vec::new();
    for f in &opts.var_files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read variable file {f}: {e}"))?;
        if let Some(p) = files::parse_file(&mut inputs.map, f, PathBuf::from(f), text, true, diags)
        {
            var_files.push(p);
        }
    }
    if diags.has_errors() {
        return Ok(Configuration::empty(inputs.map, inputs.root, cwd, now));
    }

    // Top-level structure first, so misspelt block names are reported once.
    let mut required_version = None;
    for p in &inputs.templates {
        for s in p.body.iter() {
            match s {
                Structure::Attribute(a) => diags.error(format!("unexpected attribute \"{}\" at the top level; attributes belong inside blocks", a.key.as_str()), Some(span_of(p.file, &a.key))),
                Structure::Block(b) => {
                    let ident = b.ident.as_str();
                    if !TOP_LEVEL.contains(&ident) {
                        let mut d = Diagnostic::error(format!("unsupported block type \"{ident}\""), Some(span_of(p.file, &b.ident)));
                        if let Some(s) = did_you_mean(ident, TOP_LEVEL.iter().copied()) {
                            d = d.with_help(format!("did you mean \"{s}\"?"));
                        }
                        diags.push(d);
                    }
                    if ident == "packer" {
                        required_version = check_packer_block(p.file, b, diags).or(required_version);
                    }
                }
            }
        }
    }

    let variables = variables::resolve(
        &inputs.templates,
        &inputs.auto_var_files,
        &var_files,
        &opts.vars,
        &inputs.map,
        diags,
    );
    let mut cfg = Configuration::empty(inputs.map, inputs.root, cwd, now);
    cfg.variables = variables;
    cfg.required_version = required_version;

    for p in &inputs.templates {
        for s in p.body.iter() {
            let Structure::Block(b) = s else { continue };
            let span = span_of(p.file, &b.ident);
            match (b.ident.as_str(), b.labels.as_slice()) {
                ("source", [kind, name]) => {
                    let (kind, name) = (kind.as_str().to_string(), name.as_str().to_string());
                    if cfg.sources.iter().any(|s| s.kind == kind && s.name == name) {
                        diags.error(format!("duplicate source \"{kind}.{name}\""), Some(span));
                    } else {
                        cfg.sources.push(SourceBlock { kind, name, body: b.body.clone(), file: p.file, span });
                    }
                }
                ("source", _) => diags.error("a source block needs two labels: its type and its name, e.g. source \"amazon-ebs\" \"ubuntu\"", Some(span)),
                ("data", [kind, name]) => cfg.data.push(DataBlock { kind: kind.as_str().to_string(), name: name.as_str().to_string(), body: b.body.clone(), file: p.file, span }),
                ("data", _) => diags.error("a data block needs two labels: its type and its name", Some(span)),
                _ => {}
            }
        }
    }

    let (locals, data_values) = locals::evaluate(&inputs.templates, &cfg, resolver, diags);
    cfg.locals = locals;
    cfg.data_values = data_values;

    let ctx = cfg.context(None, None);
    for p in &inputs.templates {
        for s in p.body.iter() {
            if let Structure::Block(b) = s
                && b.ident.as_str() == "build"
            {
                cfg.builds.push(blocks::read_build(p.file, b, &ctx, diags));
            }
        }
    }
    drop(ctx);
    for b in &cfg.builds {
        for r in &b.sources {
            if !cfg
                .sources
                .iter()
                .any(|s| s.kind == r.kind && s.name == r.name)
            {
                let mut d = Diagnostic::error(
                    format!("unknown source \"source.{}.{}\" in build", r.kind, r.name),
                    Some(r.span.clone()),
                );
                if let Some(s) = did_you_mean(&r.name, cfg.sources.iter().map(|s| s.name.as_str()))
                {
                    d = d.with_help(format!("did you mean \"source.{}.{s}\"?", r.kind));
                }
                diags.push(d);
            }
        }
    }
    if cfg.builds.is_empty() && !diags.has_errors() {
        diags.warning(
            "the configuration has no build block, so there is nothing to build",
            None,
        );
    }
    Ok(cfg)
}

fn check_packer_block(
    file: usize,
    b: &hcl_edit::structure::Block,
    diags: &mut Diagnostics,
) -> Option<String> {
    let mut version = None;
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) if a.key.as_str() == "required_version" => {
                let ctx = Context::new();
                match eval::eval_expr(&a.value, &ctx) {
                    Ok(Value::String(v)) if v.chars().any(|c| c.is_ascii_digit()) => {
                        version = Some(v)
                    }
                    _ => diags.error(
                        "required_version must be a version constraint string such as \">= 1.7.0\"",
                        Some(span_of(file, &a.value)),
                    ),
                }
            }
            Structure::Block(inner) if inner.ident.as_str() == "required_plugins" => {
                for p in inner.body.iter() {
                    if let Structure::Attribute(a) = p {
                        let ok = matches!(&a.value, hcl_edit::expr::Expression::Object(_));
                        if !ok {
                            diags.error(format!("required_plugins.{} must be an object like {{ version = \">= 1.3\", source = \"github.com/hashicorp/amazon\" }}", a.key.as_str()), Some(span_of(file, &a.value)));
                        }
                    }
                }
            }
            Structure::Attribute(a) => diags.error(
                format!(
                    "unsupported argument \"{}\" in packer block",
                    a.key.as_str()
                ),
                Some(span_of(file, &a.key)),
            ),
            Structure::Block(inner) => diags.error(
                format!(
                    "unsupported block \"{}\" in packer block",
                    inner.ident.as_str()
                ),
                Some(span_of(file, &inner.ident)),
            ),
        }
    }
    version
}

impl Configuration {
    fn empty(map: SourceMap, root: PathBuf, cwd: PathBuf, now: jiff::Timestamp) -> Self {
        Configuration {
            map,
            root,
            cwd,
            variables: vec![],
            locals: vec![],
            data_values: hcl::Map::new(),
            data: vec![],
            sources: vec![],
            builds: vec![],
            required_version: None,
            now,
        }
    }

    pub fn var_object(&self) -> Value {
        Value::Object(
            self.variables
                .iter()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect(),
        )
    }

    /// The evaluation scope: functions, `var`, `local`, `data`, `path`, `packer`, and when given
    /// `source` (name/type of the source being configured) and `build` (provisioner scope).
    pub fn context(&self, source: Option<(&str, &str)>, build: Option<Value>) -> Context<'static> {
        self.context_with(&self.locals, &self.data_values, source, build)
    }

    /// As [`Configuration::context`], with the locals and data values evaluated so far.
    pub fn context_with(
        &self,
        locals: &[Local],
        data: &hcl::Map<String, Value>,
        source: Option<(&str, &str)>,
        build: Option<Value>,
    ) -> Context<'static> {
        let mut ctx = Context::new();
        crate::funcs::declare(&mut ctx, false);
        ctx.declare_var("var", self.var_object());
        ctx.declare_var(
            "local",
            Value::Object(
                locals
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
            ),
        );
        ctx.declare_var("data", nest_data(data));
        let mut path = hcl::Map::new();
        path.insert(
            "root".to_string(),
            Value::from(self.root.to_string_lossy().into_owned()),
        );
        path.insert(
            "cwd".to_string(),
            Value::from(self.cwd.to_string_lossy().into_owned()),
        );
        ctx.declare_var("path", Value::Object(path));
        let mut packer = hcl::Map::new();
        packer.insert("version".to_string(), Value::from(PACKER_COMPAT_VERSION));
        // HCP Packer's build fingerprint: ambake publishes nothing to HCP, so it is what the
        // environment says (as Packer reads HCP_PACKER_BUILD_FINGERPRINT), else empty.
        let fingerprint = std::env::var("HCP_PACKER_BUILD_FINGERPRINT").unwrap_or_default();
        packer.insert(
            "versionFingerprint".to_string(),
            Value::from(fingerprint.clone()),
        );
        packer.insert("iterationID".to_string(), Value::from(fingerprint));
        ctx.declare_var("packer", Value::Object(packer));
        if let Some((kind, name)) = source {
            let mut s = hcl::Map::new();
            s.insert("name".to_string(), Value::from(name));
            s.insert("type".to_string(), Value::from(kind));
            ctx.declare_var("source", Value::Object(s));
        }
        if let Some(b) = build {
            ctx.declare_var("build", b);
        }
        ctx
    }

    /// Every string that must never be printed: values of sensitive variables and locals.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.variables.iter().filter(|v| v.sensitive) {
            collect_strings(&v.value, &mut out);
        }
        for l in self.locals.iter().filter(|l| l.sensitive) {
            collect_strings(&l.value, &mut out);
        }
        // What a secrets store returned is secret wherever it is used.
        for (k, v) in &self.data_values {
            if k.starts_with("amazon-secretsmanager.") {
                collect_strings(v, &mut out);
            }
        }
        out.retain(|s| !s.is_empty());
        out
    }
}

/// `data_values` is keyed "type.name"; expressions want `data.type.name`.
fn nest_data(flat: &hcl::Map<String, Value>) -> Value {
    let mut out: hcl::Map<String, Value> = hcl::Map::new();
    for (k, v) in flat {
        let (t, n) = k.split_once('.').unwrap_or((k.as_str(), ""));
        let entry = out
            .entry(t.to_string())
            .or_insert_with(|| Value::Object(hcl::Map::new()));
        if let Value::Object(m) = entry {
            m.insert(n.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(o) => o.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}
