//! Finding and parsing the files of a configuration: one `.pkr.hcl` file, a directory (every
//! `*.pkr.hcl` / `*.pkr.json` plus `*.auto.pkrvars.hcl` / `.json`), or `-` for stdin.

use super::json;
use crate::diag::{Diagnostic, Diagnostics, FileId, SourceFile, SourceMap, Span};
use anyhow::{Context as _, Result, bail};
use hcl_edit::structure::Body;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// A parsed file.
pub struct Parsed {
    pub file: FileId,
    pub body: Body,
}

/// Everything read from disk for one configuration.
pub struct Inputs {
    pub map: SourceMap,
    pub templates: Vec<Parsed>,
    pub auto_var_files: Vec<Parsed>,
    /// `path.root`: the directory of the template (or the directory given).
    pub root: PathBuf,
}

fn is_template(name: &str) -> bool {
    name.ends_with(".pkr.hcl") || name.ends_with(".pkr.json")
}
fn is_auto_vars(name: &str) -> bool {
    name.ends_with(".auto.pkrvars.hcl") || name.ends_with(".auto.pkrvars.json")
}

/// Reads the configuration at `path`. I/O problems are errors; syntax problems are diagnostics.
pub fn read(path: &str, diags: &mut Diagnostics) -> Result<Inputs> {
    let mut inputs = Inputs {
        map: SourceMap::default(),
        templates: vec![],
        auto_var_files: vec![],
        root: PathBuf::from("."),
    };
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the template from standard input")?;
        inputs.root = std::env::current_dir().unwrap_or_default();
        if let Some(p) = parse_file(
            &mut inputs.map,
            "<stdin>",
            PathBuf::from("<stdin>"),
            text,
            false,
            diags,
        ) {
            inputs.templates.push(p);
        }
        return Ok(inputs);
    }
    let p = Path::new(path);
    let meta = std::fs::metadata(p).with_context(|| format!("cannot read template {path}"))?;
    if meta.is_dir() {
        inputs.root = p.to_path_buf();
        let mut names: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot list directory {path}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|e| e.is_file())
            .collect();
        names.sort();
        for f in names {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let auto = is_auto_vars(&name);
            if !(is_template(&name) || auto) {
                continue;
            }
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            if let Some(parsed) = parse_file(
                &mut inputs.map,
                &f.display().to_string(),
                f.clone(),
                text,
                auto,
                diags,
            ) {
                if auto {
                    inputs.auto_var_files.push(parsed)
                } else {
                    inputs.templates.push(parsed)
                }
            }
        }
        if inputs.templates.is_empty() && !diags.has_errors() {
            bail!("no *.pkr.hcl or *.pkr.json files found in directory {path}");
        }
    } else {
        inputs.root = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read template {path}"))?;
        if let Some(parsed) = parse_file(&mut inputs.map, path, p.to_path_buf(), text, false, diags)
        {
            inputs.templates.push(parsed);
        }
    }
    Ok(inputs)
}

/// Parses one file (HCL or HCL-JSON by its extension) and registers it in the source map.
pub fn parse_file(
    map: &mut SourceMap,
    name: &str,
    path: PathBuf,
    text: String,
    var_file: bool,
    diags: &mut Diagnostics,
) -> Option<Parsed> {
    let is_json = name.ends_with(".json");
    let id = map.add(SourceFile::new(name, path, text));
    let text = &map.get(id).text;
    let body = if is_json {
        json::parse(text, var_file).map_err(|e| {
            Diagnostic::error(format!("invalid HCL JSON: {e}"), Some(Span::new(id, None)))
        })
    } else {
        hcl_edit::parser::parse_body(text).map_err(|e| syntax_error(id, text, &e))
    };
    match body {
        Ok(body) => Some(Parsed { file: id, body }),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

fn syntax_error(file: FileId, text: &str, e: &hcl_edit::parser::Error) -> Diagnostic {
    let loc = e.location();
    // Locations are 1-based line/column; turn them back into a byte offset for the caret.
    let offset = loc.offset().min(text.len());
    Diagnostic::error(
        format!("syntax error: {}", e.message()),
        Some(Span::new(file, Some(offset..offset + 1))),
    )
}
