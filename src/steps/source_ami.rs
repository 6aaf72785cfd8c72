//! StepSourceAMIInfo. Calls: ec2:DescribeImages (by id and/or filters + owners).

use crate::aws::images::{self, ImageQuery};
use crate::config::BuildPlan;
use crate::job::context::Cx;
use crate::job::needs::Needs;
use crate::job::state::{BuildState, SourceImage};

/// Finds the source AMI (`source_ami`, `source_ami_filter`).
pub async fn find(cx: &Cx) -> anyhow::Result<SourceImage> {
    let c = &cx.plan.config;
    let mut q = ImageQuery {
        id: c.source_ami.clone(),
        ..Default::default()
    };
    if let Some(f) = &c.source_ami_filter {
        q.filters = f.filters.clone();
        q.owners = f.owners.clone();
        q.include_deprecated = f.include_deprecated;
        q.most_recent = f.most_recent;
    }
    images::find(&cx.ec2, cx.region(), &q).await
}

pub async fn run(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    // Found while pre-validating; when that lookup failed, this one reports why.
    let img = match st.source_found.take() {
        Some(img) => img,
        None => find(cx).await?,
    };
    if img.root_device_type != "ebs" && !img.root_device_type.is_empty() {
        anyhow::bail!(
            "The root device of the source AMI must be EBS-backed (Expected 'ebs', got '{}')",
            img.root_device_type
        );
    }
    // Packer's check: ami_virtualization_type, when given, stands for the image's own type.
    if c.ena_support == Some(true) || c.sriov_support {
        match c.ami_virtualization_type.as_deref() {
            Some("hvm") => {}
            Some(other) => {
                anyhow::bail!("Cannot enable enhanced networking, AMIVirtType '{other}' is not HVM")
            }
            None if img.virtualization_type == "paravirtual" => anyhow::bail!(
                "Cannot enable enhanced networking on a paravirtual source AMI {}",
                img.id
            ),
            None => {}
        }
    }
    cx.ui
        .message(&format!("Found Image ID: {} ({})", img.id, img.name));
    st.source_image = Some(img);
    Ok(())
}

/// IAM actions of this step (`ambake iam-policy`).
pub fn iam(_: &BuildPlan, n: &mut Needs) {
    n.add("ec2:DescribeImages", "find the source AMI");
}
