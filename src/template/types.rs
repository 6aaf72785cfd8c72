//! Variable type constraints (`string`, `list(string)`, `object({…})`, …) and HCL's conversion
//! rules between them. Read from the syntax tree: a type expression is never evaluated.

use crate::funcs::convert::{render, to_bool, to_number, to_string, type_name};
use hcl::{Expression, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(Vec<(String, Type, bool)>),
    Tuple(Vec<Type>),
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::Any => write!(f, "any"),
            Type::String => write!(f, "string"),
            Type::Number => write!(f, "number"),
            Type::Bool => write!(f, "bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Object(fields) => {
                write!(f, "object({{")?;
                for (i, (k, t, opt)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    if *opt {
                        write!(f, "{k}=optional({t})")?
                    } else {
                        write!(f, "{k}={t}")?
                    }
                }
                write!(f, "}})")
            }
            Type::Tuple(ts) => {
                write!(f, "tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                write!(f, "])")
            }
        }
    }
}

/// Reads a type constraint expression.
pub fn parse_type(expr: &Expression) -> Result<Type, String> {
    parse(expr, false).map(|(t, _)| t)
}

fn parse(expr: &Expression, allow_optional: bool) -> Result<(Type, bool), String> {
    match expr {
        Expression::Variable(v) => Ok((
            match v.as_str() {
                "string" => Type::String,
                "number" => Type::Number,
                "bool" => Type::Bool,
                "any" => Type::Any,
                other => {
                    return Err(format!(
                        "unknown type {other:?} (expected string, number, bool, any, list(…), map(…), set(…), object({{…}}), tuple([…]))"
                    ));
                }
            },
            false,
        )),
        Expression::String(s) if ["string", "number", "bool", "any"].contains(&s.as_str()) => {
            parse(
                &Expression::Variable(hcl::Variable::unchecked(s.clone())),
                allow_optional,
            )
        }
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let one = || -> Result<Type, String> {
                match call.args.as_slice() {
                    [arg] => parse(arg, false).map(|(t, _)| t),
                    _ => Err(format!("{name}(…) takes exactly one type")),
                }
            };
            match name {
                "list" => Ok((Type::List(Box::new(one()?)), false)),
                "set" => Ok((Type::Set(Box::new(one()?)), false)),
                "map" => Ok((Type::Map(Box::new(one()?)), false)),
                "optional" if allow_optional => match call.args.first() {
                    Some(arg) => Ok((parse(arg, false)?.0, true)),
                    None => Err("optional(…) needs a type".into()),
                },
                "object" => match call.args.as_slice() {
                    [Expression::Object(obj)] => {
                        let mut fields = Vec::new();
                        for (k, v) in obj {
                            let key = match k {
                                hcl::ObjectKey::Identifier(i) => i.to_string(),
                                hcl::ObjectKey::Expression(Expression::String(s)) => s.clone(),
                                other => return Err(format!("invalid object attribute name {other:?}")),
                            };
                            let (t, opt) = parse(v, true)?;
                            fields.push((key, t, opt));
                        }
                        Ok((Type::Object(fields), false))
                    }
                    _ => Err("object(…) takes an object of attribute types, e.g. object({ name = string })".into()),
                },
                "tuple" => match call.args.as_slice() {
                    [Expression::Array(items)] => Ok((
                        Type::Tuple(items.iter().map(|i| parse(i, false).map(|(t, _)| t)).collect::<Result<_, _>>()?),
                        false,
                    )),
                    _ => Err("tuple(…) takes a list of types".into()),
                },
                other => Err(format!("unknown type constructor {other:?}")),
            }
        }
        other => Err(format!("invalid type constraint: {other}")),
    }
}

