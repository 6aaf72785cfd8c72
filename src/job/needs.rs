//! The IAM actions a build needs, as each step declares them next to the calls it makes;
//! `ambake iam-policy` collects them (`policy.rs`).

use std::collections::BTreeMap;

/// Why an action is needed, and whether a successful build calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub why: String,
    pub only_on_failure: bool,
}

/// The actions a plan's builds need, as the steps declare them.
#[derive(Debug, Default)]
pub struct Needs(BTreeMap<String, Need>);

impl Needs {
    /// An action a successful build calls.
    pub fn add(&mut self, action: &str, why: &str) {
        self.put(action, why, false);
    }
    /// An action only needed to undo a failed build (a successful run never calls it).
    pub fn undo(&mut self, action: &str, why: &str) {
        self.put(action, why, true);
    }
    pub fn into_map(self) -> BTreeMap<String, Need> {
        self.0
    }
    /// `add` or `undo`, as `only_on_failure` says.
    pub fn put(&mut self, action: &str, why: &str, only_on_failure: bool) {
        let e = self.0.entry(action.to_string()).or_insert(Need {
            why: why.to_string(),
            only_on_failure,
        });
        // Needed on the success path by any reason makes it a success-path action.
        e.only_on_failure &= only_on_failure;
        if !e.why.contains(why) {
            e.why = format!("{}; {why}", e.why);
        }
    }
}
