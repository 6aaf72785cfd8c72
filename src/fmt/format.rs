//! hclwrite's formatter on the token stream (`format.go`): split the tokens into lines of up to
//! three cells (lead, `= …` assignment, trailing comment), indent each line by its bracket
//! nesting, set the spaces between the tokens of a cell by fixed rules, then align the `=` and
//! the comments of consecutive lines that have them. Only `spaces_before` changes; every byte
//! of every token is written back as it was (CRLF line endings included).

use super::lexer::{Kind, Token};

/// One line: indexes into the token list, split into cells.
#[derive(Debug, Default, Clone)]
struct Line {
    lead: Vec<usize>,
    assign: Vec<usize>,
    comment: Vec<usize>,
}

pub fn format(tokens: &mut [Token<'_>]) {
    let mut lines = lines(tokens);
    indent(tokens, &lines);
    spaces(tokens, &mut lines);
    cells(tokens, &lines);
}

pub fn write(tokens: &[Token<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tokens {
        out.extend(std::iter::repeat_n(b' ', t.spaces_before));
        out.extend_from_slice(t.bytes);
    }
    out
}

fn is_newline(t: &Token<'_>) -> bool {
    match t.kind {
        Kind::Newline => true,
        // Single-line comments carry their line ending.
        Kind::Comment => t.bytes.last() == Some(&b'\n'),
        _ => false,
    }
}

fn bracket_change(t: &Token<'_>) -> i32 {
    match t.kind {
        Kind::OBrace
        | Kind::OBrack
        | Kind::OParen
        | Kind::TemplateControl
        | Kind::TemplateInterp => 1,
        Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
        _ => 0,
    }
}

fn lines(tokens: &[Token<'_>]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut cur = Line::default();
    for (i, t) in tokens.iter().enumerate() {
        cur.lead.push(i);
        if is_newline(t) {
            lines.push(std::mem::take(&mut cur));
        }
    }
    if !cur.lead.is_empty() {
        lines.push(cur);
    }
    for line in &mut lines {
        if line.lead.is_empty() {
            continue;
        }
        if line.lead.len() > 1
            && tokens[*line.lead.last().expect("non-empty")].kind == Kind::Comment
        {
            line.comment = vec![line.lead.pop().expect("non-empty")];
        }
        // The RHS goes to the "assign" cell only when it is a whole expression on this line
        // (brackets balance); `inline = [` opens a multi-line value and stays in the lead.
        if let Some(eq) = line
            .lead
            .iter()
            .skip(1)
            .position(|&i| tokens[i].kind == Kind::Equal)
            .map(|p| p + 1)
        {
            let net: i32 = line.lead[eq..]
                .iter()
                .map(|&i| bracket_change(&tokens[i]))
                .sum();
            if net == 0 {
                line.assign = line.lead.split_off(eq);
            }
        }
    }
    lines
}

fn indent(tokens: &mut [Token<'_>], lines: &[Line]) {
    let mut indents: Vec<i32> = Vec::new();
    for line in lines {
        let Some(&first) = line.lead.first() else {
            continue;
        };
        if tokens[first].kind == Kind::Newline {
            tokens[first].spaces_before = 0;
            continue;
        }
        let mut net = 0;
        for &i in &line.lead {
            net += bracket_change(&tokens[i]);
            if tokens[i].kind == Kind::OHeredoc {
                break;
            }
        }
        for &i in &line.assign {
            net += bracket_change(&tokens[i]);
        }
        if net > 0 {
            tokens[first].spaces_before = 2 * indents.len();
            indents.push(net);
        } else {
            if net < 0 {
                let mut closed = -net;
                while closed > 0 {
                    let Some(top) = indents.last_mut() else {
                        break;
                    };
                    if closed >= *top {
                        closed -= *top;
                        indents.pop();
                    } else {
                        *top -= closed;
                        closed = 0;
                    }
                }
            }
            tokens[first].spaces_before = 2 * indents.len();
        }
    }
}

fn spaces(tokens: &mut [Token<'_>], lines: &mut [Line]) {
    for line in lines.iter() {
        for cell in [&line.lead, &line.assign] {
            for (k, &i) in cell.iter().enumerate() {
                if k == 0 && std::ptr::eq(cell, &line.assign) {
                    // The `=` is always one space from what it assigns (aligned later).
                    tokens[i].spaces_before = 1;
                }
                let Some(&next) = cell.get(k + 1) else {
                    continue;
                };
                let before = if k > 0 {
                    Some(tokens[cell[k - 1]].kind)
                } else {
                    None
                };
                let space = space_after(&tokens[i], before, &tokens[next]);
                tokens[next].spaces_before = usize::from(space);
            }
        }
    }
}

fn is_keyword_in(t: &Token<'_>) -> bool {
    t.kind == Kind::Ident && t.bytes == b"in"
}

/// hclwrite's `spaceAfterToken`: whether `subject` is followed by a space before `after`.
fn space_after(subject: &Token<'_>, before: Option<Kind>, after: &Token<'_>) -> bool {
    use Kind::*;
    let s = subject.kind;
    let a = after.kind;
    if a == Newline {
        return false;
    }
    if s == Ident && a == OParen {
        return false;
    }
    if (s == Ident && a == DoubleColon) || (s == DoubleColon && a == Ident) {
        return false;
    }
    if s == Dot || a == Dot {
        return false;
    }
    if a == Comma || a == Ellipsis {
        return false;
    }
    if s == Comma {
        return true;
    }
    if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc)
        || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        return false;
    }
    if is_keyword_in(subject) && before == Some(Ident) {
        return true;
    }
    if a == OBrack && (s == Ident || s == NumberLit || bracket_change(subject) < 0) {
        return false;
    }
    if s == Bang {
        return false;
    }
    if s == Minus {
        return !matches!(
            before,
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Plus
                    | Star
                    | Slash
                    | Percent
                    | Minus
                    | EqualOp
                    | NotEqual
                    | GreaterThan
                    | GreaterThanEq
                    | LessThan
                    | LessThanEq
                    | And
                    | Or
                    | Bang
            )
        );
    }
    if s == OBrace || a == CBrace {
        // `foo {}`, but `{ a = 1 }` with spaces inside.
        return !(s == OBrace && a == CBrace);
    }
    if matches!(s, TemplateInterp | TemplateControl) && a == OBrace {
        return true;
    }
    if s == CBrace && a == TemplateSeqEnd {
        return true;
    }
    if s == TemplateSeqEnd && matches!(a, TemplateInterp | TemplateControl) {
        return false;
    }
    if bracket_change(subject) > 0 {
        return false;
    }
    if bracket_change(after) < 0 {
        return false;
    }
    true
}

fn columns(tokens: &[Token<'_>], cell: &[usize]) -> usize {
    cell.iter()
        .map(|&i| {
            tokens[i].spaces_before + String::from_utf8_lossy(tokens[i].bytes).chars().count()
        })
        .sum()
}

fn cells(tokens: &mut [Token<'_>], lines: &[Line]) {
    // `=` first (moving it moves the comment too), then trailing comments, each aligned
    // within runs of consecutive lines that have that cell.
    align(
        tokens,
        lines,
        |l| (!l.assign.is_empty()).then_some(&l.assign),
        |t, l| columns(t, &l.lead),
    );
    align(
        tokens,
        lines,
        |l| (!l.comment.is_empty()).then_some(&l.comment),
        |t, l| columns(t, &l.lead) + columns(t, &l.assign),
    );
}

fn align<'l>(
    tokens: &mut [Token<'_>],
    lines: &'l [Line],
    cell: impl Fn(&'l Line) -> Option<&'l Vec<usize>>,
    width: impl Fn(&[Token<'_>], &Line) -> usize,
) {
    let mut run: Vec<&Line> = Vec::new();
    let close = |tokens: &mut [Token<'_>], run: &mut Vec<&'l Line>| {
        let max = run.iter().map(|l| width(tokens, l)).max().unwrap_or(0);
        for l in run.drain(..) {
            let w = width(tokens, l);
            if let Some(c) = cell(l) {
                tokens[c[0]].spaces_before = max - w + 1;
            }
        }
    };
    for l in lines {
        if cell(l).is_some() {
            run.push(l);
        } else if !run.is_empty() {
            close(tokens, &mut run);
        }
    }
    if !run.is_empty() {
        close(tokens, &mut run);
    }
}
