//! `ambake iam-policy`, checked against moto's IAM enforcement: a user holding only the generated
//! policy completes the build, and taking away any one action the successful build needs makes
//! it fail on exactly that action. So the policy is sufficient and has nothing extra.

use super::emu::{self, Moto, REGION};
use super::support::{ambake, run as run_cli, write};

const TEMPLATE: &str = r#"variable "n" {
  type = string
}
source "amazon-ebs" "p" {
  region        = "us-east-1"
  instance_type = "t2.micro"
  source_ami    = "ami-760aaa0f"
  communicator  = "none"
  ami_name      = "policy-${var.n}"
  ami_regions   = ["us-west-2"]
  ami_users     = ["111122223333"]
  tags          = { Name = "policy" }
}
build {
  sources = ["source.amazon-ebs.p"]
}
"#;

#[test]
fn generated_policy_is_sufficient_and_minimal() {
    let moto = Moto::start(true);
    let dir = tempfile::tempdir().unwrap();
    let t = write(dir.path(), "t.pkr.hcl", TEMPLATE);
    let t = t.to_str().unwrap();
    let r = run_cli(ambake(&["iam-policy", "-var", "n=x", t]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let actions: Vec<String> = doc["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let explain = run_cli(ambake(&["iam-policy", "--explain", "-var", "n=x", t])).stdout;
    let success_path: Vec<String> = actions
        .iter()
        .filter(|a| {
            explain
                .lines()
                .any(|l| l.starts_with(a.as_str()) && !l.contains("only when a build fails"))
        })
        .cloned()
        .collect();

    let rt = emu::rt();
    let admin = rt.block_on(moto.user("admin"));
    moto.require_auth();
    let policy_with = |acts: &[String]| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": acts, "Resource": "*"}]}).to_string()
    };
    let build_as = |user: &str, acts: &[String], n: &str| {
        let (k, s) = rt.block_on(moto.user_with_policy(
            user,
            &policy_with(acts),
            Some((&admin.0, &admin.1)),
        ));
        let mut c = ambake(&["build", "-var", &format!("n={n}"), t]);
        c.current_dir(dir.path())
            .env("AWS_ENDPOINT_URL", moto.url())
            .env("AWS_ACCESS_KEY_ID", k)
            .env("AWS_SECRET_ACCESS_KEY", s)
            .env("AMBAKE_STATE_DIR", dir.path().join("state"))
            .env("HOME", dir.path())
            .env_remove("AWS_REGION");
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };

    let (code, out) = build_as("builder", &actions, "full");
    assert_eq!(
        code, 0,
        "the generated policy ({actions:?}) is not enough:\n{out}"
    );

    for (i, missing) in success_path.iter().enumerate() {
        let fewer: Vec<String> = actions.iter().filter(|a| *a != missing).cloned().collect();
        let started = std::time::Instant::now();
        let (code, out) = build_as(&format!("builder-{i}"), &fewer, &format!("without-{i}"));
        eprintln!(
            "without {missing}: exit {code} after {:?}",
            started.elapsed()
        );
        assert_eq!(
            code, 1,
            "the build succeeded without {missing}, so the policy has an extra action:\n{out}"
        );
        assert!(
            out.contains(missing.as_str()),
            "the failure names {missing}:\n{out}"
        );
    }
    eprintln!(
        "iam-policy: {} actions, each of the {} success-path ones is needed",
        actions.len(),
        success_path.len()
    );
    let _ = REGION;
}

/// Issue #16: with assume_role, the caller needs sts:AssumeRole on the role and the role needs
/// the build's actions: both documents, by principal. An empty role_arn assumes nothing.
#[test]
fn assume_role_templates_get_a_caller_and_a_role_policy() {
    let dir = tempfile::tempdir().unwrap();
    let with_role = TEMPLATE.replace(
        "  tags          = { Name = \"policy\" }",
        "  tags          = { Name = \"policy\" }\n  assume_role {\n    role_arn = \"arn:aws:iam::123456789012:role/builder\"\n    tags     = { team = \"images\" }\n  }",
    );
    let t = write(dir.path(), "t.pkr.hcl", &with_role);
    let t = t.to_str().unwrap();
    let r = run_cli(ambake(&["iam-policy", "-var", "n=x", t]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let caller = &doc["caller"]["Statement"][0];
    assert_eq!(
        caller["Action"],
        serde_json::json!(["sts:AssumeRole", "sts:TagSession"]),
        "{doc}"
    );
    assert_eq!(
        caller["Resource"],
        serde_json::json!(["arn:aws:iam::123456789012:role/builder"])
    );
    let role_actions = doc["role"]["Statement"][0]["Action"].to_string();
    assert!(role_actions.contains("ec2:CreateImage"), "{doc}");
    assert!(!role_actions.contains("sts:AssumeRole"), "{doc}");

    let r = run_cli(ambake(&["iam-policy", "--for", "caller", "-var", "n=x", t]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let only: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(only, doc["caller"]);

    // role_arn = "" (a variable's empty default): no role, one document as before.
    let no_role = with_role.replace("arn:aws:iam::123456789012:role/builder", "");
    let t = write(dir.path(), "t2.pkr.hcl", &no_role);
    let r = run_cli(ambake(&["iam-policy", "-var", "n=x", t.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(doc["Statement"][0]["Action"].is_array(), "{doc}");
}

/// Data sources and Session Manager add what they call: ssm:GetParameter,
/// secretsmanager:GetSecretValue, ssm:StartSession/TerminateSession — and with Session Manager
/// no ingress rule is needed.
#[test]
fn data_sources_and_session_manager_are_in_the_policy() {
    let r = run_cli(ambake(&[
        "iam-policy",
        "tests/fixtures/valid_real_secrets_and_parameters.pkr.hcl",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for a in ["ssm:GetParameter", "secretsmanager:GetSecretValue"] {
        assert!(r.stdout.contains(a), "{a}: {}", r.stdout);
    }
    let r = run_cli(ambake(&[
        "iam-policy",
        "tests/fixtures/valid_real_session_manager.pkr.hcl",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for a in ["ssm:StartSession", "ssm:TerminateSession"] {
        assert!(r.stdout.contains(a), "{a}: {}", r.stdout);
    }
    assert!(
        !r.stdout.contains("ec2:AuthorizeSecurityGroupIngress"),
        "{}",
        r.stdout
    );
}
