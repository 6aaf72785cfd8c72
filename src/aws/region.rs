//! The build region and where it came from: the `region` option, `AWS_REGION` /
//! `AWS_DEFAULT_REGION`, the profile, then instance metadata.

use aws_config::meta::region::ProvideRegion;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionOrigin {
    Option,
    Environment(&'static str),
    Profile(String),
    InstanceMetadata,
}

impl fmt::Display for RegionOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionOrigin::Option => write!(f, "region option"),
            RegionOrigin::Environment(v) => write!(f, "{v}"),
            RegionOrigin::Profile(p) => write!(f, "profile \"{p}\""),
            RegionOrigin::InstanceMetadata => write!(f, "instance metadata"),
        }
    }
}

/// Resolves the region. `None` from every source is an error that says what to set.
pub async fn resolve(
    option: Option<&str>,
    profile: Option<&str>,
) -> Result<(String, RegionOrigin), String> {
    if let Some(r) = option.filter(|r| !r.is_empty()) {
        return Ok((r.to_string(), RegionOrigin::Option));
    }
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(r) = std::env::var(var).ok().filter(|r| !r.is_empty()) {
            return Ok((r, RegionOrigin::Environment(var)));
        }
    }
    let env_profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let name = profile
        .map(String::from)
        .or(env_profile)
        .unwrap_or_else(|| "default".to_string());
    let p = aws_config::profile::region::ProfileFileRegionProvider::builder()
        .profile_name(&name)
        .build();
    if let Some(r) = p.region().await {
        return Ok((r.to_string(), RegionOrigin::Profile(name)));
    }
    let imds_off =
        std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if !imds_off {
        let p = aws_config::imds::region::ImdsRegionProvider::builder().build();
        if let Some(r) = p.region().await {
            return Ok((r.to_string(), RegionOrigin::InstanceMetadata));
        }
    }
    Err("no AWS region: set region in the source block, AWS_REGION (or AWS_DEFAULT_REGION), or region in the profile".into())
}
