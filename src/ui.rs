//! Build output in Packer's shapes: `==> amazon-ebs.x: step` lines, indented detail lines,
//! `-machine-readable` records, `-timestamp-ui` prefixes. Every line goes through the secret
//! mask first.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    pub machine_readable: bool,
    pub timestamps: bool,
    /// ANSI colours: only on a terminal, never with `-color=false` or `NO_COLOR`.
    pub color: bool,
    /// `--json`: every line and event as one JSON object (docs/json-events.md).
    pub json: bool,
}

/// The version of the `--json` event schema (docs/json-events.md).
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Whether colours should be used: asked for (`-color`, default true), stdout a terminal, and
/// `NO_COLOR` unset or empty (no-color.org).
pub fn want_color(flag: bool) -> bool {
    use std::io::IsTerminal as _;
    flag && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Packer's build colours, given out in order: green, cyan, magenta, yellow, blue.
const COLORS: [&str; 5] = ["32", "36", "35", "33", "34"];

/// Output for one build (or for the run as a whole, with an empty target).
#[derive(Clone)]
pub struct Ui {
    target: String,
    opts: UiOptions,
    secrets: Arc<Mutex<Vec<String>>>,
    /// On a terminal: the live status lines (one spinner per build) that log lines scroll
    /// above.
    live: Option<indicatif::MultiProgress>,
    bar: Option<indicatif::ProgressBar>,
    /// This target's colour (an SGR code), when colours are on.
    color: Option<&'static str>,
    /// The colour each target was given.
    colors: Arc<Mutex<std::collections::HashMap<String, &'static str>>>,
    /// Each build's tally of its own events, for the end-of-run summary.
    tallies: Arc<Mutex<std::collections::HashMap<String, crate::summary::Tally>>>,
    /// While someone answers a prompt: how many prompts are open, and the lines other builds
    /// printed meanwhile, shown when the last one closes.
    held: Arc<Mutex<Option<Held>>>,
}

/// Open prompts and the lines waiting for them to close.
type Held = (usize, Vec<String>);

/// The status lines are off the terminal while this lives (a prompt being answered); other
/// builds' lines wait and are shown, in order, when it goes.
pub struct InputHold {
    ui: Option<Ui>,
}

impl Drop for InputHold {
    fn drop(&mut self) {
        let Some(ui) = self.ui.take() else { return };
        let Some(mp) = &ui.live else { return };
        let lines = {
            let mut h = ui.held.lock().unwrap_or_else(|p| p.into_inner());
            match h.as_mut() {
                Some((open, _)) if *open > 1 => {
                    *open -= 1;
                    return;
                }
                _ => h.take().map(|(_, l)| l).unwrap_or_default(),
            }
        };
        mp.set_draw_target(indicatif::ProgressDrawTarget::stdout());
        for l in lines {
            let _ = mp.println(l);
        }
    }
}

/// Packer's machine-readable escaping: `,` → `%!(PACKER_COMMA)`, newlines → `\n`.
pub fn escape_machine(s: &str) -> String {
    s.replace(',', "%!(PACKER_COMMA)")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

impl Ui {
    pub fn new(target: &str, opts: UiOptions, secrets: Vec<String>) -> Ui {
        Ui {
            target: target.to_string(),
            opts,
            secrets: Arc::new(Mutex::new(secrets)),
            live: None,
            bar: None,
            color: None,
            colors: Default::default(),
            tallies: Default::default(),
            held: Default::default(),
        }
    }
    /// Output about one build (the end-of-run summary, its artifact lines): the build's own
    /// colour, no status line.
    pub fn for_target(&self, target: &str) -> Ui {
        let color = self.opts.color.then(|| self.color_of(target));
        Ui {
            target: target.to_string(),
            opts: self.opts.clone(),
            secrets: self.secrets.clone(),
            live: self.live.clone(),
            bar: None,
            color,
            colors: self.colors.clone(),
            tallies: self.tallies.clone(),
            held: self.held.clone(),
        }
    }

    /// The output of a running build: its colour, like Packer's, and on a terminal its live
    /// status line (finished with [`Ui::finish_status`]).
    pub fn for_build(&self, target: &str) -> Ui {
        let mut ui = self.for_target(target);
        ui.bar = self.live.as_ref().map(|mp| {
            let bar = mp.add(indicatif::ProgressBar::new_spinner());
            // Colour codes only when colours are on (NO_COLOR, -color=false).
            let template = match ui.color {
                Some(c) => {
                    format!("{{spinner}} \x1b[{c}m{{prefix}}\x1b[0m {{wide_msg}} {{elapsed}}")
                }
                None => "{spinner} {prefix} {wide_msg} {elapsed}".to_string(),
            };
            let style = indicatif::ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_prefix(target.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        ui
    }

    /// A target's colour: given out in order the first time it is asked for, then the same.
    fn color_of(&self, target: &str) -> &'static str {
        let mut m = self.colors.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.len();
        m.entry(target.to_string())
            .or_insert(COLORS[n % COLORS.len()])
    }

    /// Turns on live status lines (a terminal, not -machine-readable or --json).
    pub fn with_live_status(mut self) -> Ui {
        self.live = Some(indicatif::MultiProgress::with_draw_target(
            indicatif::ProgressDrawTarget::stdout(),
        ));
        self
    }

    /// The AWS requests this build's clients sent, for its summary.
    pub fn tally_calls(&self, n: u64) {
        if let Ok(mut t) = self.tallies.lock() {
            t.entry(self.target.clone()).or_default().aws_calls = n;
        }
    }

    /// What this build's events added up to.
    pub fn tally(&self, target: &str) -> crate::summary::Tally {
        self.tallies
            .lock()
            .ok()
            .and_then(|t| t.get(target).cloned())
            .unwrap_or_default()
    }

    /// Whether live status lines are drawn (a terminal, not machine-readable or --json).
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// What this build is doing now, on its status line (nothing off a terminal).
    pub fn status(&self, s: &str) {
        if let Some(b) = &self.bar {
            b.set_message(self.masked(s));
        }
    }

    /// A 0–100 % bar under this build's status line (snapshot progress, one per copy), on a
    /// terminal only. The caller finishes it.
    pub fn percent_bar(&self, label: &str) -> Option<indicatif::ProgressBar> {
        let mp = self.live.as_ref()?;
        let bar = mp.add(indicatif::ProgressBar::new(100));
        let template = match self.color {
            Some(c) => format!("  \x1b[{c}m{{prefix}}\x1b[0m {{msg}} [{{bar:30}}] {{pos:>3}}%"),
            None => "  {prefix} {msg} [{bar:30}] {pos:>3}%".to_string(),
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(self.target.clone());
        bar.set_message(self.masked(label));
        Some(bar)
    }

    /// The build is over: its status line goes.
    pub fn finish_status(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// Takes the status lines off the terminal until the returned hold is dropped, so what
    /// someone types at a prompt is not drawn over. Unlike holding indicatif's lock for the
    /// whole prompt, other builds keep running: their lines are kept and shown afterwards.
    pub fn hold_for_input(&self) -> InputHold {
        let Some(mp) = &self.live else {
            return InputHold { ui: None };
        };
        if let Ok(mut h) = self.held.lock() {
            h.get_or_insert_with(|| (0, Vec::new())).0 += 1;
        }
        let _ = mp.clear();
        mp.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        InputHold {
            ui: Some(self.clone()),
        }
    }
    /// Adds a value that must never be shown (a private key, a session token).
    pub fn add_secret(&self, s: &str) {
        if let Ok(mut v) = self.secrets.lock() {
            v.push(s.to_string());
        }
    }
    fn masked(&self, s: &str) -> String {
        let secrets = self.secrets.lock().map(|v| v.clone()).unwrap_or_default();
        crate::output::mask(s, &secrets)
    }
    /// A `--json` event: `{"v":1,"time":…,"type":…,"build":…, …fields}`, masked like every
    /// other output. Nothing in the other modes.
    pub fn event(&self, kind: &str, fields: serde_json::Value) {
        if !self.target.is_empty()
            && let Ok(mut t) = self.tallies.lock()
        {
            t.entry(self.target.clone())
                .or_default()
                .record(kind, &fields);
        }
        if !self.opts.json {
            return;
        }
        let mut obj = serde_json::Map::new();
        obj.insert("v".into(), JSON_SCHEMA_VERSION.into());
        obj.insert("time".into(), jiff::Timestamp::now().to_string().into());
        obj.insert("type".into(), kind.into());
        if !self.target.is_empty() {
            obj.insert("build".into(), self.target.clone().into());
        }
        if let serde_json::Value::Object(m) = fields {
            obj.extend(m);
        }
        let line = self.masked(&serde_json::Value::Object(obj).to_string());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
    pub fn is_json(&self) -> bool {
        self.opts.json
    }
    fn emit(&self, kind: &str, text: &str) {
        if self.opts.json {
            // Provisioner output and messages: one event per line of text.
            for line in text.lines() {
                self.event("output", serde_json::json!({ "level": kind, "line": line }));
            }
            return;
        }
        let text = self.masked(text);
        if self.opts.machine_readable {
            let mut out = std::io::stdout().lock();
            let ts = jiff::Timestamp::now().as_second();
            let _ = writeln!(
                out,
                "{ts},{},ui,{kind},{}",
                self.target,
                escape_machine(&text)
            );
            return;
        }
        let prefix = if self.opts.timestamps {
            format!(
                "{}: ",
                jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
            )
        } else {
            String::new()
        };
        for line in text.lines() {
            let body = match (kind, self.target.is_empty()) {
                ("say", false) => format!("==> {}: {line}", self.target),
                ("say", true) => format!("==> {line}"),
                ("error", false) => format!("==> {}: {line}", self.target),
                (_, false) => format!("    {}: {line}", self.target),
                (_, true) => line.to_string(),
            };
            let body = match self.color {
                Some(_) if kind == "error" => format!("\x1b[1;31m{body}\x1b[0m"),
                Some(c) if kind == "say" => format!("\x1b[1;{c}m{body}\x1b[0m"),
                Some(c) => format!("\x1b[{c}m{body}\x1b[0m"),
                None => body,
            };
            if let Some(mp) = &self.live {
                if let Ok(mut h) = self.held.lock()
                    && let Some((_, q)) = h.as_mut()
                {
                    q.push(format!("{prefix}{body}"));
                    continue;
                }
                // Above the status lines, never torn by them. Without holding stdout's lock:
                // the status lines' own drawing thread takes it under indicatif's lock, and
                // the two orders would deadlock.
                let _ = mp.println(format!("{prefix}{body}"));
                continue;
            }
            let _ = writeln!(std::io::stdout().lock(), "{prefix}{body}");
        }
    }
    /// A step-level line: `==> amazon-ebs.x: Creating temporary key pair…`
    pub fn say(&self, s: &str) {
        self.emit("say", s);
    }
    /// A detail line: `    amazon-ebs.x: Instance ID: i-…`
    pub fn message(&self, s: &str) {
        self.emit("message", s);
    }
    pub fn error(&self, s: &str) {
        self.emit("error", s);
    }
    /// A raw machine-readable record (`artifact`, `error-count`, …); nothing in human mode.
    pub fn machine(&self, kind: &str, fields: &[&str]) {
        if self.opts.machine_readable {
            let ts = jiff::Timestamp::now().as_second();
            let data: Vec<String> = fields
                .iter()
                .map(|f| escape_machine(&self.masked(f)))
                .collect();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{ts},{},{kind},{}", self.target, data.join(","));
        }
    }
    pub fn is_machine(&self) -> bool {
        self.opts.machine_readable
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn machine_escaping() {
        assert_eq!(super::escape_machine("a,b\nc"), "a%!(PACKER_COMMA)b\\nc");
    }
}
