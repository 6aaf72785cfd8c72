//! Type conversion functions (`tostring`, `tonumber`, …) and the conversion rules they share
//! with variable type constraints.

use super::{Table, fixed, num_value};
use hcl::Value;
use hcl::eval::{FuncArgs, ParamType};

pub(super) fn register(t: &mut Table) {
    fixed(t, "tostring", f_tostring, &[ParamType::Any]);
    fixed(t, "tonumber", f_tonumber, &[ParamType::Any]);
    fixed(t, "tobool", f_tobool, &[ParamType::Any]);
    fixed(t, "tolist", f_tolist, &[ParamType::Any]);
    fixed(t, "toset", f_toset, &[ParamType::Any]);
    fixed(t, "tomap", f_tomap, &[ParamType::Any]);
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// HCL's string conversion: numbers and bools become strings, collections do not.
pub fn to_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("a null value cannot be used as a string".into()),
        other => Err(format!(
            "a {} cannot be converted to a string",
            type_name(other)
        )),
    }
}

pub fn to_number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "number out of range".to_string()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("cannot convert \"{s}\" to a number")),
        other => Err(format!(
            "a {} cannot be converted to a number",
            type_name(other)
        )),
    }
}

pub fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(format!("cannot convert {} to bool", render(other))),
    }
}

/// A short rendering of a value for error messages.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn f_tostring(a: FuncArgs) -> Result<Value, String> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    to_string(&a[0]).map(Value::from)
}
fn f_tonumber(a: FuncArgs) -> Result<Value, String> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    to_number(&a[0]).map(num_value)
}
fn f_tobool(a: FuncArgs) -> Result<Value, String> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    to_bool(&a[0]).map(Value::Bool)
}
fn f_tolist(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Array(v) => Ok(Value::Array(v.clone())),
        other => Err(format!("cannot convert {} to a list", type_name(other))),
    }
}
fn f_toset(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Array(v) => {
            let mut out: Vec<Value> = Vec::new();
            for x in v {
                if !out.contains(x) {
                    out.push(x.clone());
                }
            }
            Ok(Value::Array(out))
        }
        other => Err(format!("cannot convert {} to a set", type_name(other))),
    }
}
fn f_tomap(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Object(o) => Ok(Value::Object(o.clone())),
        other => Err(format!("cannot convert {} to a map", type_name(other))),
    }
}

#[cfg(test)]
mod tests {
    use crate::funcs::test_support::ok;
    use hcl::Value;

    #[test]
    fn conversions() {
        assert_eq!(ok("tostring(5)"), Value::from("5"));
        assert_eq!(ok("tonumber(\"42\")"), Value::from(42));
        assert_eq!(ok("tobool(\"true\")"), Value::Bool(true));
        assert_eq!(
            ok("toset([\"a\", \"a\", \"b\"])"),
            Value::from(vec!["a", "b"])
        );
        assert!(crate::funcs::test_support::eval("tonumber(\"x\")").is_err());
    }
}
