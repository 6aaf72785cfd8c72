//! Issue #3: the credential chain, assume_role, region, and `ambake whoami`, against moto with
//! signature checking on (so a wrong secret really fails) and a local IMDSv2.

use super::emu::{self, Moto, REGION};
use super::support::{Run, ambake, run, write};
use std::path::Path;
use std::process::Command;

/// Every secret any test in this module handed to ambake; no output may contain one.
const SECRET_MARKERS: &[&str] = &["secret", "Secret"];

struct World {
    moto: Moto,
    home: tempfile::TempDir,
    keys: Vec<(String, String, String)>,
    _imds: Option<emu::Proc>,
    imds_port: Option<u16>,
}

/// moto with auth on and four IAM users, one per link of the chain.
fn world(with_imds: bool) -> World {
    let moto = Moto::start(true);
    let rt = emu::rt();
    let mut keys = Vec::new();
    for name in ["static-user", "env-user", "profile-user", "imds-user"] {
        let (k, s) = rt.block_on(moto.user(name));
        keys.push((name.to_string(), k, s));
    }
    rt.block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk().await);
        iam.create_role()
            .role_name("builder")
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#)
            .send()
            .await
            .unwrap();
    });
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    let (_, pk, ps) = &keys[2];
    std::fs::write(aws.join("credentials"), format!("[default]\naws_access_key_id = {pk}\naws_secret_access_key = {ps}\n\n[build]\naws_access_key_id = {pk}\naws_secret_access_key = {ps}\n")).unwrap();
    std::fs::write(aws.join("config"), "[profile build]\nregion = eu-west-1\n").unwrap();
    let (imds, imds_port) = if with_imds {
        // An instance role's credentials are an assumed-role session: the harness assumes the
        // "builder" role as imds-user and serves the session the way EC2 does.
        let (_, ik, is) = &keys[3];
        let session = rt.block_on(async {
            let conf = aws_sdk_sts::config::Builder::from(&moto.sdk().await)
                .credentials_provider(aws_credential_types::Credentials::new(
                    ik, is, None, None, "harness",
                ))
                .build();
            let out = aws_sdk_sts::Client::from_conf(conf)
                .assume_role()
                .role_arn("arn:aws:iam::123456789012:role/builder")
                .role_session_name("i-0imds")
                .send()
                .await
                .unwrap();
            let c = out.credentials().unwrap().clone();
            (
                c.access_key_id().to_string(),
                c.secret_access_key().to_string(),
                c.session_token().to_string(),
            )
        });
        let log = moto.dir.path().join("imds-requests.log");
        let (p, port) = emu::helper(
            "imds.py",
            &[
                log.to_str().unwrap(),
                &session.0,
                &session.1,
                &session.2,
                REGION,
            ],
            moto.dir.path(),
        );
        (Some(p), Some(port))
    } else {
        (None, None)
    };
    moto.require_auth();
    World {
        moto,
        home,
        keys,
        _imds: imds,
        imds_port,
    }
}

impl World {
    fn key(&self, user: &str) -> (&str, &str) {
        let k = self.keys.iter().find(|k| k.0 == user).unwrap();
        (&k.1, &k.2)
    }
    /// ambake with an isolated HOME, moto as endpoint, and nothing else set.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = ambake(args);
        c.env("HOME", self.home.path())
            .env("AWS_ENDPOINT_URL", self.moto.url());
        for v in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE",
            "AWS_SESSION_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            c.env_remove(v);
        }
        match self.imds_port {
            Some(p) => {
                c.env_remove("AWS_EC2_METADATA_DISABLED").env(
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                    format!("http://127.0.0.1:{p}"),
                );
            }
            None => {
                c.env("AWS_EC2_METADATA_DISABLED", "true");
            }
        }
        c
    }
    fn with_env_keys(&self, c: &mut Command) {
        let (k, s) = self.key("env-user");
        c.env("AWS_ACCESS_KEY_ID", k)
            .env("AWS_SECRET_ACCESS_KEY", s);
    }
    fn static_template(&self, dir: &Path) -> String {
        let (k, s) = self.key("static-user");
        let t = format!(
            "source \"amazon-ebs\" \"x\" {{\n  region = \"{REGION}\"\n  access_key = \"{k}\"\n  secret_key = \"{s}\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-760aaa0f\"\n  communicator = \"none\"\n  ami_name = \"creds\"\n}}\nbuild {{\n  sources = [\"source.amazon-ebs.x\"]\n}}\n"
        );
        write(dir, "t.pkr.hcl", &t).to_string_lossy().into_owned()
    }
    fn all_secrets(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.2.clone()).collect()
    }
}

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout={} stderr={}", r.stdout, r.stderr))
}

