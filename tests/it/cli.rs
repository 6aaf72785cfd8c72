//! Command-line behaviour: flags, exit codes, variable precedence, directories, stdin, JSON,
//! masking of sensitive values, inspect, fmt.

use super::support::{ambake, repo, run, run_stdin, write};

const SRC: &str = r#"
variable "region" {
  type    = string
  default = "from-default"
}
variable "secret" {
  type      = string
  default   = "s3cr3t-value"
  sensitive = true
}
source "amazon-ebs" "x" {
  region        = var.region
  instance_type = "t3.micro"
  source_ami    = "ami-760aaa0f"
  ssh_username  = "ec2-user"
  ami_name      = "cli-test"
  tags          = { Secret = var.secret }
}
build {
  sources = ["source.amazon-ebs.x"]
}
"#;

fn region_of(r: &super::support::Run) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    v["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "region")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn variable_precedence_default_env_auto_file_cli() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "t.pkr.hcl", SRC);
    let dir = d.path().to_str().unwrap();
    let r = run(ambake(&["inspect", "--json", dir]));
    assert_eq!(region_of(&r), "from-default");

    let mut c = ambake(&["inspect", "-json", dir]);
    c.env("PKR_VAR_region", "from-env");
    assert_eq!(region_of(&run(c)), "from-env");

    write(d.path(), "a.auto.pkrvars.hcl", "region = \"from-auto\"\n");
    let mut c = ambake(&["inspect", "-json", dir]);
    c.env("PKR_VAR_region", "from-env");
    assert_eq!(region_of(&run(c)), "from-auto");

    let f1 = write(d.path(), "one.pkrvars.hcl", "region = \"from-file-1\"\n");
    let f2 = write(
        d.path(),
        "two.pkrvars.json",
        "{\"region\": \"from-file-2\"}",
    );
    let r = run(ambake(&[
        "inspect",
        "-json",
        "-var-file",
        f1.to_str().unwrap(),
        &format!("-var-file={}", f2.display()),
        dir,
    ]));
    assert_eq!(region_of(&r), "from-file-2", "later -var-file wins");

    let r = run(ambake(&[
        "inspect",
        "-json",
        "-var-file",
        f1.to_str().unwrap(),
        "-var",
        "region=from-cli",
        dir,
    ]));
    assert_eq!(region_of(&r), "from-cli");
}

