//! Canonical formatting for `.pkr.hcl` / `.pkrvars.hcl`, byte for byte what `packer fmt` writes:
//! hclwrite's algorithm ([`format()`]) on hclsyntax's token stream ([`lexer`]). Only the spaces
//! between tokens change — indentation by bracket nesting, `=` and trailing comments aligned in
//! runs of consecutive lines, fixed spacing rules inside a line — so comments, blank lines,
//! heredocs, string contents and CRLF line endings stay as written.
//!
//! The file is parsed with hcl-edit first, so a broken file is refused with its position
//! instead of being reshaped.

mod format;
pub mod lexer;

/// Formats `src`. Errors are syntax errors as `line:col: message`.
pub fn format(src: &str) -> Result<String, String> {
    // HCL's line endings are LF and CRLF; hclsyntax (and so `packer fmt`) refuses a carriage
    // return on its own as an invalid character, where hcl-edit lets it through and the
    // reshaping was not stable (a fuzz finding).
    if let Some(at) = src
        .as_bytes()
        .windows(2)
        .position(|w| w[0] == b'\r' && w[1] != b'\n')
        .or_else(|| src.ends_with('\r').then(|| src.len() - 1))
    {
        let line = src[..at].matches('\n').count() + 1;
        let col = at - src[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
        return Err(format!(
            "{line}:{col}: Invalid character; a carriage return must be followed by a newline"
        ));
    }
    hcl_edit::parser::parse_body(src).map_err(|e| {
        format!(
            "{}:{}: {}",
            e.location().line(),
            e.location().column(),
            e.message()
        )
    })?;
    let mut tokens = lexer::lex(src.as_bytes());
    format::format(&mut tokens);
    let out = String::from_utf8(format::write(&tokens)).map_err(|e| format!("1:1: {e}"))?;
    // Only spaces between tokens change, so what parsed parses again — unless this lexer and
    // hcl-edit read the text differently (a fuzzer found two such texts). A file that would no
    // longer parse is never written: the file is refused, left as it is.
    if let Err(e) = hcl_edit::parser::parse_body(&out) {
        return Err(format!(
            "1:1: not formatted: the result would not parse ({}:{}: {}); the file is left as it is — please report it",
            e.location().line(),
            e.location().column(),
            e.message()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn a_text_whose_result_would_not_parse_is_refused_not_reshaped() {
        // Found by the `fmt` fuzz target: hcl-edit accepts this (an `%{ if }` directive left
        // open inside a quoted string), the lexer ends the string at the quote, and the
        // reshaped text no longer parses.
        let src = "locals {\nb = \"%{ if var.x }\"\n=$ \u{b}\0 {}yes%{ else }no%{ endif }\"\n}\n";
        assert!(
            hcl_edit::parser::parse_body(src).is_ok(),
            "hcl-edit accepts it"
        );
        let e = format(src).unwrap_err();
        assert!(
            e.contains("not formatted: the result would not parse"),
            "{e}"
        );
    }

    #[test]
    fn a_lone_carriage_return_is_refused_as_hcl_refuses_it() {
        // Found by the `fmt` fuzz target: formatting "\r\r\t\n" twice gave two results.
        let e = format("a = 1\n\r\r\t\n").unwrap_err();
        assert!(e.starts_with("2:1: Invalid character"), "{e}");
        assert!(format("a = 1\r").is_err());
        assert_eq!(format("a = 1\r\nb = 2\r\n").unwrap(), "a = 1\r\nb = 2\r\n");
    }

    #[test]
    fn identifiers_with_combining_marks_stay_whole() {
        // Found by the `fmt` fuzz target: U+0487 (a combining mark) is ID_Continue.
        let src = "x = length(var\u{487}egion) > 0\n";
        let once = format(src).unwrap();
        assert_eq!(once, src);
        assert_eq!(format(&once).unwrap(), once);
    }

    #[test]
    fn aligns_indents_and_keeps_comments() {
        let src = "source \"amazon-ebs\" \"x\" {\n# the name\n      ami_name=\"a  b\"\ninstance_type   =   \"t3.micro\"\n\n\n\n  tags = {\n  Name = \"x\"\n    }\n  heredoc = <<EOF\n   keep   this\nEOF\n}\n";
        let out = format(src).unwrap();
        // Blank lines stay as they are (packer fmt keeps them; tests/fmt/many_blank_lines).
        let want = "source \"amazon-ebs\" \"x\" {\n  # the name\n  ami_name      = \"a  b\"\n  instance_type = \"t3.micro\"\n\n\n\n  tags = {\n    Name = \"x\"\n  }\n  heredoc = <<EOF\n   keep   this\nEOF\n}\n";
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
