//! Data sources evaluated against AWS (glue between the template layer, the configuration
//! decoder and the AWS layer) (`ambake build`, `validate -evaluate-datasources`):
//! `data "amazon-ami"` looks the image up with DescribeImages, with the same choice rules as
//! `source_ami_filter`; `amazon-parameterstore` reads SSM Parameter Store,
//! `amazon-secretsmanager` Secrets Manager (its values are masked in all output); `data "http"`
//! makes its request.

use crate::aws::access::AccessOptions;
use crate::aws::images::{self, ImageQuery};
use crate::config::ebs::AssumeRole;
use crate::template::blocks::DataBlock;
use crate::template::eval::EBody;
use crate::template::locals::DataResolver;
use hcl::Value;

pub struct AwsData {
    rt: tokio::runtime::Runtime,
}

impl AwsData {
    pub fn new() -> anyhow::Result<AwsData> {
        Ok(AwsData {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        })
    }
}

fn s(args: &serde_json::Value, k: &str) -> Option<String> {
    args.get(k).and_then(|v| v.as_str()).map(String::from)
}

impl DataResolver for AwsData {
    fn resolve(&self, block: &DataBlock, body: &EBody) -> Result<Value, String> {
        if crate::template::locals::HCP_DATA
            .iter()
            .any(|(k, _)| *k == block.kind)
        {
            return Err(format!(
                "data \"{}\" \"{}\": ambake cannot evaluate HCP Packer data sources (it does not talk to HCP); give the value as a variable instead, e.g. -var source_ami=ami-…",
                block.kind, block.name
            ));
        }
        let mut diags = crate::diag::Diagnostics::default();
        let args = crate::config::plugins::data_source(&block.kind, body, &block.span, &mut diags)
            .ok_or_else(|| {
                format!(
                    "data source type \"{}\" is not supported by ambake (supported: amazon-ami, amazon-parameterstore, amazon-secretsmanager, http)",
                    block.kind
                )
            })?;
        if let Some(e) = diags.errors().next() {
            return Err(e.message.clone());
        }
        let what = format!("data.{}.{}", block.kind, block.name);
        self.rt
            .block_on(async {
                match block.kind.as_str() {
                    "http" => http(&args).await,
                    "amazon-ami" => ami(&args).await,
                    "amazon-parameterstore" => parameter(&args).await,
                    _ => secret(&args).await,
                }
            })
            .map_err(|e| format!("{what}: {e}"))
    }
}

