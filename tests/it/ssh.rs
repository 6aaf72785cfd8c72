//! Issue #5: the SSH communicator and the shell/file provisioners, in whole builds against moto
//! with a real sshd on 127.0.0.1 as the instance. Outcomes are checked on the "instance": files
//! written by ec2-user, environment seen by scripts, exit codes, transfers compared byte for byte.

use super::build::{Bench, leftovers, run};
use super::emu::{self, REGION};
use super::sshd::{Sshd, USER};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub(super) fn template(b: &Bench, port: u16, source_extra: &str, provisioners: &str) -> PathBuf {
    let t = format!(
        r#"source "amazon-ebs" "demo" {{
  region        = "{REGION}"
  instance_type = "t2.micro"
  source_ami    = "ami-760aaa0f"
  ami_name      = "ambake-ssh-{{{{timestamp}}}}"
  ssh_username  = "{USER}"
  ssh_host      = "127.0.0.1"
  ssh_port      = {port}
  ssh_timeout   = "60s"
{source_extra}
}}
build {{
  sources = ["source.amazon-ebs.demo"]
{provisioners}
}}
"#
    );
    let p = b.dir.path().join("t.pkr.hcl");
    std::fs::write(&p, t).unwrap();
    p
}

pub(super) fn remote_dir() -> String {
    format!("/tmp/ambake-it-{}", uuid::Uuid::new_v4().simple())
}

pub(super) fn owner(path: &str) -> String {
    let out = std::process::Command::new("stat")
        .args(["-c", "%U", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn temporary_key_pairs_log_in_and_shell_changes_the_instance() {
    for key_type in ["rsa", "ed25519"] {
        let b = Bench::new(&[]);
        let sshd = Sshd::start(Some(&b.moto));
        let rd = remote_dir();
        let scripts_dir = format!("{rd}-scripts");
        std::fs::create_dir_all(&scripts_dir).unwrap();
        std::process::Command::new("chmod")
            .args(["1777", &scripts_dir])
            .status()
            .unwrap();
        let script = b.dir.path().join("s.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho from-script > {rd}/script-ran\n"),
        )
        .unwrap();
        let prov = format!(
            r#"  provisioner "shell" {{
    inline           = ["mkdir -p {rd}", "whoami > {rd}/whoami", "echo \"$GREETING $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE\" > {rd}/env", "echo streamed-line"]
    environment_vars = ["GREETING=hello world"]
  }}
  provisioner "shell" {{
    script        = "{script}"
    remote_folder = "{scripts_dir}"
  }}
  provisioner "shell" {{
    inline           = ["echo \"$FROM_FILE\" > {rd}/envfile"]
    env              = {{ FROM_FILE = "it's quoted" }}
    use_env_var_file = true
  }}"#,
            script = script.display()
        );
        let t = template(
            &b,
            sshd.port,
            &format!("  temporary_key_pair_type = \"{key_type}\""),
            &prov,
        );
        let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
        assert_eq!(code, 0, "{key_type}: {out}\n--- sshd log:\n{}", sshd.log());
        assert!(out.contains("Connected to SSH!"), "{out}");
        assert!(
            out.contains("amazon-ebs.demo: streamed-line"),
            "remote output is streamed with the build's prefix: {out}"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/whoami"))
                .unwrap()
                .trim(),
            USER
        );
        assert_eq!(
            owner(&format!("{rd}/whoami")),
            USER,
            "written by the remote user"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/env")).unwrap().trim(),
            "hello world demo amazon-ebs"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/script-ran"))
                .unwrap()
                .trim(),
            "from-script"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/envfile"))
                .unwrap()
                .trim(),
            "it's quoted"
        );
        assert!(
            sshd.log()
                .contains(&format!("Accepted publickey for {USER}")),
            "{}",
            sshd.log()
        );
        let expect_alg = if key_type == "rsa" { "RSA" } else { "ED25519" };
        assert!(
            sshd.log().contains(expect_alg),
            "logged in with the {key_type} key: {}",
            sshd.log()
        );
        // Scripts are removed after running (skip_clean = false).
        let left: Vec<_> = std::fs::read_dir(&scripts_dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .collect();
        assert!(left.is_empty(), "uploaded scripts left behind: {left:?}");
        let _ = std::fs::remove_dir_all(&scripts_dir);
        let rest = emu::rt().block_on(leftovers(&b.moto, true));
        assert!(rest.is_empty(), "{key_type}: leaked {rest:?}");
        let _ = std::fs::remove_dir_all(&rd);
    }
}

#[test]
fn exit_codes_are_honoured() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let t = template(
        &b,
        sshd.port,
        "",
        "  provisioner \"shell\" {\n    inline = [\"echo failing\", \"exit 3\"]\n  }",
    );
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Script exited with non-zero exit status: 3"),
        "{out}"
    );
    assert!(
        emu::rt().block_on(leftovers(&b.moto, false)).is_empty(),
        "a failed provisioner leaves nothing, no AMI"
    );

    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let t = template(
        &b,
        sshd.port,
        "",
        "  provisioner \"shell\" {\n    inline = [\"exit 3\"]\n    valid_exit_codes = [0, 3]\n  }",
    );
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "valid_exit_codes allows 3: {out}");
}

