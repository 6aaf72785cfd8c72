//! Data sources evaluated against AWS (glue between the template layer, the configuration
//! decoder and the AWS layer) (`ambake build`, `validate -evaluate-datasources`):
//! `data "amazon-ami"` looks the image up with DescribeImages, with the same choice rules as
//! `source_ami_filter`; `data "http"` makes its request. `amazon-parameterstore` needs SSM,
//! which ambake does not link yet.

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
        let mut diags = crate::diag::Diagnostics::default();
        let args = crate::config::plugins::data_source(&block.kind, body, &block.span, &mut diags)
            .ok_or_else(|| {
                format!(
                    "data source type \"{}\" is not supported by ambake (supported: amazon-ami, http)",
                    block.kind
                )
            })?;
        if let Some(e) = diags.errors().next() {
            return Err(e.message.clone());
        }
        if block.kind == "http" {
            return self.rt.block_on(http(&args));
        }
        if block.kind != "amazon-ami" {
            return Err(format!(
                "data \"{}\" \"{}\": evaluating amazon-parameterstore is not supported yet (ambake does not link the SSM client); use source_ami_filter or data \"amazon-ami\"",
                block.kind, block.name
            ));
        }
        let access = AccessOptions {
            access_key: s(&args, "access_key"),
            secret_key: s(&args, "secret_key"),
            token: s(&args, "token"),
            profile: s(&args, "profile"),
            shared_credentials_file: s(&args, "shared_credentials_file"),
            region: s(&args, "region"),
            assume_role: args
                .get("assume_role")
                .and_then(|a| serde_json::from_value::<AssumeRole>(a.clone()).ok()),
            custom_endpoint_ec2: s(&args, "custom_endpoint_ec2"),
            max_retries: args.get("max_retries").and_then(|v| v.as_i64()),
            mfa_code: s(&args, "mfa_code"),
            insecure_skip_tls_verify: args
                .get("insecure_skip_tls_verify")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        };
        let what = format!("data.amazon-ami.{}", block.name);
        self.rt.block_on(async {
            let session = crate::aws::clients::session(&access)
                .await
                .map_err(|e| format!("{what}: {e:#}"))?;
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
                include_deprecated: args.get("include_deprecated").and_then(|v| v.as_bool())
                    == Some(true),
                most_recent: args
                    .get("most_recent")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            };
            let img = images::find(&session.ec2(), &session.region, &q)
                .await
                .map_err(|e| format!("{what}: {e:#}"))?;
            let mut m = hcl::Map::new();
            m.insert("id".into(), Value::from(img.id));
            m.insert("name".into(), Value::from(img.name));
            m.insert("creation_date".into(), Value::from(img.creation_date));
            m.insert("owner".into(), Value::from(img.owner));
            m.insert("owner_name".into(), Value::from(img.owner_alias));
            m.insert(
                "tags".into(),
                Value::Object(
                    img.tags
                        .into_iter()
                        .map(|(k, v)| (k, Value::from(v)))
                        .collect(),
                ),
            );
            Ok(Value::Object(m))
        })
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
    .await
    .map_err(|e| format!("data \"http\": {e}"))?;
    if !(200..300).contains(&r.status) {
        return Err(format!(
            "data \"http\" {url}: HTTP request error. Response code: {}",
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
