//! StepPreValidate. Calls: sts:GetCallerIdentity (unless skip_credential_validation),
//! ec2:DescribeRegions (unless skip_region_validation), ec2:DescribeImages (name taken?) in the
//! build region and every copy region (Packer checks only the build region).

use crate::aws::images::owned_named;
use crate::config::BuildPlan;
use crate::job::context::{Cx, aws_err};
use crate::job::needs::Needs;

pub async fn run(cx: &Cx) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    if cx.plan.decided.session_manager {
        // Before anything is created: without the plugin the build could never connect.
        crate::comm::ssm::plugin()?;
    }
    // The engine checked the identity already (it is written into the journal).
    if !c.skip_credential_validation && cx.account.is_none() {
        cx.session
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_err("sts:GetCallerIdentity", cx.region(), e))?;
    }
    if !c.skip_region_validation {
        let out = cx
            .ec2
            .describe_regions()
            .all_regions(true)
            .send()
            .await
            .map_err(|e| aws_err("ec2:DescribeRegions", cx.region(), e))?;
        let known: Vec<&str> = out
            .regions()
            .iter()
            .filter_map(|r| r.region_name())
            .collect();
        for r in std::iter::once(cx.region().to_string()).chain(c.copy_regions()) {
            if !known.contains(&r.as_str()) {
                anyhow::bail!(
                    "Region {r} is not a valid AWS region (set skip_region_validation = true for an EC2-compatible cloud)"
                );
            }
        }
    }
    if c.force_deregister || c.skip_create_ami || c.ami_name.contains("{{") {
        return Ok(());
    }
    // Every region at once: the answers do not depend on one another.
    let regions: Vec<String> = std::iter::once(cx.region().to_string())
        .chain(c.copy_regions())
        .collect();
    futures_util::future::try_join_all(regions.iter().map(|r| name_is_free(cx, r))).await?;
    Ok(())
}

/// Fails when an AMI of ours in `region` already has the name.
async fn name_is_free(cx: &Cx, region: &str) -> anyhow::Result<()> {
    let name = &cx.plan.config.ami_name;
    if let Some(img) = owned_named(&cx.ec2_in(region), region, name).await?.first() {
        anyhow::bail!(
            "Error: AMI Name: '{name}' is used by an existing AMI: {} (in {region}); use -force or force_deregister = true to replace it",
            img.image_id().unwrap_or_default()
        );
    }
    Ok(())
}

/// IAM actions of this step (`ambake iam-policy`).
pub fn iam(p: &BuildPlan, n: &mut Needs) {
    let c = &p.config;
    if !c.skip_region_validation {
        n.add("ec2:DescribeRegions", "check region and ami_regions");
    }
    if !(c.force_deregister || c.skip_create_ami) {
        n.add("ec2:DescribeImages", "check the AMI name is free");
    }
}
