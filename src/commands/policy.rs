//! `ambake iam-policy`: print the minimal IAM policy the selected builds need.

use crate::cli::PolicyArgs;
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
    if a.explain {
        for (action, need) in crate::policy::actions(&plans) {
            let when = if need.only_on_failure {
                " (only when a build fails)"
            } else {
                ""
            };
            crate::output::line(&format!("{action:40} {}{when}", need.why));
        }
        return Ok(Exit::Ok);
    }
    crate::output::line(&serde_json::to_string_pretty(&crate::policy::document(
        &plans,
    ))?);
    Ok(Exit::Ok)
}
