//! File functions: file, fileset, templatefile, abspath, basename, dirname, pathexpand.
//!
//! Relative paths resolve against the working directory, as in Packer (templates that want the
//! template's directory write `"${path.root}/x"`).

use super::{Table, env, fixed, str_arg};
use crate::paths::expand_home;
use hcl::Value;
use hcl::eval::{Context, Evaluate, FuncArgs, ParamType};
use std::path::{Path, PathBuf};

pub(super) fn register(t: &mut Table) {
    use ParamType::*;
    fixed(t, "file", f_file, &[String]);
    fixed(t, "fileexists", f_fileexists, &[String]);
    fixed(t, "fileset", f_fileset, &[String, String]);
    fixed(t, "templatefile", f_templatefile, &[String, Any]);
    fixed(t, "abspath", f_abspath, &[String]);
    fixed(t, "basename", f_basename, &[String]);
    fixed(t, "dirname", f_dirname, &[String]);
    fixed(t, "pathexpand", f_pathexpand, &[String]);
}

fn resolve(p: &str) -> PathBuf {
    let expanded = expand_home(p);
    if expanded.is_absolute() {
        expanded
    } else {
        env().cwd.join(expanded)
    }
}

fn read(p: &str) -> Result<String, String> {
    let path = resolve(p);
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn f_file(a: FuncArgs) -> Result<Value, String> {
    read(&str_arg(&a, 0)?).map(Value::from)
}
fn f_fileexists(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(resolve(&str_arg(&a, 0)?).is_file()))
}

/// Files under `base` whose path relative to it matches the glob, sorted, with `/` separators.
fn f_fileset(a: FuncArgs) -> Result<Value, String> {
    let base = resolve(&str_arg(&a, 0)?);
    let glob = globset::GlobBuilder::new(&str_arg(&a, 1)?)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid pattern: {e}"))?
        .compile_matcher();
    let mut out = Vec::new();
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(&base) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if glob.is_match(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    Ok(Value::Array(out.into_iter().map(Value::from).collect()))
}

/// Renders a file as an HCL string template with the given variables and the same functions.
fn f_templatefile(a: FuncArgs) -> Result<Value, String> {
    // A template that calls templatefile on itself would recurse until the stack overflows.
    thread_local! {
        static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    if DEPTH.with(|d| d.get()) >= 8 {
        return Err("templatefile calls nest too deep (a template including itself?)".into());
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let _guard = Guard;
    let text = read(&str_arg(&a, 0)?)?;
    let vars = a[1]
        .as_object()
        .ok_or("templatefile's second argument must be an object of variables")?;
    let template: hcl::Template = text
        .parse()
        .map_err(|e| format!("template syntax error: {e}"))?;
    let mut ctx = Context::new();
    super::declare(&mut ctx, false);
    for (k, v) in vars {
        ctx.declare_var(k.as_str(), v.clone());
    }
    template
        .evaluate(&ctx)
        .map(Value::from)
        .map_err(|e| e.to_string())
}
fn f_abspath(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        resolve(&str_arg(&a, 0)?).to_string_lossy().into_owned(),
    ))
}
fn f_basename(a: FuncArgs) -> Result<Value, String> {
    let p = str_arg(&a, 0)?;
    Ok(Value::from(
        Path::new(&p)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or(p),
    ))
}
fn f_dirname(a: FuncArgs) -> Result<Value, String> {
    let p = str_arg(&a, 0)?;
    let d = Path::new(&p)
        .parent()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Value::from(if d.is_empty() { ".".to_string() } else { d }))
}
fn f_pathexpand(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        expand_home(&str_arg(&a, 0)?).to_string_lossy().into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::funcs::{FuncEnv, set_env, test_support::ok};
    use hcl::Value;

    #[test]
    fn a_template_including_itself_is_an_error_not_a_stack_overflow() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("self.tpl"),
            "x${templatefile(\"self.tpl\", {})}",
        )
        .unwrap();
        set_env(FuncEnv {
            cwd: dir.path().to_path_buf(),
            ..FuncEnv::default()
        });
        let e = crate::funcs::test_support::eval("templatefile(\"self.tpl\", {})").unwrap_err();
        assert!(e.contains("nest too deep"), "{e}");
    }

    #[test]
    fn files_relative_to_cwd() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("scripts/sub")).unwrap();
        std::fs::write(dir.path().join("scripts/a.sh"), "echo a").unwrap();
        std::fs::write(dir.path().join("scripts/sub/b.sh"), "echo b").unwrap();
        std::fs::write(
            dir.path().join("t.tpl"),
            "hello ${name}%{ for x in xs }-${x}%{ endfor }",
        )
        .unwrap();
        set_env(FuncEnv {
            cwd: dir.path().to_path_buf(),
            ..FuncEnv::default()
        });
        assert_eq!(ok("file(\"scripts/a.sh\")"), Value::from("echo a"));
        assert_eq!(
            ok("fileset(\"scripts\", \"*.sh\")"),
            Value::from(vec!["a.sh"])
        );
        assert_eq!(
            ok("fileset(\"scripts\", \"**/*.sh\")"),
            Value::from(vec!["a.sh", "sub/b.sh"])
        );
        assert_eq!(
            ok("templatefile(\"t.tpl\", {name = \"w\", xs = [1, 2]})"),
            Value::from("hello w-1-2")
        );
        assert_eq!(ok("basename(\"/a/b.txt\")"), Value::from("b.txt"));
        assert_eq!(ok("dirname(\"/a/b.txt\")"), Value::from("/a"));
        assert!(
            crate::funcs::test_support::eval("file(\"missing\")")
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
