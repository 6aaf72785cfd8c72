//! Packer's post-processor chains: each chain starts from the build's AMIs, each
//! post-processor gets the artifact the one before it made, and `keep_input_artifact` (or the
//! post-processor's own default) says whether that input stays in the run's artifact list or
//! is destroyed.
//!
//! One deliberate difference: Packer destroys an amazon-ebs input it is told not to keep —
//! it deregisters the AMIs (a `compress` straight after the build does that by default).
//! ambake never deletes a finished AMI: it keeps it, lists it, and says so.

use super::artifact::{self, Artifact, Files, ManifestFile, Output};
use super::{Cx, RunOptions};
use crate::config::plugins::{PostProcessor, PostProcessorKind};
use crate::job::state::BuildState;
use crate::postproc;

/// What one post-processor returned: its artifact, and Packer's (keep, force) pair — whether
/// its input is kept by default, and whether the template may not override that.
struct Made {
    output: Output,
    keep: bool,
    force: bool,
}

/// Runs every chain. Returns the run's artifact list in Packer's order and the errors of the
/// chains that failed (a failed chain stops; the others still run, as in Packer).
pub(super) async fn run(
    cx: &Cx,
    st: &BuildState,
    amis: &Artifact,
    opts: &RunOptions,
) -> (Vec<Output>, Vec<String>) {
    let chains = &cx.plan.post_processors;
    let mut listed = Vec::new();
    let mut errors = Vec::new();
    let mut keep_amis = chains.is_empty();
    'chains: for chain in chains {
        let mut prior = Output::Amis(amis.clone());
        for (i, pp) in chain.iter().enumerate() {
            let kind = pp.kind.type_name();
            match &pp.common.name {
                Some(n) if n != kind => cx
                    .ui
                    .say(&format!("Running post-processor: {n} (type {kind})")),
                _ => cx.ui.say(&format!("Running post-processor: {kind}")),
            }
            let made = match one(cx, st, pp, &prior, opts).await {
                Ok(m) => m,
                Err(e) => {
                    errors.push(format!("Post-processor failed: {e:#}"));
                    continue 'chains;
                }
            };
            let keep = match pp.kind.keep_input_artifact() {
                Some(k) if !(made.keep && !k && made.force) => k,
                _ => made.keep,
            };
            if i == 0 {
                keep_amis |= keep;
            } else if keep {
                listed.push(prior);
            } else if let Err(e) = destroy(cx, &prior).await {
                errors.push(format!(
                    "Failed cleaning up prior artifact: {e:#}; pp is {kind}"
                ));
            }
            prior = made.output;
        }
        listed.push(prior);
    }
    if !keep_amis {
        cx.ui.say(&format!(
            "Packer would deregister the AMIs here (no post-processor keeps its input artifact); ambake keeps them: {}",
            amis.id()
        ));
    }
    // The AMIs head the list, as in Packer when they are kept — and always here, since they
    // are always kept.
    listed.insert(0, Output::Amis(amis.clone()));
    (listed, errors)
}

/// Destroys an intermediate artifact the chain does not keep: a post-processor's files, as
/// Packer does. AMIs are never destroyed.
async fn destroy(cx: &Cx, a: &Output) -> anyhow::Result<()> {
    match a {
        Output::Amis(amis) => {
            cx.ui.say(&format!(
                "Packer would deregister the AMIs here (keep_input_artifact is not set); ambake keeps them: {}",
                amis.id()
            ));
            Ok(())
        }
        Output::Files(f) => {
            let files = f.files.clone();
            tokio::task::spawn_blocking(move || {
                for p in &files {
                    let path = std::path::Path::new(p);
                    let r = if path.is_dir() {
                        std::fs::remove_dir_all(path)
                    } else {
                        std::fs::remove_file(path)
                    };
                    match r {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(anyhow::anyhow!("cannot remove {p}: {e}"));
                        }
                        _ => {}
                    }
                }
                Ok(())
            })
            .await?
        }
    }
}

fn files_artifact(builder_id: &'static str, files: Vec<String>) -> Output {
    let string = format!("Created artifact from files: {}", files.join(", "));
    Output::Files(Files {
        builder_id,
        files,
        string,
    })
}