#[test]
fn expect_disconnect_survives_a_dropped_connection_and_reconnects() {
    let rd = remote_dir();
    // Killing the script's parent (its sshd session) drops the connection mid-script.
    let drop_conn = format!("mkdir -p {rd}; echo before > {rd}/before; kill -9 $PPID; sleep 5");
    for expect in [true, false] {
        let b = Bench::new(&[]);
        let sshd = Sshd::start(Some(&b.moto));
        let prov = format!(
            "  provisioner \"shell\" {{\n    inline = [\"{drop_conn}\"]\n    expect_disconnect = {expect}\n  }}\n  provisioner \"shell\" {{\n    inline = [\"echo after > {rd}/after\"]\n  }}"
        );
        let t = template(&b, sshd.port, "", &prov);
        let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
        if expect {
            assert_eq!(code, 0, "{out}");
            assert_eq!(
                std::fs::read_to_string(format!("{rd}/after"))
                    .unwrap()
                    .trim(),
                "after",
                "the next provisioner ran over a new connection"
            );
        } else {
            assert_eq!(code, 1, "{out}");
            assert!(out.contains("Script disconnected unexpectedly"), "{out}");
        }
        let _ = std::fs::remove_file(format!("{rd}/after"));
    }
    let _ = std::fs::remove_dir_all(&rd);
}

