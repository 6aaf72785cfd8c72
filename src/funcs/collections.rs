//! Collection and number functions: merge, lookup, concat, flatten, range, min/max, …

use super::convert::{to_number, to_string, type_name};
use super::{Table, fixed, int_arg, list_arg, num_arg, num_value, variadic};
use hcl::Value;
use hcl::eval::{FuncArgs, ParamType};

pub(super) fn register(t: &mut Table) {
    use ParamType::*;
    variadic(t, "merge", f_merge, &[], Any);
    variadic(t, "lookup", f_lookup, &[Any, String], Any);
    variadic(t, "concat", f_concat, &[], Any);
    fixed(t, "contains", f_contains, &[Any, Any]);
    fixed(t, "length", f_length, &[Any]);
    fixed(t, "element", f_element, &[Any, Number]);
    fixed(t, "flatten", f_flatten, &[Any]);
    fixed(t, "keys", f_keys, &[Any]);
    fixed(t, "values", f_values, &[Any]);
    fixed(t, "sort", f_sort, &[Any]);
    fixed(t, "distinct", f_distinct, &[Any]);
    fixed(t, "reverse", f_reverse, &[Any]);
    fixed(t, "compact", f_compact, &[Any]);
    fixed(t, "index", f_index, &[Any, Any]);
    fixed(t, "slice", f_slice, &[Any, Number, Number]);
    variadic(t, "coalesce", f_coalesce, &[], Any);
    variadic(t, "coalescelist", f_coalescelist, &[], Any);
    variadic(t, "min", f_min, &[], Any);
    variadic(t, "max", f_max, &[], Any);
    fixed(t, "sum", f_sum, &[Any]);
    fixed(t, "zipmap", f_zipmap, &[Any, Any]);
    variadic(t, "range", f_range, &[], Any);
    fixed(t, "alltrue", f_alltrue, &[Any]);
    fixed(t, "anytrue", f_anytrue, &[Any]);
    fixed(t, "abs", f_abs, &[Number]);
    fixed(t, "ceil", f_ceil, &[Number]);
    fixed(t, "floor", f_floor, &[Number]);
}

fn f_merge(a: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for (i, v) in a.iter().enumerate() {
        match v {
            Value::Object(o) => out.extend(o.clone()),
            Value::Null => {}
            other => {
                return Err(format!(
                    "argument {} must be a map or object, got {}",
                    i + 1,
                    type_name(other)
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

fn f_lookup(a: FuncArgs) -> Result<Value, String> {
    let map = a[0]
        .as_object()
        .ok_or_else(|| format!("lookup needs a map, got {}", type_name(&a[0])))?;
    let key = to_string(&a[1])?;
    match (map.get(&key), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!("the given key {key:?} does not exist in the map")),
    }
}

fn f_concat(a: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for i in 0..a.len() {
        out.extend(list_arg(&a, i)?);
    }
    Ok(Value::Array(out))
}

fn f_contains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(list_arg(&a, 0)?.contains(&a[1])))
}

fn f_length(a: FuncArgs) -> Result<Value, String> {
    let n = match &a[0] {
        Value::Array(v) => v.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("length of a {} is not defined", type_name(other))),
    };
    Ok(Value::from(n as i64))
}

/// `element` wraps around, as in Terraform.
fn f_element(a: FuncArgs) -> Result<Value, String> {
    let list = list_arg(&a, 0)?;
    if list.is_empty() {
        return Err("cannot use element function with an empty list".into());
    }
    let i = int_arg(&a, 1)?;
    if i < 0 {
        return Err("element index must not be negative".into());
    }
    Ok(list[(i as usize) % list.len()].clone())
}

fn flatten_into(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|x| flatten_into(x, out)),
        other => out.push(other.clone()),
    }
}
fn f_flatten(a: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for v in list_arg(&a, 0)? {
        flatten_into(&v, &mut out);
    }
    Ok(Value::Array(out))
}