async fn one(
    cx: &Cx,
    st: &BuildState,
    pp: &PostProcessor,
    input: &Output,
    opts: &RunOptions,
) -> anyhow::Result<Made> {
    let same = |output: Output| Made {
        output,
        keep: true,
        force: true,
    };
    Ok(match &pp.kind {
        PostProcessorKind::Manifest(m) => {
            let path = m
                .output
                .clone()
                .unwrap_or_else(|| "packer-manifest.json".into());
            let custom = cx.render_map(&m.custom_data, st)?;
            let files = (!input.files().is_empty()).then(|| {
                input
                    .files()
                    .iter()
                    .map(|f| ManifestFile {
                        name: if m.strip_path {
                            base_name(f)
                        } else {
                            f.clone()
                        },
                        size: std::fs::metadata(f).map_or(0, |md| md.len() as i64),
                    })
                    .collect()
            });
            let entry = artifact::ManifestBuild {
                name: cx.plan.source_name.clone(),
                builder_type: "amazon-ebs".into(),
                build_time: if m.strip_time {
                    0
                } else {
                    jiff::Timestamp::now().as_second()
                },
                files,
                artifact_id: input.id(),
                packer_run_uuid: opts.run_uuid.clone(),
                custom_data: custom,
            };
            // The manifest lock may wait on a parallel build: off the async workers.
            let (p, force) = (path.clone(), opts.force);
            tokio::task::spawn_blocking(move || artifact::write_manifest(&p, entry, force))
                .await??;
            cx.ui.say(&format!("Writing manifest {path}"));
            same(input.clone())
        }
        PostProcessorKind::ShellLocal(s) => {
            crate::provision::local::run(cx, st, s).await?;
            same(input.clone())
        }
        PostProcessorKind::Checksum(c) => {
            let types = if c.checksum_types.is_empty() {
                vec!["md5".to_string()]
            } else {
                c.checksum_types.clone()
            };
            let template = c.output.clone().unwrap_or_else(|| {
                "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum".into()
            });
            let mut names = std::collections::BTreeMap::new();
            for t in &types {
                names.insert(t.clone(), render(cx, st, &template, Some(t))?);
            }
            let inputs = input.files().to_vec();
            let files = tokio::task::spawn_blocking(move || {
                postproc::checksum::run(
                    &types,
                    |t| {
                        names
                            .get(t)
                            .cloned()
                            .ok_or_else(|| anyhow::anyhow!("no output for {t}"))
                    },
                    &inputs,
                )
            })
            .await??;
            same(files_artifact("packer.post-processor.checksum", files))
        }
        PostProcessorKind::Compress(c) => {
            let template = c
                .output
                .clone()
                .unwrap_or_else(|| "packer_{{.BuildName}}_{{.BuilderType}}".into());
            let kind = postproc::compress::detect(&template, c.format.as_deref());
            let target = render(cx, st, &template, None)?;
            let level = postproc::compress::level(c.compression_level);
            let inputs = input.files().to_vec();
            let (ui, t) = (cx.ui.clone(), target.clone());
            tokio::task::spawn_blocking(move || {
                postproc::compress::run(&t, kind, level, &inputs, &|s| ui.message(&s))
            })
            .await??;
            Made {
                output: Output::Files(Files {
                    builder_id: "packer.post-processor.compress",
                    files: vec![target.clone()],
                    string: format!("compressed artifacts in: {target}"),
                }),
                keep: false,
                force: false,
            }
        }
        PostProcessorKind::Artifice(a) => {
            if !input.files().is_empty() {
                cx.ui.message(&format!(
                    "Discarding files from artifact: {}",
                    input.files().join(", ")
                ));
            }
            let patterns = a.files.clone();
            let matched =
                tokio::task::spawn_blocking(move || postproc::artifice::expand(&patterns))
                    .await??;
            let mut files = Vec::new();
            for (pattern, found) in matched {
                if found.is_empty() {
                    cx.ui.message(&format!(
                        "Warning: artifice file {pattern:?} matches nothing; it is left out of the artifact"
                    ));
                }
                files.extend(found);
            }
            cx.ui
                .message(&format!("Using these artifact files: {}", files.join(", ")));
            Made {
                output: files_artifact("packer.post-processor.artifice", files),
                keep: true,
                force: false,
            }
        }
    })
}

fn base_name(p: &str) -> String {
    std::path::Path::new(p)
        .file_name()
        .map_or_else(|| p.to_string(), |n| n.to_string_lossy().into_owned())
}

/// A post-processor's `output`, with Packer's `{{.BuildName}}`, `{{.BuilderType}}` and (for
/// checksum) `{{.ChecksumType}}` filled in along with the build's other values.
fn render(
    cx: &Cx,
    st: &BuildState,
    template: &str,
    checksum_type: Option<&str>,
) -> anyhow::Result<String> {
    use crate::template::legacy::{self, LegacyValue};
    let mut ctx = cx.legacy_ctx(st);
    let mut set = |k: &str, v: &str| {
        ctx.vars
            .insert(k.to_string(), LegacyValue::Str(v.to_string()));
    };
    set("BuildName", &cx.plan.source_name);
    set("BuilderType", "amazon-ebs");
    if let Some(t) = checksum_type {
        set("ChecksumType", t);
    }
    legacy::render(template, &ctx).map_err(anyhow::Error::msg)
}
