//! A real OpenSSH sshd on 127.0.0.1 playing the instance (root only: it logs in as ec2-user).
//! Its AuthorizedKeysCommand asks moto for every key pair's public key, so the temporary key
//! pair a build creates really logs in.

use super::emu::{Moto, Proc, free_port, python};
use super::support::repo;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "ec2-user";

pub struct Sshd {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _proc: Proc,
}

fn sh(cmd: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .unwrap()
        .success();
    assert!(ok, "harness command failed: {cmd}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The AuthorizedKeysCommand must be root-owned all the way up: copy it under /usr/local/lib.
/// Once per test process (tests run in parallel threads).
fn install_authkeys() -> PathBuf {
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(install_authkeys_once).clone()
}

fn install_authkeys_once() -> PathBuf {
    let dir = Path::new("/usr/local/lib/ambake-test");
    let target = dir.join("authkeys");
    let body = format!(
        "#!{}\n{}",
        python().display(),
        std::fs::read_to_string(repo().join("tests/support/authkeys.py")).unwrap()
    );
    if std::fs::read_to_string(&target).ok().as_deref() != Some(body.as_str()) {
        std::fs::create_dir_all(dir).unwrap();
        let tmp = dir.join(format!("authkeys.{}", std::process::id()));
        std::fs::write(&tmp, body).unwrap();
        sh(&format!(
            "chown root:root {0} && chmod 755 {0} && chmod 755 {1} && mv -f {0} {2}",
            tmp.display(),
            dir.display(),
            target.display()
        ));
    }
    target
}

impl Sshd {
    /// Starts sshd; `moto` enables logins with key pairs moto holds.
    pub fn start(moto: Option<&Moto>) -> Sshd {
        Self::start_on(moto, free_port())
    }

    pub fn start_on(moto: Option<&Moto>, port: u16) -> Sshd {
        Self::start_configured(moto, port, "")
    }

    /// With `extra` lines ahead of the usual configuration (sshd keeps the first value of a
    /// keyword, so they override it).
    pub fn start_configured(moto: Option<&Moto>, port: u16, extra: &str) -> Sshd {
        assert!(
            is_root(),
            "the SSH tests need root (sshd logs in as {USER}); run them through scripts/test"
        );
        assert!(
            Path::new("/usr/sbin/sshd").exists(),
            "openssh-server is missing: run scripts/test, which installs it"
        );
        // Once per process: parallel tests would race on useradd on a fresh machine.
        static USER_READY: std::sync::Once = std::sync::Once::new();
        USER_READY.call_once(|| sh(&format!("id {USER} >/dev/null 2>&1 || useradd -m -s /bin/bash {USER}; usermod -p '*' {USER}; mkdir -p /run/sshd")));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        sh(&format!("chmod 755 {}", d.display()));
        for (t, f) in [
            ("ed25519", "ssh_host_ed25519_key"),
            ("rsa", "ssh_host_rsa_key"),
            ("ed25519", "id_ed25519"),
            ("rsa", "id_rsa"),
            // A user CA the server trusts, and a key it has signed (cert_user-cert.pub) that
            // is in no authorized_keys: it logs in only with its certificate.
            ("ed25519", "user_ca"),
            ("ed25519", "cert_user"),
        ] {
            sh(&format!(
                "ssh-keygen -q -t {t} -N '' -f {}/{f}",
                d.display()
            ));
        }
        sh(&format!(
            "cat {0}/id_ed25519.pub {0}/id_rsa.pub > {0}/authorized_keys && chmod 644 {0}/authorized_keys && ssh-keygen -q -s {0}/user_ca -I ambake-test -n {USER} {0}/cert_user.pub",
            d.display()
        ));
        // Run as root: the venv's interpreter lives under a home directory other users cannot
        // enter (pyenv in /root), so `nobody` could not start it.
        let authcmd = match moto {
            Some(m) => format!(
                "AuthorizedKeysCommand {} {} us-east-1 us-west-2\nAuthorizedKeysCommandUser root\n",
                install_authkeys().display(),
                m.url()
            ),
            None => String::new(),
        };
        let cfg = format!(
            "{extra}ListenAddress 127.0.0.1:{port}\nHostKey {d}/ssh_host_ed25519_key\nHostKey {d}/ssh_host_rsa_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\nTrustedUserCAKeys {d}/user_ca.pub\n{authcmd}StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\nAllowUsers {USER}\nLogLevel VERBOSE\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), cfg).unwrap();
        sh(&format!("/usr/sbin/sshd -t -f {}/sshd_config", d.display()));
        let proc = Proc(
            Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
                .spawn()
                .unwrap(),
        );
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "sshd did not start: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            port,
            dir,
            _proc: proc,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}
