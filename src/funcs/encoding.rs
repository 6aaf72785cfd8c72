//! Encoding functions: JSON, YAML, base64, uuid.

use super::{Table, fixed, str_arg};
use base64::Engine as _;
use hcl::Value;
use hcl::eval::{FuncArgs, ParamType};

pub(super) fn register(t: &mut Table) {
    use ParamType::*;
    fixed(t, "jsonencode", f_jsonencode, &[Any]);
    fixed(t, "jsondecode", f_jsondecode, &[String]);
    fixed(t, "yamlencode", f_yamlencode, &[Any]);
    fixed(t, "yamldecode", f_yamldecode, &[String]);
    fixed(t, "base64encode", f_base64encode, &[String]);
    fixed(t, "base64decode", f_base64decode, &[String]);
    fixed(t, "urlencode", f_urlencode, &[String]);
    fixed(t, "uuidv4", f_uuidv4, &[]);
}

/// HCL value to JSON value (numbers stay numbers, objects keep their order).
pub fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// JSON (or anything serde can describe) to an HCL value.
pub fn from_serde<T: serde::Serialize>(v: &T) -> Result<Value, String> {
    hcl::to_value(v).map_err(|e| e.to_string())
}

fn f_jsonencode(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        serde_json::to_string(&to_json(&a[0])).map_err(|e| e.to_string())?,
    ))
}
fn f_jsondecode(a: FuncArgs) -> Result<Value, String> {
    let v: serde_json::Value =
        serde_json::from_str(&str_arg(&a, 0)?).map_err(|e| format!("invalid JSON: {e}"))?;
    from_serde(&v)
}
fn f_yamlencode(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        serde_yaml::to_string(&to_json(&a[0])).map_err(|e| e.to_string())?,
    ))
}
fn f_yamldecode(a: FuncArgs) -> Result<Value, String> {
    let v: serde_json::Value =
        serde_yaml::from_str(&str_arg(&a, 0)?).map_err(|e| format!("invalid YAML: {e}"))?;
    from_serde(&v)
}
fn f_base64encode(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(str_arg(&a, 0)?),
    ))
}
fn f_base64decode(a: FuncArgs) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(str_arg(&a, 0)?.trim())
        .map_err(|e| format!("invalid base64: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::from)
        .map_err(|_| "the decoded bytes are not valid UTF-8".into())
}
fn f_urlencode(a: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    for b in str_arg(&a, 0)?.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out.into())
}
fn f_uuidv4(_: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(uuid::Uuid::new_v4().to_string()))
}

#[cfg(test)]
mod tests {
    use crate::funcs::test_support::{eval, ok};
    use hcl::Value;

    #[test]
    fn round_trips() {
        assert_eq!(
            ok("jsonencode({a = [1, \"x\"]})"),
            Value::from("{\"a\":[1,\"x\"]}")
        );
        assert_eq!(
            ok("jsondecode(\"{\\\"a\\\": [1, true]}\")"),
            ok("{a = [1, true]}")
        );
        assert_eq!(
            ok("yamldecode(\"a: 1\\nb: [x, y]\\n\")"),
            ok("{a = 1, b = [\"x\", \"y\"]}")
        );
        assert_eq!(ok("yamldecode(yamlencode({k = \"v\"}))"), ok("{k = \"v\"}"));
        assert_eq!(
            ok("base64decode(base64encode(\"héllo\"))"),
            Value::from("héllo")
        );
        assert!(eval("jsondecode(\"{\")").is_err());
        let u = ok("uuidv4()");
        assert_eq!(u.as_str().unwrap().len(), 36);
    }
}