/// The AWS session of a data source: its own access options, as in Packer.
async fn session(args: &serde_json::Value) -> Result<crate::aws::clients::Session, String> {
    let access = AccessOptions {
        access_key: s(args, "access_key"),
        secret_key: s(args, "secret_key"),
        token: s(args, "token"),
        profile: s(args, "profile"),
        shared_credentials_file: s(args, "shared_credentials_file"),
        region: s(args, "region"),
        assume_role: args
            .get("assume_role")
            .and_then(|a| serde_json::from_value::<AssumeRole>(a.clone()).ok()),
        custom_endpoint_ec2: s(args, "custom_endpoint_ec2"),
        max_retries: args.get("max_retries").and_then(|v| v.as_i64()),
        mfa_code: s(args, "mfa_code"),
        insecure_skip_tls_verify: args
            .get("insecure_skip_tls_verify")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
    };
    crate::aws::clients::session(&access)
        .await
        .map_err(|e| format!("{e:#}"))
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// `data "amazon-ami"`: DescribeImages with source_ami_filter's choice rules.
async fn ami(args: &serde_json::Value) -> Result<Value, String> {
    let session = session(args).await?;
    let str_map = |k: &str| -> std::collections::BTreeMap<String, String> {
        args.get(k)
            .and_then(|f| f.as_object())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let q = ImageQuery {
        id: None,
        filters: str_map("filters"),
        owners: args
            .get("owners")
            .and_then(|o| o.as_array())
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str().map(String::from))
            .collect(),
        include_deprecated: args.get("include_deprecated").and_then(|v| v.as_bool()) == Some(true),
        most_recent: args
            .get("most_recent")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
    };
    let img = images::find(&session.ec2(), &session.region, &q)
        .await
        .map_err(|e| format!("{e:#}"))?;
    Ok(object(vec![
        ("id", Value::from(img.id)),
        ("name", Value::from(img.name)),
        ("creation_date", Value::from(img.creation_date)),
        ("owner", Value::from(img.owner)),
        ("owner_name", Value::from(img.owner_alias)),
        (
            "tags",
            Value::Object(
                img.tags
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            ),
        ),
    ]))
}

/// `data "amazon-parameterstore"`: GetParameter; `value`, `version`, `arn`.
async fn parameter(args: &serde_json::Value) -> Result<Value, String> {
    let session = session(args).await?;
    let name = s(args, "name").unwrap_or_default();
    let out = session
        .ssm()
        .get_parameter()
        .name(&name)
        .with_decryption(args.get("with_decryption").and_then(|v| v.as_bool()) == Some(true))
        .send()
        .await
        .map_err(|e| {
            format!(
                "{:#}",
                crate::aws::errors::aws_err("ssm:GetParameter", &session.region, e)
            )
        })?;
    let p = out
        .parameter()
        .ok_or_else(|| format!("ssm:GetParameter answered without parameter {name}"))?;
    Ok(object(vec![
        ("value", Value::from(p.value().unwrap_or_default())),
        ("version", Value::from(p.version().to_string())),
        ("arn", Value::from(p.arn().unwrap_or_default())),
    ]))
}

/// `data "amazon-secretsmanager"`: GetSecretValue; `value` is `key`'s value (or the first
/// one's) when the secret is a JSON object, else the whole string, as in Packer.
async fn secret(args: &serde_json::Value) -> Result<Value, String> {
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError as E;
    let session = session(args).await?;
    let name = s(args, "name").unwrap_or_default();
    let mut req = session.secretsmanager().get_secret_value().secret_id(&name);
    let version = match (s(args, "version_id"), s(args, "version_stage")) {
        (Some(id), _) => {
            req = req.version_id(&id);
            id
        }
        (None, stage) => {
            let stage = stage.unwrap_or_else(|| "AWSCURRENT".into());
            req = req.version_stage(&stage);
            stage
        }
    };
    let out = req.send().await.map_err(|e| {
        let gone = matches!(e.as_service_error(), Some(E::ResourceNotFoundException(_)))
            || matches!(e.as_service_error(), Some(E::InvalidRequestException(x)) if x.message().is_some_and(|m| m.contains("because it was deleted")));
        if gone {
            format!("Secrets Manager Secret {name:?} Version {version:?} not found")
        } else {
            format!(
                "error reading Secrets Manager Secret Version: {:#}",
                crate::aws::errors::aws_err("secretsmanager:GetSecretValue", &session.region, e)
            )
        }
    })?;
    let text = out.secret_string().unwrap_or_default().to_string();
    let value = secret_value(&text, s(args, "key").as_deref())?;
    let binary = out
        .secret_binary()
        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
        .unwrap_or_default();
    Ok(object(vec![
        ("value", Value::from(value)),
        ("secret_string", Value::from(text)),
        ("secret_binary", Value::from(binary)),
        (
            "version_id",
            Value::from(out.version_id().unwrap_or_default()),
        ),
    ]))
}

fn secret_value(text: &str, key: Option<&str>) -> Result<String, String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(text.to_string());
    };
    let v = match key {
        None => map.values().next(),
        Some(k) => map.get(k),
    };
    match v {
        None => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n
            .as_f64()
            .map(|f| format!("{f:.0}"))
            .unwrap_or_else(|| n.to_string())),
        Some(other) => Err(format!(
            "error to get secret value: \"Unsupported secret value type: {}\"",
            match other {
                serde_json::Value::Bool(_) => "bool",
                serde_json::Value::Array(_) => "[]interface {}",
                serde_json::Value::Object(_) => "map[string]interface {}",
                _ => "<nil>",
            }
        )),
    }
}

/// `data "http"`: the request, a 2xx answer required; `body`, `url` and the response headers
/// (named `request_headers`, as in Packer).
async fn http(args: &serde_json::Value) -> Result<Value, String> {
    let url = s(args, "url").unwrap_or_default();
    let method = s(args, "method").unwrap_or_else(|| "GET".into());
    let headers: std::collections::BTreeMap<String, String> = args
        .get("request_headers")
        .and_then(|h| h.as_object())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let body = s(args, "request_body").unwrap_or_default();
    let r = crate::http_get::request(
        &method,
        &url,
        &headers,
        &body,
        std::time::Duration::from_secs(60),
    )
    .await?;
    if !(200..300).contains(&r.status) {
        return Err(format!(
            "{url}: HTTP request error. Response code: {}",
            r.status
        ));
    }
    let mut m = hcl::Map::new();
    m.insert("url".into(), Value::from(url));
    m.insert("body".into(), Value::from(r.body));
    m.insert(
        "request_headers".into(),
        Value::Object(
            r.headers
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
        ),
    );
    Ok(Value::Object(m))
}

/// IAM actions the template's data sources call (`ambake iam-policy`).
pub fn iam(kinds: &[String], n: &mut crate::job::needs::Needs) {
    for k in kinds {
        match k.as_str() {
            "amazon-ami" => n.add("ec2:DescribeImages", "data \"amazon-ami\""),
            "amazon-parameterstore" => n.add("ssm:GetParameter", "data \"amazon-parameterstore\""),
            "amazon-secretsmanager" => n.add(
                "secretsmanager:GetSecretValue",
                "data \"amazon-secretsmanager\"",
            ),
            _ => {}
        }
    }
}
