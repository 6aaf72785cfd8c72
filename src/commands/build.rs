//! `ambake build`: every selected build, in parallel up to -parallel-builds, then Packer's
//! artifact summary. Exit 0 all built, 1 any failed, 130 interrupted.

use crate::cli::{BuildArgs, ResumeArgs};
use crate::config::{self, PlanOptions};
use crate::diag::Diagnostics;
use crate::engine::{self, Outcome, RunOptions};
use crate::exit::Exit;
use crate::ui::{Ui, UiOptions};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub fn run(a: &BuildArgs) -> anyhow::Result<Exit> {
    run_with(a, None)
}

/// `ambake resume BUILD_ID TEMPLATE`: the kept build's own source, from its kept state.
pub fn resume(r: &ResumeArgs) -> anyhow::Result<Exit> {
    let path = crate::job::journal::path_for(&r.build_id);
    let records = crate::job::journal::read(&path).map_err(|e| {
        anyhow::anyhow!(
            "no journal for build {} ({}): {e}",
            r.build_id,
            path.display()
        )
    })?;
    let Some(crate::job::journal::Event::Start { build, .. }) = records.first().map(|r| &r.event)
    else {
        anyhow::bail!("the journal of build {} has no start record", r.build_id);
    };
    let from = match r.from {
        Some(0) => anyhow::bail!("--from counts provisioners from 1"),
        n => n.map(|n| n - 1),
    };
    run_with(&r.build, Some((r.build_id.clone(), build.clone(), from)))
}