#[test]
fn file_uploads_and_downloads_keep_bytes_and_modes() {
    for method in ["scp", "sftp"] {
        let b = Bench::new(&[]);
        let sshd = Sshd::start(Some(&b.moto));
        let rd = remote_dir();
        let local = b.dir.path().join("files");
        std::fs::create_dir_all(local.join("tree/sub")).unwrap();
        std::fs::write(local.join("empty"), "").unwrap();
        std::fs::write(local.join("tree/a.sh"), "#!/bin/sh\necho a\n").unwrap();
        std::fs::write(local.join("tree/sub/b.txt"), "b").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            local.join("tree/a.sh"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        let big = local.join("big");
        let mut data = vec![0u8; 3 * 1024 * 1024 + 17];
        fastrand::Rng::with_seed(3).fill(&mut data);
        std::fs::write(&big, &data).unwrap();
        let down = b.dir.path().join("down");
        std::fs::create_dir_all(&down).unwrap();
        let l = local.display();
        let prov = format!(
            r#"  provisioner "shell" {{
    inline = ["mkdir -p {rd}/contents {rd}/named", "cp /bin/true {rd}/suid", "chmod 6755 {rd}/suid"]
  }}
  provisioner "file" {{
    direction   = "download"
    source      = "{rd}/suid"
    destination = "{down}/suid"
  }}
  provisioner "file" {{
    source      = "{l}/empty"
    destination = "{rd}/empty"
  }}
  provisioner "file" {{
    source      = "{l}/big"
    destination = "{rd}/"
  }}
  provisioner "file" {{
    source      = "{l}/tree/"
    destination = "{rd}/contents"
  }}
  provisioner "file" {{
    source      = "{l}/tree"
    destination = "{rd}/named"
  }}
  provisioner "file" {{
    content     = "made by ${{source.name}}"
    destination = "{rd}/content.txt"
  }}
  provisioner "file" {{
    direction   = "download"
    source      = "{rd}/big"
    destination = "{down}/"
  }}"#,
            down = down.display()
        );
        let t = template(
            &b,
            sshd.port,
            &format!("  ssh_file_transfer_method = \"{method}\""),
            &prov,
        );
        let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
        assert_eq!(code, 0, "{method}: {out}");
        assert_eq!(std::fs::metadata(format!("{rd}/empty")).unwrap().len(), 0);
        assert_eq!(
            std::fs::read(format!("{rd}/big")).unwrap(),
            data,
            "{method}: upload intact"
        );
        assert_eq!(
            std::fs::read(down.join("big")).unwrap(),
            data,
            "{method}: download intact"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/contents/sub/b.txt")).unwrap(),
            "b",
            "dir/ uploads the contents"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/named/tree/sub/b.txt")).unwrap(),
            "b",
            "dir uploads the directory itself"
        );
        let mode = std::fs::metadata(format!("{rd}/contents/a.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o751, "{method}: permissions preserved");
        // A download never brings setuid/setgid bits from the instance onto this machine.
        let suid = std::fs::metadata(down.join("suid"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(suid & 0o7777, 0o755, "{method}: setuid/setgid stripped");
        assert_eq!(
            std::fs::read_to_string(format!("{rd}/content.txt")).unwrap(),
            "made by demo"
        );
        assert_eq!(owner(&format!("{rd}/big")), USER);
        let _ = std::fs::remove_dir_all(&rd);
    }
}

#[test]
fn one_gib_transfer_round_trips() {
    // The issue's 1 GiB check, by default in CI; AMBAKE_SKIP_BIG=1 skips it on small disks.
    if std::env::var("AMBAKE_SKIP_BIG").is_ok() {
        eprintln!("skipped: AMBAKE_SKIP_BIG is set");
        return;
    }
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let rd = remote_dir();
    let big = b.dir.path().join("gib");
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 1073741824 /dev/urandom > {}",
            big.display()
        ))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let prov = format!(
        "  provisioner \"shell\" {{\n    inline = [\"mkdir -p {rd}\"]\n  }}\n  provisioner \"file\" {{\n    source = \"{}\"\n    destination = \"{rd}/gib\"\n  }}\n  provisioner \"file\" {{\n    direction = \"download\"\n    source = \"{rd}/gib\"\n    destination = \"{}\"\n  }}",
        big.display(),
        b.dir.path().join("back").display()
    );
    let t = template(&b, sshd.port, "", &prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    let cmp = |a: &str, b: &str| {
        std::process::Command::new("cmp")
            .args([a, b])
            .status()
            .unwrap()
            .success()
    };
    assert!(
        cmp(big.to_str().unwrap(), &format!("{rd}/gib")),
        "upload differs"
    );
    assert!(
        cmp(
            big.to_str().unwrap(),
            b.dir.path().join("back").to_str().unwrap()
        ),
        "download differs"
    );
    let _ = std::fs::remove_dir_all(&rd);
}

#[test]
fn connect_loop_waits_for_a_late_port_and_gives_up_on_bad_auth() {
    // The port opens three seconds after the build starts.
    let b = Bench::new(&[]);
    let port = emu::free_port();
    let t = template(
        &b,
        port,
        "",
        "  provisioner \"shell\" {\n    inline = [\"true\"]\n  }",
    );
    let child = b
        .cmd(&["build", t.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let sshd = Sshd::start_on(Some(&b.moto), port);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", sshd.log());

    // A key the server does not know, and a user it does not know: give up after the
    // handshake attempts, with the hint, well before ssh_timeout.
    for what in ["wrong key", "wrong user"] {
        let b = Bench::new(&[]);
        let sshd = Sshd::start(Some(&b.moto));
        let extra = if what == "wrong key" {
            // moto (and so the instance) knows key pair "stray" by key A; the build logs in
            // with key B.
            for k in ["a", "b"] {
                std::process::Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", ""])
                    .arg("-f")
                    .arg(b.dir.path().join(k))
                    .status()
                    .unwrap();
            }
            let public = std::fs::read(b.dir.path().join("a.pub")).unwrap();
            emu::rt().block_on(async {
                let ec2 = aws_sdk_ec2::Client::new(&b.moto.sdk().await);
                ec2.import_key_pair()
                    .key_name("stray")
                    .public_key_material(aws_sdk_ec2::primitives::Blob::new(public))
                    .send()
                    .await
                    .unwrap();
            });
            format!(
                "  ssh_keypair_name = \"stray\"\n  ssh_private_key_file = \"{}\"\n  ssh_handshake_attempts = 2",
                b.dir.path().join("b").display()
            )
        } else {
            "  ssh_handshake_attempts = 2\n".to_string()
        };
        let mut t = std::fs::read_to_string(template(
            &b,
            sshd.port,
            &extra,
            "  provisioner \"shell\" {\n    inline = [\"true\"]\n  }",
        ))
        .unwrap();
        if what == "wrong user" {
            t = t.replace(
                &format!("ssh_username  = \"{USER}\""),
                "ssh_username  = \"ubuntu\"",
            );
        }
        let p = b.dir.path().join("t.pkr.hcl");
        std::fs::write(&p, t).unwrap();
        let started = Instant::now();
        let (code, out) = run(b.cmd(&["build", p.to_str().unwrap()]));
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains("authentication as") && out.contains("failed 2 times"),
            "{what}: {out}"
        );
        assert!(
            out.contains("Is ssh_username right for this AMI"),
            "{what}: the hint: {out}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{what}: gave up early, not after ssh_timeout"
        );
        let left: Vec<String> = emu::rt()
            .block_on(leftovers(&b.moto, false))
            .into_iter()
            .filter(|l| !l.contains("key pair stray"))
            .collect();
        assert!(left.is_empty(), "{what}: {left:?}");
    }
}

#[test]
fn ctrl_c_while_waiting_for_ssh_returns_promptly_and_cleans_up() {
    let b = Bench::new(&["--date-offset=0"]);
    let port = emu::free_port();
    let t = template(
        &b,
        port,
        "",
        "  provisioner \"shell\" {\n    inline = [\"true\"]\n  }",
    );
    let text = std::fs::read_to_string(&t)
        .unwrap()
        .replace("ssh_timeout   = \"60s\"", "ssh_timeout   = \"5m\"");
    std::fs::write(&t, text).unwrap();
    let child = b
        .cmd(&["build", t.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is in the SSH wait loop.
    let t0 = Instant::now();
    loop {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "never reached the SSH wait: {:?}",
            b.calls()
        );
        if b.calls()
            .iter()
            .filter(|c| c.starts_with("DescribeInstances"))
            .count()
            >= 1
        {
            std::thread::sleep(Duration::from_millis(800));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(130), "{text}");
    // Cancel latency plus terminating the instance in moto: a few seconds at most.
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} to stop: {text}"
    );
    assert!(text.contains("Waiting for SSH"), "{text}");
    assert!(emu::rt().block_on(leftovers(&b.moto, false)).is_empty());
}

/// The same build as the Packer 1.6.6 parity run of the emulator reference (§11.1: existing key
/// pair, copy to us-west-2, ami_users, tags, snapshot_tags, run_tags, one shell provisioner,
/// credential and region checks skipped): Packer made 30 EC2 calls. ambake must not make more.
#[test]
fn parity_run_makes_no_more_calls_than_packer() {
    let b = Bench::new(&["--date-offset=0"]);
    let sshd = Sshd::start(Some(&b.moto));
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(b.dir.path().join("k"))
        .status()
        .unwrap();
    let public = std::fs::read(b.dir.path().join("k.pub")).unwrap();
    emu::rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&b.moto.sdk().await);
        ec2.import_key_pair()
            .key_name("parity")
            .public_key_material(aws_sdk_ec2::primitives::Blob::new(public))
            .send()
            .await
            .unwrap();
    });
    let rd = remote_dir();
    let extra = format!(
        "  ssh_keypair_name = \"parity\"\n  ssh_private_key_file = \"{}\"\n  skip_credential_validation = true\n  skip_region_validation = true\n  ami_regions = [\"us-west-2\"]\n  ami_users = [\"111122223333\"]\n  tags = {{ Name = \"parity\" }}\n  snapshot_tags = {{ Snap = \"yes\" }}\n  run_tags = {{ Name = \"builder\" }}",
        b.dir.path().join("k").display()
    );
    let t = template(
        &b,
        sshd.port,
        &extra,
        &format!(
            "  provisioner \"shell\" {{\n    inline = [\"mkdir -p {rd}\", \"echo hello > {rd}/proof\"]\n  }}"
        ),
    );
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/proof"))
            .unwrap()
            .trim(),
        "hello"
    );
    let calls = b.calls();
    let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in &calls {
        *by.entry(c.as_str()).or_default() += 1;
    }
    eprintln!(
        "parity run: {} EC2 calls (Packer 1.6.6: 30): {by:?}",
        calls.len()
    );
    assert!(calls.len() <= 30, "{} calls: {calls:?}", calls.len());
    let _ = std::fs::remove_dir_all(&rd);
}