fn object(a: &FuncArgs, i: usize) -> Result<hcl::Map<String, Value>, String> {
    a[i].as_object()
        .cloned()
        .ok_or_else(|| format!("argument {} must be a map, got {}", i + 1, type_name(&a[i])))
}
/// Map keys come out sorted, as Terraform returns them.
fn f_keys(a: FuncArgs) -> Result<Value, String> {
    let mut k: Vec<String> = object(&a, 0)?.keys().cloned().collect();
    k.sort();
    Ok(Value::Array(k.into_iter().map(Value::from).collect()))
}
fn f_values(a: FuncArgs) -> Result<Value, String> {
    let o = object(&a, 0)?;
    let mut k: Vec<&String> = o.keys().collect();
    k.sort();
    Ok(Value::Array(k.into_iter().map(|k| o[k].clone()).collect()))
}
fn f_sort(a: FuncArgs) -> Result<Value, String> {
    let mut v: Vec<String> = list_arg(&a, 0)?
        .iter()
        .map(to_string)
        .collect::<Result<_, _>>()?;
    v.sort();
    Ok(Value::Array(v.into_iter().map(Value::from).collect()))
}
fn f_distinct(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in list_arg(&a, 0)? {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::Array(out))
}
fn f_reverse(a: FuncArgs) -> Result<Value, String> {
    let mut v = list_arg(&a, 0)?;
    v.reverse();
    Ok(Value::Array(v))
}
fn f_compact(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        list_arg(&a, 0)?
            .into_iter()
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
            .collect(),
    ))
}
fn f_index(a: FuncArgs) -> Result<Value, String> {
    list_arg(&a, 0)?
        .iter()
        .position(|v| v == &a[1])
        .map(|i| Value::from(i as i64))
        .ok_or_else(|| "item not found".to_string())
}
fn f_slice(a: FuncArgs) -> Result<Value, String> {
    let v = list_arg(&a, 0)?;
    let (from, to) = (int_arg(&a, 1)?, int_arg(&a, 2)?);
    if from < 0 || to < from || to as usize > v.len() {
        return Err(format!(
            "invalid slice indices {from}..{to} for a list of {}",
            v.len()
        ));
    }
    Ok(Value::Array(v[from as usize..to as usize].to_vec()))
}
fn f_coalesce(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| "no non-null, non-empty-string arguments".to_string())
}
fn f_coalescelist(a: FuncArgs) -> Result<Value, String> {
    Ok(a.iter()
        .find(|v| v.as_array().is_some_and(|l| !l.is_empty()))
        .cloned()
        .unwrap_or(Value::Array(vec![])))
}
fn numbers(a: &FuncArgs) -> Result<Vec<f64>, String> {
    // Accept both min(1, 2) and min([1, 2]...) style after expansion.
    let mut out = Vec::new();
    for v in a.iter() {
        match v {
            Value::Array(items) => {
                for x in items {
                    out.push(to_number(x)?);
                }
            }
            other => out.push(to_number(other)?),
        }
    }
    if out.is_empty() {
        return Err("must have at least one argument".into());
    }
    Ok(out)
}
fn f_min(a: FuncArgs) -> Result<Value, String> {
    Ok(num_value(
        numbers(&a)?.into_iter().fold(f64::INFINITY, f64::min),
    ))
}
fn f_max(a: FuncArgs) -> Result<Value, String> {
    Ok(num_value(
        numbers(&a)?.into_iter().fold(f64::NEG_INFINITY, f64::max),
    ))
}
fn f_sum(a: FuncArgs) -> Result<Value, String> {
    Ok(num_value(numbers(&a)?.into_iter().sum()))
}
fn f_zipmap(a: FuncArgs) -> Result<Value, String> {
    let (k, v) = (list_arg(&a, 0)?, list_arg(&a, 1)?);
    if k.len() != v.len() {
        return Err(format!(
            "number of keys ({}) does not match number of values ({})",
            k.len(),
            v.len()
        ));
    }
    let mut m = hcl::Map::new();
    for (key, val) in k.iter().zip(v) {
        m.insert(to_string(key)?, val);
    }
    Ok(Value::Object(m))
}
fn f_range(a: FuncArgs) -> Result<Value, String> {
    let n: Vec<f64> = (0..a.len())
        .map(|i| num_arg(&a, i))
        .collect::<Result<_, _>>()?;
    let (start, end, step) = match n.as_slice() {
        [e] => (0.0, *e, 1.0),
        [s, e] => (*s, *e, if e >= s { 1.0 } else { -1.0 }),
        [s, e, st] => (*s, *e, *st),
        _ => return Err("range takes one to three arguments".into()),
    };
    if step == 0.0 {
        return Err("step must not be zero".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
        out.push(num_value(x));
        x += step;
        if out.len() > 1024 {
            return Err("range would produce more than 1024 elements".into());
        }
    }
    Ok(Value::Array(out))
}
fn f_alltrue(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(list_arg(&a, 0)?.iter().all(|v| {
        v == &Value::Bool(true) || v.as_str() == Some("true")
    })))
}
fn f_anytrue(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(list_arg(&a, 0)?.iter().any(|v| {
        v == &Value::Bool(true) || v.as_str() == Some("true")
    })))
}
fn f_abs(a: FuncArgs) -> Result<Value, String> {
    Ok(num_value(num_arg(&a, 0)?.abs()))
}
fn f_ceil(a: FuncArgs) -> Result<Value, String> {
    Ok(num_value(num_arg(&a, 0)?.ceil()))
}
fn f_floor(a: FuncArgs) -> Result<Value, String> {
    Ok(num_value(num_arg(&a, 0)?.floor()))
}

#[cfg(test)]
mod tests {
    use crate::funcs::test_support::{eval, ok};
    use hcl::Value;

    #[test]
    fn maps() {
        assert_eq!(ok("merge({a = 1}, {b = 2}, {a = 3})"), ok("{a = 3, b = 2}"));
        assert_eq!(ok("lookup({a = \"x\"}, \"b\", \"d\")"), Value::from("d"));
        assert!(eval("lookup({a = \"x\"}, \"b\")").is_err());
        assert_eq!(ok("keys({b = 1, a = 2})"), Value::from(vec!["a", "b"]));
        assert_eq!(ok("values({b = 1, a = 2})"), Value::from(vec![2, 1]));
        assert_eq!(ok("zipmap([\"a\"], [1])"), ok("{a = 1}"));
    }

    #[test]
    fn lists() {
        assert_eq!(ok("concat([1], [2, 3])"), Value::from(vec![1, 2, 3]));
        assert_eq!(ok("contains([\"a\"], \"a\")"), Value::Bool(true));
        assert_eq!(ok("length(\"héllo\")"), Value::from(5));
        assert_eq!(ok("element([\"a\", \"b\"], 3)"), Value::from("b"));
        assert_eq!(ok("flatten([[1], [2, [3]]])"), Value::from(vec![1, 2, 3]));
        assert_eq!(ok("sort([\"b\", \"a\"])"), Value::from(vec!["a", "b"]));
        assert_eq!(ok("distinct([1, 1, 2])"), Value::from(vec![1, 2]));
        assert_eq!(ok("coalesce(null, \"\", \"x\")"), Value::from("x"));
        assert_eq!(ok("range(3)"), Value::from(vec![0, 1, 2]));
        assert_eq!(ok("range(1, 7, 3)"), Value::from(vec![1, 4]));
        assert_eq!(ok("min(3, 1, 2)"), Value::from(1));
        assert_eq!(ok("max(3, 1.5)"), Value::from(3));
    }
}
