//! Tags put on resources at creation (TagSpecifications), so that a resource can always be
//! traced to its build even when the journal is gone.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use std::collections::BTreeMap;

/// The tag every resource ambake creates carries.
pub const BUILD_ID_TAG: &str = "ambake:build-id";
/// Put on AMIs (and their snapshots) of a finished build: cleanup never touches those.
pub const COMMITTED_TAG: &str = "ambake:committed";

pub fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The Describe* filter for what carries `build_id`'s tag: how cleanup tells the build's own
/// resources from others of the same name or place.
pub fn of_build(build_id: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{BUILD_ID_TAG}"))
        .values(build_id)
        .build()
}

/// `extra` plus the build-id tag.
pub fn with_build_id(extra: &BTreeMap<String, String>, build_id: &str) -> BTreeMap<String, String> {
    let mut all = extra.clone();
    all.insert(BUILD_ID_TAG.to_string(), build_id.to_string());
    all
}

/// A TagSpecification with the build id plus `extra`.
pub fn spec(
    rt: ResourceType,
    build_id: &str,
    extra: &BTreeMap<String, String>,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(ec2_tags(&with_build_id(extra, build_id))))
        .build()
}
