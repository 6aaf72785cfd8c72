//! `checksum`: one line `<hex digest>\t<file name>` per artifact file and checksum type,
//! appended to the output file of that type (Packer appends, so several builds of a run can
//! share one `SHA256SUMS`).

use anyhow::Context as _;
use std::io::Write as _;

/// The types Packer knows, in its order.
pub const TYPES: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

fn hex_digest<D: sha2::Digest>(mut hasher: D, file: &mut std::fs::File) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The digest of one file, by type name.
pub fn digest(kind: &str, path: &str) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("unable to open file {path}"))?;
    let d = match kind {
        "md5" => hex_digest(md5::Md5::default(), &mut f),
        "sha1" => hex_digest(sha1::Sha1::default(), &mut f),
        "sha224" => hex_digest(sha2::Sha224::default(), &mut f),
        "sha256" => hex_digest(sha2::Sha256::default(), &mut f),
        "sha384" => hex_digest(sha2::Sha384::default(), &mut f),
        "sha512" => hex_digest(sha2::Sha512::default(), &mut f),
        other => anyhow::bail!("Unrecognized checksum type: {other}"),
    };
    d.with_context(|| format!("unable to compute {kind} hash for {path}"))
}

/// Writes the checksums of `files`; `output_for(type)` names each type's file. Returns the
/// new artifact's files: the inputs, then every checksum file that did not exist before.
pub fn run(
    types: &[String],
    output_for: impl Fn(&str) -> anyhow::Result<String>,
    files: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut out = files.to_vec();
    for kind in types {
        for file in files {
            let target = output_for(kind)?;
            if std::fs::metadata(&target).is_err() && !out.contains(&target) {
                out.push(target.clone());
            }
            let sum = digest(kind, file)?;
            if let Some(dir) = std::path::Path::new(&target).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("unable to create dir {}", dir.display()))?;
            }
            let mut w = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&target)
                .with_context(|| format!("unable to create file {target}"))?;
            let name = std::path::Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.clone());
            writeln!(w, "{sum}\t{name}").with_context(|| format!("unable to write {target}"))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_reference_values_and_lines_append() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("abc.txt");
        std::fs::write(&f, "abc").unwrap();
        let f = f.to_string_lossy().into_owned();
        // The standard test vectors for "abc".
        assert_eq!(
            digest("md5", &f).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            digest("sha1", &f).unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            digest("sha224", &f).unwrap(),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        assert_eq!(
            digest("sha256", &f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            digest("sha384", &f)
                .unwrap()
                .starts_with("cb00753f45a35e8b")
        );
        assert!(
            digest("sha512", &f)
                .unwrap()
                .starts_with("ddaf35a193617aba")
        );
        assert!(digest("crc32", &f).is_err());

        let out = d.path().join("sums/MD5SUMS").to_string_lossy().into_owned();
        let o = out.clone();
        let files = run(&["md5".into()], |_| Ok(o.clone()), std::slice::from_ref(&f)).unwrap();
        assert_eq!(files, vec![f.clone(), out.clone()]);
        let o = out.clone();
        let again = run(&["md5".into()], |_| Ok(o.clone()), std::slice::from_ref(&f)).unwrap();
        assert_eq!(again, vec![f.clone()], "an existing sums file is not new");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "900150983cd24fb0d6963f7d28e17f72\tabc.txt\n".repeat(2)
        );
    }
}
