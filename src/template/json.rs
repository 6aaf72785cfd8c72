//! HCL's JSON syntax (`.pkr.json`, `.pkrvars.json`) turned into the same hcl-edit body the
//! native syntax produces, so the rest of the loader sees one shape. JSON carries no positions:
//! diagnostics for these files name the file only.

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, BlockLabel, Body};
use hcl_edit::{Decorated, Ident};
use serde_json::Value as J;

/// How many labels a block type takes at the top level or inside `build`.
fn label_count(ident: &str) -> usize {
    match ident {
        "variable"
        | "local"
        | "provisioner"
        | "post-processor"
        | "error-cleanup-provisioner"
        | "dynamic" => 1,
        "source" | "data" => 2,
        _ => 0,
    }
}

/// Keys that are blocks, not attributes, wherever they appear in a Packer configuration.
const BLOCKS: &[&str] = &[
    "packer",
    "variable",
    "variables",
    "locals",
    "local",
    "source",
    "data",
    "build",
    "provisioner",
    "post-processor",
    "post-processors",
    "error-cleanup-provisioner",
    "validation",
    "hcp_packer_registry",
    "required_plugins",
    "dynamic",
    "content",
    "assume_role",
    "aws_polling",
    "deregistration_protection",
    "fast_launch",
    "metadata_options",
    "placement",
    "security_group_filter",
    "source_ami_filter",
    "subnet_filter",
    "temporary_iam_instance_profile_policy_document",
    "vault_aws_engine",
    "vpc_filter",
    "ami_block_device_mappings",
    "launch_block_device_mappings",
    "license_specifications",
    "license_configuration_request",
    "tag",
    "run_tag",
    "run_volume_tag",
    "snapshot_tag",
    "spot_tag",
    "fleet_tag",
    "Statement",
    "region_launch_templates",
];

pub fn parse(text: &str, var_file: bool) -> Result<Body, String> {
    let v: J = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let J::Object(obj) = v else {
        return Err("the top level must be a JSON object".into());
    };
    let mut body = Body::new();
    for (k, v) in obj {
        if var_file || !BLOCKS.contains(&k.as_str()) {
            body.push(Attribute::new(ident(&k)?, expr(&v)?));
        } else {
            push_blocks(&mut body, &k, label_count(&k), vec![], &v)?;
        }
    }
    Ok(body)
}

fn ident(s: &str) -> Result<Decorated<Ident>, String> {
    Ident::try_new(s)
        .map(Decorated::new)
        .map_err(|_| format!("{s:?} is not a valid attribute name"))
}

fn push_blocks(
    body: &mut Body,
    name: &str,
    labels_left: usize,
    labels: Vec<String>,
    v: &J,
) -> Result<(), String> {
    if labels_left > 0 {
        // Ordered blocks are written as a list of single-key objects: [{"shell": {…}}, …].
        if let J::Array(items) = v {
            for item in items {
                push_blocks(body, name, labels_left, labels.clone(), item)?;
            }
            return Ok(());
        }
        let J::Object(o) = v else {
            return Err(format!("{name}: expected an object keyed by label"));
        };
        for (label, inner) in o {
            let mut l = labels.clone();
            l.push(label.clone());
            push_blocks(body, name, labels_left - 1, l, inner)?;
        }
        return Ok(());
    }
    match v {
        J::Array(items) => {
            for item in items {
                push_blocks(body, name, 0, labels.clone(), item)?;
            }
            Ok(())
        }
        J::Object(o) => {
            let mut inner = Body::new();
            for (k, v) in o {
                let is_block = BLOCKS.contains(&k.as_str())
                    && (v.is_object()
                        || v.is_array()
                            && v.as_array().is_some_and(|a| a.iter().all(J::is_object)));
                if is_block && !(name == "variable" && k == "default") {
                    push_blocks(&mut inner, k, label_count(k), vec![], v)?;
                } else {
                    inner.push(Attribute::new(ident(k)?, expr(v)?));
                }
            }
            let mut b = Block::new(ident(name)?);
            b.labels = labels.into_iter().map(BlockLabel::from).collect();
            b.body = inner;
            body.push(b);
            Ok(())
        }
        _ => Err(format!("{name}: expected an object")),
    }
}

/// A JSON value as an expression; strings are templates, so `"${var.x}"` works.
fn expr(v: &J) -> Result<Expression, String> {
    let text = to_hcl_text(v);
    hcl_edit::parser::parse_expr(&text)
        .map_err(|e| format!("invalid expression {text}: {}", e.message()))
}

fn to_hcl_text(v: &J) -> String {
    match v {
        J::Null => "null".into(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => serde_json::to_string(s).unwrap_or_default(),
        J::Array(items) => format!(
            "[{}]",
            items.iter().map(to_hcl_text).collect::<Vec<_>>().join(", ")
        ),
        J::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!(
                    "{} = {}",
                    serde_json::to_string(k).unwrap_or_default(),
                    to_hcl_text(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_to_body() {
        let b = parse(r#"{
          "variable": {"region": {"type": "string", "default": "us-east-1"}},
          "source": {"amazon-ebs": {"x": {"ami_name": "a-${var.region}", "tags": {"A": "b"},
             "launch_block_device_mappings": [{"device_name": "/dev/xvda"}]}}},
          "build": {"sources": ["source.amazon-ebs.x"], "provisioner": [{"shell": {"inline": ["echo"]}}]}
        }"#, false).unwrap();
        let text = b.to_string();
        assert!(text.contains("variable \"region\""), "{text}");
        assert!(text.contains("source \"amazon-ebs\" \"x\""), "{text}");
        assert!(text.contains("launch_block_device_mappings {"), "{text}");
        assert!(text.contains("provisioner \"shell\""), "{text}");
        // Re-parse to be sure the result is valid HCL.
        hcl_edit::parser::parse_body(&text).unwrap();
    }
}
