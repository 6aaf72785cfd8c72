//! Cancellation as an error value: every layer that waits (the AWS waiter, the SSH connect
//! loop, provisioners, the engine) turns a cancelled token into [`Interrupted`], which the
//! engine tells apart from a failure. A leaf: it depends on nothing in the crate.

/// The build was interrupted (Ctrl-C / SIGTERM): not a failure of the build itself.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;
