//! The access options of one source (or of `whoami`'s command line), independent of HCL.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `assume_role { … }`: the role the build runs as, assumed with the base credentials.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AssumeRole {
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration_seconds: Option<i64>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub transitive_tag_keys: Vec<String>,
}

/// What decides which credentials, region and endpoint a build uses. Its `Debug` leaves the
/// keys, token and MFA code out (a session keeps these options to renew itself, and sessions
/// are `Debug`).
#[derive(Clone, Default)]
pub struct AccessOptions {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub token: Option<String>,
    pub profile: Option<String>,
    pub shared_credentials_file: Option<String>,
    pub region: Option<String>,
    pub assume_role: Option<AssumeRole>,
    pub custom_endpoint_ec2: Option<String>,
    pub max_retries: Option<i64>,
    /// A TOTP code for the assume_role call (single use: a session that must be renewed later
    /// needs a new code).
    pub mfa_code: Option<String>,
    /// Accept any TLS certificate (an EC2-compatible endpoint with a self-signed one).
    pub insecure_skip_tls_verify: bool,
}

impl std::fmt::Debug for AccessOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("AccessOptions")
            .field("access_key", &hidden(&self.access_key))
            .field("secret_key", &hidden(&self.secret_key))
            .field("token", &hidden(&self.token))
            .field("profile", &self.profile)
            .field("shared_credentials_file", &self.shared_credentials_file)
            .field("region", &self.region)
            .field("assume_role", &self.assume_role)
            .field("custom_endpoint_ec2", &self.custom_endpoint_ec2)
            .field("max_retries", &self.max_retries)
            .field("mfa_code", &hidden(&self.mfa_code))
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .finish()
    }
}

impl AccessOptions {
    /// Every secret these options hold, for masking.
    pub fn secrets(&self) -> Vec<String> {
        [&self.secret_key, &self.token, &self.mfa_code]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn debug_leaves_the_secrets_out() {
        let o = super::AccessOptions {
            access_key: Some("AKIAEXAMPLE".into()),
            secret_key: Some("s3cr3t-key".into()),
            token: Some("session-tok".into()),
            mfa_code: Some("123456".into()),
            ..Default::default()
        };
        let d = format!("{o:?}");
        assert!(d.contains("<hidden>"), "{d}");
        for s in ["AKIAEXAMPLE", "s3cr3t-key", "session-tok", "123456"] {
            assert!(!d.contains(s), "{d}");
        }
    }
}
