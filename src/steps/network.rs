//! StepNetworkInfo. Calls: ec2:DescribeVpcs (vpc_filter), ec2:DescribeSubnets (subnet_id /
//! subnet_filter / the VPC's subnets). Nothing is called when no network option is set: the
//! instance then goes to the default VPC, and AWS picks the subnet.

use crate::config::BuildPlan;
use crate::job::context::{Cx, aws_err};
use crate::job::needs::Needs;
use crate::job::state::BuildState;
use aws_sdk_ec2::types::{Filter, Subnet};

fn filters(m: &std::collections::BTreeMap<String, String>) -> Vec<Filter> {
    m.iter()
        .map(|(k, v)| Filter::builder().name(k).values(v).build())
        .collect()
}

/// Packer's pick among several subnets: the most free addresses, or random, else an error.
/// The filters for the default VPC's subnets (one per AZ), in `availability_zone` if set.
pub fn default_subnets(availability_zone: Option<&str>) -> Vec<Filter> {
    let mut fs = vec![
        Filter::builder()
            .name("default-for-az")
            .values("true")
            .build(),
    ];
    if let Some(az) = availability_zone {
        fs.push(
            Filter::builder()
                .name("availability-zone")
                .values(az)
                .build(),
        );
    }
    fs
}

pub fn pick(
    mut subnets: Vec<(String, i32)>,
    most_free: bool,
    random: bool,
) -> anyhow::Result<String> {
    match subnets.len() {
        0 => anyhow::bail!("No subnet was found matching the filters"),
        1 => Ok(subnets.remove(0).0),
        _ if most_free => {
            subnets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            Ok(subnets.remove(0).0)
        }
        n if random => Ok(subnets.remove(fastrand::usize(0..n)).0),
        n => anyhow::bail!(
            "Your filter matched {n} subnets. Please try a more specific search, or set random or most_free to true."
        ),
    }
}

pub async fn run(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let mut vpc = c.vpc_id.clone();
    if let (None, Some(f)) = (&vpc, &c.vpc_filter) {
        let out = cx
            .ec2
            .describe_vpcs()
            .set_filters(Some(filters(&f.filters)))
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeVpcs", cx.region(), e))?;
        match out.vpcs() {
            [one] => vpc = one.vpc_id().map(String::from),
            [] => anyhow::bail!("No VPC was found matching vpc_filter {:?}", f.filters),
            more => anyhow::bail!(
                "vpc_filter matched {} VPCs; make it more specific",
                more.len()
            ),
        }
    }
    let subnets: Vec<Subnet> = if let Some(id) = &c.subnet_id {
        cx.ec2
            .describe_subnets()
            .subnet_ids(id)
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeSubnets", cx.region(), e))?
            .subnets()
            .to_vec()
    } else if c.subnet_filter.is_some() || vpc.is_some() {
        let mut fs = c
            .subnet_filter
            .as_ref()
            .map(|f| filters(&f.filters))
            .unwrap_or_default();
        fs.push(Filter::builder().name("state").values("available").build());
        if let Some(v) = &vpc {
            fs.push(Filter::builder().name("vpc-id").values(v).build());
        }
        if let Some(az) = &c.availability_zone {
            fs.push(
                Filter::builder()
                    .name("availability-zone")
                    .values(az)
                    .build(),
            );
        }
        cx.ec2
            .describe_subnets()
            .set_filters(Some(fs))
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeSubnets", cx.region(), e))?
            .subnets()
            .to_vec()
    } else if c.associate_public_ip_address.is_some() {
        // Packer infers the default VPC's subnet with the most free addresses, so that the
        // public-IP setting can go on a network interface.
        let fs = default_subnets(c.availability_zone.as_deref());
        cx.ec2
            .describe_subnets()
            .set_filters(Some(fs))
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeSubnets", cx.region(), e))?
            .subnets()
            .to_vec()
    } else {
        return Ok(());
    };
    let (most_free, random) = c
        .subnet_filter
        .as_ref()
        .map(|f| (f.most_free, f.random))
        .unwrap_or((true, false));
    let chosen = pick(
        subnets
            .iter()
            .map(|s| {
                (
                    s.subnet_id().unwrap_or_default().to_string(),
                    s.available_ip_address_count().unwrap_or(0),
                )
            })
            .collect(),
        most_free,
        random,
    )?;
    let s = subnets
        .iter()
        .find(|s| s.subnet_id() == Some(chosen.as_str()))
        .expect("picked from the list");
    let mut others: Vec<&Subnet> = subnets
        .iter()
        .filter(|s| s.subnet_id() != Some(chosen.as_str()))
        .collect();
    others.sort_by_key(|s| std::cmp::Reverse(s.available_ip_address_count().unwrap_or(0)));
    st.alternate_subnets = others
        .into_iter()
        .map(|s| crate::steps::capacity::Pool {
            subnet: s.subnet_id().map(String::from),
            az: s.availability_zone().map(String::from),
        })
        .collect();
    st.subnet_id = Some(chosen.clone());
    st.vpc_id = s.vpc_id().map(String::from);
    st.availability_zone = s.availability_zone().map(String::from);
    cx.ui.message(&format!(
        "Using subnet {chosen} in {} ({})",
        st.availability_zone.as_deref().unwrap_or("?"),
        st.vpc_id.as_deref().unwrap_or("?")
    ));
    Ok(())
}

/// IAM actions of this step (`ambake iam-policy`).
pub fn iam(p: &BuildPlan, n: &mut Needs) {
    let c = &p.config;
    if c.subnet_id.is_some()
        || c.subnet_filter.is_some()
        || c.vpc_id.is_some()
        || c.vpc_filter.is_some()
        || c.associate_public_ip_address.is_some()
    {
        n.add("ec2:DescribeSubnets", "resolve the subnet");
    }
    if c.vpc_filter.is_some() {
        n.add("ec2:DescribeVpcs", "resolve vpc_filter");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subnet_choice() {
        let s = vec![("a".to_string(), 10), ("b".to_string(), 250)];
        assert_eq!(super::pick(s.clone(), true, false).unwrap(), "b");
        assert!(super::pick(s, false, false).is_err());
    }
}
