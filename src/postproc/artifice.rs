//! `artifice`: the template's `files` (globs, as Go's `filepath.Glob` reads them) replace the
//! artifact.

use anyhow::Context as _;

/// The files the patterns name, in pattern order. A pattern that matches nothing adds nothing
/// (Packer's rule); the caller says so, since that is usually a typo.
pub fn expand(patterns: &[String]) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    patterns
        .iter()
        .map(|p| {
            let mut files = Vec::new();
            for entry in glob::glob(p).with_context(|| format!("bad file pattern {p:?}"))? {
                let path = entry.with_context(|| format!("cannot read a match of {p:?}"))?;
                std::fs::metadata(&path)
                    .with_context(|| format!("cannot stat {}", path.display()))?;
                files.push(path.to_string_lossy().into_owned());
            }
            Ok((p.clone(), files))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_expand_in_order_and_a_plain_missing_name_matches_nothing() {
        let d = tempfile::tempdir().unwrap();
        for f in ["b.txt", "a.txt", "c.log"] {
            std::fs::write(d.path().join(f), f).unwrap();
        }
        let pat = |s: &str| d.path().join(s).to_string_lossy().into_owned();
        let got = expand(&[pat("*.txt"), pat("c.log"), pat("missing.bin")]).unwrap();
        let names: Vec<Vec<String>> = got
            .iter()
            .map(|(_, fs)| {
                fs.iter()
                    .map(|f| f.rsplit('/').next().unwrap().to_string())
                    .collect()
            })
            .collect();
        assert_eq!(
            names,
            vec![vec!["a.txt", "b.txt"], vec!["c.log"], Vec::<&str>::new()]
        );
        assert!(expand(&["[".to_string()]).is_err(), "a malformed pattern");
    }
}