#[test]
fn undeclared_var_in_file_warns_but_on_cli_fails() {
    let d = tempfile::tempdir().unwrap();
    let t = write(d.path(), "t.pkr.hcl", SRC);
    let f = write(d.path(), "x.pkrvars.hcl", "regoin = \"typo\"\n");
    let r = run(ambake(&[
        "validate",
        "-var-file",
        f.to_str().unwrap(),
        t.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("Warning: undeclared variable \"regoin\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("x.pkrvars.hcl:1:1"), "{}", r.stderr);
    let r = run(ambake(&[
        "validate",
        "-var",
        "regoin=x",
        t.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("did you mean \"region\"?"),
        "{}",
        r.stderr
    );
}

#[test]
fn sensitive_values_never_printed() {
    let d = tempfile::tempdir().unwrap();
    let t = write(d.path(), "t.pkr.hcl", SRC);
    let t = t.to_str().unwrap();
    for args in [
        vec!["inspect", t],
        vec!["inspect", "--json", t],
        vec!["validate", t],
    ] {
        let r = run(ambake(&args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            !r.stdout.contains("s3cr3t-value") && !r.stderr.contains("s3cr3t-value"),
            "{args:?} leaked: {}{}",
            r.stdout,
            r.stderr
        );
    }
    let r = run(ambake(&["inspect", t]));
    assert!(r.stdout.contains("var.secret: <sensitive>"), "{}", r.stdout);
    // Also masked inside error messages.
    let bad = write(
        d.path(),
        "bad.pkr.hcl",
        &SRC.replace(
            "ami_name      = \"cli-test\"",
            "ami_name = \"cli-test\"\n  ssh_timeout = var.secret",
        ),
    );
    let r = run(ambake(&["validate", bad.to_str().unwrap()]));
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains("s3cr3t-value"), "{}", r.stderr);
    assert!(r.stderr.contains("<sensitive>"), "{}", r.stderr);
}

#[test]
fn stdin_and_json_templates() {
    let r = run_stdin(ambake(&["validate", "-"]), SRC);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = tempfile::tempdir().unwrap();
    let json = r#"{
      "variable": {"region": {"default": "us-east-1"}},
      "source": {"amazon-ebs": {"x": {"region": "${var.region}", "instance_type": "t3.micro", "source_ami": "ami-760aaa0f",
        "ssh_username": "ec2-user", "ami_name": "json-{{timestamp}}", "tags": {"A": "b"}}}},
      "build": {"sources": ["source.amazon-ebs.x"], "provisioner": [{"shell": {"inline": ["echo hi"]}}]}
    }"#;
    let t = write(d.path(), "t.pkr.json", json);
    let r = run(ambake(&["inspect", "--json", t.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["builds"][0]["config"]["region"], "us-east-1");
    assert_eq!(v["builds"][0]["provisioners"][0]["type"], "shell");
}

#[test]
fn exit_codes_and_usage() {
    assert_eq!(
        run(ambake(&["validate"])).code,
        2,
        "missing argument is a usage error"
    );
    assert_eq!(run(ambake(&["frobnicate"])).code, 2);
    let r = run(ambake(&["validate", "does/not/exist.pkr.hcl"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("cannot read template does/not/exist.pkr.hcl"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
    let r = run(ambake(&[
        "build",
        "-on-error=sometimes",
        "templates/al2023.pkr.hcl",
    ]));
    assert_eq!(r.code, 2, "a bad flag value is a usage error");
    let r = run(ambake(&["cleanup"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("say which build to clean up"),
        "{}",
        r.stderr
    );
    let r = run(ambake(&["--help"]));
    assert_eq!(r.code, 0);
    for c in [
        "build", "validate", "inspect", "fmt", "whoami", "cleanup", "version",
    ] {
        assert!(r.stdout.contains(c), "help lists {c}");
    }
    let r = run(ambake(&["version"]));
    assert!(r.stdout.starts_with("ambake "));
    let r = run(ambake(&[
        "validate",
        "-syntax-only",
        "templates/al2023.pkr.hcl",
    ]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Syntax-only check passed"));
}

#[test]
fn validate_machine_readable() {
    let r = run(ambake(&[
        "validate",
        "-machine-readable",
        "tests/fixtures/err_many_errors.pkr.hcl",
    ]));
    assert_eq!(r.code, 1);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines.iter().filter(|l| l.contains(",ui,error,")).count() >= 3,
        "{}",
        r.stdout
    );
    assert!(
        lines.iter().any(|l| l.ends_with(",error-count,3")),
        "{}",
        r.stdout
    );
    assert!(
        lines.iter().all(|l| !l.contains('\n')
            && l.split(',')
                .next()
                .is_some_and(|t| t.parse::<i64>().is_ok())),
        "{}",
        r.stdout
    );
    let r = run(ambake(&[
        "validate",
        "-machine-readable",
        "templates/al2023.pkr.hcl",
    ]));
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .trim_end()
            .ends_with(",ui,say,The configuration is valid."),
        "{}",
        r.stdout
    );
}

#[test]
fn only_and_except_select_builds() {
    let d = tempfile::tempdir().unwrap();
    let two = format!(
        "{SRC}\nsource \"amazon-ebs\" \"y\" {{\n  region = \"us-east-1\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-1\"\n  ssh_username = \"u\"\n  ami_name = \"yyy\"\n}}\nbuild {{\n  name = \"b2\"\n  sources = [\"source.amazon-ebs.y\"]\n}}\n"
    );
    let t = write(d.path(), "t.pkr.hcl", &two);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["inspect", "--json"];
        a.extend_from_slice(args);
        a.push(t.to_str().unwrap());
        let r = run(ambake(&a));
        let v: serde_json::Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{}", r.stderr));
        v["builds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&[]), vec!["amazon-ebs.x", "b2.amazon-ebs.y"]);
    let r = run(ambake(&["validate", "-only=b2.*", t.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(ambake(&[
        "validate",
        "-except=amazon-ebs.x",
        "-only=nomatch",
        t.to_str().unwrap(),
    ]));
    assert!(
        r.stderr.contains("-only=nomatch matches no build"),
        "{}",
        r.stderr
    );
}

#[test]
fn fmt_check_diff_write_and_stdin() {
    let d = tempfile::tempdir().unwrap();
    let messy = "source \"amazon-ebs\" \"x\" {\nregion=\"us-east-1\"\n    instance_type = \"t3.micro\" # cheap\n}\n";
    let f = write(d.path(), "m.pkr.hcl", messy);
    let r = run(ambake(&["fmt", "-check", f.to_str().unwrap()]));
    assert_eq!(r.code, 3, "unformatted file: exit 3 like packer fmt -check");
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        messy,
        "-check writes nothing"
    );
    let r = run(ambake(&["fmt", "-diff", f.to_str().unwrap()]));
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("+  region        = \"us-east-1\""),
        "{}",
        r.stdout
    );
    let formatted = std::fs::read_to_string(&f).unwrap();
    assert_eq!(
        formatted,
        "source \"amazon-ebs\" \"x\" {\n  region        = \"us-east-1\"\n  instance_type = \"t3.micro\" # cheap\n}\n"
    );
    assert_eq!(
        run(ambake(&["fmt", "-check", f.to_str().unwrap()])).code,
        0,
        "idempotent"
    );
    let r = run_stdin(ambake(&["fmt", "-"]), messy);
    assert_eq!(r.stdout, formatted);
    let broken = write(d.path(), "b.pkr.hcl", "a = \"x\n");
    let r = run(ambake(&["fmt", broken.to_str().unwrap()]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("b.pkr.hcl:1:"), "{}", r.stderr);
}

#[test]
fn fmt_is_idempotent_on_every_fixture_and_template() {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(repo().join("tests/fixtures"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.extend(
        std::fs::read_dir(repo().join("templates"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path())),
    );
    for f in files
        .iter()
        .filter(|f| f.to_string_lossy().ends_with(".pkr.hcl"))
    {
        let src = std::fs::read_to_string(f).unwrap();
        let Ok(once) = ambake::fmt::format(&src) else {
            continue;
        };
        let twice = ambake::fmt::format(&once)
            .unwrap_or_else(|e| panic!("{}: formatted output does not parse: {e}", f.display()));
        assert_eq!(once, twice, "{} not idempotent", f.display());
        // Formatting never changes meaning: the same structure parses back.
        let a: hcl::Body = hcl::parse(&src).unwrap();
        let b: hcl::Body = hcl::parse(&once).unwrap();
        assert_eq!(a, b, "{} changed meaning", f.display());
    }
}

#[test]
fn completions_and_man_page_in_repo_are_current() {
    let r = run(ambake(&["completions", "bash"]));
    assert_eq!(r.code, 0);
    let committed = std::fs::read_to_string(repo().join("completions/ambake.bash"))
        .expect("completions/ambake.bash (regenerate with scripts/gen-completions)");
    assert_eq!(
        r.stdout, committed,
        "completions/ambake.bash is stale: run scripts/gen-completions"
    );
    let r = run(ambake(&["man"]));
    let committed = std::fs::read_to_string(repo().join("man/ambake.1")).expect("man/ambake.1");
    assert_eq!(
        r.stdout, committed,
        "man/ambake.1 is stale: run scripts/gen-completions"
    );
}

#[test]
fn provisioner_override_applies_per_source() {
    let d = tempfile::tempdir().unwrap();
    let t = write(
        d.path(),
        "t.pkr.hcl",
        &format!(
            "{SRC}\nsource \"amazon-ebs\" \"y\" {{\n  region = \"us-east-1\"\n  instance_type = \"t3.micro\"\n  source_ami = \"ami-1\"\n  ssh_username = \"u\"\n  ami_name = \"yyy\"\n}}\nbuild {{\n  sources = [\"source.amazon-ebs.y\"]\n  provisioner \"shell\" {{\n    inline = [\"echo default\"]\n    override = {{ \"amazon-ebs.y\" = {{ inline = [\"echo for-y\"], override = {{}} }} }}\n  }}\n}}\n"
        ),
    );
    let r = run(ambake(&["inspect", "--json", t.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let y = v["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "amazon-ebs.y")
        .unwrap();
    assert_eq!(y["provisioners"][0]["config"]["inline"][0], "echo for-y");
}

#[test]
fn literal_secret_options_are_masked_too() {
    let d = tempfile::tempdir().unwrap();
    let src = SRC.replace("  ami_name      = \"cli-test\"", "  ami_name = \"cli-test\"\n  access_key = \"AKIALITERAL000000000\"\n  secret_key = \"literal-secret-value\"\n  token = \"literal-session-token\"");
    let t = write(d.path(), "t.pkr.hcl", &src);
    for args in [vec!["inspect", "--json"], vec!["inspect"], vec!["validate"]] {
        let mut a = args.clone();
        a.push(t.to_str().unwrap());
        let r = run(ambake(&a));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        for s in ["literal-secret-value", "literal-session-token"] {
            assert!(
                !r.stdout.contains(s) && !r.stderr.contains(s),
                "{args:?} printed {s}: {}",
                r.stdout
            );
        }
    }
}

/// Issue #12: colours on a terminal only — each build in its own colour — and none with
/// NO_COLOR, with -color=false, or when stdout is not a terminal.
#[test]
fn colours_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(
        dir.path(),
        "t.pkr.hcl",
        "source \"amazon-ebs\" \"x\" {\n  region        = \"us-east-1\"\n  instance_type = \"t3.micro\"\n  source_ami    = \"ami-760aaa0f\"\n  communicator  = \"none\"\n  ami_name      = \"colours\"\n  max_retries   = 1\n}\nbuild {\n  sources = [\"source.amazon-ebs.x\"]\n}\n",
    );
    // No AWS here: the build fails on its first call, which is enough to see the output.
    let bin = env!("CARGO_BIN_EXE_ambake");
    let under_pty = |extra_env: &str, flags: &str| {
        let cmd = format!(
            "{extra_env} AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=AKIAX AWS_SECRET_ACCESS_KEY=x AWS_MAX_ATTEMPTS=1 AWS_EC2_METADATA_DISABLED=true AMBAKE_STATE_DIR={} {bin} build {flags} {}",
            dir.path().join("state").display(),
            t.display()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .expect("script(1) from util-linux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tty = under_pty("", "");
    assert!(tty.contains("\x1b[32m"), "a colour on a terminal: {tty:?}");
    assert!(tty.contains("output will be in this color."), "{tty:?}");
    // Colour is SGR `ESC[…m`; the live status line may still move the cursor.
    let sgr = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
    let no_color = under_pty("NO_COLOR=1", "");
    assert!(!sgr.is_match(&no_color), "NO_COLOR: {no_color:?}");
    let flag = under_pty("", "-color=false");
    assert!(!sgr.is_match(&flag), "-color=false: {flag:?}");
    let mut c = ambake(&["build", t.to_str().unwrap()]);
    c.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "AKIAX")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AMBAKE_STATE_DIR", dir.path().join("state"));
    let piped = run(c);
    assert!(
        !piped.stdout.contains('\x1b'),
        "not a terminal: {:?}",
        piped.stdout
    );
    assert!(!piped.stdout.contains("output will be in this color"));
}
