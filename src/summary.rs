//! The end-of-run summary: per build, what its events said — time per step, resources created
//! and deleted — and the AWS requests its clients sent. Tallied from the same events `--json`
//! prints, so the summary and the event stream cannot disagree.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Steps in the order they ran, with their durations (a retried step appears twice).
    pub steps: Vec<(String, u64)>,
    /// Resources created, by kind (`instance`, `image`, …).
    pub created: BTreeMap<String, u32>,
    pub deleted: u32,
    pub aws_calls: u64,
}

impl Tally {
    /// Counts one event of the build's stream.
    pub fn record(&mut self, kind: &str, fields: &serde_json::Value) {
        match kind {
            "step_finished" => self.steps.push((
                fields["step"].as_str().unwrap_or("?").to_string(),
                fields["duration_ms"].as_u64().unwrap_or(0),
            )),
            "resource_created" => {
                let k = fields["resource"]["kind"].as_str().unwrap_or("resource");
                // A pending_* entry is the journal's intent before a create call; the resource
                // itself is counted when its id comes back.
                if !k.starts_with("pending") {
                    *self.created.entry(k.replace('_', " ")).or_default() += 1;
                }
            }
            "resource_deleted" => self.deleted += 1,
            _ => {}
        }
    }

    /// The summary's JSON object for this build.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "aws_calls": self.aws_calls,
            "steps": self.steps.iter().map(|(s, ms)| serde_json::json!({ "step": s, "duration_ms": ms })).collect::<Vec<_>>(),
            "created": self.created,
            "deleted": self.deleted,
        })
    }

    /// The summary's lines for a person: the build's time, calls and resources, then its
    /// steps with their times.
    pub fn lines(
        &self,
        name: &str,
        took: std::time::Duration,
        amis: &BTreeMap<String, String>,
    ) -> Vec<String> {
        // Seconds with a tenth under a minute ("12.4s"), Go's form above ("3m12s").
        let fmt = |ms: u64| match ms {
            0..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
            _ => crate::duration::format_duration(std::time::Duration::from_secs(ms / 1000)),
        };
        let created: u32 = self.created.values().sum();
        let kinds = self
            .created
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut out = vec![format!(
            "--> {name}: {} — {} AWS calls; created {created}{}, deleted {}",
            fmt(took.as_millis() as u64),
            self.aws_calls,
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({kinds})")
            },
            self.deleted
        )];
        if !amis.is_empty() {
            out.push(format!(
                "    AMIs: {}",
                amis.iter()
                    .map(|(r, a)| format!("{r} {a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // Steps that had nothing to do (no key pair with communicator none, …) would only
        // crowd the line: those under a tenth of a second are left out here, not in --json.
        let steps: Vec<String> = self
            .steps
            .iter()
            .filter(|(_, ms)| *ms >= 100)
            .map(|(s, ms)| format!("{s} {}", fmt(*ms)))
            .collect();
        if !steps.is_empty() {
            out.push(format!("    steps: {}", steps.join(" · ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tallied_and_shown() {
        let mut t = Tally::default();
        t.record(
            "step_finished",
            &serde_json::json!({ "step": "run instance", "duration_ms": 12_400 }),
        );
        t.record(
            "step_finished",
            &serde_json::json!({ "step": "key pair", "duration_ms": 3 }),
        );
        t.record(
            "resource_created",
            &serde_json::json!({ "resource": { "kind": "key_pair", "id": "k" } }),
        );
        t.record(
            "resource_created",
            &serde_json::json!({ "resource": { "kind": "instance", "id": "i" } }),
        );
        t.record(
            "resource_created",
            &serde_json::json!({ "resource": { "kind": "pending_image", "name": "n" } }),
        );
        t.record("resource_deleted", &serde_json::json!({ "resource": {} }));
        t.record("output", &serde_json::json!({ "line": "x" }));
        t.aws_calls = 17;
        let amis = [("us-east-1".to_string(), "ami-1".to_string())].into();
        let lines = t.lines("amazon-ebs.x", std::time::Duration::from_secs(75), &amis);
        assert_eq!(
            lines,
            vec![
                "--> amazon-ebs.x: 1m15s — 17 AWS calls; created 2 (instance 1, key pair 1), deleted 1",
                "    AMIs: us-east-1 ami-1",
                "    steps: run instance 12.4s",
            ]
        );
        assert_eq!(t.to_json()["created"]["key pair"], 1);
        assert_eq!(t.to_json()["steps"].as_array().unwrap().len(), 2);
    }
}
