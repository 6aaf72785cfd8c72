//! `ambake cleanup`: removes what interrupted or crashed builds left behind, from their
//! journals (`BUILD_ID`, `--all`) or, when the journal is gone, by the `ambake:build-id` tag
//! (`--orphans`). It lists before it deletes, and never touches what a user keeps:
//! - a finished build's AMIs (journaled as committed, or tagged `ambake:committed`) unless
//!   `--include-artifacts`;
//! - a build that is still running (its journal is locked; by tag: any build with a resource
//!   younger than `--older-than`, 6 h by default);
//! - anything, when the credentials are for another account than the journal's.

use super::orphans::{self, Found};
use crate::aws::access::AccessOptions;
use crate::aws::clients;
use crate::cli::CleanupArgs;
use crate::engine::unwind::{self, Scope};
use crate::exit::Exit;
use crate::job::journal::{self, Event, Journal, Lifetime};
use crate::ui::{Ui, UiOptions};
use std::path::Path;

pub fn run(a: &CleanupArgs) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        if a.orphans {
            return by_tag(a).await;
        }
        let ui = Ui::new("cleanup", UiOptions::default(), vec![]);
        match (&a.build_id, a.all) {
            (Some(id), _) => {
                let path = journal::path_for(id);
                if !path.exists() {
                    anyhow::bail!(
                        "no journal for build {id} in {} (already cleaned up, or another state directory: set AMBAKE_STATE_DIR)",
                        journal::dir().display()
                    );
                }
                Ok(match from_journal(&path, a).await? {
                    Replayed::Clean => Exit::Ok,
                    Replayed::Running => {
                        anyhow::bail!("build {id} is still running (its journal is locked by another ambake process): nothing deleted")
                    }
                    Replayed::Incomplete => Exit::Failed,
                })
            }
            (None, true) => {
                let mut paths: Vec<_> = std::fs::read_dir(journal::dir())
                    .map(|d| {
                        d.filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                            .collect()
                    })
                    .unwrap_or_default();
                paths.sort();
                // Every journal gets its turn: one that cannot be read is reported, not a
                // reason to leave the others' resources running.
                let mut failed = false;
                for p in paths {
                    match from_journal(&p, a).await {
                        Ok(Replayed::Clean) => {}
                        Ok(Replayed::Running) => ui.say(&format!(
                            "Skipped {}: its build is still running",
                            p.display()
                        )),
                        Ok(Replayed::Incomplete) => failed = true,
                        Err(e) => {
                            ui.error(&format!("{}: {e:#}", p.display()));
                            failed = true;
                        }
                    }
                }
                Ok(if failed { Exit::Failed } else { Exit::Ok })
            }
            (None, false) => anyhow::bail!(
                "say which build to clean up: ambake cleanup BUILD_ID, --all (every journal in {}), or --orphans (by tag)",
                journal::dir().display()
            ),
        }
    })
}

/// How replaying one journal ended.
enum Replayed {
    /// Nothing of the build is left (or, with --dry-run, the list was printed).
    Clean,
    /// Its build is still running: left alone.
    Running,
    /// Something could not be deleted or read: the journal stays for another try.
    Incomplete,
}

async fn from_journal(path: &Path, a: &CleanupArgs) -> anyhow::Result<Replayed> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        // A build that stopped before its first record created nothing.
        if !a.dry_run {
            let _ = std::fs::remove_file(path);
        }
        eprintln!(
            "{}: empty journal (the build stopped before it began): removed",
            path.display()
        );
        return Ok(Replayed::Clean);
    }
    let j = match Journal::reopen(path) {
        Ok(j) => j,
        Err(e) if journal::is_busy(&e) => return Ok(Replayed::Running),
        Err(e) => anyhow::bail!("cannot open journal {}: {e}", path.display()),
    };
    let replay = journal::replay(path)
        .map_err(|e| anyhow::anyhow!("cannot read journal {}: {e}", path.display()))?;
    let Some(Event::Start {
        build,
        region,
        endpoint,
        profile,
        assume_role,
        account,
        credentials,
    }) = replay.records.first().map(|r| r.event.clone())
    else {
        anyhow::bail!("{} is not an ambake build journal", path.display());
    };
    let id = j.build_id().to_string();
    let ui = Ui::new(&build, UiOptions::default(), vec![]);
    for n in &replay.corrupt {
        ui.error(&format!(
            "{} line {n} cannot be read: a resource recorded there may be missed (find it with ambake cleanup --orphans); the journal is kept",
            path.display()
        ));
    }
    let scope = if a.include_artifacts {
        Scope::Everything
    } else {
        Scope::Unfinished
    };
    let todo = unwind::plan(&replay.records, scope);
    if todo.is_empty() {
        ui.say(&format!("Build {id}: nothing left to clean up"));
        if replay.corrupt.is_empty() && !a.dry_run {
            crate::job::journal::discard(path);
        }
        return Ok(if replay.corrupt.is_empty() {
            Replayed::Clean
        } else {
            Replayed::Incomplete
        });
    }
    ui.say(&format!(
        "Build {id}: {} resource(s) to delete:",
        todo.len()
    ));
    for (r, _) in &todo {
        ui.message(&r.describe());
    }
    let access = AccessOptions {
        region: Some(region),
        custom_endpoint_ec2: endpoint,
        profile,
        assume_role: assume_role.map(|arn| crate::config::ebs::AssumeRole {
            role_arn: Some(arn),
            ..Default::default()
        }),
        ..Default::default()
    };
    let session = clients::session(&access).await?;
    same_account(&session, account.as_deref(), credentials.as_deref(), &ui).await?;
    let failed = unwind::run(&j, &session, &ui, scope, a.dry_run, &Default::default()).await;
    if a.dry_run {
        return Ok(Replayed::Clean);
    }
    if failed.is_empty() && replay.corrupt.is_empty() {
        crate::job::journal::discard(path);
        ui.say(&format!("Build {id}: cleaned up"));
        return Ok(Replayed::Clean);
    }
    Ok(Replayed::Incomplete)
}