/// The template lines that send the build through `bastion` with its own user and key.
fn bastion_options(bastion: &Sshd) -> String {
    format!(
        "  ssh_bastion_host = \"127.0.0.1\"\n  ssh_bastion_port = {}\n  ssh_bastion_username = \"{USER}\"\n  ssh_bastion_private_key_file = \"{}\"",
        bastion.port,
        bastion.dir.path().join("id_ed25519").display()
    )
}

/// A bastion (jump host): the build's SSH connection to the instance goes through a second
/// sshd, with its own user and key.
#[test]
fn bastion_tunnels_the_connection() {
    let b = Bench::new(&[]);
    let target = Sshd::start(Some(&b.moto));
    let bastion = Sshd::start(None);
    let rd = remote_dir();
    let extra = bastion_options(&bastion);
    let t = template(
        &b,
        target.port,
        &extra,
        &format!(
            "  provisioner \"shell\" {{\n    inline = [\"mkdir -p {rd}\", \"echo via-bastion > {rd}/proof\"]\n  }}"
        ),
    );
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(
        code,
        0,
        "{out}\n--- bastion:\n{}\n--- target:\n{}",
        bastion.log(),
        target.log()
    );
    assert!(out.contains("through bastion"), "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/proof"))
            .unwrap()
            .trim(),
        "via-bastion"
    );
    assert!(
        bastion
            .log()
            .contains(&format!("Accepted publickey for {USER}")),
        "the bastion saw the login: {}",
        bastion.log()
    );
    assert!(
        target
            .log()
            .contains(&format!("Accepted publickey for {USER}")),
        "{}",
        target.log()
    );
    let _ = std::fs::remove_dir_all(&rd);
}

/// Issue #11: the uploaded script and its env-var file (which holds the script's environment,
/// secrets included) are removed from the instance even when running the script failed — here
/// a first attempt cut off by ssh_read_write_timeout, then retried (`max_retries`) with new
/// files. Before, a failed run skipped the removal and the first attempt's env file stayed on
/// the instance the image is made from.
#[test]
fn script_and_env_file_are_removed_even_when_the_run_fails() {
    let rd = remote_dir();
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let prov = format!(
        r#"  provisioner "shell" {{
    inline = ["mkdir -p {rd}/rf"]
  }}
  provisioner "shell" {{
    remote_folder    = "{rd}/rf"
    use_env_var_file = true
    environment_vars = ["TOKEN=not-for-the-image"]
    max_retries      = 1
    inline           = ["if [ -f {rd}/once ]; then exit 0; fi; touch {rd}/once; sleep 30"]
  }}"#
    );
    let t = template(&b, sshd.port, "  ssh_read_write_timeout = \"3s\"", &prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    let left: Vec<_> = std::fs::read_dir(format!("{rd}/rf"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert!(left.is_empty(), "left on the instance: {left:?}\n{out}");
    let _ = std::fs::remove_dir_all(&rd);
}

/// Issue #11: a provisioner `timeout` stops the command it cut off and frees the SSH session:
/// the retry runs on a new connection and the build ends promptly. Before, the abandoned thread
/// held the session until the remote `sleep 600` ended, and the process could not exit.
#[test]
fn a_provisioner_timeout_frees_the_session() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let prov = r#"  provisioner "shell" {
    inline      = ["sleep 600"]
    timeout     = "2s"
    max_retries = 1
  }"#;
    let t = template(&b, sshd.port, "", prov);
    let mut child = b
        .cmd(&["build", t.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > std::time::Duration::from_secs(90) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let status = status.unwrap_or_else(|| panic!("still running after 90 s:\n{text}"));
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("Provisioner failed (attempt 1 of 2)")
            && text.contains("provisioner timed out after 2s"),
        "{text}"
    );
}

/// Issue #11: remote output without a newline is shown in bounded pieces (at most 64 KiB),
/// not buffered whole.
#[test]
fn output_without_newlines_is_shown_in_bounded_pieces() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let prov = r#"  provisioner "shell" {
    inline = ["head -c 300000 /dev/zero | tr '\\0' 'a'"]
  }"#;
    let t = template(&b, sshd.port, "", prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{}", &out[..out.len().min(2000)]);
    let pieces: Vec<usize> = out
        .lines()
        .filter(|l| l.contains("aaaa"))
        .map(|l| l.matches('a').count())
        .collect();
    assert!(pieces.len() >= 4, "{pieces:?}");
    assert!(pieces.iter().all(|n| *n <= 64 * 1024 + 64), "{pieces:?}");
    assert!(pieces.iter().sum::<usize>() >= 300_000, "{pieces:?}");
}

