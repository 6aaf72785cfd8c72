//! StepSourceAMIInfo. Calls: ec2:DescribeImages (by id and/or filters + owners).

use crate::build::context::{Cx, aws_err};
use crate::build::state::{BuildState, SourceImage};
use aws_sdk_ec2::types::{Filter, Image};

pub fn domain(i: &Image) -> SourceImage {
    SourceImage {
        id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        creation_date: i.creation_date().unwrap_or_default().to_string(),
        owner: i.owner_id().unwrap_or_default().to_string(),
        owner_alias: i.image_owner_alias().unwrap_or_default().to_string(),
        root_device_type: i
            .root_device_type()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
        root_device_name: i.root_device_name().unwrap_or_default().to_string(),
        virtualization_type: i
            .virtualization_type()
            .map(|v| v.as_str().to_string())
            .unwrap_or_default(),
        tags: i
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    }
}

/// Packer's choice: exactly one match, or the newest by CreationDate with most_recent.
pub fn choose(
    mut images: Vec<SourceImage>,
    most_recent: bool,
    what: &str,
) -> anyhow::Result<SourceImage> {
    match images.len() {
        0 => anyhow::bail!("No AMI was found matching filters: {what}"),
        1 => Ok(images.remove(0)),
        _ if most_recent => {
            images.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then(a.id.cmp(&b.id)));
            Ok(images.pop().expect("non-empty"))
        }
        n => anyhow::bail!(
            "Your query returned more than one result ({n} AMIs). Please try a more specific search, or set most_recent to true. Filters: {what}"
        ),
    }
}

pub async fn run(cx: &Cx, st: &mut BuildState) -> anyhow::Result<()> {
    let c = &cx.plan.config;
    let mut req = cx.ec2.describe_images();
    let mut what = String::new();
    if let Some(id) = &c.source_ami {
        req = req.image_ids(id);
        what.push_str(&format!("image id {id}"));
    }
    let mut most_recent = false;
    if let Some(f) = &c.source_ami_filter {
        for (k, v) in &f.filters {
            req = req.filters(Filter::builder().name(k).values(v).build());
        }
        for o in &f.owners {
            req = req.owners(o);
        }
        if f.include_deprecated {
            req = req.include_deprecated(true);
        }
        most_recent = f.most_recent;
        what.push_str(&format!("{:?} owned by {:?}", f.filters, f.owners));
    }
    let out = req
        .send()
        .await
        .map_err(|e| aws_err("ec2:DescribeImages", cx.region(), &e))?;
    let img = choose(
        out.images().iter().map(domain).collect(),
        most_recent,
        &what,
    )?;
    if img.root_device_type != "ebs" && !img.root_device_type.is_empty() {
        anyhow::bail!(
            "The root device of the source AMI must be EBS-backed (Expected 'ebs', got '{}')",
            img.root_device_type
        );
    }
    if (c.ena_support == Some(true) || c.sriov_support) && img.virtualization_type == "paravirtual"
    {
        anyhow::bail!(
            "Cannot enable enhanced networking on a paravirtual source AMI {}",
            img.id
        );
    }
    cx.ui
        .message(&format!("Found Image ID: {} ({})", img.id, img.name));
    st.source_image = Some(img);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, date: &str) -> SourceImage {
        SourceImage {
            id: id.into(),
            creation_date: date.into(),
            ..Default::default()
        }
    }

    #[test]
    fn newest_wins_only_with_most_recent() {
        let imgs = vec![
            img("a", "2024-01-01T00:00:00.000Z"),
            img("b", "2025-06-01T00:00:00.000Z"),
            img("c", "2023-01-01T00:00:00.000Z"),
        ];
        assert_eq!(choose(imgs.clone(), true, "f").unwrap().id, "b");
        assert!(
            choose(imgs, false, "f")
                .unwrap_err()
                .to_string()
                .contains("more than one result")
        );
        assert!(
            choose(vec![], true, "f")
                .unwrap_err()
                .to_string()
                .contains("No AMI was found")
        );
    }
}