fn run_with(
    a: &BuildArgs,
    resume: Option<(String, String, Option<usize>)>,
) -> anyhow::Result<Exit> {
    let mut diags = Diagnostics::default();
    let cfg = super::load_with_aws(&a.template, &a.vars, &mut diags)?;
    let opts = PlanOptions {
        // A resume runs exactly the kept build.
        only: match &resume {
            Some((_, build, _)) => vec![build.clone()],
            None => a.select.only.clone(),
        },
        except: a.select.except.clone(),
        force: a.force,
        others_are_errors: true,
    };
    let plans = if diags.has_errors() {
        vec![]
    } else {
        config::plan(&cfg, &opts, &mut diags)
    };
    let secrets = config::secrets(&cfg, &plans);
    super::report(&diags, &cfg.map, &secrets);
    if diags.has_errors() {
        return Ok(Exit::Failed);
    }
    if plans.is_empty() {
        eprintln!("Error: no build to run (check -only / -except)");
        return Ok(Exit::Failed);
    }
    let ui = Ui::new(
        "",
        UiOptions {
            machine_readable: a.machine_readable,
            timestamps: a.timestamp_ui,
            color: !a.machine_readable && !a.json && crate::ui::want_color(a.color),
            json: a.json,
        },
        secrets,
    );
    // On a terminal (and not for programs): one live status line per build.
    let ui = {
        use std::io::IsTerminal as _;
        if std::io::stdout().is_terminal() && !a.machine_readable && !a.json {
            ui.with_live_status()
        } else {
            ui
        }
    };
    let resume = match resume {
        None => None,
        Some((id, build, from)) => {
            let Some(plan) = plans.iter().find(|p| p.name == build) else {
                anyhow::bail!(
                    "build {id} ran build \"{build}\", which {} does not have",
                    a.template
                );
            };
            Some(Arc::new(engine::resume::load(&id, plan, from)?))
        }
    };
    let run_opts = RunOptions {
        on_error: a.on_error,
        debug: a.debug,
        force: a.force,
        run_uuid: std::env::var("PACKER_RUN_UUID")
            .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string()),
        now: cfg.now,
        template: a.template.clone(),
        resume,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    ui.event(
        "run_started",
        serde_json::json!({
            "schema": crate::ui::JSON_SCHEMA_VERSION,
            "ambake": env!("CARGO_PKG_VERSION"),
            "run_uuid": run_opts.run_uuid,
            "builds": plans.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        }),
    );
    let outcomes = rt.block_on(async {
        let cancel = CancellationToken::new();
        let journals = Arc::new(Mutex::new(Vec::new()));
        engine::signals::install(cancel.clone(), journals.clone())?;
        // -debug runs builds one at a time, like Packer.
        let parallel = if a.debug {
            1
        } else if a.parallel_builds == 0 {
            plans.len()
        } else {
            a.parallel_builds
        };
        let sem = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
        engine::panics::install_hook();
        let mut set = tokio::task::JoinSet::new();
        // Which build each task runs, for a task that ends in a panic.
        let mut names = std::collections::HashMap::new();
        for (i, plan) in plans.into_iter().enumerate() {
            let bui = ui.for_build(&plan.name);
            // Packer's first line per build; it is true only when colours are on.
            if crate::ui::want_color(a.color) && !a.machine_readable && !a.json {
                bui.message("output will be in this color.");
            }
            let (cancel, journals, sem, opts) = (
                cancel.clone(),
                journals.clone(),
                sem.clone(),
                run_opts.clone(),
            );
            let name = plan.name.clone();
            let status = bui.clone();
            let task = set.spawn(engine::panics::scope(async move {
                let _permit = sem.acquire_owned().await;
                let name = plan.name.clone();
                let started = Instant::now();
                let status = bui.clone();
                let o = engine::run_one(plan, bui, cancel, opts, journals).await;
                status.finish_status();
                (i, name, started.elapsed(), o)
            }));
            names.insert(task.id(), (i, name, status, Instant::now()));
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => out.push(v),
                Err(e) => {
                    let (i, name, status, started) = names.remove(&e.id()).unwrap_or((
                        usize::MAX,
                        "?".into(),
                        ui.clone(),
                        Instant::now(),
                    ));
                    status.finish_status();
                    out.push((
                        i,
                        name,
                        started.elapsed(),
                        Outcome::Failed(format!("build task crashed: {e}")),
                    ));
                }
            }
        }
        out.sort_by_key(|o| o.0);
        anyhow::Ok(out)
    })?;
    // Every build is over (and journaled). A thread still blocked reading the terminal — a
    // `-debug` pause or a breakpoint that Ctrl-C ended — must not keep the process alive
    // until someone presses Enter.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));

    let mut failed = 0;
    let mut interrupted = false;
    for (_, name, took, o) in &outcomes {
        let bui = ui.for_target(name);
        let (outcome, error) = match o {
            Outcome::Success(_) => ("success", None),
            Outcome::NoArtifact => ("success", None),
            Outcome::SuccessWithLeftovers(_, e) => ("leftovers", Some(e.as_str())),
            Outcome::Failed(e) => ("failed", Some(e.as_str())),
            Outcome::Interrupted => ("cancelled", None),
        };
        if let Some(e) = error {
            bui.event("error", serde_json::json!({ "message": e }));
        }
        if let Outcome::Success(a) | Outcome::SuccessWithLeftovers(a, _) = o {
            bui.event("artifact", serde_json::json!({ "amis": a.amis.amis }));
        }
        bui.event(
            "build_finished",
            serde_json::json!({
                "outcome": outcome,
                "duration_ms": took.as_millis() as u64,
                "aws_calls": ui.tally(name).aws_calls,
            }),
        );
        let t = crate::duration::format_duration(std::time::Duration::from_secs(took.as_secs()));
        match o {
            Outcome::Success(_) | Outcome::NoArtifact => {
                ui.say(&format!("Build '{name}' finished after {t}."))
            }
            Outcome::SuccessWithLeftovers(_, e) => {
                failed += 1;
                ui.error(&format!("Build '{name}' made its AMIs after {t}, but: {e}"));
                ui.machine("error", &[e]);
            }
            Outcome::Failed(e) => {
                failed += 1;
                ui.error(&format!("Build '{name}' errored after {t}: {e}"));
                ui.machine("error", &[e]);
            }
            Outcome::Interrupted => {
                interrupted = true;
                ui.error(&format!("Build '{name}' was cancelled after {t}."));
            }
        }
    }
    if interrupted {
        ui.say("Cleanly cancelled builds after being interrupted.");
    } else if failed > 0 {
        ui.say("Some builds didn't complete successfully and had errors:");
        for (_, name, _, o) in &outcomes {
            if let Outcome::Failed(e) | Outcome::SuccessWithLeftovers(_, e) = o {
                ui.message(&format!("--> {name}: {e}"));
            }
        }
    }
    let artifacts: Vec<(&String, &engine::artifact::Built)> = outcomes
        .iter()
        .filter_map(|(_, n, _, o)| match o {
            Outcome::Success(a) | Outcome::SuccessWithLeftovers(a, _) => Some((n, a)),
            _ => None,
        })
        .collect();
    if artifacts.is_empty() {
        ui.say("Builds finished but no artifacts were created.");
    } else {
        ui.say("Builds finished. The artifacts of successful builds are:");
        for (name, built) in &artifacts {
            print_artifacts(&ui, name, &built.outputs);
        }
    }
    if ui.is_live() {
        // On a terminal only: off it, the output stays Packer's, which scripts parse.
        ui.say("Summary:");
        for (_, name, took, o) in &outcomes {
            let amis = match o {
                Outcome::Success(a) | Outcome::SuccessWithLeftovers(a, _) => a.amis.amis.clone(),
                _ => Default::default(),
            };
            for line in ui.tally(name).lines(name, *took, &amis) {
                crate::output::line(&line);
            }
        }
    }
    ui.event(
        "summary",
        serde_json::json!({
            "builds": outcomes.len(),
            "failed": failed,
            "interrupted": interrupted,
            "per_build": outcomes.iter().map(|(_, n, took, _)| {
                let mut t = ui.tally(n).to_json();
                t["build"] = n.clone().into();
                t["duration_ms"] = (took.as_millis() as u64).into();
                t
            }).collect::<Vec<_>>(),
            "artifacts": artifacts.iter().map(|(n, a)| serde_json::json!({ "build": n, "amis": a.amis.amis })).collect::<Vec<_>>(),
        }),
    );
    Ok(if interrupted {
        Exit::Interrupted
    } else if failed > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// One build's artifact list, as Packer prints it: per artifact a `--> name: …` line, and in
/// machine-readable mode the build's `artifact-count` and each artifact's fields.
fn print_artifacts(ui: &Ui, name: &str, outputs: &[engine::artifact::Output]) {
    let bui = ui.for_target(name);
    bui.machine("artifact-count", &[&outputs.len().to_string()]);
    for (i, a) in outputs.iter().enumerate() {
        let i = i.to_string();
        let files = a.files();
        bui.machine("artifact", &[&i, "builder-id", a.builder_id()]);
        bui.machine("artifact", &[&i, "id", &a.id()]);
        bui.machine("artifact", &[&i, "string", &a.string()]);
        bui.machine("artifact", &[&i, "files-count", &files.len().to_string()]);
        for (j, f) in files.iter().enumerate() {
            bui.machine("artifact", &[&i, "file", &j.to_string(), f]);
        }
        bui.machine("artifact", &[&i, "end"]);
        if !ui.is_machine() && !ui.is_json() {
            crate::output::line(&format!("--> {name}: {}", a.string().trim_end()));
        }
    }
}
