//! `ambake fmt`: canonical formatting of `.pkr.hcl` and `.pkrvars.hcl` files.

use crate::cli::FmtArgs;
use crate::exit::Exit;
use std::io::Read as _;
use std::path::{Path, PathBuf};

fn wanted(p: &Path) -> bool {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    n.ends_with(".pkr.hcl") || n.ends_with(".pkrvars.hcl")
}

fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            if recursive {
                collect(&e, recursive, out)?;
            }
        } else if wanted(&e) {
            out.push(e);
        }
    }
    Ok(())
}

pub fn run(a: &FmtArgs) -> anyhow::Result<Exit> {
    if a.path == "-" {
        let mut src = String::new();
        std::io::stdin().read_to_string(&mut src)?;
        return match crate::fmt::format(&src) {
            Ok(out) => {
                if a.check && out != src {
                    return Ok(Exit::Unformatted);
                }
                crate::output::bytes(out.as_bytes());
                Ok(Exit::Ok)
            }
            Err(e) => {
                eprintln!("Error: <stdin>:{e}");
                Ok(Exit::Failed)
            }
        };
    }
    let p = Path::new(&a.path);
    let mut files = Vec::new();
    if p.is_dir() {
        collect(p, a.recursive, &mut files)?;
    } else {
        files.push(p.to_path_buf());
    }
    let mut unformatted = false;
    let mut failed = false;
    for f in files {
        let src = std::fs::read_to_string(&f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
        let out = match crate::fmt::format(&src) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("Error: {}:{e}", f.display());
                failed = true;
                continue;
            }
        };
        if out == src {
            continue;
        }
        unformatted = true;
        crate::output::line(&f.display().to_string());
        if a.diff {
            let diff = similar::TextDiff::from_lines(&src, &out);
            let text = diff
                .unified_diff()
                .header(
                    &format!("old/{}", f.display()),
                    &format!("new/{}", f.display()),
                )
                .to_string();
            crate::output::bytes(text.as_bytes());
        }
        if a.write && !a.check {
            std::fs::write(&f, &out)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", f.display()))?;
        }
    }
    Ok(if failed {
        Exit::Failed
    } else if a.check && unformatted {
        Exit::Unformatted
    } else {
        Exit::Ok
    })
}
