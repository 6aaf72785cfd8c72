//! `ambake iam-policy`: print the minimal IAM policy the selected builds need.

use crate::cli::{PolicyArgs, PolicyFor};
use crate::config::{self, PlanOptions};
use crate::diag::Diagnostics;
use crate::exit::Exit;

pub fn run(a: &PolicyArgs) -> anyhow::Result<Exit> {
    let mut diags = Diagnostics::default();
    let cfg = super::load(&a.template, &a.vars, &mut diags)?;
    let opts = PlanOptions {
        only: a.select.only.clone(),
        except: a.select.except.clone(),
        force: false,
        others_are_errors: false,
    };
    let plans = if diags.has_errors() {
        vec![]
    } else {
        config::plan(&cfg, &opts, &mut diags)
    };
    super::report(&diags, &cfg.map, &config::secrets(&cfg, &plans));
    if diags.has_errors() {
        return Ok(Exit::Failed);
    }
    let caller = crate::policy::caller_document(&plans);
    let data: Vec<String> = cfg.data.iter().map(|d| d.kind.clone()).collect();
    if a.explain {
        if let Some(c) = &caller {
            crate::output::line(
                "The caller (the credentials ambake starts with) needs, to assume the build role:",
            );
            crate::output::line(&serde_json::to_string_pretty(c)?);
            crate::output::line("The assumed role needs:");
        }
        for (action, need) in crate::policy::actions(&plans, &data) {
            let when = if need.only_on_failure {
                " (only when a build fails)"
            } else {
                ""
            };
            crate::output::line(&format!("{action:40} {}{when}", need.why));
        }
        return Ok(Exit::Ok);
    }
    let role = crate::policy::document(&plans, &data);
    // One principal, one document (ready for `aws iam put-*-policy`); with assume_role there
    // are two principals: both documents, by principal, or the one --for names.
    let out = match (&caller, a.principal) {
        (None, Some(PolicyFor::Caller)) => {
            anyhow::bail!("no build assumes a role: the caller needs the build policy itself")
        }
        (None, _) | (Some(_), Some(PolicyFor::Role)) => role,
        (Some(c), Some(PolicyFor::Caller)) => c.clone(),
        (Some(c), None) => serde_json::json!({ "caller": c, "role": role }),
    };
    crate::output::line(&serde_json::to_string_pretty(&out)?);
    Ok(Exit::Ok)
}
