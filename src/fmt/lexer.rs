//! HCL native-syntax tokens as hclsyntax's scanner produces them for hclwrite: the formatter
//! works on this stream and changes nothing but the spaces before each token. Scanning
//! follows `scan_tokens.rl`: a main mode, string templates (`"…${…}…"`) and heredoc templates
//! (`<<EOF … EOF`), with the brace bookkeeping that tells a `}` closing an interpolation from
//! one closing an object. Comments carry their line ending, heredoc lines theirs, so neither
//! starts a new formatting line — exactly as in hclwrite.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    OQuote,
    CQuote,
    OHeredoc,
    CHeredoc,
    Star,
    Slash,
    Plus,
    Minus,
    Percent,
    Equal,
    EqualOp,
    NotEqual,
    LessThan,
    LessThanEq,
    GreaterThan,
    GreaterThanEq,
    And,
    Or,
    Bang,
    Dot,
    Comma,
    DoubleColon,
    Ellipsis,
    FatArrow,
    Question,
    Colon,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    QuotedLit,
    QuotedNewline,
    StringLit,
    NumberLit,
    Ident,
    Comment,
    Newline,
    /// Any other character (`&`, `;`, a stray byte…): kept as written.
    Other,
}

/// A token: its kind, its bytes, and the spaces written before it.
#[derive(Debug, Clone)]
pub struct Token<'a> {
    pub kind: Kind,
    pub bytes: &'a [u8],
    pub spaces_before: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Main,
    Str,
    Heredoc,
}

struct Heredoc<'a> {
    marker: &'a [u8],
    start_of_line: bool,
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    prev_end: usize,
    out: Vec<Token<'a>>,
    modes: Vec<Mode>,
    braces: i32,
    ret_braces: Vec<i32>,
    heredocs: Vec<Heredoc<'a>>,
}

/// Scans `src` (a UTF-8 BOM is dropped, as hclsyntax does).
pub fn lex(src: &[u8]) -> Vec<Token<'_>> {
    let src = src.strip_prefix(b"\xef\xbb\xbf").unwrap_or(src);
    let mut l = Lexer {
        src,
        pos: 0,
        prev_end: 0,
        out: Vec::new(),
        modes: vec![Mode::Main],
        braces: 0,
        ret_braces: Vec::new(),
        heredocs: Vec::new(),
    };
    while l.pos < src.len() {
        match *l.modes.last().unwrap_or(&Mode::Main) {
            Mode::Main => l.main(),
            Mode::Str => l.string(),
            Mode::Heredoc => l.heredoc(),
        }
    }
    l.out
}

