//! Canonical formatting for `.pkr.hcl` / `.pkrvars.hcl`, in the style of `packer fmt`:
//! two-space indentation by nesting, `=` aligned within runs of consecutive attributes, one
//! space around `=`, no trailing whitespace, at most one blank line in a row, comments kept.
//!
//! The file is parsed with hcl-edit first (so broken files are refused, with a position) and the
//! parse tree tells which byte ranges are string or heredoc content and where attributes start;
//! the rewrite then works line by line and never touches the inside of a string.

use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::visit::Visit;
use std::ops::Range;

/// Formats `src`. Errors are syntax errors as `line:col: message`.
pub fn format(src: &str) -> Result<String, String> {
    let body = hcl_edit::parser::parse_body(src).map_err(|e| {
        format!(
            "{}:{}: {}",
            e.location().line(),
            e.location().column(),
            e.message()
        )
    })?;
    let mut spans = Spans::default();
    spans.body(&body);
    Ok(rewrite(src, &spans))
}

#[derive(Default)]
struct Spans {
    /// String and heredoc contents: never re-indented or scanned for brackets.
    opaque: Vec<Range<usize>>,
    /// Byte offsets where an attribute's key starts.
    attr_starts: Vec<usize>,
}

impl Spans {
    fn body(&mut self, body: &Body) {
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    if let Some(r) = a.key.span() {
                        self.attr_starts.push(r.start);
                    }
                    self.visit_expr(&a.value);
                }
                Structure::Block(b) => {
                    for l in &b.labels {
                        if let Some(r) = l.span() {
                            self.opaque.push(r);
                        }
                    }
                    self.body(&b.body);
                }
            }
        }
    }
    fn in_opaque(&self, i: usize) -> Option<usize> {
        self.opaque
            .iter()
            .find(|r| r.start <= i && i < r.end)
            .map(|r| r.end)
    }
}

impl Visit for Spans {
    /// Object entries (`tags = { Name = "x" }`) are aligned like attributes, as packer fmt does.
    fn visit_object_item(
        &mut self,
        key: &hcl_edit::expr::ObjectKey,
        value: &hcl_edit::expr::ObjectValue,
    ) {
        if let Some(r) = key.span() {
            self.attr_starts.push(r.start);
        }
        hcl_edit::visit::visit_object_item(self, key, value);
    }
    fn visit_expr(&mut self, node: &Expression) {
        match node {
            Expression::String(_)
            | Expression::StringTemplate(_)
            | Expression::HeredocTemplate(_) => {
                if let Some(r) = node.span() {
                    self.opaque.push(r);
                }
            }
            _ => hcl_edit::visit::visit_expr(self, node),
        }
    }
}

struct Line {
    text: String,
    /// Nesting depth at the first non-blank character.
    depth: usize,
    /// Starts inside a multi-line string or heredoc: keep verbatim.
    verbatim: bool,
    /// Byte offset of the first non-blank character.
    start: usize,
}

