//! Diagnostics: errors and warnings that point into template files.
//!
//! Every problem found in a template carries a [`Span`] (file id + byte range) so the user sees
//! `file:line:col` and the offending source line, as the foundation issue asks. Positions are
//! resolved through the [`SourceMap`] that holds every file the configuration was read from.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;

/// One file of the configuration, kept in memory so errors can quote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as the user gave it (or `<stdin>`), used in messages.
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, path: PathBuf, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            path,
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.text[start..offset].chars().count() + 1;
        (line + 1, col)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self
            .line_starts
            .get(line - 1)
            .copied()
            .unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(line)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text
            .get(start..end.max(start))
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

/// Identifies a [`SourceFile`] inside a [`SourceMap`].
pub type FileId = usize;

/// A byte range in one file. `range` is `None` when only the file is known (JSON input, stdin
/// values converted from other sources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub file: FileId,
    pub range: Option<Range<usize>>,
}

impl Span {
    pub fn new(file: FileId, range: Option<Range<usize>>) -> Self {
        Span { file, range }
    }
}

/// All files of one configuration.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        self.files.len() - 1
    }
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id]
    }
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// `file:line:col` for a span, or the file name alone.
    pub fn location(&self, span: &Span) -> String {
        let f = self.get(span.file);
        match &span.range {
            Some(r) => {
                let (l, c) = f.line_col(r.start);
                format!("{}:{}:{}", f.name, l, c)
            }
            None => f.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a configuration.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            help: None,
        }
    }
    pub fn warning(message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            span,
            help: None,
        }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders the diagnostic with the quoted source line and a caret under the span.
    pub fn render(&self, map: &SourceMap) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        let _ = writeln!(out, "{label}: {}", self.message);
        if let Some(span) = &self.span {
            let _ = writeln!(out, "  --> {}", map.location(span));
            let f = map.get(span.file);
            if let Some(r) = &span.range {
                let (line, col) = f.line_col(r.start);
                let text = f.line_text(line);
                let (end_line, end_col) = f.line_col(r.end.max(r.start));
                let width = if end_line == line {
                    end_col.saturating_sub(col).max(1)
                } else {
                    text.chars().count().saturating_sub(col - 1).max(1)
                };
                let gutter = line.to_string().len();
                let _ = writeln!(out, "{:gutter$} |", "");
                let _ = writeln!(out, "{line} | {text}");
                let _ = writeln!(
                    out,
                    "{:gutter$} | {}{}",
                    "",
                    " ".repeat(col - 1),
                    "^".repeat(width)
                );
            }
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// A list of diagnostics with helpers for the common "collect everything, fail at the end" flow.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    pub fn error(&mut self, message: impl Into<String>, span: Option<Span>) {
        self.push(Diagnostic::error(message, span));
    }
    pub fn warning(&mut self, message: impl Into<String>, span: Option<Span>) {
        self.push(Diagnostic::warning(message, span));
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
    pub fn render(&self, map: &SourceMap) -> String {
        self.items
            .iter()
            .map(|d| d.render(map))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Closest candidate for a misspelt name, for "did you mean" hints.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_and_render() {
        let mut map = SourceMap::default();
        let id = map.add(SourceFile::new(
            "t.pkr.hcl",
            "t.pkr.hcl".into(),
            "a = 1\n  bad = 2\n".into(),
        ));
        let start = "a = 1\n  ".len();
        let d = Diagnostic::error(
            "unknown option \"bad\"",
            Some(Span::new(id, Some(start..start + 3))),
        )
        .with_help("did you mean \"bat\"?");
        let r = d.render(&map);
        assert!(r.contains("t.pkr.hcl:2:3"), "{r}");
        assert!(r.contains("2 |   bad = 2"), "{r}");
        assert!(r.contains("  |   ^^^"), "{r}");
        assert!(r.contains("help: did you mean"), "{r}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("instnce_type", ["instance_type", "ami_name"]),
            Some("instance_type")
        );
        assert_eq!(did_you_mean("zzz", ["instance_type"]), None);
    }
}
