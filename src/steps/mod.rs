//! The amazon-ebs steps, one file per concern, named after Packer's steps for parity audits.
//! Each step lists the AWS calls it makes; a step that creates a resource journals it as soon
//! as the create call returns and never deletes it itself: cleanup replays the journal.

pub mod ami_tags;
pub mod capacity;
pub mod image;
pub mod instance;
pub mod launch;
pub mod network;
pub mod prevalidate;
pub mod security;
pub mod source_ami;
