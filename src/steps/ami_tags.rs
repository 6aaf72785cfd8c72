//! The tags a build's AMIs and their snapshots end with, and when each goes on.
//!
//! `tags` go on every AMI of the build at creation (CreateImage's or CopyImage's
//! TagSpecification, after `run_tags` on the build region's AMI, as Packer's later CreateTags
//! overrides them). Snapshots carry `tags` with `snapshot_tags` over them (Packer's StepCreateTags
//! tags them with both). When that set differs from the AMI's, the snapshots get it at creation
//! too, so the commit — `ambake:committed` on the AMI and its snapshots — is one CreateTags per
//! region either way. Tagging at creation also satisfies accounts whose policies refuse
//! untagged AMIs and snapshots (`aws:RequestTag` conditions on CreateImage/CopyImage).

use crate::job::context::Cx;
use crate::job::state::BuildState;
use crate::job::tags::{COMMITTED_TAG, spec};
use aws_sdk_ec2::types::{ResourceType, TagSpecification};
use std::collections::BTreeMap;

pub type Tags = BTreeMap<String, String>;

/// A build's final tag sets, rendered once (build-time values such as `{{ .SourceAMIName }}`
/// are known after the source-AMI step).
#[derive(Debug, Clone, PartialEq)]
pub struct AmiTags {
    /// `tags`: on every AMI of the build.
    pub ami: Tags,
    /// `tags`, then `snapshot_tags` over them: on every snapshot of the build's AMIs.
    pub snapshots: Tags,
}

impl AmiTags {
    pub fn render(cx: &Cx, st: &BuildState) -> anyhow::Result<AmiTags> {
        let c = &cx.plan.config;
        Ok(AmiTags::new(
            cx.render_map(&c.tags, st)?,
            cx.render_map(&c.snapshot_tags, st)?,
        ))
    }

    pub fn new(tags: Tags, snapshot_tags: Tags) -> AmiTags {
        let mut snapshots = tags.clone();
        snapshots.extend(snapshot_tags);
        AmiTags {
            ami: tags,
            snapshots,
        }
    }

    /// Whether the snapshots get their own tags at creation: only when they differ from the
    /// AMI's (else the commit's CreateTags carries them, and a snapshot TagSpecification —
    /// which moto cannot take — is not needed).
    pub fn snapshots_at_creation(&self) -> bool {
        self.snapshots != self.ami
    }

    /// The TagSpecifications of a final AMI's CreateImage or CopyImage: the image gets `base`
    /// (run_tags on the build region's AMI) with the AMI tags over it, and the build id.
    pub fn specs(&self, build_id: &str, base: &Tags) -> Vec<TagSpecification> {
        let mut image = base.clone();
        image.extend(self.ami.clone());
        let mut out = vec![spec(ResourceType::Image, build_id, &image)];
        if self.snapshots_at_creation() {
            out.push(spec(ResourceType::Snapshot, build_id, &self.snapshots));
        }
        out
    }

    /// What the commit puts on an AMI and its snapshots, in one CreateTags: the marker, plus
    /// the AMI tags when the snapshots did not get theirs at creation.
    pub fn commit(&self) -> Tags {
        let mut t = if self.snapshots_at_creation() {
            Tags::new()
        } else {
            self.ami.clone()
        };
        t.insert(COMMITTED_TAG.to_string(), "true".to_string());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(kv: &[(&str, &str)]) -> Tags {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn spec_tags(s: &TagSpecification) -> Tags {
        s.tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn snapshot_tags_override_and_go_on_at_creation() {
        let t = AmiTags::new(
            tags(&[("Name", "web"), ("Env", "prod")]),
            tags(&[("Env", "snap"), ("Backup", "yes")]),
        );
        assert!(t.snapshots_at_creation());
        let specs = t.specs("b1", &tags(&[("Name", "builder"), ("Purpose", "ci")]));
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].resource_type(), Some(&ResourceType::Image));
        // run_tags under tags, as Packer's CreateTags after CreateImage leaves them.
        assert_eq!(
            spec_tags(&specs[0]),
            tags(&[
                ("Name", "web"),
                ("Env", "prod"),
                ("Purpose", "ci"),
                ("ambake:build-id", "b1")
            ])
        );
        assert_eq!(specs[1].resource_type(), Some(&ResourceType::Snapshot));
        assert_eq!(
            spec_tags(&specs[1]),
            tags(&[
                ("Name", "web"),
                ("Env", "snap"),
                ("Backup", "yes"),
                ("ambake:build-id", "b1")
            ])
        );
        // The commit must not put the AMI's Env back over the snapshots' own.
        assert_eq!(t.commit(), tags(&[("ambake:committed", "true")]));
    }

    #[test]
    fn same_tags_go_on_snapshots_with_the_commit() {
        for snap in [tags(&[]), tags(&[("Name", "web")])] {
            let t = AmiTags::new(tags(&[("Name", "web")]), snap);
            assert!(!t.snapshots_at_creation());
            assert_eq!(t.specs("b1", &Tags::new()).len(), 1);
            assert_eq!(
                t.commit(),
                tags(&[("Name", "web"), ("ambake:committed", "true")])
            );
        }
    }
}
