//! `provisioner "ansible-local"`: uploads the playbook and its directories to a staging
//! directory on the instance and runs ansible-playbook there in local mode, as
//! packer-plugin-ansible does. Ansible must already be installed on the instance.

use super::remote::{Comm, quote, upload_dir};
use crate::config::plugins::AnsibleLocal;
use crate::job::context::Cx;
use crate::job::state::BuildState;
use std::path::Path;

const DEFAULT_STAGING: &str = "/tmp/packer-provisioner-ansible-local";

fn base(p: &str) -> String {
    Path::new(p)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn mkdir(cx: &Cx, comm: &mut Comm, dir: &str) -> anyhow::Result<()> {
    cx.ui.say(&format!("Creating directory: {dir}"));
    let r = comm.exec(cx, &format!("mkdir -p {}", quote(dir))).await?;
    if r.exit_code != Some(0) {
        anyhow::bail!("Non-zero exit status: {}", r.exit_code.unwrap_or(-1));
    }
    Ok(())
}

async fn upload(cx: &Cx, comm: &mut Comm, local: &str, remote: &str) -> anyhow::Result<()> {
    comm.upload_file(cx, Path::new(local), remote, None)
        .await
        .map_err(|e| anyhow::anyhow!("Error uploading {local}: {e:#}"))
}

async fn run_remote(cx: &Cx, comm: &mut Comm, command: &str, program: &str) -> anyhow::Result<()> {
    let r = comm.exec(cx, command).await?;
    match r.exit_code {
        Some(0) => Ok(()),
        Some(127) => anyhow::bail!(
            "{program} could not be found. Verify that it is available on the\nPATH after connecting to the machine."
        ),
        other => anyhow::bail!("Non-zero exit status: {}", other.unwrap_or(-1)),
    }
}

pub async fn run(
    cx: &Cx,
    st: &BuildState,
    comm: &mut Comm,
    a: &AnsibleLocal,
) -> anyhow::Result<()> {
    cx.ui.say("Provisioning with Ansible...");
    let staging = match &a.staging_directory {
        Some(s) => cx.render(s, st)?,
        None => format!("{DEFAULT_STAGING}/{}", uuid::Uuid::new_v4()),
    };
    let at = |sub: &str| format!("{}/{sub}", staging.trim_end_matches('/'));

    if let Some(d) = &a.playbook_dir {
        cx.ui
            .say("Uploading Playbook directory to Ansible staging directory...");
        mkdir(cx, comm, &staging).await?;
        upload_dir(cx, comm, Path::new(d), &staging)
            .await
            .map_err(|e| anyhow::anyhow!("Error uploading playbook_dir directory: {e:#}"))?;
    } else {
        cx.ui.say("Creating Ansible staging directory...");
        mkdir(cx, comm, &staging).await?;
    }

    // The playbooks to run, as paths on the instance.
    let mut playbooks = Vec::new();
    if let Some(p) = &a.playbook_file {
        cx.ui.say("Uploading main Playbook file...");
        let remote = at(&base(p));
        upload(cx, comm, p, &remote).await?;
        playbooks.push(remote);
    } else {
        let dir = a
            .playbook_dir
            .as_deref()
            .map(std::path::absolute)
            .transpose()?;
        for p in &a.playbook_files {
            let abs = std::path::absolute(p)?;
            if let Some(rel) = dir.as_ref().and_then(|d| abs.strip_prefix(d).ok()) {
                playbooks.push(at(&rel.to_string_lossy()));
                continue;
            }
            cx.ui
                .say(&format!("Uploading playbook file: {}", abs.display()));
            let remote = at(abs.to_string_lossy().trim_start_matches('/'));
            if let Some(parent) = Path::new(&remote).parent() {
                mkdir(cx, comm, &parent.to_string_lossy()).await?;
            }
            upload(cx, comm, &abs.to_string_lossy(), &remote).await?;
            playbooks.push(remote);
        }
    }

    let inventory = match &a.inventory_file {
        Some(f) => {
            cx.ui.say("Uploading inventory file...");
            let remote = at(&base(f));
            upload(cx, comm, f, &remote).await?;
            remote
        }
        None => {
            let text = if a.inventory_groups.is_empty() {
                "127.0.0.1".to_string()
            } else {
                a.inventory_groups
                    .iter()
                    .map(|g| format!("[{g}]\n127.0.0.1\n"))
                    .collect()
            };
            cx.ui.say("Uploading inventory file...");
            let remote = at("packer-provisioner-ansible-local-inventory");
            comm.upload_bytes(cx, text.into_bytes(), &remote, 0o644)
                .await?;
            remote
        }
    };

    let mut galaxy_text = String::new();
    if let Some(g) = &a.galaxy_file {
        cx.ui.say("Uploading galaxy file...");
        upload(cx, comm, g, &at(&base(g))).await?;
        galaxy_text = std::fs::read_to_string(g)?;
    }
    for (what, dir, sub) in [
        ("group_vars", &a.group_vars, "group_vars"),
        ("host_vars", &a.host_vars, "host_vars"),
    ] {
        if let Some(d) = dir {
            cx.ui.say(&format!("Uploading {what} directory..."));
            upload_dir(cx, comm, Path::new(d), &at(sub))
                .await
                .map_err(|e| anyhow::anyhow!("Error uploading {what} directory: {e:#}"))?;
        }
    }
    for (what, list, sub) in [
        ("role directories", &a.role_paths, "roles"),
        ("collection directories", &a.collection_paths, "collections"),
        ("additional Playbooks", &a.playbook_paths, "playbooks"),
    ] {
        if !list.is_empty() {
            cx.ui.say(&format!("Uploading {what}..."));
        }
        for d in list {
            upload_dir(cx, comm, Path::new(d), &at(&format!("{sub}/{}", base(d))))
                .await
                .map_err(|e| anyhow::anyhow!("Error uploading {what}: {e:#}"))?;
        }
    }

    let has = |key: &str| galaxy_text.lines().any(|l| l.starts_with(key));
    let (g_roles, g_collections) = (has("roles:"), has("collections:"));
    let roles_path = a
        .galaxy_roles_path
        .clone()
        .unwrap_or_else(|| at("galaxy_roles"));
    let collections_path = a
        .galaxy_collections_path
        .clone()
        .unwrap_or_else(|| at("galaxy_collections"));
    if let Some(g) = &a.galaxy_file {
        let galaxy = a.galaxy_command.as_deref().unwrap_or("ansible-galaxy");
        let file = at(&base(g));
        let force = if a.galaxy_force_install { " -f" } else { "" };
        let mut runs = Vec::new();
        if g_roles || !g_collections {
            runs.push(format!("install -r {file} -p {roles_path}{force}"));
        }
        if g_collections {
            runs.push(format!(
                "collection install -r {file} -p {collections_path}{force}"
            ));
        }
        for args in runs {
            let command = format!("cd {} && {galaxy} {args}", quote(&staging));
            cx.ui.say(&format!("Executing Ansible Galaxy: {command}"));
            run_remote(cx, comm, &command, galaxy)
                .await
                .map_err(|e| anyhow::anyhow!("Error executing Ansible Galaxy: {e:#}"))?;
        }
    }

    let mut env = String::new();
    let mut collections = Vec::new();
    if g_collections {
        collections.push(collections_path.clone());
    }
    if !a.collection_paths.is_empty() {
        collections.push(at("collections"));
    }
    if !collections.is_empty() {
        env.push_str(&format!(
            " ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH:{}",
            collections.join(":")
        ));
    }
    if g_roles {
        env.push_str(&format!(
            " ANSIBLE_ROLES_PATH=$ANSIBLE_ROLES_PATH:{roles_path}"
        ));
    }
    let program = a
        .command
        .clone()
        .unwrap_or_else(|| "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook".into());
    let mut extra = format!(
        " --extra-vars \"packer_build_name={} packer_builder_type=amazon-ebs\" ",
        cx.plan.source_name
    );
    for arg in &a.extra_arguments {
        extra.push_str(&cx.render(arg, st)?);
        extra.push(' ');
    }
    for playbook in &playbooks {
        let command = format!(
            "cd {} &&{env} {program} {playbook}{} -c local -i {inventory}",
            quote(&staging),
            extra.trim_end()
        );
        cx.ui.say(&format!("Executing Ansible: {command}"));
        run_remote(cx, comm, &command, &program)
            .await
            .map_err(|e| anyhow::anyhow!("Error executing Ansible: {e:#}"))?;
    }
    if a.clean_staging_directory {
        cx.ui.say("Removing staging directory...");
        run_remote(cx, comm, &format!("rm -rf {}", quote(&staging)), "rm")
            .await
            .map_err(|e| anyhow::anyhow!("Error removing staging directory: {e:#}"))?;
    }
    Ok(())
}
