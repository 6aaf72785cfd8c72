//! Talking to AWS: credentials, region, configured clients, error explanations.
//!
//! Everything here is built from aws-config's providers and the SDK clients; nothing parses
//! `~/.aws` files or signs requests by hand.

pub mod access;
pub mod calls;
pub mod clients;
pub mod clock;
pub mod credentials;
pub mod errors;
pub mod images;
pub mod insecure;
pub mod polling;
pub mod region;
pub mod retry;
pub mod wait;
