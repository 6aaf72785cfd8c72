//! The AWS emulator harness: moto_server on a free loopback port (one per test, so tests run in
//! parallel without sharing state), plus the small Python helpers in tests/support/.
//! A missing moto is a failure with the install command, never a silent skip.

use super::support::repo;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";
/// Keys the harness itself uses against moto (never the program under test's).
pub const HARNESS_KEY: &str = "AKIAHARNESS000000000";
pub const HARNESS_SECRET: &str = "harness-secret";

fn moto_server() -> PathBuf {
    if let Ok(p) = std::env::var("AMBAKE_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = repo().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    panic!(
        "moto_server not found: run scripts/test (it installs moto into .venv), or set AMBAKE_MOTO_SERVER"
    );
}

/// moto_server as the tests run it: the Python beside the moto_server script, running
/// tests/support/moto_server.py (moto, plus what AWS does of tagging at creation).
fn moto_command() -> Command {
    let server = moto_server();
    let python = server
        .parent()
        .map(|d| d.join("python3"))
        .filter(|p| p.exists())
        .unwrap_or_else(python);
    let mut c = Command::new(python);
    c.arg(repo().join("tests/support/moto_server.py"));
    c
}

pub fn python() -> PathBuf {
    let venv = repo().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// A child process killed when dropped.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Raw HTTP/1.0 request to a loopback port; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

pub struct Moto {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _proc: Proc,
}

impl Moto {
    /// Starts moto. With `auth`, signatures are verified after the harness's setup calls
    /// (see [`Moto::require_auth`]).
    pub fn start(auth: bool) -> Moto {
        Self::start_with(auth, false)
    }

    /// `tls`: moto serves HTTPS with a self-signed, auto-generated certificate.
    pub fn start_with(auth: bool, tls: bool) -> Moto {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let mut c = moto_command();
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ENABLE_AMI_VALIDATION", "1")
                .env("MOTO_ENABLE_KEYPAIR_VALIDATION", "1")
                .env("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "1")
                .env("MOTO_ENABLE_RECORDING", "1")
                .env(
                    "MOTO_RECORDER_FILEPATH",
                    dir.path().join("moto-calls.jsonl"),
                )
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("moto.log")).unwrap());
            if auth {
                c.env("INITIAL_NO_AUTH_ACTION_COUNT", "100000");
            }
            if tls {
                c.arg("--ssl");
            }
            let proc = Proc(c.spawn().expect("start moto_server"));
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let up = if tls {
                    TcpStream::connect(("127.0.0.1", port)).is_ok()
                } else {
                    matches!(http(port, "GET", "/moto-api/", ""), Ok((200, _)))
                };
                if up {
                    if tls {
                        // Give werkzeug a moment to finish generating its certificate.
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    return Moto {
                        port,
                        dir,
                        _proc: proc,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto_server did not come up");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bodies of every request moto's recorder saw (query-protocol form bodies, decoded).
    pub fn recorded_bodies(&self) -> Vec<String> {
        use base64::Engine as _;
        let rec =
            std::fs::read_to_string(self.dir.path().join("moto-calls.jsonl")).unwrap_or_default();
        rec.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                let body = v["body"].as_str().unwrap_or_default().to_string();
                if v["body_encoded"] == true {
                    String::from_utf8(
                        base64::engine::general_purpose::STANDARD
                            .decode(body)
                            .unwrap_or_default(),
                    )
                    .unwrap_or_default()
                } else {
                    body
                }
            })
            .collect()
    }

    /// From now on every request needs a key moto's IAM knows and a valid signature.
    pub fn require_auth(&self) {
        let (status, _) = http(self.port, "POST", "/moto-api/reset-auth", "0").unwrap();
        assert_eq!(status, 200);
    }

    pub async fn sdk(&self) -> aws_types::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new(REGION))
            .endpoint_url(self.url())
            .credentials_provider(aws_credential_types::Credentials::new(
                HARNESS_KEY,
                HARNESS_SECRET,
                None,
                None,
                "harness",
            ))
            .load()
            .await
    }

    /// Creates an IAM user with admin rights and returns its (access key, secret).
    pub async fn user(&self, name: &str) -> (String, String) {
        self.user_with_policy(name, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, None).await
    }

    /// Creates an IAM user with this inline policy, calling IAM with `as_user` (an admin's keys
    /// once signatures are checked) or the harness's keys.
    pub async fn user_with_policy(
        &self,
        name: &str,
        policy: &str,
        as_user: Option<(&str, &str)>,
    ) -> (String, String) {
        let mut conf = aws_sdk_iam::config::Builder::from(&self.sdk().await);
        if let Some((k, s)) = as_user {
            conf = conf.credentials_provider(aws_credential_types::Credentials::new(
                k,
                s,
                None,
                None,
                "harness-admin",
            ));
        }
        let iam = aws_sdk_iam::Client::from_conf(conf.build());
        iam.create_user().user_name(name).send().await.unwrap();
        iam.put_user_policy()
            .user_name(name)
            .policy_name("p")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        let k = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .unwrap();
        let k = k.access_key().unwrap();
        (
            k.access_key_id().to_string(),
            k.secret_access_key().to_string(),
        )
    }
}

/// Starts a helper script from tests/support and waits for the port it writes.
pub fn helper(script: &str, args: &[&str], dir: &Path) -> (Proc, u16) {
    let port_file = dir.join(format!("{script}.port"));
    let proc = Proc(
        Command::new(python())
            .arg(repo().join("tests/support").join(script))
            .arg(&port_file)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{script}.log"))).unwrap())
            .spawn()
            .expect("start helper"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(p) = std::fs::read_to_string(&port_file)
            && let Ok(port) = p.trim().parse()
        {
            return (proc, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{script} did not start");
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}
