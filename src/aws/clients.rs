//! One configured AWS session per source: credentials (Packer's chain, optionally assumed),
//! region, endpoint override, retries and timeouts, and the clients built from them.

use super::access::AccessOptions;
use super::clock::ClockCheck;
use super::credentials::{AssumeRoleLayer, PackerChain, Source};
use super::region::{self, RegionOrigin};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_types::SdkConfig;
use aws_types::region::Region;
use std::time::Duration;

/// Packer's default for `max_retries` (the SDK's own is 3).
pub const DEFAULT_MAX_RETRIES: i64 = 10;

/// What a session found out while being set up.
#[derive(Debug, Clone)]
pub struct Session {
    pub sdk: SdkConfig,
    pub region: String,
    pub region_origin: RegionOrigin,
    pub source: Source,
    /// The base credentials (before any assume_role).
    pub base: Credentials,
    pub assumed_role: Option<String>,
    pub endpoint: Option<String>,
    pub clock: ClockCheck,
    /// Every request this session's clients send.
    pub calls: super::calls::CallCount,
    /// What the session was made from, to make it again ([`Session::renew`]).
    pub access: AccessOptions,
}

/// The SDK's attempts for `max_retries`: at least one, at most 100 (`4294967295` must not wrap
/// to zero attempts, nor retry a failing call for days).
fn attempts(max_retries: Option<i64>) -> u32 {
    max_retries.unwrap_or(DEFAULT_MAX_RETRIES).clamp(1, 100) as u32
}

fn loader(region: &str, o: &AccessOptions) -> aws_config::ConfigLoader {
    let attempts = attempts(o.max_retries);
    let mut l = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        // No call may hang forever: connect, per-attempt and whole-operation limits.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .operation_attempt_timeout(Duration::from_secs(90))
                .operation_timeout(Duration::from_secs(600))
                .build(),
        );
    if let Some(ep) = &o.custom_endpoint_ec2 {
        // Packer sets custom_endpoint_ec2 on its whole session: IAM and STS follow it too.
        l = l.endpoint_url(ep);
    }
    if let Some(p) = &o.profile {
        l = l.profile_name(p);
    }
    if o.insecure_skip_tls_verify {
        // Construction cannot fail in practice (fixed, valid TLS versions); if it ever does,
        // the SDK's verifying client stays in place and the handshake error says why.
        if let Ok(c) = super::insecure::InsecureClient::new() {
            l = l.http_client(c);
        }
    }
    l
}

/// Resolves region and credentials (failing with every reason when there are none) and builds
/// the SDK configuration. Credentials are providers, not a snapshot: they refresh.
pub async fn session(o: &AccessOptions) -> anyhow::Result<Session> {
    let (region, region_origin) = region::resolve(o.region.as_deref(), o.profile.as_deref())
        .await
        .map_err(anyhow::Error::msg)?;
    let chain = PackerChain::new(o).map_err(anyhow::Error::msg)?;
    let (base, source) = chain.resolve().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let base_sdk = loader(&region, o)
        .credentials_provider(super::credentials::Primed::new(base.clone(), chain.clone()))
        .load()
        .await;
    let (sdk, assumed_role) = match &o.assume_role {
        Some(role) => {
            let sts = aws_sdk_sts::Client::new(&base_sdk);
            let mfa = match &o.mfa_code {
                Some(code) => {
                    let id = sts.get_caller_identity().send().await.map_err(|e| {
                        anyhow::anyhow!(
                            "sts:GetCallerIdentity (for mfa_code) failed: {}",
                            super::errors::explain(&e)
                        )
                    })?;
                    let arn = id.arn().unwrap_or_default();
                    let serial = super::credentials::mfa_serial_for(arn).ok_or_else(|| anyhow::anyhow!("mfa_code needs long-term IAM user credentials to find the MFA device; the base identity is {arn}"))?;
                    Some((serial, code.clone()))
                }
                None => None,
            };
            let layer = AssumeRoleLayer {
                role: role.clone(),
                sts,
                mfa,
            };
            // Fail now, with the AWS error, rather than inside the first build call; the SDK's
            // first call then uses this session instead of assuming the role again.
            let assumed = layer
                .assume()
                .await
                .map_err(|e| anyhow::anyhow!("{}", chain_text(&e)))?;
            let sdk = loader(&region, o)
                .credentials_provider(super::credentials::Primed::new(assumed, layer))
                .load()
                .await;
            (sdk, role.role_arn.clone())
        }
        None => (base_sdk, None),
    };
    Ok(Session {
        sdk,
        region,
        region_origin,
        source,
        base,
        assumed_role,
        endpoint: o.custom_endpoint_ec2.clone(),
        clock: ClockCheck::default(),
        calls: Default::default(),
        access: o.clone(),
    })
}

fn chain_text(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

impl Session {
    /// The same session made again: the credential chain asked afresh (a new SSO token, a new
    /// assume-role session, whatever the provider now gives), counting into the same calls.
    pub async fn renew(&self) -> anyhow::Result<Session> {
        let mut s = session(&self.access).await?;
        s.calls = self.calls.clone();
        Ok(s)
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.sdk)
                .interceptor(self.calls.clone())
                .build(),
        )
    }
    /// EC2 in another region (copies, region checks), same credentials and endpoint.
    pub fn ec2_in(&self, region: &str) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&self.sdk)
                .interceptor(self.calls.clone())
                .build(),
        )
    }
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&self.sdk)
                .interceptor(self.calls.clone())
                .build(),
        )
    }
    pub fn secretsmanager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&self.sdk)
                .interceptor(self.calls.clone())
                .build(),
        )
    }
    /// STS with the clock check attached, for `whoami` and credential validation.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.sdk)
            .interceptor(self.calls.clone())
            .interceptor(self.clock.clone())
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn max_retries_is_clamped() {
        assert_eq!(super::attempts(Some(4294967295)), 100);
        assert_eq!(super::attempts(Some(-5)), 1);
        assert_eq!(super::attempts(None), super::DEFAULT_MAX_RETRIES as u32);
    }
}
