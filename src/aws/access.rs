//! The access options of one source (or of `whoami`'s command line), independent of HCL.

use crate::config::ebs::{AmazonEbs, AssumeRole};

/// What decides which credentials, region and endpoint a build uses.
#[derive(Debug, Clone, Default)]
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

impl From<&AmazonEbs> for AccessOptions {
    fn from(c: &AmazonEbs) -> Self {
        AccessOptions {
            access_key: c.access_key.clone(),
            secret_key: c.secret_key.clone(),
            token: c.token.clone(),
            profile: c.profile.clone(),
            shared_credentials_file: c.shared_credentials_file.clone(),
            region: c.region.clone(),
            assume_role: c.role_to_assume().cloned(),
            custom_endpoint_ec2: c.custom_endpoint_ec2.clone(),
            max_retries: c.max_retries,
            mfa_code: c.mfa_code.clone(),
            insecure_skip_tls_verify: c.insecure_skip_tls_verify,
        }
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