fn assert_no_secrets(w: &World, r: &Run) {
    for s in w.all_secrets() {
        assert!(
            !r.stdout.contains(&s) && !r.stderr.contains(&s),
            "secret leaked:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    let _ = SECRET_MARKERS;
}

#[test]
fn chain_precedence_static_env_profile_imds() {
    let w = world(true);
    let d = tempfile::tempdir().unwrap();
    let t = w.static_template(d.path());

    // All four available: static keys in the template win.
    let mut c = w.cmd(&["whoami", "--json", &t]);
    w.with_env_keys(&mut c);
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let b = &json(&r)["builds"]["amazon-ebs.x"];
    assert_eq!(b["credentials"]["source"], "static");
    assert!(
        b["arn"].as_str().unwrap().ends_with(":user/static-user"),
        "{b}"
    );
    assert_no_secrets(&w, &r);

    // Env + profile + IMDS: the environment wins (as in Packer, over AWS_PROFILE too).
    let mut c = w.cmd(&["whoami", "--json", "--region", REGION]);
    w.with_env_keys(&mut c);
    c.env("AWS_PROFILE", "build");
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = json(&r);
    assert_eq!(j["credentials"]["source"], "environment");
    assert!(j["arn"].as_str().unwrap().ends_with(":user/env-user"));
    assert_no_secrets(&w, &r);

    // Profile + IMDS: the shared file wins; the profile's region is used.
    let mut c = w.cmd(&["whoami", "--json"]);
    c.env("AWS_PROFILE", "build");
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = json(&r);
    assert_eq!(j["credentials"]["source"], "shared-file");
    assert!(j["arn"].as_str().unwrap().ends_with(":user/profile-user"));
    assert_eq!(j["region"], "eu-west-1");
    assert_eq!(j["region_origin"], "profile \"build\"");

    // IMDS only: the instance role, fetched with an IMDSv2 token.
    std::fs::remove_dir_all(w.home.path().join(".aws")).unwrap();
    let r = run(w.cmd(&["whoami", "--json"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = json(&r);
    assert_eq!(j["credentials"]["source"], "instance-role");
    assert!(
        j["arn"]
            .as_str()
            .unwrap()
            .ends_with(":assumed-role/builder/i-0imds"),
        "{j}"
    );
    assert_eq!(j["region"], REGION, "region from instance metadata");
    assert_eq!(j["region_origin"], "instance metadata");
    assert!(j["expires"].as_str().is_some(), "role credentials expire");
    let log = std::fs::read_to_string(w.moto.dir.path().join("imds-requests.log")).unwrap();
    assert!(log.contains("PUT /latest/api/token"), "{log}");
    assert!(
        !log.contains("token=no")
            || log
                .lines()
                .filter(|l| l.starts_with("GET"))
                .all(|l| l.ends_with("token=yes")),
        "IMDSv1 request seen:\n{log}"
    );
    assert_no_secrets(&w, &r);
}

/// Container (ECS) credentials come after the shared files and before the instance role.
#[test]
fn container_credentials_beat_the_instance_role() {
    let w = world(true);
    std::fs::remove_dir_all(w.home.path().join(".aws")).unwrap();
    let mut c = w.cmd(&["whoami", "--json", "--region", REGION]);
    c.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("http://127.0.0.1:{}/ecs-creds", w.imds_port.unwrap()),
    );
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = json(&r);
    assert_eq!(j["credentials"]["source"], "container", "{j}");
    assert!(j["expires"].as_str().is_some());
    assert_no_secrets(&w, &r);
}

#[test]
fn explicit_missing_profile_fails_instead_of_falling_through() {
    let w = world(true);
    let mut c = w.cmd(&["whoami", "--region", REGION]);
    c.env("AWS_PROFILE", "nosuch");
    let r = run(c);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("profile \"nosuch\""), "{}", r.stderr);
    assert!(!r.stdout.contains("imds-user"));
}

#[test]
fn wrong_secret_is_rejected_with_the_aws_code() {
    let w = world(false);
    let mut c = w.cmd(&["whoami", "--region", REGION]);
    let (k, _) = w.key("env-user");
    c.env("AWS_ACCESS_KEY_ID", k)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-right-secret-value");
    let r = run(c);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("sts:GetCallerIdentity failed"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("InvalidClientTokenId")
            || r.stderr.contains("AuthFailure")
            || r.stderr.contains("SignatureDoesNotMatch"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-right-secret-value"));
    let mut c = w.cmd(&["whoami", "--json", "--region", REGION]);
    c.env("AWS_ACCESS_KEY_ID", k)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-right-secret-value");
    let r = run(c);
    assert_eq!(r.code, 1);
    assert_eq!(json(&r)["ok"], false);
}

#[test]
fn no_credentials_lists_every_source() {
    let w = world(false);
    std::fs::remove_dir_all(w.home.path().join(".aws")).unwrap();
    let r = run(w.cmd(&["whoami", "--region", REGION]));
    assert_eq!(r.code, 1);
    for s in [
        "1. environment",
        "2. shared config/credentials files",
        "3. container role",
        "4. instance role",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        assert!(r.stderr.contains(s), "missing {s:?} in:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"));
    // And no region anywhere is its own clear error.
    let mut c = w.cmd(&["whoami"]);
    w.with_env_keys(&mut c);
    let r = run(c);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no AWS region"), "{}", r.stderr);
}

#[test]
fn assume_role_with_every_option() {
    let w = world(false);
    let d = tempfile::tempdir().unwrap();
    let t = format!(
        r#"source "amazon-ebs" "x" {{
  region        = "{REGION}"
  instance_type = "t3.micro"
  source_ami    = "ami-760aaa0f"
  communicator  = "none"
  ami_name      = "creds"
  assume_role {{
    role_arn            = "arn:aws:iam::123456789012:role/builder"
    session_name        = "ambake-test-session"
    external_id         = "ext-123"
    duration_seconds    = 1800
    policy              = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "ec2:*", Resource = "*" }}] }})
    policy_arns         = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    tags                = {{ Team = "infra" }}
    transitive_tag_keys = ["Team"]
  }}
}}
build {{
  sources = ["source.amazon-ebs.x"]
}}
"#
    );
    let t = write(d.path(), "t.pkr.hcl", &t);
    let mut c = w.cmd(&["whoami", "--json", t.to_str().unwrap()]);
    w.with_env_keys(&mut c);
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let b = &json(&r)["builds"]["amazon-ebs.x"];
    assert_eq!(
        b["credentials"]["source"], "environment",
        "the base credentials"
    );
    assert_eq!(b["assumed_role"], "arn:aws:iam::123456789012:role/builder");
    assert_eq!(
        b["arn"],
        "arn:aws:sts::123456789012:assumed-role/builder/ambake-test-session"
    );
    assert_eq!(b["session"], "ambake-test-session");
    assert_no_secrets(&w, &r);
    // moto's recorder saw one AssumeRole carrying every option.
    let assume_calls = w
        .moto
        .recorded_bodies()
        .iter()
        .filter(|b| b.contains("Action=AssumeRole"))
        .count();
    assert_eq!(
        assume_calls, 1,
        "the session assumed up front is the one the SDK uses: one AssumeRole"
    );
    let call = w
        .moto
        .recorded_bodies()
        .into_iter()
        .find(|b| b.contains("Action=AssumeRole"));
    let call = call.expect("an AssumeRole call");
    for part in [
        "ExternalId=ext-123",
        "DurationSeconds=1800",
        "RoleSessionName=ambake-test-session",
        "PolicyArns.member.1.arn=",
        "Tags.member.1.Key=Team",
        "TransitiveTagKeys.member.1=Team",
        "Policy=",
    ] {
        assert!(call.contains(part), "AssumeRole lacks {part}: {call}");
    }
    // mfa_code: TokenCode plus the caller's virtual MFA device, and the code is never printed.
    let text = std::fs::read_to_string(&t).unwrap().replace(
        "  assume_role {",
        "  mfa_code      = \"918273\"\n  assume_role {",
    );
    std::fs::write(&t, text).unwrap();
    let mut c = w.cmd(&["whoami", t.to_str().unwrap()]);
    w.with_env_keys(&mut c);
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        !r.stdout.contains("918273") && !r.stderr.contains("918273"),
        "the MFA code was printed"
    );
    let with_mfa = w.moto.recorded_bodies().into_iter().any(|body| {
        let body = body.replace("%3A", ":").replace("%2F", "/");
        body.contains("Action=AssumeRole")
            && body.contains("TokenCode=918273")
            && body.contains("SerialNumber=arn:aws:iam::123456789012:mfa/env-user")
    });
    assert!(with_mfa, "no AssumeRole with the MFA code and device");
}

