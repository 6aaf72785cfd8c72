//! `ambake validate`: every problem in a template, each with file:line:col.

use super::{load, report};
use crate::cli::ValidateArgs;
use crate::config::{self, PlanOptions};
use crate::diag::Diagnostics;
use crate::exit::Exit;

pub fn run(a: &ValidateArgs) -> anyhow::Result<Exit> {
    let mut diags = Diagnostics::default();
    if a.syntax_only {
        let mut map = crate::diag::SourceMap::default();
        let inputs = crate::template::files::read(&a.template, &mut diags)?;
        map = if diags.has_errors() { inputs.map } else { map };
        report(&diags, &map, &[]);
        if diags.has_errors() {
            return Ok(Exit::Failed);
        }
        crate::output::line("Syntax-only check passed. Everything looks okay.");
        return Ok(Exit::Ok);
    }
    let cfg = if a.evaluate_datasources {
        super::load_with_aws(&a.template, &a.vars, &mut diags)?
    } else {
        load(&a.template, &a.vars, &mut diags)?
    };
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
    let secrets = config::secrets(&cfg, &plans);
    if a.machine_readable {
        // Packer's machine-readable records: one `ui,error` / `ui,say` line each.
        let ui = crate::ui::Ui::new(
            "",
            crate::ui::UiOptions {
                machine_readable: true,
                ..Default::default()
            },
            secrets.clone(),
        );
        for d in &diags.items {
            let kind = if d.severity == crate::diag::Severity::Error {
                "error"
            } else {
                "message"
            };
            ui.machine("ui", &[kind, d.render(&cfg.map).trim_end()]);
        }
        if diags.has_errors() {
            ui.machine("error-count", &[&diags.errors().count().to_string()]);
            return Ok(Exit::Failed);
        }
        ui.machine("ui", &["say", "The configuration is valid."]);
        return Ok(Exit::Ok);
    }
    report(&diags, &cfg.map, &secrets);
    if diags.has_errors() {
        let n = diags.errors().count();
        eprintln!(
            "{n} error{} found; the configuration is not valid.",
            if n == 1 { "" } else { "s" }
        );
        return Ok(Exit::Failed);
    }
    crate::output::line("The configuration is valid.");
    Ok(Exit::Ok)
}