fn rewrite(src: &str, spans: &Spans) -> String {
    // Pass 1: bracket depth before every byte, skipping strings, heredocs and comments.
    let bytes = src.as_bytes();
    let n = bytes.len();
    let mut depth_before = vec![0i64; n + 1];
    let mut comment_before = vec![false; n + 1];
    let (mut i, mut depth, mut in_bc) = (0usize, 0i64, false);
    while i < n {
        depth_before[i] = depth;
        comment_before[i] = in_bc;
        if in_bc {
            if bytes[i..].starts_with(b"*/") {
                in_bc = false;
                depth_before[i + 1] = depth;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        if let Some(end) = spans.in_opaque(i) {
            for d in depth_before.iter_mut().take(end.min(n)).skip(i) {
                *d = depth;
            }
            i = end;
            continue;
        }
        let skip_to_eol = bytes[i] == b'#' || bytes[i..].starts_with(b"//");
        if skip_to_eol {
            let e = bytes[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|k| i + k)
                .unwrap_or(n);
            for d in depth_before.iter_mut().take(e).skip(i) {
                *d = depth;
            }
            i = e;
            continue;
        }
        if bytes[i..].starts_with(b"/*") {
            in_bc = true;
            i += 2;
            continue;
        }
        match bytes[i] {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    depth_before[n] = depth;
    comment_before[n] = in_bc;

    let mut lines = Vec::new();
    let mut start = 0;
    for raw in src.split('\n') {
        let lead = raw.len() - raw.trim_start().len();
        let first = start + lead;
        let closers = raw
            .trim_start()
            .bytes()
            .take_while(|b| matches!(b, b'}' | b']' | b')'))
            .count() as i64;
        let inside_string = spans
            .opaque
            .iter()
            .any(|r| r.start < start && start < r.end);
        lines.push(Line {
            text: raw.to_string(),
            depth: (depth_before[first.min(n)] - closers).max(0) as usize,
            verbatim: inside_string || comment_before[start.min(n)],
            start: first,
        });
        start += raw.len() + 1;
    }

    // Pass 2: indentation, `=` alignment within attribute runs, blank-line collapsing.
    let mut out: Vec<String> = Vec::new();
    let mut idx = 0;
    while idx < lines.len() {
        let l = &lines[idx];
        if l.verbatim {
            out.push(l.text.trim_end_matches('\r').to_string());
            idx += 1;
            continue;
        }
        if is_attr_line(l, spans) {
            // A run: consecutive attribute lines at the same depth.
            let mut run = vec![idx];
            let mut j = idx + 1;
            while j < lines.len()
                && !lines[j].verbatim
                && is_attr_line(&lines[j], spans)
                && lines[j].depth == l.depth
            {
                run.push(j);
                j += 1;
            }
            let width = run
                .iter()
                .map(|&k| key_of(&lines[k].text).chars().count())
                .max()
                .unwrap_or(0);
            for &k in &run {
                let t = lines[k].text.trim();
                let key = key_of(t);
                let rest = t[key.len()..]
                    .trim_start()
                    .strip_prefix('=')
                    .unwrap_or("")
                    .trim_start();
                out.push(
                    format!("{}{key:width$} = {rest}", "  ".repeat(lines[k].depth))
                        .trim_end()
                        .to_string(),
                );
            }
            idx = j;
            continue;
        }
        let t = l.text.trim();
        out.push(if t.is_empty() {
            String::new()
        } else {
            format!("{}{t}", "  ".repeat(l.depth))
        });
        idx += 1;
    }
    // Collapse blank lines; no blank line right after `{` or before `}`.
    let mut result: Vec<String> = Vec::new();
    for line in out {
        let blank = line.trim().is_empty();
        if blank
            && (result.is_empty()
                || result
                    .last()
                    .is_some_and(|p: &String| p.trim().is_empty() || p.trim_end().ends_with('{')))
        {
            continue;
        }
        if line.trim_start().starts_with('}') && result.last().is_some_and(|p| p.trim().is_empty())
        {
            result.pop();
        }
        result.push(line);
    }
    while result.last().is_some_and(|l| l.trim().is_empty()) {
        result.pop();
    }
    let mut s = result.join("\n");
    s.push('\n');
    s
}

fn is_attr_line(l: &Line, spans: &Spans) -> bool {
    if !spans.attr_starts.contains(&l.start) {
        return false;
    }
    let t = l.text.trim_start();
    let key = key_of(t);
    // `key = value` only: object entries written `key: value` are left as they are.
    !key.is_empty()
        && t[key.len()..].trim_start().starts_with('=')
        && !t[key.len()..].trim_start().starts_with("==")
}

/// The key at the start of a line: an identifier or a quoted string.
fn key_of(t: &str) -> &str {
    let t = t.trim_start();
    if let Some(rest) = t.strip_prefix('"') {
        return match rest.find('"') {
            Some(end) => &t[..end + 2],
            None => "",
        };
    }
    let end = t
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(t.len());
    &t[..end]
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn aligns_indents_and_keeps_comments() {
        let src = "source \"amazon-ebs\" \"x\" {\n# the name\n      ami_name=\"a  b\"\ninstance_type   =   \"t3.micro\"\n\n\n\n  tags = {\n  Name = \"x\"\n    }\n  heredoc = <<EOF\n   keep   this\nEOF\n}\n";
        let out = format(src).unwrap();
        let want = "source \"amazon-ebs\" \"x\" {\n  # the name\n  ami_name      = \"a  b\"\n  instance_type = \"t3.micro\"\n\n  tags = {\n    Name = \"x\"\n  }\n  heredoc = <<EOF\n   keep   this\nEOF\n}\n";
        assert_eq!(
            format("t = {\na = 1\n\"long-key\" = 2\n}\n").unwrap(),
            "t = {\n  a          = 1\n  \"long-key\" = 2\n}\n"
        );
        assert_eq!(out, want);
        assert_eq!(format(&out).unwrap(), out, "idempotent");
    }

    #[test]
    fn strings_with_brackets_do_not_shift_indentation() {
        let src = "locals {\nx = \"{[(\"\ny = [\n\"a\", # c {\n]\n}\n";
        let out = format(src).unwrap();
        assert_eq!(
            out,
            "locals {\n  x = \"{[(\"\n  y = [\n    \"a\", # c {\n  ]\n}\n"
        );
    }

    #[test]
    fn syntax_errors_are_refused() {
        assert!(format("a = \"x").unwrap_err().starts_with("1:"));
    }
}
