//! The credential chain, in Packer's order: static keys → environment → shared files/profile →
//! container role → instance role (IMDSv2), with `assume_role` layered on top.
//!
//! aws-config's own default chain has no static step and lets a misspelt profile fall through
//! to IMDS; this chain is assembled from the same aws-config providers but records which source
//! answered (for `whoami` and the build's first line), stops at an explicitly named profile that
//! fails (as Packer does), and reports every source it tried when none works.

use super::access::AccessOptions;
use super::access::AssumeRole;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
// aws-config still exports these under their old names; the new ones live in aws-runtime,
// which would be one more direct dependency for two names.
#[allow(deprecated)]
use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Which link of the chain supplied the base credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Static,
    Environment,
    SharedFile { profile: String },
    Container,
    InstanceRole,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Static => write!(f, "static keys in the template (access_key/secret_key)"),
            Source::Environment => {
                write!(f, "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
            }
            Source::SharedFile { profile } => {
                write!(f, "shared config/credentials files, profile \"{profile}\"")
            }
            Source::Container => write!(f, "container role (ECS task credentials)"),
            Source::InstanceRole => write!(f, "instance role (EC2 instance metadata, IMDSv2)"),
        }
    }
}

impl Source {
    /// Short machine name for `--json`.
    pub fn key(&self) -> &'static str {
        match self {
            Source::Static => "static",
            Source::Environment => "environment",
            Source::SharedFile { .. } => "shared-file",
            Source::Container => "container",
            Source::InstanceRole => "instance-role",
        }
    }
}

/// Why no credentials were found: every link, in order, with its reason.
#[derive(Debug)]
pub struct NoCredentials {
    pub attempts: Vec<(String, String)>,
}

impl fmt::Display for NoCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "no AWS credentials found. Tried, in order:")?;
        for (i, (name, why)) in self.attempts.iter().enumerate() {
            writeln!(f, "  {}. {name}: {why}", i + 1)?;
        }
        write!(
            f,
            "Set access_key/secret_key in the source, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in ~/.aws/credentials (AWS_PROFILE), or run on an instance with a role."
        )
    }
}
impl std::error::Error for NoCredentials {}

struct Link {
    source: Source,
    provider: SharedCredentialsProvider,
    /// A failure here ends the chain (an explicitly named profile).
    fatal: bool,
}

/// The Packer-order chain. Cheap to clone; clones share what they learned.
#[derive(Clone)]
pub struct PackerChain {
    links: Arc<Vec<Link>>,
    winner: Arc<Mutex<Option<Source>>>,
}

impl fmt::Debug for PackerChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackerChain")
            .field(
                "links",
                &self
                    .links
                    .iter()
                    .map(|l| l.source.key())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn reason(e: &CredentialsError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

impl PackerChain {
    #[allow(deprecated)]
    pub fn new(o: &AccessOptions) -> Result<Self, String> {
        let mut links = Vec::new();
        match (&o.access_key, &o.secret_key) {
            (Some(ak), Some(sk)) => links.push(Link {
                source: Source::Static,
                provider: SharedCredentialsProvider::new(Credentials::new(
                    ak,
                    sk,
                    o.token.clone(),
                    None,
                    "Static",
                )),
                fatal: true,
            }),
            (None, None) => {}
            _ => {
                return Err(
                    "`access_key` and `secret_key` must both be either set or not set.".into(),
                );
            }
        }
        links.push(Link {
            source: Source::Environment,
            provider: SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
            fatal: false,
        });

        let env_profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
        let explicit = o.profile.clone().or(env_profile);
        let profile_name = explicit.clone().unwrap_or_else(|| "default".to_string());
        let mut pb = ProfileFileCredentialsProvider::builder().profile_name(&profile_name);
        if let Some(f) = &o.shared_credentials_file {
            let path = crate::paths::expand_home(f);
            pb = pb.profile_files(
                ProfileFiles::builder()
                    .include_default_config_file(true)
                    .with_file(ProfileFileKind::Credentials, path)
                    .build(),
            );
        }
        links.push(Link {
            source: Source::SharedFile {
                profile: profile_name,
            },
            provider: SharedCredentialsProvider::new(pb.build()),
            fatal: explicit.is_some(),
        });
        links.push(Link {
            source: Source::Container,
            provider: SharedCredentialsProvider::new(
                aws_config::ecs::EcsCredentialsProvider::builder().build(),
            ),
            fatal: false,
        });
        links.push(Link {
            source: Source::InstanceRole,
            provider: SharedCredentialsProvider::new(ImdsCredentialsProvider::builder().build()),
            fatal: false,
        });
        Ok(PackerChain {
            links: Arc::new(links),
            winner: Arc::new(Mutex::new(None)),
        })
    }

    /// The source that answered last, once credentials were loaded.
    pub fn winner(&self) -> Option<Source> {
        self.winner.lock().ok().and_then(|w| w.clone())
    }

    /// Tries each link in order. Returns the credentials and the source, or every reason.
    pub async fn resolve(
        &self,
    ) -> Result<(Credentials, Source), Box<dyn std::error::Error + Send + Sync>> {
        let mut attempts = Vec::new();
        for link in self.links.iter() {
            match link.provider.provide_credentials().await {
                Ok(c) => {
                    if let Ok(mut w) = self.winner.lock() {
                        *w = Some(link.source.clone());
                    }
                    return Ok((c, link.source.clone()));
                }
                Err(e @ CredentialsError::CredentialsNotLoaded(_)) if !link.fatal => {
                    attempts.push((link.source.to_string(), reason(&e)))
                }
                Err(e) => {
                    let what = link.source.to_string();
                    return Err(format!("{what}: {}", reason(&e)).into());
                }
            }
        }
        Err(Box::new(NoCredentials { attempts }))
    }
}

impl ProvideCredentials for PackerChain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.resolve()
                .await
                .map(|(c, _)| c)
                .map_err(CredentialsError::provider_error)
        })
    }
}

