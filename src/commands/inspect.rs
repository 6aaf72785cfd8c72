//! `ambake inspect`: variables (sensitive ones masked), locals, sources, builds.

use super::{load, report};
use crate::cli::InspectArgs;
use crate::config::plugins::ProvisionerKind;
use crate::config::{self, PlanOptions};
use crate::diag::Diagnostics;
use crate::exit::Exit;
use crate::funcs::convert::render;
use serde_json::json;

const MASK: &str = "<sensitive>";

pub fn run(a: &InspectArgs) -> anyhow::Result<Exit> {
    let mut diags = Diagnostics::default();
    let cfg = load(&a.template, &a.vars, &mut diags)?;
    let plans = if diags.has_errors() {
        vec![]
    } else {
        config::plan(&cfg, &PlanOptions::default(), &mut diags)
    };
    let secrets = config::secrets(&cfg, &plans);
    report(&diags, &cfg.map, &secrets);
    if diags.has_errors() {
        return Ok(Exit::Failed);
    }
    let value = |v: &hcl::Value, sensitive: bool| {
        if sensitive {
            MASK.to_string()
        } else {
            render(v)
        }
    };
    if a.json || a.machine_readable {
        let doc = json!({
            "variables": cfg.variables.iter().map(|v| json!({
                "name": v.name, "type": v.ty.to_string(), "sensitive": v.sensitive, "description": v.description,
                "value": if v.sensitive { json!(MASK) } else { crate::funcs::encoding_to_json(&v.value) }, "origin": v.origin,
            })).collect::<Vec<_>>(),
            "locals": cfg.locals.iter().map(|l| json!({
                "name": l.name, "sensitive": l.sensitive,
                "value": if l.sensitive { json!(MASK) } else { crate::funcs::encoding_to_json(&l.value) },
            })).collect::<Vec<_>>(),
            "sources": cfg.sources.iter().map(|s| format!("{}.{}", s.kind, s.name)).collect::<Vec<_>>(),
            "data": cfg.data.iter().map(|d| format!("data.{}.{}", d.kind, d.name)).collect::<Vec<_>>(),
            "builds": plans,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        crate::output::line(&crate::output::mask(&text, &secrets));
        return Ok(Exit::Ok);
    }
    let mut out = String::new();
    out.push_str("Packer Inspect: HCL2 mode\n\n> input-variables:\n\n");
    for v in &cfg.variables {
        out.push_str(&format!(
            "var.{}: {}  ({}, from {})\n",
            v.name,
            value(&v.value, v.sensitive),
            v.ty,
            v.origin
        ));
    }
    out.push_str("\n> local-variables:\n\n");
    for l in &cfg.locals {
        out.push_str(&format!(
            "local.{}: {}\n",
            l.name,
            value(&l.value, l.sensitive)
        ));
    }
    if !cfg.data.is_empty() {
        out.push_str("\n> data-sources:\n\n");
        for d in &cfg.data {
            out.push_str(&format!("data.{}.{}\n", d.kind, d.name));
        }
    }
    out.push_str("\n> builds:\n");
    for p in &plans {
        out.push_str(&format!("\n  > {}:\n", p.name));
        out.push_str(&format!(
            "    region: {}  instance_type: {}  ami_name: {}\n",
            p.config
                .region
                .as_deref()
                .unwrap_or("(from the environment)"),
            p.config.instance_type.as_deref().unwrap_or("(spot types)"),
            p.config.ami_name
        ));
        if !p.provisioners.is_empty() {
            out.push_str("    provisioners:\n");
            for pr in &p.provisioners {
                let kind = match &pr.kind {
                    ProvisionerKind::Shell(_) => "shell",
                    ProvisionerKind::File(_) => "file",
                    ProvisionerKind::ShellLocal(_) => "shell-local",
                    ProvisionerKind::Breakpoint(_) => "breakpoint",
                    ProvisionerKind::Ansible(_) => "ansible",
                    ProvisionerKind::AnsibleLocal(_) => "ansible-local",
                };
                out.push_str(&format!("      {kind}\n"));
            }
        }
        if !p.post_processors.is_empty() {
            out.push_str("    post-processors:\n");
            for (i, chain) in p.post_processors.iter().enumerate() {
                for pp in chain {
                    out.push_str(&format!("      {i}: {}\n", pp.kind.type_name()));
                }
            }
        }
    }
    crate::output::bytes(crate::output::mask(&out, &secrets).as_bytes());
    Ok(Exit::Ok)
}
