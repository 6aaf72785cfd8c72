//! One HTTP(S) request with the stack the AWS SDK already links (hyper + rustls with the
//! system's roots): `data "http"` and the public-IP lookup of
//! `temporary_security_group_source_public_ip`.

use http_body_util::{BodyExt as _, Full};
use std::collections::BTreeMap;
use std::time::Duration;

pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// Sends `method url` with `headers` and `body`; follows no redirects. Errors say what failed
/// (address, connection, status is left to the caller).
pub async fn request(
    method: &str,
    url: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
    timeout: Duration,
) -> Result<Response, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .map_err(|e| format!("no TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<bytes::Bytes>>(https);
    let mut req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("user-agent", concat!("ambake/", env!("CARGO_PKG_VERSION")));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .map_err(|e| format!("invalid request {method} {url}: {e}"))?;
    let fut = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("{method} {url} failed: {e}"))?;
        let status = resp.status().as_u16();
        let mut headers = BTreeMap::new();
        for (k, v) in resp.headers() {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            headers
                .entry(k.as_str().to_string())
                .and_modify(|e: &mut String| {
                    e.push_str(", ");
                    e.push_str(&v);
                })
                .or_insert(v);
        }
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the response of {url}: {e}"))?
            .to_bytes();
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("{method} {url}: no answer within {}s", timeout.as_secs()))?
}

/// This machine's public address as Packer gets it: checkip.amazonaws.com answers with it.
/// `AMBAKE_CHECKIP_URL` points elsewhere (tests, networks that reach only a proxy of their own).
/// Asked once per run: parallel builds of one template share the answer.
pub async fn public_ip() -> Result<std::net::IpAddr, String> {
    static ANSWER: tokio::sync::OnceCell<Result<std::net::IpAddr, String>> =
        tokio::sync::OnceCell::const_new();
    ANSWER.get_or_init(lookup_public_ip).await.clone()
}

async fn lookup_public_ip() -> Result<std::net::IpAddr, String> {
    let url = std::env::var("AMBAKE_CHECKIP_URL")
        .unwrap_or_else(|_| "https://checkip.amazonaws.com".to_string());
    let r = request("GET", &url, &BTreeMap::new(), "", Duration::from_secs(30))
        .await
        .map_err(|e| format!("failed to get current host's public ip: GET failed: {e}"))?;
    if r.status != 200 {
        return Err(format!(
            "failed to get current host's public ip: received status {}",
            r.status
        ));
    }
    let text = r.body.trim();
    let ip: std::net::IpAddr = text.parse().map_err(|_| {
        format!("failed to get current host's public ip: failed to parse response body: {text}")
    })?;
    if ip.is_unspecified() {
        return Err(format!("Current host's public IP is unspecified: {ip}"));
    }
    Ok(ip)
}