#[test]
fn clock_skew_is_reported() {
    let w = world(false);
    let dir = w.moto.dir.path().to_string_lossy().into_owned();
    let (_proxy, port) = emu::helper(
        "aws_proxy.py",
        &[
            &w.moto.port.to_string(),
            "--date-offset=-900",
            "--dir",
            &dir,
        ],
        w.moto.dir.path(),
    );
    let mut c = w.cmd(&["whoami", "--region", REGION]);
    w.with_env_keys(&mut c);
    c.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
    let r = run(c);
    assert_eq!(
        r.code, 0,
        "credentials work; the skew is a warning: {}{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stdout
            .contains("Warning: this machine's clock is 15m0s ahead of AWS's")
            || r.stdout.contains("ahead of AWS's"),
        "{}",
        r.stdout
    );
    let mut c = w.cmd(&["whoami", "--json", "--region", REGION]);
    w.with_env_keys(&mut c);
    c.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
    let j = json(&run(c));
    let skew = j["clock_skew_seconds"].as_i64().unwrap();
    assert!((895..=905).contains(&skew), "skew {skew}");
    // Without the proxy the clock is in sync.
    let mut c = w.cmd(&["whoami", "--region", REGION]);
    w.with_env_keys(&mut c);
    let r = run(c);
    assert!(r.stdout.contains("Clock:       in sync"), "{}", r.stdout);
}

