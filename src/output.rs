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

/// Replaces every secret value in `text` with `<sensitive>`.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 3).collect();
    // Longest first, so a secret that contains another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = out.replace(s.as_str(), "<sensitive>");
    }
    out
}
