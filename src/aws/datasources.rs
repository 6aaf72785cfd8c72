//! Data sources evaluated against AWS (`ambake build`, `validate -evaluate-datasources`):
//! `data "amazon-ami"` looks the image up with DescribeImages, with the same choice rules as
//! `source_ami_filter`. `amazon-parameterstore` needs SSM, which ambake does not link yet.

use crate::aws::access::AccessOptions;
use crate::config::ebs::AssumeRole;
use crate::template::blocks::DataBlock;
use crate::template::eval::EBody;
use crate::template::locals::DataResolver;
use aws_sdk_ec2::types::Filter;
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
                    "data source type \"{}\" is not supported by ambake (supported: amazon-ami)",
                    block.kind
                )
            })?;
        if let Some(e) = diags.errors().next() {
            return Err(e.message.clone());
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
            let mut req = session.ec2().describe_images();
            if let Some(f) = args.get("filters").and_then(|f| f.as_object()) {
                for (k, v) in f {
                    req = req.filters(
                        Filter::builder()
                            .name(k)
                            .values(v.as_str().unwrap_or_default())
                            .build(),
                    );
                }
            }
            for o in args
                .get("owners")
                .and_then(|o| o.as_array())
                .into_iter()
                .flatten()
            {
                req = req.owners(o.as_str().unwrap_or_default());
            }
            if args.get("include_deprecated").and_then(|v| v.as_bool()) == Some(true) {
                req = req.include_deprecated(true);
            }
            let out = req.send().await.map_err(|e| {
                format!(
                    "{what}: ec2:DescribeImages in {} failed: {}",
                    session.region,
                    crate::aws::errors::explain(&e)
                )
            })?;
            let images: Vec<crate::build::state::SourceImage> = out
                .images()
                .iter()
                .map(crate::steps::source_ami::domain)
                .collect();
            let most_recent = args
                .get("most_recent")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            let img = crate::steps::source_ami::choose(
                images,
                most_recent,
                &format!("{:?}", args.get("filters")),
            )
            .map_err(|e| format!("{what}: {e}"))?;
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