#[test]
fn shared_credentials_file_option_and_per_source_identities() {
    let w = world(false);
    let d = tempfile::tempdir().unwrap();
    let (pk, ps) = w.key("static-user");
    let creds = write(
        d.path(),
        "creds",
        &format!("[special]\naws_access_key_id = {pk}\naws_secret_access_key = {ps}\n"),
    );
    let t = format!(
        "source \"amazon-ebs\" \"a\" {{\n  region = \"{REGION}\"\n  profile = \"special\"\n  shared_credentials_file = \"{}\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-1\"\n  communicator = \"none\"\n  ami_name = \"aaa\"\n}}\nsource \"amazon-ebs\" \"b\" {{\n  region = \"{REGION}\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-1\"\n  communicator = \"none\"\n  ami_name = \"bbb\"\n}}\nbuild {{\n  sources = [\"source.amazon-ebs.a\", \"source.amazon-ebs.b\"]\n}}\n",
        creds.display()
    );
    let t = write(d.path(), "t.pkr.hcl", &t);
    let r = run(w.cmd(&["whoami", "--json", t.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = json(&r);
    assert!(
        j["builds"]["amazon-ebs.a"]["arn"]
            .as_str()
            .unwrap()
            .ends_with("user/static-user")
    );
    assert!(
        j["builds"]["amazon-ebs.b"]["arn"]
            .as_str()
            .unwrap()
            .ends_with("user/profile-user"),
        "b uses ~/.aws default"
    );
    assert_no_secrets(&w, &r);
}

/// insecure_skip_tls_verify: an endpoint with a self-signed certificate (moto over HTTPS) is
/// refused by default and accepted with the option.
#[test]
fn self_signed_endpoint_needs_insecure_skip_tls_verify() {
    let moto = Moto::start_with(false, true);
    let d = tempfile::tempdir().unwrap();
    let url = format!("https://127.0.0.1:{}", moto.port);
    for insecure in [false, true] {
        let t = format!(
            "source \"amazon-ebs\" \"x\" {{\n  region = \"{REGION}\"\n  custom_endpoint_ec2 = \"{url}\"\n  insecure_skip_tls_verify = {insecure}\n  max_retries = 1\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-1\"\n  communicator = \"none\"\n  ami_name = \"tls-test\"\n}}\nbuild {{\n  sources = [\"source.amazon-ebs.x\"]\n}}\n"
        );
        let t = write(d.path(), "t.pkr.hcl", &t);
        let mut c = ambake(&["whoami", "--json", t.to_str().unwrap()]);
        c.env("HOME", d.path())
            .env("AWS_ACCESS_KEY_ID", emu::HARNESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", emu::HARNESS_SECRET);
        let r = run(c);
        let j = json(&r);
        let b = &j["builds"]["amazon-ebs.x"];
        if insecure {
            assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
            assert_eq!(b["account"], "123456789012");
        } else {
            assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
            let e = b["error"].as_str().unwrap_or_default().to_lowercase();
            assert!(
                e.contains("certificate")
                    || e.contains("unknownissuer")
                    || e.contains("tls")
                    || e.contains("io error"),
                "{e}"
            );
            eprintln!("without insecure_skip_tls_verify: {e}");
        }
    }
}

/// Issue #16: a template's `access_key = ""` / `secret_key = ""` (variables defaulting to "")
/// and every other empty access option mean "not set", as in Packer: the environment, then the
/// profile, win — in `whoami` and in a real build against moto with signatures checked.
#[test]
fn empty_template_keys_fall_through_to_the_environment_and_profile() {
    let w = world(false);
    let d = tempfile::tempdir().unwrap();
    let t = write(
        d.path(),
        "t.pkr.hcl",
        r#"variable "aws_access_key" {
  default = ""
}
variable "aws_secret_key" {
  default = ""
}
variable "empty" {
  default = ""
}
source "amazon-ebs" "x" {
  access_key              = var.aws_access_key
  secret_key              = var.aws_secret_key
  token                   = var.empty
  profile                 = var.empty
  shared_credentials_file = var.empty
  custom_endpoint_ec2     = var.empty
  mfa_code                = var.empty
  region                  = "us-east-1"
  instance_type           = "t3.micro"
  source_ami              = "ami-760aaa0f"
  communicator            = "none"
  ami_name                = "empty-keys-{{timestamp}}"
  assume_role {
    role_arn = var.empty
  }
}
build {
  sources = ["source.amazon-ebs.x"]
}
"#,
    );
    let t = t.to_str().unwrap();

    // The environment's keys: whoami says so, and a whole build signs with them.
    let mut c = w.cmd(&["whoami", "--json", t]);
    w.with_env_keys(&mut c);
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let b = &json(&r)["builds"]["amazon-ebs.x"];
    assert_eq!(b["credentials"]["source"], "environment", "{b}");
    assert!(
        b["arn"].as_str().unwrap().ends_with(":user/env-user"),
        "{b}"
    );
    assert_no_secrets(&w, &r);

    let mut c = w.cmd(&["build", t]);
    w.with_env_keys(&mut c);
    c.current_dir(d.path())
        .env("AMBAKE_STATE_DIR", d.path().join("state"));
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("credentials from environment"),
        "{}",
        r.stdout
    );
    assert_no_secrets(&w, &r);

    // No environment keys: the profile wins.
    let mut c = w.cmd(&["whoami", "--json", t]);
    c.env("AWS_PROFILE", "build");
    let r = run(c);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let b = &json(&r)["builds"]["amazon-ebs.x"];
    assert_eq!(b["credentials"]["source"], "shared-file", "{b}");
    assert!(
        b["arn"].as_str().unwrap().ends_with(":user/profile-user"),
        "{b}"
    );

    // Half set: one key written, the other empty, is Packer's error.
    let (k, _) = w.key("static-user");
    let half = std::fs::read_to_string(t)
        .unwrap()
        .replace("var.aws_access_key", &format!("\"{k}\""));
    let half = write(d.path(), "half.pkr.hcl", &half);
    let r = run(w.cmd(&["validate", half.to_str().unwrap()]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("`access_key` and `secret_key` must both be either set or not set."),
        "{}",
        r.stderr
    );
}