/// Converts a value to a type, with HCL's safe conversions (number ↔ string, bool ↔ string).
/// `null` converts to every type.
pub fn convert(v: &Value, t: &Type) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match t {
        Type::Any => Ok(v.clone()),
        Type::String => to_string(v).map(Value::from).map_err(|_| mismatch(v, t)),
        Type::Number => to_number(v)
            .map(crate::funcs::num_value)
            .map_err(|_| mismatch(v, t)),
        Type::Bool => to_bool(v).map(Value::Bool).map_err(|_| mismatch(v, t)),
        Type::List(et) | Type::Set(et) => match v {
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let c = convert(item, et).map_err(|e| format!("element {i}: {e}"))?;
                    if matches!(t, Type::Set(_)) && out.contains(&c) {
                        continue;
                    }
                    out.push(c);
                }
                Ok(Value::Array(out))
            }
            _ => Err(mismatch(v, t)),
        },
        Type::Map(et) => match v {
            Value::Object(o) => {
                let mut out = hcl::Map::new();
                for (k, item) in o {
                    out.insert(
                        k.clone(),
                        convert(item, et).map_err(|e| format!("element {k:?}: {e}"))?,
                    );
                }
                Ok(Value::Object(out))
            }
            _ => Err(mismatch(v, t)),
        },
        Type::Object(fields) => match v {
            Value::Object(o) => {
                let mut out = hcl::Map::new();
                for (k, ft, optional) in fields {
                    match o.get(k) {
                        Some(item) => {
                            out.insert(
                                k.clone(),
                                convert(item, ft).map_err(|e| format!("attribute {k:?}: {e}"))?,
                            );
                        }
                        None if *optional => {
                            out.insert(k.clone(), Value::Null);
                        }
                        None => return Err(format!("attribute {k:?} is required")),
                    }
                }
                Ok(Value::Object(out))
            }
            _ => Err(mismatch(v, t)),
        },
        Type::Tuple(ts) => match v {
            Value::Array(items) if items.len() == ts.len() => items
                .iter()
                .zip(ts)
                .map(|(i, t)| convert(i, t))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(mismatch(v, t)),
        },
    }
}

fn mismatch(v: &Value, t: &Type) -> String {
    format!(
        "a {} value ({}) cannot be used where {t} is required",
        type_name(v),
        shorten(&render(v))
    )
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Whether values of this type are given on the command line as raw strings (like Packer does
/// for `string` variables) rather than as HCL expressions.
pub fn takes_raw_string(t: &Type) -> bool {
    matches!(t, Type::String | Type::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        let e: Expression = hcl_edit::parser::parse_expr(s).unwrap().into();
        parse_type(&e).unwrap()
    }
    fn val(s: &str) -> Value {
        crate::funcs::test_support::ok(s)
    }

    #[test]
    fn parse_types() {
        assert_eq!(ty("string"), Type::String);
        assert_eq!(
            ty("list(map(string))"),
            Type::List(Box::new(Type::Map(Box::new(Type::String))))
        );
        assert_eq!(
            ty("object({ a = string, b = optional(number) })").to_string(),
            "object({a=string, b=optional(number)})"
        );
        let e: Expression = hcl_edit::parser::parse_expr("strng").unwrap().into();
        assert!(parse_type(&e).unwrap_err().contains("unknown type"));
    }

    #[test]
    fn conversions() {
        assert_eq!(convert(&val("5"), &Type::String).unwrap(), Value::from("5"));
        assert_eq!(
            convert(&val("\"5\""), &Type::Number).unwrap(),
            Value::from(5)
        );
        assert_eq!(
            convert(&val("\"true\""), &Type::Bool).unwrap(),
            Value::Bool(true)
        );
        assert!(
            convert(&val("\"x\""), &Type::Number)
                .unwrap_err()
                .contains("cannot be used where number")
        );
        assert_eq!(
            convert(&val("[1, \"2\"]"), &ty("list(number)")).unwrap(),
            val("[1, 2]")
        );
        assert_eq!(
            convert(&val("[1, 1]"), &ty("set(number)")).unwrap(),
            val("[1]")
        );
        assert_eq!(
            convert(
                &val("{a = \"x\"}"),
                &ty("object({a = string, b = optional(bool)})")
            )
            .unwrap(),
            val("{a = \"x\", b = null}")
        );
        assert!(
            convert(&val("{}"), &ty("object({a = string})"))
                .unwrap_err()
                .contains("required")
        );
        assert!(convert(&val("[\"a\"]"), &Type::String).is_err());
        assert_eq!(convert(&Value::Null, &Type::Number).unwrap(), Value::Null);
    }
}
