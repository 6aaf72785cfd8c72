//! Packer's zero-value rule, option by option: every option of the amazon-ebs schema set to its
//! Go zero value (`""`, `0`, `false`, `[]`, `{}`) validates and yields the same typed
//! configuration as leaving it out — the same input to every step, hence the same requests —
//! except where Packer itself differs: empty durations are errors, and `false` is a choice for
//! the tri-state options.

use super::schema::{AMAZON_EBS, FALSE_IS_SET, Kind, ZERO_IS_INVALID};
use super::{PlanOptions, plan};
use crate::diag::Diagnostics;
use crate::template::{self, LoadOptions, UnknownData};

/// The options the base template needs set (a zero value there is "missing", as in Packer).
const REQUIRED: &[&str] = &[
    "region",
    "instance_type",
    "source_ami",
    "ssh_username",
    "ami_name",
];

fn base(extra: &str) -> String {
    format!(
        r#"source "amazon-ebs" "x" {{
  region        = "us-east-1"
  instance_type = "t3.micro"
  source_ami    = "ami-760aaa0f"
  ssh_username  = "ec2-user"
  ami_name      = "zero-value-test"
  {extra}
}}
build {{
  sources = ["source.amazon-ebs.x"]
}}
"#
    )
}

fn load(dir: &std::path::Path, text: &str) -> (Diagnostics, Option<super::ebs::AmazonEbs>) {
    let path = dir.join("t.pkr.hcl");
    std::fs::write(&path, text).unwrap();
    let mut diags = Diagnostics::default();
    let opts = LoadOptions {
        path: path.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let Ok(cfg) = template::load(&opts, &UnknownData, &mut diags) else {
        return (diags, None);
    };
    let plans = plan(&cfg, &PlanOptions::default(), &mut diags);
    (diags, plans.into_iter().next().map(|p| p.config))
}

#[test]
fn every_option_at_its_zero_value_is_as_if_absent() {
    let dir = tempfile::tempdir().unwrap();
    let (d, absent) = load(dir.path(), &base(""));
    assert!(!d.has_errors(), "the base template: {:?}", d.items);
    let absent = absent.unwrap();
    let mut checked = 0;
    for f in AMAZON_EBS {
        // Options not supported yet are included: their zero value asks nothing of ambake.
        if REQUIRED.contains(&f.name) {
            continue;
        }
        let zero = match f.kind {
            Kind::Str => "\"\"",
            Kind::Int => "0",
            Kind::Bool => "false",
            Kind::StrList | Kind::NumList => "[]",
            Kind::StrMap => "{}",
            Kind::Any | Kind::Block(_) | Kind::Blocks(_) => continue,
        };
        let (d, typed) = load(dir.path(), &base(&format!("{} = {zero}", f.name)));
        if ZERO_IS_INVALID.contains(&f.name) {
            assert!(d.has_errors(), "{} = {zero}: Packer rejects it", f.name);
        } else if FALSE_IS_SET.contains(&f.name) {
            assert!(!d.has_errors(), "{} = {zero}: {:?}", f.name, d.items);
        } else {
            assert!(!d.has_errors(), "{} = {zero}: {:?}", f.name, d.items);
            assert_eq!(
                typed.as_ref(),
                Some(&absent),
                "{} = {zero} must configure exactly what leaving it out does",
                f.name
            );
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} options checked");
}

/// The same rule for every provisioner and post-processor option: a zero value types exactly
/// as leaving the option out.
#[test]
fn every_plugin_option_at_its_zero_value_is_as_if_absent() {
    use super::schema;
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("site.yml");
    std::fs::write(&playbook, "- hosts: all\n").unwrap();
    let pb = playbook.display();
    // (block, type, its options, what the base block must set)
    let cases: Vec<(&str, &str, &[schema::Field], String)> = vec![
        (
            "provisioner",
            "shell",
            schema::SHELL,
            "inline = [\"true\"]".into(),
        ),
        (
            "provisioner",
            "file",
            schema::FILE,
            "content = \"x\"\n destination = \"/tmp/x\"".into(),
        ),
        (
            "provisioner",
            "shell-local",
            schema::SHELL_LOCAL,
            "inline = [\"true\"]".into(),
        ),
        (
            "provisioner",
            "breakpoint",
            schema::BREAKPOINT,
            String::new(),
        ),
        (
            "provisioner",
            "ansible",
            schema::ANSIBLE,
            format!("playbook_file = \"{pb}\"\n skip_version_check = true"),
        ),
        (
            "provisioner",
            "ansible-local",
            schema::ANSIBLE_LOCAL,
            format!("playbook_file = \"{pb}\""),
        ),
        (
            "post-processor",
            "manifest",
            schema::MANIFEST,
            String::new(),
        ),
        (
            "post-processor",
            "checksum",
            schema::CHECKSUM,
            String::new(),
        ),
        (
            "post-processor",
            "compress",
            schema::COMPRESS,
            String::new(),
        ),
        (
            "post-processor",
            "artifice",
            schema::ARTIFICE,
            "files = [\"x\"]".into(),
        ),
    ];
    let typed = |block: &str, kind: &str, body: &str| -> (Diagnostics, Option<serde_json::Value>) {
        let text = base("").replace(
            "sources = [\"source.amazon-ebs.x\"]",
            &format!("sources = [\"source.amazon-ebs.x\"]\n  {block} \"{kind}\" {{\n {body}\n }}"),
        );
        let path = dir.path().join("p.pkr.hcl");
        std::fs::write(&path, text).unwrap();
        let mut diags = Diagnostics::default();
        let opts = LoadOptions {
            path: path.to_string_lossy().into_owned(),
            ..Default::default()
        };
        let Ok(cfg) = template::load(&opts, &UnknownData, &mut diags) else {
            return (diags, None);
        };
        let plans = plan(&cfg, &PlanOptions::default(), &mut diags);
        let v = plans.into_iter().next().map(|p| {
            if block == "provisioner" {
                serde_json::to_value(&p.provisioners).unwrap()
            } else {
                serde_json::to_value(&p.post_processors).unwrap()
            }
        });
        (diags, v)
    };
    let mut checked = 0;
    for (block, kind, fields, required) in cases {
        let (d, absent) = typed(block, kind, &required);
        assert!(!d.has_errors(), "{kind} base: {:?}", d.items);
        for f in fields {
            if required.contains(&format!("{} =", f.name)) {
                continue;
            }
            let zero = match f.kind {
                Kind::Str => "\"\"",
                Kind::Int => "0",
                Kind::Bool => "false",
                Kind::StrList | Kind::NumList => "[]",
                Kind::StrMap => "{}",
                Kind::Any | Kind::Block(_) | Kind::Blocks(_) => continue,
            };
            let (d, v) = typed(block, kind, &format!("{required}\n {} = {zero}", f.name));
            if ZERO_IS_INVALID.contains(&f.name) {
                assert!(
                    d.has_errors(),
                    "{kind}.{} = {zero}: Packer rejects it",
                    f.name
                );
            } else if FALSE_IS_SET.contains(&f.name) {
                assert!(!d.has_errors(), "{kind}.{} = {zero}: {:?}", f.name, d.items);
            } else {
                assert!(!d.has_errors(), "{kind}.{} = {zero}: {:?}", f.name, d.items);
                assert_eq!(v, absent, "{kind}.{} = {zero} must type as absent", f.name);
            }
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} plugin options checked");
}
