//! Writing to stdout without panicking on a closed pipe (`ambake inspect | head`).

use std::io::Write as _;

/// Prints bytes; a broken pipe ends the process quietly with success, as other CLI tools do.
pub fn bytes(b: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(b).and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

pub fn line(s: &str) {
    bytes(format!("{s}\n").as_bytes());
}

/// Replaces every secret value in `text` with `<sensitive>`: the value itself, each line of a
/// multi-line value (output arrives line by line, so a PEM key printed by a provisioner is
/// never seen whole), and the value's base64 forms.
pub fn mask(text: &str, secrets: &[String]) -> String {
    use base64::Engine as _;
    let mut needles: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        needles.push(s.clone());
        for e in [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE,
        ] {
            let b = e.encode(s.as_bytes());
            needles.push(b.trim_end_matches('=').to_string());
        }
        if s.contains('\n') {
            needles.extend(
                s.lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= 8)
                    .map(String::from),
            );
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    needles.sort_by_key(|s| std::cmp::Reverse(s.len()));
    needles.dedup();
    let mut out = text.to_string();
    for n in needles.iter().filter(|n| n.len() >= 3) {
        out = out.replace(n.as_str(), "<sensitive>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask;
    use base64::Engine as _;

    #[test]
    fn lines_of_multi_line_secrets_and_base64_forms_are_masked() {
        let pem =
            "-----BEGIN KEY-----\nMIIEowIBAAKCAQEAxyz123456\nabcdefghijklmnop\n-----END KEY-----";
        let secrets = vec![pem.to_string(), "hunter2-token".to_string()];
        assert_eq!(
            mask("x MIIEowIBAAKCAQEAxyz123456 y", &secrets),
            "x <sensitive> y"
        );
        assert_eq!(mask("abcdefghijklmnop", &secrets), "<sensitive>");
        let b64 = base64::engine::general_purpose::STANDARD.encode("hunter2-token");
        assert!(!mask(&format!("auth {b64}"), &secrets).contains(b64.trim_end_matches('=')));
        assert_eq!(mask("plain text", &secrets), "plain text");
    }
}