/// Issue #11: a script with Windows line endings runs: shell `binary = false` (the default)
/// converts them, as Packer does (before, `binary` was read nowhere and the `\r`s broke it).
#[test]
fn crlf_scripts_run_unless_binary() {
    let rd = remote_dir();
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let script = b.dir.path().join("crlf.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\r\nmkdir -p {rd}\r\necho ok > {rd}/crlf\r\n"),
    )
    .unwrap();
    let prov = format!(
        "  provisioner \"shell\" {{\n    script = \"{}\"\n  }}",
        script.display()
    );
    let t = template(&b, sshd.port, "", &prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/crlf")).unwrap(),
        "ok\n",
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&rd);
}

/// Issue #11: the instance's host key is pinned at the first connection; a reconnect (after
/// expect_disconnect) that meets another key is refused before any credential is sent.
#[test]
fn a_changed_host_key_is_refused_on_reconnect() {
    let rd = remote_dir();
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let d = sshd.dir.path().display();
    // Connect (the key is pinned), swap the sshd's host keys and reload it, drop the
    // connection: the reconnect meets the new key.
    let prov = format!(
        r#"  provisioner "shell" {{
    inline = ["mkdir -p {rd}"]
  }}
  provisioner "shell-local" {{
    inline = ["rm -f {d}/ssh_host_*", "ssh-keygen -q -t ed25519 -N '' -f {d}/ssh_host_ed25519_key", "ssh-keygen -q -t rsa -N '' -f {d}/ssh_host_rsa_key", "kill -HUP $(cat {d}/sshd.pid)", "sleep 1"]
  }}
  provisioner "shell" {{
    inline            = ["kill -9 $PPID; sleep 5"]
    expect_disconnect = true
  }}
  provisioner "shell" {{
    inline = ["touch {rd}/reached"]
  }}"#
    );
    let t = template(&b, sshd.port, "", &prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("changed since the build's first connection"),
        "{out}"
    );
    assert!(
        !std::path::Path::new(&format!("{rd}/reached")).exists(),
        "the command ran on the other machine:\n{out}"
    );
    let _ = std::fs::remove_dir_all(&rd);
}

/// ssh_proxy_*: the connection to the instance goes through a SOCKS5 proxy that asks for a
/// username and password; the proxy saw the CONNECT to the instance's address.
#[test]
fn ssh_proxy_carries_the_connection() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let (_proxy, proxy_port) = emu::helper(
        "socks5.py",
        &[b.dir.path().to_str().unwrap(), "proxyuser", "s3cret-proxy"],
        b.dir.path(),
    );
    let rd = remote_dir();
    let extra = format!(
        "  ssh_proxy_host = \"127.0.0.1\"\n  ssh_proxy_port = {proxy_port}\n  ssh_proxy_username = \"proxyuser\"\n  ssh_proxy_password = \"s3cret-proxy\""
    );
    let t = template(
        &b,
        sshd.port,
        &extra,
        &format!(
            "  provisioner \"shell\" {{\n    inline = [\"mkdir -p {rd}\", \"echo via-proxy > {rd}/proof\"]\n  }}"
        ),
    );
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("s3cret-proxy"), "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/proof"))
            .unwrap()
            .trim(),
        "via-proxy"
    );
    let connects = std::fs::read_to_string(b.dir.path().join("socks5.connects")).unwrap();
    assert!(
        connects.contains(&format!("127.0.0.1:{}", sshd.port)),
        "{connects}"
    );
    let _ = std::fs::remove_dir_all(&rd);
}

/// ssh_ciphers / ssh_key_exchange_algorithms: the session offers only those. A cipher the
/// server also offers connects; one OpenSSH no longer enables (CBC) makes the key exchange
/// fail, which shows the list is what is offered; a name libssh2 does not know is refused by
/// validate.
#[test]
fn ssh_ciphers_and_key_exchange_are_what_the_session_offers() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let t = template(
        &b,
        sshd.port,
        "  ssh_ciphers = [\"aes256-ctr\"]\n  ssh_key_exchange_algorithms = [\"curve25519-sha256\"]",
        "  provisioner \"shell\" {\n    inline = [\"true\"]\n  }",
    );
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");

    let t = template(
        &b,
        sshd.port,
        "  ssh_ciphers = [\"aes128-cbc\"]",
        "  provisioner \"shell\" {\n    inline = [\"true\"]\n  }",
    );
    let text = std::fs::read_to_string(&t).unwrap();
    std::fs::write(
        &t,
        text.replace("ssh_timeout   = \"60s\"", "ssh_timeout   = \"3s\""),
    )
    .unwrap();
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("SSH handshake failed"), "{out}");
    assert!(
        sshd.log().contains("no matching cipher found"),
        "{}",
        sshd.log()
    );

    let t = template(&b, sshd.port, "  ssh_ciphers = [\"chacha99\"]", "");
    let (code, out) = run(b.cmd(&["validate", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ssh_ciphers: none of [\"chacha99\"] is supported by libssh2"),
        "{out}"
    );
}

/// ssh_certificate_file: a key that is in no authorized_keys logs in with the certificate the
/// server's user CA signed for it; without the certificate it is refused.
#[test]
fn ssh_certificate_file_logs_in_with_a_signed_key() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(None);
    let d = sshd.dir.path();
    let key = d.join("cert_user");
    let source = |cert: &str| format!("  ssh_private_key_file = \"{}\"{cert}", key.display());
    let rd = remote_dir();
    let prov = format!(
        "  provisioner \"shell\" {{\n    inline = [\"mkdir -p {rd}\", \"echo with-cert > {rd}/proof\"]\n  }}"
    );
    let with_cert = source(&format!(
        "\n  ssh_certificate_file = \"{}\"",
        d.join("cert_user-cert.pub").display()
    ));
    let t = template(&b, sshd.port, &with_cert, &prov);
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}\n--- sshd:\n{}", sshd.log());
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/proof"))
            .unwrap()
            .trim(),
        "with-cert"
    );
    assert!(
        sshd.log().contains("Accepted publickey") && sshd.log().contains("CA ED25519"),
        "{}",
        sshd.log()
    );
    let _ = std::fs::remove_dir_all(&rd);

    let t = template(&b, sshd.port, &source(""), &prov);
    let text = std::fs::read_to_string(&t).unwrap();
    std::fs::write(
        &t,
        text.replace("ssh_timeout   = \"60s\"", "ssh_timeout   = \"3s\""),
    )
    .unwrap();
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "without the certificate the key is refused: {out}");
}