/// `assume_role` on top of any base provider, with every Packer option (including
/// `transitive_tag_keys`, which aws-config's AssumeRoleProvider lacks). The SDK's identity
/// cache calls it again before the session expires, so long builds keep working.
#[derive(Debug, Clone)]
pub struct AssumeRoleLayer {
    pub role: AssumeRole,
    pub sts: aws_sdk_sts::Client,
    /// `mfa_code`: sent as TokenCode with the serial number of the caller's virtual MFA device
    /// (`arn:aws:iam::<account>:mfa/<user>`, AWS's default name for it), which Packer's
    /// configuration has no option for.
    pub mfa: Option<(String, String)>,
}

impl AssumeRoleLayer {
    pub async fn assume(&self) -> Result<Credentials, CredentialsError> {
        let r = &self.role;
        let session = r
            .session_name
            .clone()
            .unwrap_or_else(|| format!("ambake-{}", jiff::Timestamp::now().as_second()));
        let mut req = self
            .sts
            .assume_role()
            .role_arn(r.role_arn.clone().unwrap_or_default())
            .role_session_name(session);
        if let Some(x) = &r.external_id {
            req = req.external_id(x);
        }
        if let Some(d) = r.duration_seconds {
            req = req.duration_seconds(d as i32);
        }
        if let Some(p) = &r.policy {
            req = req.policy(p);
        }
        for arn in &r.policy_arns {
            req = req.policy_arns(
                aws_sdk_sts::types::PolicyDescriptorType::builder()
                    .arn(arn)
                    .build(),
            );
        }
        for (k, v) in &r.tags {
            let tag = aws_sdk_sts::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(CredentialsError::invalid_configuration)?;
            req = req.tags(tag);
        }
        for k in &r.transitive_tag_keys {
            req = req.transitive_tag_keys(k);
        }
        if let Some((serial, code)) = &self.mfa {
            req = req.serial_number(serial).token_code(code);
        }
        let out = req.send().await.map_err(|e| {
            CredentialsError::provider_error(format!(
                "sts:AssumeRole {}: {}",
                r.role_arn.as_deref().unwrap_or(""),
                super::errors::explain(&e)
            ))
        })?;
        let c = out.credentials().ok_or_else(|| {
            CredentialsError::provider_error("sts:AssumeRole returned no credentials")
        })?;
        let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "AssumeRole",
        ))
    }
}

impl ProvideCredentials for AssumeRoleLayer {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// A provider that hands out credentials already fetched once (to report or check them up
/// front) before asking `inner` again: the first SDK call then costs no second IMDS round trip
/// or AssumeRole. Expired primed credentials are not used.
#[derive(Debug)]
pub struct Primed<P> {
    first: std::sync::Mutex<Option<Credentials>>,
    inner: P,
}

impl<P> Primed<P> {
    pub fn new(first: Credentials, inner: P) -> Self {
        Primed {
            first: std::sync::Mutex::new(Some(first)),
            inner,
        }
    }
}

impl<P: ProvideCredentials> ProvideCredentials for Primed<P> {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().ok().and_then(|mut f| f.take());
        let fresh = first.filter(|c| {
            c.expiry().is_none_or(|t| {
                t > std::time::SystemTime::now() + std::time::Duration::from_secs(300)
            })
        });
        match fresh {
            Some(c) => future::ProvideCredentials::ready(Ok(c)),
            None => self.inner.provide_credentials(),
        }
    }
}

/// The virtual MFA device of an IAM user ARN (`arn:aws:iam::123:user/path/name` →
/// `arn:aws:iam::123:mfa/name`).
pub fn mfa_serial_for(arn: &str) -> Option<String> {
    let (prefix, rest) = arn.split_once(":user/")?;
    let name = rest.rsplit('/').next()?;
    Some(format!("{prefix}:mfa/{name}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mfa_serials() {
        assert_eq!(
            super::mfa_serial_for("arn:aws:iam::123456789012:user/dev/alice").as_deref(),
            Some("arn:aws:iam::123456789012:mfa/alice")
        );
        assert_eq!(
            super::mfa_serial_for("arn:aws:sts::1:assumed-role/r/s"),
            None
        );
    }
}
