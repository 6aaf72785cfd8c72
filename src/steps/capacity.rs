//! Launching where there is capacity: when EC2 answers a launch with a capacity error
//! (no capacity for the type in that AZ, type not offered there, spot price too low, subnet
//! full), the build tries the next pool — every instance type in each subnet the
//! configuration allows — and, with `spot_fallback_on_demand` (an ambake extension), on
//! demand after every spot pool failed. Every attempt is journaled like any launch.

use crate::job::context::{Cx, aws_err};
use crate::job::state::BuildState;

/// The error codes that mean "not here, maybe elsewhere".
pub const CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "InsufficientHostCapacity",
    "Unsupported",
    "SpotMaxPriceTooLow",
    "InsufficientFreeAddressesInSubnet",
];

pub fn is_capacity(code: &str) -> bool {
    CODES.contains(&code)
}

/// A launch that failed for want of capacity in every pool it asked for; each entry says which
/// pool and what EC2 answered.
#[derive(Debug, thiserror::Error)]
#[error("no capacity: {}", .0.join("; "))]
pub struct NoCapacity(pub Vec<String>);

/// A subnet to launch in, with its AZ; `None`: the one EC2 chooses (no subnet asked for).
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub subnet: Option<String>,
    pub az: Option<String>,
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.subnet, &self.az) {
            (Some(s), Some(az)) => write!(f, "{s} ({az})"),
            (Some(s), None) => write!(f, "{s}"),
            (None, _) => write!(f, "the default subnet"),
        }
    }
}

/// The subnets to try after the first. The network step's other matches when it chose among
/// several; with nothing asked for (no subnet, filter or VPC), the default subnets of the other
/// AZs (looked up only now, after a capacity failure). A pinned `subnet_id` has no others.
pub async fn more_pools(cx: &Cx, st: &BuildState) -> anyhow::Result<Vec<Pool>> {
    let c = &cx.plan.config;
    if !st.alternate_subnets.is_empty() || c.subnet_id.is_some() {
        return Ok(st.alternate_subnets.clone());
    }
    if c.subnet_filter.is_some() || c.vpc_id.is_some() || c.vpc_filter.is_some() {
        return Ok(vec![]);
    }
    let fs = super::network::default_subnets(c.availability_zone.as_deref());
    let out = cx
        .ec2
        .describe_subnets()
        .set_filters(Some(fs))
        .send()
        .await
        .map_err(|e| aws_err("ec2:DescribeSubnets", cx.region(), e))?;
    let mut pools: Vec<Pool> = out
        .subnets()
        .iter()
        .filter(|s| s.availability_zone() != st.availability_zone.as_deref())
        .map(|s| Pool {
            subnet: s.subnet_id().map(String::from),
            az: s.availability_zone().map(String::from),
        })
        .collect();
    pools.sort_by(|a, b| a.az.cmp(&b.az));
    Ok(pools)
}
