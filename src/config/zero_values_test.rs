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