/// HCL's identifiers: Unicode ID_Start (or `_`), then ID_Continue or `-`. ID_Continue holds
/// combining marks (U+0300…, U+0487, …), which `char::is_alphanumeric` does not: with it, the
/// formatter split `var҇egion` into three tokens and wrote text that no longer parsed (found
/// by the `fmt` fuzz target).
fn is_ident_start(c: char) -> bool {
    unicode_ident::is_xid_start(c) || c == '_'
}
fn is_ident_continue(c: char) -> bool {
    unicode_ident::is_xid_continue(c) || c == '-'
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.src[self.pos..]
    }
    fn char_at(&self, i: usize) -> Option<char> {
        std::str::from_utf8(&self.src[i..(i + 4).min(self.src.len())])
            .ok()
            .or_else(|| {
                (1..4)
                    .rev()
                    .find_map(|n| std::str::from_utf8(self.src.get(i..i + n)?).ok())
            })
            .and_then(|s| s.chars().next())
    }
    fn emit(&mut self, kind: Kind, len: usize) {
        let start = self.pos;
        let end = start + len;
        self.out.push(Token {
            kind,
            bytes: &self.src[start..end],
            spaces_before: start - self.prev_end,
        });
        self.prev_end = end;
        self.pos = end;
    }
    /// The length of a line ending at the start of `s`, if there is one.
    fn eol(s: &[u8]) -> Option<usize> {
        match s {
            [b'\n', ..] => Some(1),
            [b'\r', b'\n', ..] => Some(2),
            _ => None,
        }
    }
    /// `${` / `%{`, with an optional `~`: an interpolation or a directive opens.
    fn template_open(&mut self) -> bool {
        let r = self.rest();
        let kind = match r {
            [b'$', b'{', ..] => Kind::TemplateInterp,
            [b'%', b'{', ..] => Kind::TemplateControl,
            _ => return false,
        };
        let len = if r.get(2) == Some(&b'~') { 3 } else { 2 };
        self.emit(kind, len);
        self.braces += 1;
        self.ret_braces.push(self.braces);
        if let Some(h) = self.heredocs.last_mut() {
            h.start_of_line = false;
        }
        self.modes.push(Mode::Main);
        true
    }

    fn main(&mut self) {
        let r = self.rest();
        let c = r[0];
        if c == b' ' || c == b'\t' {
            self.pos += 1;
            return;
        }
        if let Some(n) = Self::eol(r) {
            return self.emit(Kind::Newline, n);
        }
        if c.is_ascii_digit() {
            let mut n = 1;
            while n < r.len() {
                match r[n] {
                    b'0'..=b'9' | b'.' => n += 1,
                    b'e' | b'E' => {
                        let k = if matches!(r.get(n + 1), Some(b'+' | b'-')) {
                            2
                        } else {
                            1
                        };
                        if r.get(n + k).is_some_and(u8::is_ascii_digit) {
                            n += k + 1;
                        } else {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            // A number never ends with a dot (`1.` is `1` then `.`).
            while n > 1 && r[n - 1] == b'.' {
                n -= 1;
            }
            return self.emit(Kind::NumberLit, n);
        }
        if let Some(ch) = self.char_at(self.pos)
            && is_ident_start(ch)
        {
            let mut n = ch.len_utf8();
            while let Some(ch) = self.char_at(self.pos + n) {
                if !is_ident_continue(ch) {
                    break;
                }
                n += ch.len_utf8();
            }
            return self.emit(Kind::Ident, n);
        }
        if c == b'#' || r.starts_with(b"//") {
            let mut n = 0;
            while n < r.len() && r[n] != b'\n' {
                n += 1;
            }
            if n < r.len() {
                n += 1; // the line ending belongs to the comment
            }
            return self.emit(Kind::Comment, n);
        }
        if r.starts_with(b"/*") {
            let n = r[2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(r.len(), |i| i + 4);
            return self.emit(Kind::Comment, n);
        }
        if r.starts_with(b"<<") {
            let dash = usize::from(r.get(2) == Some(&b'-'));
            let start = 2 + dash;
            let mut n = start;
            if let Some(ch) = self.char_at(self.pos + n)
                && is_ident_start(ch)
            {
                n += ch.len_utf8();
                while let Some(ch) = self.char_at(self.pos + n) {
                    if !is_ident_continue(ch) {
                        break;
                    }
                    n += ch.len_utf8();
                }
                if let Some(e) = Self::eol(&r[n..]) {
                    let marker = &r[start..n];
                    self.emit(Kind::OHeredoc, n + e);
                    self.heredocs.push(Heredoc {
                        marker,
                        start_of_line: true,
                    });
                    self.modes.push(Mode::Heredoc);
                    return;
                }
            }
        }
        for (text, kind) in [
            (&b"..."[..], Kind::Ellipsis),
            (b"==", Kind::EqualOp),
            (b"!=", Kind::NotEqual),
            (b">=", Kind::GreaterThanEq),
            (b"<=", Kind::LessThanEq),
            (b"&&", Kind::And),
            (b"||", Kind::Or),
            (b"::", Kind::DoubleColon),
            (b"=>", Kind::FatArrow),
        ] {
            if r.starts_with(text) {
                return self.emit(kind, text.len());
            }
        }
        if c == b'{' {
            self.braces += 1;
            return self.emit(Kind::OBrace, 1);
        }
        let tilde_close = r.starts_with(b"~}");
        if c == b'}' || tilde_close {
            let len = if tilde_close { 2 } else { 1 };
            let closes_template = self.ret_braces.last() == Some(&self.braces);
            let kind = if closes_template || tilde_close {
                Kind::TemplateSeqEnd
            } else {
                Kind::CBrace
            };
            self.braces -= 1;
            self.emit(kind, len);
            if closes_template {
                self.ret_braces.pop();
                self.modes.pop();
            }
            return;
        }
        if c == b'"' {
            self.emit(Kind::OQuote, 1);
            self.modes.push(Mode::Str);
            return;
        }
        let kind = match c {
            b'[' => Kind::OBrack,
            b']' => Kind::CBrack,
            b'(' => Kind::OParen,
            b')' => Kind::CParen,
            b'.' => Kind::Dot,
            b',' => Kind::Comma,
            b'*' => Kind::Star,
            b'/' => Kind::Slash,
            b'%' => Kind::Percent,
            b'+' => Kind::Plus,
            b'-' => Kind::Minus,
            b'=' => Kind::Equal,
            b'<' => Kind::LessThan,
            b'>' => Kind::GreaterThan,
            b'!' => Kind::Bang,
            b'?' => Kind::Question,
            b':' => Kind::Colon,
            _ => Kind::Other,
        };
        let len = self.char_at(self.pos).map_or(1, char::len_utf8);
        self.emit(kind, len)
    }

    fn string(&mut self) {
        if self.template_open() {
            return;
        }
        let r = self.rest();
        if r[0] == b'"' {
            self.emit(Kind::CQuote, 1);
            self.modes.pop();
            return;
        }
        if r[0] == b'\n' || r[0] == b'\r' {
            let n = r
                .iter()
                .take_while(|b| **b == b'\n' || **b == b'\r')
                .count();
            return self.emit(Kind::QuotedNewline, n);
        }
        // Literal text up to the closing quote, a line end or a template opening; `\x`
        // escapes (an escaped quote does not close the string) and `$${` / `%%{` stay literal.
        let mut n = 0;
        while n < r.len() {
            match &r[n..] {
                [b'\\', next, ..] if *next != b'\n' && *next != b'\r' => n += 2,
                [b'$', b'$', b'{', ..] | [b'%', b'%', b'{', ..] => n += 3,
                [b'$', b'{', ..] | [b'%', b'{', ..] | [b'"', ..] | [b'\n', ..] | [b'\r', ..] => {
                    break;
                }
                _ => n += 1,
            }
        }
        self.emit(Kind::QuotedLit, n.max(1).min(r.len()))
    }

    fn heredoc(&mut self) {
        if self.template_open() {
            return;
        }
        let r = self.rest();
        let line_end = r.iter().position(|b| *b == b'\n');
        let start_of_line = self.heredocs.last().is_some_and(|h| h.start_of_line);
        if start_of_line && let Some(nl) = line_end {
            let line = &r[..nl];
            let body = line.strip_suffix(b"\r").unwrap_or(line);
            let marker = self.heredocs.last().map(|h| h.marker).unwrap_or_default();
            if body.trim_ascii() == marker {
                self.emit(Kind::CHeredoc, body.len());
                self.emit(Kind::Newline, nl - body.len() + 1);
                self.heredocs.pop();
                self.modes.pop();
                return;
            }
        }
        // Literal text up to a template opening or the end of the line (included).
        let mut n = 0;
        while n < r.len() {
            match &r[n..] {
                [b'$', b'$', b'{', ..] | [b'%', b'%', b'{', ..] => n += 3,
                [b'$', b'{', ..] | [b'%', b'{', ..] => break,
                [b'\n', ..] => {
                    n += 1;
                    break;
                }
                _ => n += 1,
            }
        }
        let ends_line = n > 0 && r[n - 1] == b'\n';
        if let Some(h) = self.heredocs.last_mut() {
            h.start_of_line = ends_line;
        }
        self.emit(Kind::StringLit, n.max(1).min(r.len()));
    }
}