/// ssh_interface = "session_manager": ssm:StartSession (answered by the proxy: moto has no
/// Session Manager), then the plugin — a stand-in on PATH that forwards its local port to the
/// sshd playing the instance — and SSH through it; the session is terminated at the end and
/// the temporary group opens no port. Without the plugin, the build stops before creating
/// anything and says what to install.
#[test]
fn session_manager_tunnels_ssh_through_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let start = dir.path().join("start.json");
    std::fs::write(&start, r#"{"SessionId":"ambake-test-session-1","StreamUrl":"wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/ambake-test-session-1","TokenValue":"token-1"}"#).unwrap();
    let term = dir.path().join("term.json");
    std::fs::write(&term, r#"{"SessionId":"ambake-test-session-1"}"#).unwrap();
    let b = Bench::new(&[
        "--answer",
        &format!("StartSession:{}", start.display()),
        "--answer",
        &format!("TerminateSession:{}", term.display()),
    ]);
    let sshd = Sshd::start(Some(&b.moto));
    let bin = b.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let plugin = bin.join("session-manager-plugin");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nexec {} {} \"$@\"\n",
            emu::python().display(),
            super::support::repo()
                .join("tests/support/ssm_plugin.py")
                .display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["755", plugin.to_str().unwrap()])
        .status()
        .unwrap();
    let log = b.dir.path().join("plugin.log");
    let rd = remote_dir();
    let extra = "  ssh_interface = \"session_manager\"\n  temporary_iam_instance_profile_policy_document {\n    Version = \"2012-10-17\"\n    Statement {\n      Effect   = \"Allow\"\n      Action   = [\"ssm:UpdateInstanceInformation\"]\n      Resource = [\"*\"]\n    }\n  }";
    let t = template(
        &b,
        sshd.port,
        extra,
        &format!(
            "  provisioner \"shell\" {{\n    inline = [\"mkdir -p {rd}\", \"echo via-ssm > {rd}/proof\"]\n  }}"
        ),
    );
    // ssh_host would bypass the tunnel: session_manager sets the host itself.
    let text = std::fs::read_to_string(&t)
        .unwrap()
        .replace("  ssh_host      = \"127.0.0.1\"\n", "");
    std::fs::write(&t, text).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = b.cmd(&["build", t.to_str().unwrap()]);
    cmd.env("PATH", &path).env("AMBAKE_TEST_SSM_LOG", &log);
    let (code, out) = run(cmd);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Starting portForwarding session"), "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/proof"))
            .unwrap()
            .trim(),
        "via-ssm"
    );
    let argv: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(argv.len(), 1, "{argv:?}");
    assert_eq!(argv[0][1], emu::REGION);
    assert_eq!(argv[0][2], "StartSession");
    let params: serde_json::Value = serde_json::from_str(argv[0][4].as_str().unwrap()).unwrap();
    assert_eq!(params["DocumentName"], "AWS-StartPortForwardingSession");
    assert_eq!(params["Parameters"]["portNumber"][0], sshd.port.to_string());
    assert!(params["Target"].as_str().unwrap().starts_with("i-"));
    let asked = std::fs::read_to_string(b.dir.path().join("answered.log")).unwrap();
    assert!(
        asked.contains("\"DocumentName\":\"AWS-StartPortForwardingSession\""),
        "{asked}"
    );
    assert!(
        asked.contains("\"SessionId\":\"ambake-test-session-1\""),
        "terminated: {asked}"
    );
    assert!(
        !b.moto
            .recorded_bodies()
            .iter()
            .any(|body| body.contains("Action=AuthorizeSecurityGroupIngress")),
        "no port is opened"
    );
    let rt = emu::rt();
    assert!(rt.block_on(leftovers(&b.moto, true)).is_empty());
    let _ = std::fs::remove_dir_all(&rd);

    // No plugin on PATH: refused before anything is created.
    let mut cmd = b.cmd(&["build", t.to_str().unwrap()]);
    cmd.env("PATH", "/usr/bin:/bin");
    let before = b.calls().len();
    let (code, out) = run(cmd);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("needs AWS's session-manager-plugin on PATH"),
        "{out}"
    );
    assert!(
        !b.calls()[before..]
            .iter()
            .any(|c| c.starts_with("Create") || c.starts_with("RunInstances")),
        "{:?}",
        &b.calls()[before..]
    );
}

/// The build id in "ambake resume <id> …" of a kept build's output.
fn resume_id(out: &str) -> String {
    out.split("ambake resume ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no resume command in:\n{out}"))
        .to_string()
}

fn resume_template(b: &Bench, port: u16, rd: &str) -> PathBuf {
    template(
        b,
        port,
        "",
        &format!(
            r#"  provisioner "shell" {{
    inline = ["mkdir -p {rd}", "echo once >> {rd}/first"]
  }}
  provisioner "shell" {{
    inline = ["test -f {rd}/fixed", "echo second > {rd}/second"]
  }}"#
        ),
    )
}

