//! Talking to the instance. SSH through ssh2 (libssh2): its calls block, so every operation
//! runs on a blocking thread with a one-second socket timeout, and checks a cancel flag between
//! reads — a cancelled build never waits on a read.

pub mod bastion;
pub mod connect;
pub mod pump;
pub mod quick_ack;
pub mod ssh;
pub mod ssm;
pub mod tunnels;

pub use connect::{SshConfig, connect};
pub use ssh::Ssh;
