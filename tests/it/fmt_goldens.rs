//! Issue #15: `ambake fmt` writes exactly what `packer fmt` writes. Each tests/fmt/NAME.pkr.hcl
//! has beside it NAME.pkr.hcl.golden, the output of Packer 1.6.6's `packer fmt` on it (made by
//! scripts/fmt-goldens; the test does not need Packer). Formatting a golden again changes
//! nothing.
//!
//! One rule changed in hclwrite after Packer 1.6.6 was built: current hclwrite (Packer 1.7 and
//! later) writes `!var.x`, 1.6.6 wrote `! var.x`. ambake writes what current Packer writes, so
//! teams on a current Packer see no churn; for the inputs concerned a NAME.pkr.hcl.current file
//! holds that output, and the test checks it differs from the 1.6.6 golden in exactly that.

use super::support::{ambake, repo, run_stdin};

#[test]
fn fmt_matches_packer_fmt_byte_for_byte() {
    let dir = repo().join("tests/fmt");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".pkr.hcl"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "only {} golden inputs", names.len());
    let mut wrong = Vec::new();
    for input in &names {
        let golden_path = format!("{}.golden", input.display());
        let packer_166 = std::fs::read_to_string(&golden_path)
            .unwrap_or_else(|e| panic!("{golden_path}: {e} (run scripts/fmt-goldens)"));
        let golden = match std::fs::read_to_string(format!("{}.current", input.display())) {
            Ok(current) => {
                assert_eq!(
                    current.replace('!', "! ").replace("!  ", "! "),
                    packer_166,
                    "{}: .current may differ from the 1.6.6 golden only in `!` spacing",
                    input.display()
                );
                current
            }
            Err(_) => packer_166,
        };
        let src = std::fs::read_to_string(input).unwrap();
        let r = run_stdin(ambake(&["fmt", "-"]), &src);
        if r.code != 0 || r.stdout != golden {
            wrong.push(format!(
                "{}: exit {}\n--- packer fmt\n{golden}\n--- ambake fmt\n{}{}",
                input.display(),
                r.code,
                r.stdout,
                r.stderr
            ));
            continue;
        }
        let again = run_stdin(ambake(&["fmt", "-"]), &golden);
        if again.stdout != golden {
            wrong.push(format!("{}: not idempotent", input.display()));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        names.len(),
        wrong.join("\n")
    );
}