/// Issue #13: a provisioner fails under -on-error=abort; the failure prints the resume
/// command; the script's problem is fixed; `ambake resume` continues from the failed
/// provisioner on the kept instance (the first provisioner does not run again) and finishes the
/// AMI, leaving nothing behind (snapshots included), the kept private key neither.
#[test]
fn resume_finishes_a_kept_build_from_the_failed_provisioner() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let rd = remote_dir();
    let t = resume_template(&b, sshd.port, &rd);
    let (code, out) = run(b.cmd(&["build", "-on-error=abort", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    let id = resume_id(&out);
    assert!(
        b.state_dir().join(format!("{id}.key")).exists(),
        "the temporary key is kept for the resume"
    );
    // The fix.
    // The first provisioner made the directory: a build that failed before it (SSH never
    // came, say) is not the failure this test is about, and says so.
    std::fs::write(format!("{rd}/fixed"), "")
        .unwrap_or_else(|e| panic!("{rd}/fixed: {e}; the build:\n{out}"));
    let (code, out) = run(b.cmd(&["resume", &id, t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("starting with provisioner 2"), "{out}");
    assert!(out.contains("AMIs were created"), "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/first")).unwrap(),
        "once\n",
        "the first provisioner did not run again"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/second"))
            .unwrap()
            .trim(),
        "second"
    );
    let rt = emu::rt();
    assert!(rt.block_on(leftovers(&b.moto, true)).is_empty());
    assert!(
        super::build::journals(&b).is_empty(),
        "journal and key removed: {:?}",
        super::build::journals(&b)
    );
    // A finished build is not resumed again.
    let (code, out) = run(b.cmd(&["resume", &id, t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    let _ = std::fs::remove_dir_all(&rd);
}

/// Issue #13: resume refuses, with the reason, when the launch options changed and when the
/// kept instance is gone; `ambake cleanup` then removes the kept build, key included.
#[test]
fn resume_refuses_changed_sources_and_gone_instances() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let rd = remote_dir();
    let t = resume_template(&b, sshd.port, &rd);
    let (code, out) = run(b.cmd(&["build", "-on-error=abort", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    let id = resume_id(&out);
    // The first provisioner made the directory: a build that failed before it (SSH never
    // came, say) is not the failure this test is about, and says so.
    std::fs::write(format!("{rd}/fixed"), "")
        .unwrap_or_else(|e| panic!("{rd}/fixed: {e}; the build:\n{out}"));

    let original = std::fs::read_to_string(&t).unwrap();
    std::fs::write(&t, original.replace("t2.micro", "t3.large")).unwrap();
    let (code, out) = run(b.cmd(&["resume", &id, t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("source options changed") && out.contains("instance_type"),
        "{out}"
    );
    // Other credentials (another account, through a role) are refused before anything runs.
    std::fs::write(
        &t,
        original.replace(
            "  ssh_timeout   = \"60s\"\n",
            "  ssh_timeout   = \"60s\"\n  assume_role {\n    role_arn = \"arn:aws:iam::111111111111:role/other\"\n  }\n",
        ),
    )
    .unwrap();
    let (code, out) = run(b.cmd(&["resume", &id, t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("these credentials are for account 111111111111"),
        "{out}"
    );
    std::fs::write(&t, &original).unwrap();

    let rt = emu::rt();
    rt.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&b.moto.sdk().await);
        let out = ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:ambake:build-id")
                    .values(&id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let ids: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id().map(String::from))
            .collect();
        assert_eq!(ids.len(), 1);
        ec2.terminate_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .unwrap();
    });
    let (code, out) = run(b.cmd(&["resume", &id, t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("is terminated") || out.contains("is gone"),
        "{out}"
    );
    assert!(
        std::fs::read_to_string(format!("{rd}/second")).is_err(),
        "nothing ran"
    );

    let (code, out) = run(b.cmd(&["cleanup", &id]));
    assert_eq!(code, 0, "{out}");
    assert!(rt.block_on(leftovers(&b.moto, false)).is_empty());
    assert!(
        super::build::journals(&b).is_empty(),
        "journal and key removed"
    );
    let _ = std::fs::remove_dir_all(&rd);
}

/// Issue #10: ssh_local_tunnels and ssh_remote_tunnels carry connections for as long as the
/// provisioners run. A service here answers every connection with a numbered line. Through
/// the local tunnel, a shell-local provisioner reaches it as the instance sees it; through the
/// remote tunnel, a shell provisioner on the instance reaches it on a port sshd listens on.
#[test]
fn ssh_local_and_remote_tunnels_carry_connections() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let svc = service.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, s) in service.incoming().enumerate() {
            if let Ok(mut s) = s {
                use std::io::Write as _;
                let _ = writeln!(s, "hello-{n}");
            }
        }
    });
    let (lport, rport) = (emu::free_port(), emu::free_port());
    let rd = remote_dir();
    let here = b.dir.path().join("local.out");
    let extra = format!(
        "  ssh_local_tunnels  = [\"{lport}:127.0.0.1:{svc}\"]\n  ssh_remote_tunnels = [\"{rport}:127.0.0.1:{svc}\"]"
    );
    let t = template(
        &b,
        sshd.port,
        &extra,
        &format!(
            r#"  provisioner "shell-local" {{
    inline = ["bash -c 'exec 3<>/dev/tcp/127.0.0.1/{lport} && head -1 <&3 > {here}'"]
  }}
  provisioner "shell" {{
    inline = ["mkdir -p {rd}", "bash -c 'exec 3<>/dev/tcp/127.0.0.1/{rport} && head -1 <&3 > {rd}/remote.out'"]
  }}"#,
            here = here.display()
        ),
    );
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}\n--- sshd:\n{}", sshd.log());
    assert!(
        std::fs::read_to_string(&here)
            .unwrap()
            .starts_with("hello-"),
        "{out}"
    );
    assert!(
        std::fs::read_to_string(format!("{rd}/remote.out"))
            .unwrap()
            .starts_with("hello-"),
        "{out}"
    );
    // The tunnels have sessions of their own: the provisioners' one, the remote tunnel's and
    // one per connection through the local tunnel.
    let logins = sshd
        .log()
        .matches(&format!("Accepted publickey for {USER}"))
        .count();
    assert!(logins >= 3, "{logins} logins: {}", sshd.log());
    // And they close with the build: nothing listens here any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", lport)).is_err());
    let _ = std::fs::remove_dir_all(&rd);
}

/// Issue #10: ssh_bastion_interactive — the bastion wants a key *and* keyboard-interactive
/// answers (`AuthenticationMethods publickey,keyboard-interactive`, the shape of one-time-code
/// jump hosts). ambake logs in with the key, then asks the question on the terminal without
/// echo; the answer reaches the bastion (PAM checks it as the user's password) and never the
/// output.
#[test]
fn ssh_bastion_interactive_asks_at_the_terminal() {
    const JUMP: &str = "ambake-jump";
    const ANSWER: &str = "one-time-4711";
    let b = Bench::new(&[]);
    let target = Sshd::start(Some(&b.moto));
    // A user of its own with a password for PAM to check (ec2-user's is locked).
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "id {JUMP} >/dev/null 2>&1 || useradd -m -s /bin/bash {JUMP}; echo '{JUMP}:{ANSWER}' | chpasswd"
        ))
        .status()
        .unwrap();
    assert!(ok.success());
    let bastion = Sshd::start_configured(
        None,
        emu::free_port(),
        &format!(
            "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\nAllowUsers {JUMP}\n"
        ),
    );
    let rd = remote_dir();
    let extra = format!(
        "  ssh_bastion_host = \"127.0.0.1\"\n  ssh_bastion_port = {}\n  ssh_bastion_username = \"{JUMP}\"\n  ssh_bastion_private_key_file = \"{}\"\n  ssh_bastion_interactive = true",
        bastion.port,
        bastion.dir.path().join("id_ed25519").display()
    );
    let t = template(
        &b,
        target.port,
        &extra,
        &format!(
            "  provisioner \"shell\" {{\n    inline = [\"mkdir -p {rd}\", \"echo via-interactive-bastion > {rd}/proof\"]\n  }}"
        ),
    );
    let out = super::support::answer_on_terminal(
        &b.cmd(&["build", t.to_str().unwrap()]),
        "bastion asks:",
        ANSWER,
    );
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{screen}\n--- bastion:\n{}",
        bastion.log()
    );
    assert!(
        screen.contains("amazon-ebs.demo: bastion asks:"),
        "{screen}"
    );
    assert!(
        !screen.contains(ANSWER),
        "the answer is not echoed: {screen}"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{rd}/proof"))
            .unwrap()
            .trim(),
        "via-interactive-bastion"
    );
    let log = bastion.log();
    assert!(
        log.contains(&format!("Partial publickey for {JUMP}"))
            && log.contains(&format!("Accepted keyboard-interactive/pam for {JUMP}")),
        "both methods: {log}"
    );
    let _ = std::fs::remove_dir_all(&rd);
}

