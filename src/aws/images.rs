//! AMIs: the domain type read from DescribeImages, Packer's choice among matches, the wait for
//! an image to become available, and its snapshots. Used by the source-AMI step, the
//! `amazon-ami` data source, force-deregister, the image steps and cleanup alike.

use super::errors::{aws_err, is_code};
use super::wait::{Poll, WaitError, WaitSpec, wait};
use crate::cancel::Interrupted;
use aws_sdk_ec2::types::{Filter, Image};
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// An AMI as the build (and `{{ .SourceAMI… }}`) sees it.
#[derive(Debug, Clone, Default)]
pub struct SourceImage {
    pub id: String,
    pub name: String,
    pub creation_date: String,
    pub owner: String,
    pub owner_alias: String,
    pub root_device_type: String,
    pub root_device_name: String,
    pub virtualization_type: String,
    pub tags: BTreeMap<String, String>,
}

impl From<&Image> for SourceImage {
    fn from(i: &Image) -> SourceImage {
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
}

/// What to look an image up by: `source_ami`, `source_ami_filter` or `data "amazon-ami"`.
#[derive(Debug, Clone, Default)]
pub struct ImageQuery {
    pub id: Option<String>,
    pub filters: BTreeMap<String, String>,
    pub owners: Vec<String>,
    pub include_deprecated: bool,
    pub most_recent: bool,
}

impl ImageQuery {
    /// How the query reads in an error message.
    pub fn describe(&self) -> String {
        let mut what = String::new();
        if let Some(id) = &self.id {
            what.push_str(&format!("image id {id}"));
        }
        if !self.filters.is_empty() || !self.owners.is_empty() {
            what.push_str(&format!("{:?} owned by {:?}", self.filters, self.owners));
        }
        what
    }
}

/// Runs the query and applies Packer's choice ([`choose`]).
pub async fn find(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    q: &ImageQuery,
) -> anyhow::Result<SourceImage> {
    let mut req = ec2.describe_images();
    if let Some(id) = &q.id {
        req = req.image_ids(id);
    }
    for (k, v) in &q.filters {
        req = req.filters(Filter::builder().name(k).values(v).build());
    }
    for o in &q.owners {
        req = req.owners(o);
    }
    if q.include_deprecated {
        req = req.include_deprecated(true);
    }
    let out = req
        .send()
        .await
        .map_err(|e| aws_err("ec2:DescribeImages", region, e))?;
    choose(
        out.images().iter().map(SourceImage::from).collect(),
        q.most_recent,
        &q.describe(),
    )
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

/// The account's own AMIs of this name in a region.
pub async fn owned_named(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    name: &str,
) -> anyhow::Result<Vec<Image>> {
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(Filter::builder().name("name").values(name).build())
        .send()
        .await
        .map_err(|e| aws_err("ec2:DescribeImages", region, e))?;
    Ok(out.images().to_vec())
}

/// The EBS snapshots an image is made of.
pub fn snapshots_of(img: &Image) -> Vec<String> {
    img.block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(String::from))
        .collect()
}

/// How far a pending image's snapshots are: the least advanced one's `Progress` ("45%"), or
/// `None` when EC2 does not say yet. Only for a progress bar: a failed call is not an error.
pub async fn snapshot_progress(ec2: &aws_sdk_ec2::Client, snapshots: &[String]) -> Option<u64> {
    if snapshots.is_empty() {
        return None;
    }
    let out = ec2
        .describe_snapshots()
        .set_snapshot_ids(Some(snapshots.to_vec()))
        .send()
        .await
        .ok()?;
    out.snapshots()
        .iter()
        .filter_map(|s| s.progress()?.trim_end_matches('%').parse::<u64>().ok())
        .min()
}

/// Waits until an image is available; returns its snapshot ids. A failed image stops the wait
/// with its state reason; cancellation is [`Interrupted`]. With a `bar` (a terminal), each poll
/// of a pending image also reads its snapshots' progress onto the bar.
pub async fn wait_available(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    id: &str,
    spec: &WaitSpec,
    cancel: &CancellationToken,
    bar: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<Vec<String>> {
    let r = wait(spec, cancel, || async {
        let out = match ec2.describe_images().image_ids(id).send().await {
            Ok(o) => o,
            Err(e) if is_code(&e, &["InvalidAMIID.NotFound"]) => return Ok(Poll::NotFound),
            Err(e) => return Err(aws_err("ec2:DescribeImages", region, e).to_string()),
        };
        let Some(img) = out.images().first() else {
            return Ok(Poll::NotFound);
        };
        match img.state().map(|s| s.as_str()).unwrap_or("") {
            "available" => Ok(Poll::Done(snapshots_of(img))),
            "failed" | "error" | "invalid" | "deregistered" => {
                let reason = img
                    .state_reason()
                    .and_then(|r| r.message())
                    .unwrap_or("no reason given");
                Ok(Poll::Failed(format!(
                    "the AMI is {}: {reason}",
                    img.state().map(|s| s.as_str()).unwrap_or("?")
                )))
            }
            other => {
                if let Some(bar) = bar
                    && let Some(p) = snapshot_progress(ec2, &snapshots_of(img)).await
                {
                    bar.set_position(p);
                }
                Ok(Poll::Pending(other.to_string()))
            }
        }
    })
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match r {
        Ok(s) => Ok(s),
        Err(WaitError::Cancelled(_)) => Err(Interrupted.into()),
        Err(e) => Err(e.into()),
    }
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
