//! The file work of Packer's generic post-processors that templates chain after amazon-ebs:
//! `artifice` (files named in the template become the artifact), `checksum` and `compress`.
//! Blocking file I/O, called from the engine on a blocking thread; the chain itself (which
//! artifact each one gets, what is kept) is `engine::post_process`.

pub mod artifice;
pub mod checksum;
pub mod compress;
