//! Every template under tests/fixtures runs through `ambake validate`. Each `NAME.expect` says
//! what must happen: `expect: valid`, or one `expect-error: [LINE:COL: ]MESSAGE` per error (the
//! message must be reported at exactly that position), `expect-help: …`, and `args: …`.

use super::support::{ambake, repo, run};

struct Expect {
    valid: bool,
    errors: Vec<(Option<String>, String)>,
    helps: Vec<String>,
    args: Vec<String>,
}

fn parse_expect(text: &str) -> Expect {
    let mut e = Expect {
        valid: false,
        errors: vec![],
        helps: vec![],
        args: vec![],
    };
    for line in text.lines() {
        let line = line.trim_start_matches('#').trim();
        if line == "expect: valid" {
            e.valid = true;
        } else if let Some(rest) = line.strip_prefix("expect-error:") {
            let rest = rest.trim();
            let pos = rest.split_once(": ").filter(|(p, _)| {
                p.split(':').count() == 2 && p.split(':').all(|n| n.parse::<u32>().is_ok())
            });
            match pos {
                Some((p, m)) => e.errors.push((Some(p.to_string()), m.to_string())),
                None => e.errors.push((None, rest.to_string())),
            }
        } else if let Some(rest) = line.strip_prefix("expect-help:") {
            e.helps.push(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("args:") {
            e.args = rest.split_whitespace().map(String::from).collect();
        }
    }
    e
}

/// The rendered diagnostics, one chunk per "Error:"/"Warning:" line.
fn chunks(stderr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in stderr.lines() {
        if line.starts_with("Error:") || line.starts_with("Warning:") || out.is_empty() {
            out.push(String::new());
        }
        let last = out.last_mut().unwrap();
        last.push_str(line);
        last.push('\n');
    }
    out
}

#[test]
fn fixtures_validate_as_expected() {
    let dir = repo().join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".expect"))
        .map(|n| n.trim_end_matches(".expect").to_string())
        .collect();
    names.sort();
    assert!(
        names.len() >= 30,
        "the issue asks for at least 30 fixtures, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    for name in &names {
        let expect =
            parse_expect(&std::fs::read_to_string(dir.join(format!("{name}.expect"))).unwrap());
        assert!(
            expect.valid == expect.errors.is_empty(),
            "{name}.expect must say valid or list errors"
        );
        let file = format!("tests/fixtures/{name}.pkr.hcl");
        let mut args = vec!["validate".to_string()];
        args.extend(expect.args.iter().cloned());
        args.push(file.clone());
        let r = run(ambake(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        if r.stderr.contains("panicked") {
            failures.push(format!("{name}: panicked:\n{}", r.stderr));
            continue;
        }
        if expect.valid {
            if r.code != 0 || !r.stdout.contains("The configuration is valid.") {
                failures.push(format!(
                    "{name}: expected valid, got exit {}:\n{}",
                    r.code, r.stderr
                ));
            }
            continue;
        }
        if r.code != 1 {
            failures.push(format!(
                "{name}: expected exit 1, got {}:\n{}{}",
                r.code, r.stdout, r.stderr
            ));
        }
        let cs = chunks(&r.stderr);
        for (pos, msg) in &expect.errors {
            let found = cs.iter().any(|c| {
                c.starts_with("Error:")
                    && c.contains(msg.as_str())
                    && pos
                        .as_ref()
                        .is_none_or(|p| c.contains(&format!("--> {file}:{p}\n")))
            });
            if !found {
                failures.push(format!(
                    "{name}: no error {msg:?} at {pos:?} in:\n{}",
                    r.stderr
                ));
            }
        }
        for h in &expect.helps {
            if !r.stderr.contains(&format!("help: {h}")) {
                failures.push(format!("{name}: no help {h:?} in:\n{}", r.stderr));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn starter_templates_validate() {
    for t in [
        "templates/al2023.pkr.hcl",
        "templates/ubuntu-2404.pkr.hcl",
        "templates/debian-12.pkr.hcl",
        "templates/encrypted-multi-region.pkr.hcl",
        "templates/spot-multi-type.pkr.hcl",
    ] {
        let r = run(ambake(&["validate", t]));
        assert_eq!(r.code, 0, "{t}: {}", r.stderr);
        assert_eq!(r.stdout.trim(), "The configuration is valid.");
    }
}
