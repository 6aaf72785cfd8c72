//! Turning SDK errors into one readable line: the AWS error code, its message, the request id,
//! and a hint for the codes users hit most. Copes with error bodies the SDK cannot parse (an
//! emulator's `<ErrorResponse>` shape, an HTML 500 page) by quoting the HTTP status and body.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

/// A value AWS must return (a new resource's id, key material). Missing is an error naming the
/// call and the field, never an empty string that could reach the journal or a later call.
pub fn required(v: Option<&str>, op: &str, field: &str, region: &str) -> anyhow::Result<String> {
    match v {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(anyhow::anyhow!(
            "{op} in {region} answered without {field}: cannot go on without it"
        )),
    }
}

/// What kind of failure this is, for deciding whether to retry and what to tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Wrong key, unknown key, bad signature.
    BadCredentials,
    Expired,
    AccessDenied,
    ClockSkew,
    Throttled,
    NotFound,
    Other,
}

pub fn classify(code: &str) -> Class {
    match code {
        "InvalidClientTokenId"
        | "AuthFailure"
        | "SignatureDoesNotMatch"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "IncompleteSignature" => Class::BadCredentials,
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => Class::Expired,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedAccess" => Class::AccessDenied,
        "RequestTimeTooSkewed" => Class::ClockSkew,
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => Class::Throttled,
        c if c.ends_with(".NotFound") || c == "NoSuchEntity" => Class::NotFound,
        _ => Class::Other,
    }
}

/// A hint for the error class, or nothing.
pub fn hint(class: Class) -> Option<&'static str> {
    match class {
        Class::BadCredentials => Some(
            "the access key is unknown or the secret key is wrong; check which credentials are in use with `ambake whoami`",
        ),
        Class::Expired => Some(
            "the session credentials have expired; refresh them (aws sso login, a new assume-role session) and retry",
        ),
        Class::AccessDenied => {
            Some("the identity lacks a permission this call needs; the message names the action")
        }
        Class::ClockSkew => Some(
            "AWS signs requests with the current time: this machine's clock is off by more than 5 minutes; sync it (e.g. chrony / timedatectl set-ntp true)",
        ),
        _ => None,
    }
}

/// Code of a failed call, when AWS sent one.
pub fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<String> {
    e.code().map(String::from)
}

/// One line: `Code: message (request id …) — hint`.
pub fn explain<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut out = match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => match e.raw_response() {
            Some(r) => {
                let body = r
                    .body()
                    .bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let code = xml_tag(&body, "Code");
                let msg = xml_tag(&body, "Message");
                match code {
                    Some(c) => format!(
                        "{c}: {} (HTTP {})",
                        msg.unwrap_or_default(),
                        r.status().as_u16()
                    ),
                    None => {
                        // An HTML error page: its title says enough, on one line.
                        let text = xml_tag(&body, "title").unwrap_or(body);
                        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                        format!(
                            "HTTP {}: {}",
                            r.status().as_u16(),
                            text.chars().take(200).collect::<String>()
                        )
                    }
                }
            }
            None => DisplayErrorContext(e).to_string(),
        },
    };
    if let Some(id) = e.request_id() {
        out.push_str(&format!(" (request id {id})"));
    }
    let c = e.code().map(String::from).or_else(|| {
        e.raw_response().and_then(|r| {
            r.body()
                .bytes()
                .and_then(|b| xml_tag(&String::from_utf8_lossy(b), "Code"))
        })
    });
    if let Some(h) = c.as_deref().map(classify).and_then(hint) {
        out.push_str(&format!("; hint: {h}"));
    } else if out.contains("invalid peer certificate") {
        out.push_str("; hint: the endpoint's TLS certificate is not trusted by this machine; for an EC2-compatible endpoint with a self-signed certificate set insecure_skip_tls_verify = true");
    }
    out
}

const ENCODED_MARKER: &str = "Encoded authorization failure message: ";

/// `decode_authorization_messages`: when an AccessDenied carries an encoded message, ask STS
/// to decode it (sts:DecodeAuthorizationMessage) so the user sees which action and resource were
/// refused. `None` when there is nothing to decode or the decoding itself fails.
pub async fn decode_authorization(sts: &aws_sdk_sts::Client, text: &str) -> Option<String> {
    let start = text.find(ENCODED_MARKER)? + ENCODED_MARKER.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ')' && *c != ';')
        .collect();
    if token.is_empty() {
        return None;
    }
    let out = sts
        .decode_authorization_message()
        .encoded_message(token)
        .send()
        .await
        .ok()?;
    out.decoded_message().map(String::from)
}

/// The text of the first `<tag>…</tag>` in an XML error body.
pub fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].trim().to_string())
}

/// An AWS failure with the operation, the region and the AWS error code, message and request
/// id, as a typed [`AwsError`].
pub fn aws_err<E>(op: &str, region: &str, e: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let err = AwsError {
        op: op.to_string(),
        region: region.to_string(),
        code: e.code().map(String::from),
        request_id: e.request_id().map(String::from),
        explained: explain(&e),
        sdk: Box::new(e),
    };
    if err.class() == Class::Expired {
        EXPIRED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    err.into()
}

/// How many calls of this process AWS has refused for expired credentials. Cleanup compares
/// it before and after a pass: a pass that met expired credentials is worth one more with
/// renewed ones. (Decided on the error's class, where the error is made; the callers that
/// need to know keep only its text.)
static EXPIRED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn expired_count() -> u64 {
    EXPIRED.load(std::sync::atomic::Ordering::SeqCst)
}

/// An AWS call that failed, typed: the operation and region, AWS's error code and request id,
/// and the SDK's error itself ([`AwsError::sdk`]). Its message is the one line users see
/// (code, message, request id, hint); callers match on `code` or [`AwsError::class`] rather
/// than on text.
#[derive(Debug, thiserror::Error)]
#[error("{op} in {region} failed: {explained}")]
pub struct AwsError {
    pub op: String,
    pub region: String,
    pub code: Option<String>,
    pub request_id: Option<String>,
    explained: String,
    sdk: Box<dyn std::error::Error + Send + Sync>,
}

impl AwsError {
    /// What kind of failure this is (credentials, throttling, access, …).
    pub fn class(&self) -> Class {
        self.code.as_deref().map(classify).unwrap_or(Class::Other)
    }
    /// The SDK's error, for detail beyond the message (kept out of the message itself, which
    /// already says everything it holds).
    pub fn sdk(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.sdk.as_ref()
    }
}

/// True when the call failed with one of these AWS error codes.
pub fn is_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_xml() {
        assert_eq!(classify("AuthFailure"), Class::BadCredentials);
        assert_eq!(classify("InvalidAMIID.NotFound"), Class::NotFound);
        assert_eq!(classify("RequestExpired"), Class::Expired);
        assert!(hint(Class::ClockSkew).unwrap().contains("clock"));
        let body = "<ErrorResponse><Errors><Error><Code>AuthFailure</Code><Message>bad sig</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_tag(body, "Code").as_deref(), Some("AuthFailure"));
        assert_eq!(xml_tag(body, "Message").as_deref(), Some("bad sig"));
    }
}
