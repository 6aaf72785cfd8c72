//! The job core every step and provisioner works with: the context of one build ([`context::Cx`]:
//! its plan, AWS session, output, cancellation), what earlier steps found out
//! ([`state::BuildState`]), the journal of what it created ([`journal`]) and the tags that trace
//! a resource to its build ([`tags`]). A leaf under the engine and the steps: it calls AWS and
//! the configuration, never a step or the runner.

pub mod context;
pub mod journal;
pub mod kept;
pub mod needs;
pub mod state;
pub mod tags;
pub mod wait_times;