/// Refuses to clean up with credentials of another account than the build's: every id would
/// answer NotFound there, the journal would be deleted as "cleaned up", and the real
/// leftovers would become untracked.
async fn same_account(
    session: &clients::Session,
    recorded: Option<&str>,
    recorded_source: Option<&str>,
    ui: &Ui,
) -> anyhow::Result<()> {
    let Some(recorded) = recorded else {
        ui.message(
            "The journal does not name the build's account (skip_credential_validation, or an older ambake): cannot check it",
        );
        return Ok(());
    };
    let current = session
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot check which account these credentials belong to, so nothing was deleted: {}",
                crate::aws::errors::explain(&e)
            )
        })?;
    let current = current.account().unwrap_or_default();
    if current != recorded {
        anyhow::bail!(
            "the build ran in account {recorded} (credentials from {}), but the current credentials (from {}) are for account {current}: nothing was deleted; run the cleanup with account {recorded}'s credentials",
            recorded_source.unwrap_or("an unrecorded source"),
            session.source
        );
    }
    Ok(())
}

/// `--orphans`: resources tagged `ambake:build-id` (and IAM under /ambake/), of builds that are
/// neither running here nor active within `--older-than`.
async fn by_tag(a: &CleanupArgs) -> anyhow::Result<Exit> {
    let access = AccessOptions {
        region: a.region.first().cloned(),
        ..Default::default()
    };
    let session = clients::session(&access).await?;
    let regions = if a.region.is_empty() {
        vec![session.region.clone()]
    } else {
        a.region.clone()
    };
    let age = crate::duration::parse_duration(a.older_than.as_deref().unwrap_or("6h"))
        .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
    let cutoff = jiff::Timestamp::now().as_second() - age.as_secs() as i64;
    let ui = Ui::new("cleanup", UiOptions::default(), vec![]);
    let Found {
        builds,
        errors: mut problems,
    } = orphans::find(&session, &regions).await;
    let mut found = Vec::new();
    for (build_id, b) in builds {
        if journal::is_locked(&journal::path_for(&build_id)) {
            ui.message(&format!(
                "Skipping build {build_id}: it is running on this machine"
            ));
            continue;
        }
        if b.newest > cutoff {
            ui.message(&format!(
                "Skipping build {build_id}: active {} ago, less than --older-than {} (a build may still be running)",
                ago(b.newest),
                a.older_than.as_deref().unwrap_or("6h")
            ));
            continue;
        }
        found.extend(b.resources);
    }
    for p in &problems {
        ui.error(p);
    }
    if found.is_empty() {
        ui.say(&format!(
            "No leftover ambake resources to delete in {}",
            regions.join(", ")
        ));
        return Ok(if problems.is_empty() {
            Exit::Ok
        } else {
            Exit::Failed
        });
    }
    ui.say(&format!(
        "Found {} leftover resource(s) tagged {}:",
        found.len(),
        crate::job::tags::BUILD_ID_TAG
    ));
    for r in &found {
        ui.message(&r.describe());
    }
    if a.dry_run {
        return Ok(Exit::Ok);
    }
    if !a.yes && !confirm(found.len())? {
        ui.say("Nothing deleted.");
        return Ok(Exit::Failed);
    }
    // Replayed through a journal of their own, so an interrupted orphan cleanup can resume too.
    let j = Journal::create(&format!("orphans-{}", crate::engine::new_build_id()))?;
    j.append(Event::Start {
        build: "orphans".into(),
        region: session.region.clone(),
        endpoint: None,
        profile: None,
        assume_role: None,
        account: None,
        credentials: Some(session.source.to_string()),
    })?;
    // The journal is replayed last-first: record in the reverse of the deletion order wanted
    // (instances first is handled by the planner).
    j.record_all(found.iter().rev().cloned(), Lifetime::Temporary)?;
    let failed = unwind::run(
        &j,
        &session,
        &ui,
        Scope::Unfinished,
        false,
        &Default::default(),
    )
    .await;
    if failed.is_empty() {
        crate::job::journal::discard(j.path());
    }
    problems.extend(
        failed
            .into_iter()
            .map(|(r, e)| format!("{}: {e}", r.describe())),
    );
    Ok(if problems.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    })
}

fn ago(t: i64) -> String {
    let secs = (jiff::Timestamp::now().as_second() - t).max(0) as u64;
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

/// Asks on a terminal; refuses without one (scripts pass --yes).
fn confirm(n: usize) -> anyhow::Result<bool> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "not deleting {n} resource(s) found by tag without confirmation: stdin is not a terminal; pass --yes (or --dry-run to only list them)"
        );
    }
    eprint!("Delete these {n} resource(s)? [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
