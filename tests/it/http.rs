//! Issue #10: what ambake fetches over HTTP — the public IP for
//! `temporary_security_group_source_public_ip` (checkip, pointed at a loopback server with
//! AMBAKE_CHECKIP_URL) and `data "http"` — answered by a small server in this process.

use super::build::{Bench, leftovers, run};
use super::emu;
use super::ssh::template;
use super::sshd::Sshd;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A loopback HTTP server answering every request with `status` and `body`; it keeps each
/// request's head (request line and headers) for the test to look at.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(status: u16, body: &'static str) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut req_body = vec![0u8; length];
                let _ = reader.read_exact(&mut req_body);
                head.push_str(&String::from_utf8_lossy(&req_body));
                seen.lock().unwrap().push(head);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\nx-served-by: test\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server { port, requests }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

#[test]
fn source_public_ip_opens_the_port_to_this_host_only() {
    let b = Bench::new(&[]);
    let sshd = Sshd::start(Some(&b.moto));
    let checkip = Server::start(200, "203.0.113.7\n");
    let t = template(
        &b,
        sshd.port,
        "  temporary_security_group_source_public_ip = true",
        "",
    );
    let mut cmd = b.cmd(&["build", t.to_str().unwrap()]);
    cmd.env("AMBAKE_CHECKIP_URL", checkip.url());
    let (code, out) = run(cmd);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Current host's public IP: 203.0.113.7"),
        "{out}"
    );
    let ingress: Vec<String> = b
        .moto
        .recorded_bodies()
        .into_iter()
        .filter(|body| body.contains("Action=AuthorizeSecurityGroupIngress"))
        .collect();
    assert_eq!(ingress.len(), 1, "{ingress:?}");
    assert!(ingress[0].contains("203.0.113.7%2F32"), "{}", ingress[0]);
    assert!(!ingress[0].contains("0.0.0.0"), "{}", ingress[0]);
    assert_eq!(checkip.requests.lock().unwrap().len(), 1);
}

#[test]
fn a_failed_public_ip_lookup_stops_before_the_group_is_made() {
    let b = Bench::new(&[]);
    let checkip = Server::start(503, "busy");
    let t = template(
        &b,
        1,
        "  temporary_security_group_source_public_ip = true",
        "",
    );
    let mut cmd = b.cmd(&["build", t.to_str().unwrap()]);
    cmd.env("AMBAKE_CHECKIP_URL", checkip.url());
    let (code, out) = run(cmd);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("failed to get current host's public ip: received status 503"),
        "{out}"
    );
    assert!(
        !b.moto
            .recorded_bodies()
            .iter()
            .any(|body| body.contains("Action=CreateSecurityGroup")),
        "no group is created when the address is unknown"
    );
    let rt = emu::rt();
    assert!(rt.block_on(leftovers(&b.moto, false)).is_empty());
}

#[test]
fn http_data_source_feeds_the_build_and_fails_on_errors() {
    let b = Bench::new(&[]);
    let api = Server::start(200, "from-http");
    let data = format!(
        r#"data "http" "meta" {{
  url             = "{}meta"
  request_headers = {{ X-Token = "abc" }}
}}
"#,
        api.url()
    );
    let t = b.template("", "");
    let text = std::fs::read_to_string(&t).unwrap();
    let text = format!("{data}{text}").replace(
        "tags            = { Name = \"demo\"",
        "tags            = { Payload = data.http.meta.body, Served = lookup(data.http.meta.request_headers, \"x-served-by\", \"unknown\"), Name = \"demo\"",
    );
    std::fs::write(&t, text).unwrap();
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    let reqs = api.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].starts_with("GET /meta "), "{}", reqs[0]);
    assert!(
        reqs[0].to_ascii_lowercase().contains("x-token: abc"),
        "{}",
        reqs[0]
    );
    // The AMI carries the response's body and header as tags.
    let tags: Vec<(String, String)> = emu::rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&b.moto.sdk().await);
        let imgs = ec2.describe_images().owners("self").send().await.unwrap();
        imgs.images()
            .iter()
            .flat_map(|i| i.tags())
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect()
    });
    assert!(
        tags.contains(&("Payload".into(), "from-http".into()))
            && tags.contains(&("Served".into(), "test".into())),
        "{tags:?}"
    );
    // `validate` does not make the request: the value is unknown there, as in Packer.
    let (code, out) = run(b.cmd(&["validate", t.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(api.requests.lock().unwrap().len(), 1);

    let failing = Server::start(404, "nope");
    let text = std::fs::read_to_string(&t)
        .unwrap()
        .replace(&api.url(), &failing.url());
    std::fs::write(&t, text).unwrap();
    let (code, out) = run(b.cmd(&["build", t.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("HTTP request error. Response code: 404"),
        "{out}"
    );
}
