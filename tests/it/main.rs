//! The one integration-test binary (one binary keeps link time down: every test binary links
//! the AWS SDK). Modules by topic.

mod ansible;
mod build;
mod cleanup;
mod cli;
mod credentials;
mod emu;
mod faults;
mod fixtures;
mod fmt_goldens;
mod fuzz;
mod http;
mod options_read;
mod policy;
mod ssh;
mod sshd;
mod support;
