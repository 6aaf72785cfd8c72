//! The HCL2 function library Packer templates use.
//!
//! hcl-rs ships no functions at all and takes plain `fn` pointers, so everything a function needs
//! besides its arguments (the working directory for `file()`, the run's start time for
//! `timestamp()`) lives in a thread-local [`FuncEnv`] that the evaluator sets before evaluating.
//! `try` and `can` need their arguments unevaluated; the evaluator rewrites them before hcl-rs
//! sees the expression (see `template::lazy`), and the versions registered here only handle the
//! case where every argument already evaluated.

mod collections;
pub mod convert;
mod encoding;
mod files;

mod strings;
pub mod time;

use hcl::Value;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use std::cell::RefCell;
use std::path::PathBuf;

/// What functions may look at besides their arguments.
#[derive(Debug, Clone)]
pub struct FuncEnv {
    /// Relative paths in `file()`, `fileset()`, `templatefile()` resolve against this (Packer
    /// uses the working directory, not the template's directory).
    pub cwd: PathBuf,
    /// `timestamp()` returns this, so one run sees one time.
    pub now: jiff::Timestamp,
}

impl Default for FuncEnv {
    fn default() -> Self {
        FuncEnv {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            now: jiff::Timestamp::now(),
        }
    }
}

thread_local! {
    static ENV: RefCell<FuncEnv> = RefCell::new(FuncEnv::default());
}

/// Sets the environment the functions of this thread see.
pub fn set_env(env: FuncEnv) {
    ENV.with(|e| *e.borrow_mut() = env);
}

pub(crate) fn env() -> FuncEnv {
    ENV.with(|e| e.borrow().clone())
}

/// Every function name ambake knows (for "unknown function" diagnostics).
pub fn names() -> Vec<&'static str> {
    table()
        .into_iter()
        .map(|(n, _)| n)
        .chain(["env", "try", "can"])
        .collect()
}

/// Declares the whole library in `ctx`. `allow_env` adds `env()`, which Packer permits only
/// inside variable defaults.
pub fn declare(ctx: &mut Context, allow_env: bool) {
    for (name, def) in table() {
        ctx.declare_func(name, def);
    }
    if allow_env {
        ctx.declare_func("env", FuncDef::new(f_env, [ParamType::String]));
    }
    ctx.declare_func(
        "try",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(f_try),
    );
    ctx.declare_func(
        "can",
        FuncDef::builder()
            .variadic_param(ParamType::Any)
            .build(f_can),
    );
}

fn table() -> Vec<(&'static str, FuncDef)> {
    let mut t = Vec::new();
    strings::register(&mut t);
    collections::register(&mut t);
    encoding::register(&mut t);
    convert::register(&mut t);
    files::register(&mut t);
    time::register(&mut t);
    t
}

fn f_env(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        std::env::var(str_arg(&a, 0)?).unwrap_or_default(),
    ))
}

/// Only reached when every argument evaluated without error: the first one wins.
fn f_try(a: FuncArgs) -> Result<Value, String> {
    a.first()
        .cloned()
        .ok_or_else(|| "try needs at least one argument".to_string())
}

fn f_can(a: FuncArgs) -> Result<Value, String> {
    if a.len() != 1 {
        return Err("can takes exactly one argument".into());
    }
    Ok(Value::Bool(true))
}

/// HCL value to JSON, for the configuration layer.
pub fn encoding_to_json(v: &Value) -> serde_json::Value {
    encoding::to_json(v)
}

// ---- small helpers shared by the function modules ----

pub(crate) type Table = Vec<(&'static str, FuncDef)>;

pub(crate) fn fixed(t: &mut Table, name: &'static str, f: hcl::eval::Func, params: &[ParamType]) {
    t.push((name, FuncDef::new(f, params.to_vec())));
}

pub(crate) fn variadic(
    t: &mut Table,
    name: &'static str,
    f: hcl::eval::Func,
    params: &[ParamType],
    rest: ParamType,
) {
    t.push((
        name,
        FuncDef::builder()
            .params(params.to_vec())
            .variadic_param(rest)
            .build(f),
    ));
}

pub(crate) fn str_arg(a: &FuncArgs, i: usize) -> Result<String, String> {
    match a.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) => convert::to_string(v),
        None => Err(format!("missing argument {}", i + 1)),
    }
}

pub(crate) fn num_arg(a: &FuncArgs, i: usize) -> Result<f64, String> {
    match a.get(i) {
        Some(v) => convert::to_number(v),
        None => Err(format!("missing argument {}", i + 1)),
    }
}

pub(crate) fn int_arg(a: &FuncArgs, i: usize) -> Result<i64, String> {
    let n = num_arg(a, i)?;
    if n.fract() != 0.0 {
        return Err(format!(
            "argument {} must be a whole number, got {n}",
            i + 1
        ));
    }
    Ok(n as i64)
}

pub(crate) fn list_arg(a: &FuncArgs, i: usize) -> Result<Vec<Value>, String> {
    match a.get(i) {
        Some(Value::Array(v)) => Ok(v.clone()),
        Some(other) => Err(format!(
            "argument {} must be a list, got {}",
            i + 1,
            convert::type_name(other)
        )),
        None => Err(format!("missing argument {}", i + 1)),
    }
}

/// Numbers come out as integers when they are whole, as HCL prints them.
pub(crate) fn num_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        hcl::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use hcl::eval::Evaluate;

    /// Evaluates an expression with the whole library, for the function unit tests.
    pub fn eval(src: &str) -> Result<Value, String> {
        let mut ctx = Context::new();
        declare(&mut ctx, true);
        let expr: hcl::Expression = hcl_edit::parser::parse_expr(src)
            .map_err(|e| e.to_string())?
            .into();
        expr.evaluate(&ctx).map_err(|e| e.to_string())
    }

    pub fn ok(src: &str) -> Value {
        eval(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }
}