/// Issue #11: a bastion is a long-lived host. Its key is checked against ~/.ssh/known_hosts
/// when that file lists it — a match is said, a mismatch refused before any credential goes
/// out (and not retried) — and otherwise accepted on first use, pinned, and said so.
#[test]
fn bastion_host_key_is_checked_against_known_hosts() {
    let b = Bench::new(&[]);
    let target = Sshd::start(Some(&b.moto));
    let bastion = Sshd::start(None);
    let extra = bastion_options(&bastion);
    let t = template(
        &b,
        target.port,
        &extra,
        "  provisioner \"shell\" {\n    inline = [\"true\"]\n  }",
    );
    // The host keys of a machine, as known_hosts lines for the bastion's address.
    let lines = |dir: &std::path::Path| -> String {
        ["ssh_host_ed25519_key.pub", "ssh_host_rsa_key.pub"]
            .iter()
            .map(|f| {
                let pubkey = std::fs::read_to_string(dir.join(f)).unwrap();
                let mut parts = pubkey.split_whitespace();
                format!(
                    "[127.0.0.1]:{} {} {}\n",
                    bastion.port,
                    parts.next().unwrap(),
                    parts.next().unwrap()
                )
            })
            .collect()
    };
    let kh = b.dir.path().join(".ssh/known_hosts");

    // No known_hosts: accepted on first use, and said.
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("is not in ~/.ssh/known_hosts; accepted on first use and pinned"),
        "{out}"
    );

    // known_hosts lists the bastion's real keys: a match, said.
    std::fs::create_dir_all(kh.parent().unwrap()).unwrap();
    std::fs::write(&kh, lines(bastion.dir.path())).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // a new {{timestamp}} for the AMI name
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("matches") && out.contains("known_hosts"),
        "{out}"
    );

    // known_hosts lists other keys for the bastion's address: refused at once.
    std::fs::write(&kh, lines(target.dir.path())).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let started = Instant::now();
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not match"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "not retried until ssh_timeout: {out}"
    );
    assert_eq!(
        bastion
            .log()
            .matches(&format!("Accepted publickey for {USER}"))
            .count(),
        2,
        "no login on the mismatching attempt: {}",
        bastion.log()
    );
}
