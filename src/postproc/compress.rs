//! `compress`: the artifact's files into one archive, its kind read from the output name's
//! extensions the way Packer reads them (`.tar.gz`, `.zip`, `.lz4`, …; no extension means
//! a gzipped tar).

use anyhow::Context as _;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    Tar,
    Zip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Gzip,
    Lz4,
    Bgzf,
    Xz,
    Bzip2,
}

impl Algorithm {
    /// The name Packer prints ("Tarring x with pgzip").
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "pgzip",
            Self::Lz4 => "lz4",
            Self::Bgzf => "bgzf",
            Self::Xz => "xz",
            Self::Bzip2 => "bzip2",
        }
    }
}

/// What the archive is: a container, a compression, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub archive: Option<Archive>,
    pub algorithm: Option<Algorithm>,
}

/// Packer's detectFromFilename: the last two lowercase `.ext` runs of `output` (with
/// `.format` appended when given) decide; anything unrecognised is a gzipped tar. It reads the
/// template's text before `{{ }}` values are filled in, as Packer does.
pub fn detect(output: &str, format: Option<&str>) -> Kind {
    let name = match format {
        Some(f) => format!("{output}.{f}"),
        None => output.to_string(),
    };
    let exts = extensions(&name);
    let tar_gz = Kind {
        archive: Some(Archive::Tar),
        algorithm: Some(Algorithm::Gzip),
    };
    let Some(last) = exts.last() else {
        return tar_gz;
    };
    let archive = (exts.len() > 1 && exts[exts.len() - 2] == "tar").then_some(Archive::Tar);
    match last.as_str() {
        "tar" => Kind {
            archive: Some(Archive::Tar),
            algorithm: None,
        },
        "zip" => Kind {
            archive: Some(Archive::Zip),
            algorithm: None,
        },
        ext => {
            let algorithm = match ext {
                "gz" => Algorithm::Gzip,
                "lz4" => Algorithm::Lz4,
                "bgzf" => Algorithm::Bgzf,
                "xz" => Algorithm::Xz,
                "bzip2" => Algorithm::Bzip2,
                _ => return tar_gz,
            };
            Kind {
                archive,
                algorithm: Some(algorithm),
            }
        }
    }
}

/// Every `.` followed by one or more of `[a-z0-9]`, left to right, not overlapping.
fn extensions(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' {
            let run = b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                .count();
            if run > 0 {
                out.push(s[i + 1..i + 1 + run].to_string());
                i += 1 + run;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Packer's level rules: above 9 is 9; 0 and -1 (and unset) are the writer's default.
pub fn level(configured: Option<i64>) -> Option<u32> {
    match configured {
        None | Some(0) | Some(-1) => None,
        Some(l) => Some(l.clamp(1, 9) as u32),
    }
}

/// One compressing writer over the output file.
enum Encoder {
    Plain(std::fs::File),
    Gzip(flate2::write::GzEncoder<std::fs::File>),
    Lz4(lz4_flex::frame::FrameEncoder<std::fs::File>),
    Bgzf(noodles_bgzf::io::Writer<std::fs::File>),
    Xz(lzma_rust2::XzWriter<std::fs::File>),
    Bzip2(bzip2::write::BzEncoder<std::fs::File>),
}

impl Encoder {
    fn new(
        file: std::fs::File,
        algorithm: Option<Algorithm>,
        level: Option<u32>,
    ) -> std::io::Result<Self> {
        Ok(match algorithm {
            None => Self::Plain(file),
            Some(Algorithm::Gzip) => Self::Gzip(flate2::write::GzEncoder::new(
                file,
                level.map_or(flate2::Compression::default(), flate2::Compression::new),
            )),
            Some(Algorithm::Lz4) => Self::Lz4(lz4_flex::frame::FrameEncoder::new(file)),
            Some(Algorithm::Bgzf) => {
                let mut b = noodles_bgzf::io::writer::Builder::default();
                if let Some(l) = level.and_then(|l| {
                    noodles_bgzf::io::writer::CompressionLevel::try_from(l as u8).ok()
                }) {
                    b = b.set_compression_level(l);
                }
                Self::Bgzf(b.build_from_writer(file))
            }
            // Packer's xz writer takes no level. Writing the stream header can fail (a full
            // disk): an error, not a panic.
            Some(Algorithm::Xz) => Self::Xz(lzma_rust2::XzWriter::new(
                file,
                lzma_rust2::XzOptions::with_preset(6),
            )?),
            // Packer's bzip2 default is 9, not the gzip-style 6.
            Some(Algorithm::Bzip2) => Self::Bzip2(bzip2::write::BzEncoder::new(
                file,
                bzip2::Compression::new(level.unwrap_or(9)),
            )),
        })
    }

    fn finish(self) -> std::io::Result<std::fs::File> {
        match self {
            Self::Plain(f) => Ok(f),
            Self::Gzip(e) => e.finish(),
            Self::Lz4(e) => e.finish().map_err(std::io::Error::other),
            Self::Bgzf(e) => e.finish(),
            Self::Xz(e) => e.finish(),
            Self::Bzip2(e) => e.finish(),
        }
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Gzip(w) => w.write(buf),
            Self::Lz4(w) => w.write(buf),
            Self::Bgzf(w) => w.write(buf),
            Self::Xz(w) => w.write(buf),
            Self::Bzip2(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(w) => w.flush(),
            Self::Gzip(w) => w.flush(),
            Self::Lz4(w) => w.flush(),
            Self::Bgzf(w) => w.flush(),
            Self::Xz(w) => w.flush(),
            Self::Bzip2(w) => w.flush(),
        }
    }
}

/// Writes the archive `target` of `files`; `say` gets Packer's progress lines.
pub fn run(
    target: &str,
    kind: Kind,
    level: Option<u32>,
    files: &[String],
    say: &dyn Fn(String),
) -> anyhow::Result<()> {
    if kind.archive.is_none() && files.len() != 1 {
        anyhow::bail!(
            "Can only have 1 input file when not using tar/zip. Found {} files: [{}]",
            files.len(),
            files.join(" ")
        );
    }
    if let Some(dir) = std::path::Path::new(target).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("Unable to create dir for archive {target}"))?;
    }
    let file = std::fs::File::create(target)
        .with_context(|| format!("Unable to create archive {target}"))?;
    let compression = kind.algorithm.map_or("no compression", Algorithm::name);
    if let Some(a) = kind.algorithm {
        say(format!("Using {} compression for {target}", a.name()));
    }
    match kind.archive {
        Some(Archive::Zip) => {
            say(format!("Zipping {target}"));
            let mut z = zip::ZipWriter::new(file);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for path in files {
                let mut src = std::fs::File::open(path)
                    .with_context(|| format!("Unable to read file {path}"))?;
                z.start_file(path.as_str(), opts)
                    .with_context(|| format!("Failed to add zip header for {path}"))?;
                std::io::copy(&mut src, &mut z)
                    .with_context(|| format!("Failed to copy {path} data to archive"))?;
            }
            z.finish()
                .with_context(|| format!("Error creating zip {target}"))?
                .sync_all()?;
        }
        Some(Archive::Tar) => {
            say(format!("Tarring {target} with {compression}"));
            let enc = Encoder::new(file, kind.algorithm, level)
                .with_context(|| format!("Unable to create archive {target}"))?;
            let mut t = tar::Builder::new(enc);
            for path in files {
                let mut src = std::fs::File::open(path)
                    .with_context(|| format!("Unable to read file {path}"))?;
                // Go's tar.FileInfoHeader names an entry by its base name.
                let name = std::path::Path::new(path)
                    .file_name()
                    .with_context(|| format!("{path} has no file name"))?;
                t.append_file(name, &mut src)
                    .with_context(|| format!("Failed to copy {path} data to archive"))?;
            }
            t.into_inner()
                .context("Error creating tar")?
                .finish()
                .context("Error creating tar")?
                .sync_all()?;
        }
        None => {
            let path = &files[0];
            say(format!("Archiving {path} with {compression}"));
            let mut src = std::fs::File::open(path)
                .with_context(|| format!("Failed to open source file {path} for reading"))?;
            let mut enc = Encoder::new(file, kind.algorithm, level)
                .with_context(|| format!("Unable to create archive {target}"))?;
            std::io::copy(&mut src, &mut enc)
                .with_context(|| format!("Failed to compress {path}"))?;
            enc.finish()
                .with_context(|| format!("Failed to compress {path}"))?
                .sync_all()?;
        }
    }
    say(format!("Archive {target} completed"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn the_kind_is_read_from_the_name_as_packer_reads_it() {
        let k = |a, g| Kind {
            archive: a,
            algorithm: g,
        };
        let tgz = k(Some(Archive::Tar), Some(Algorithm::Gzip));
        assert_eq!(detect("packer_{{.BuildName}}_{{.BuilderType}}", None), tgz);
        assert_eq!(detect("out/image.tar.gz", None), tgz);
        assert_eq!(detect("out/image.tar", None), k(Some(Archive::Tar), None));
        assert_eq!(detect("image.zip", None), k(Some(Archive::Zip), None));
        assert_eq!(detect("image.gz", None), k(None, Some(Algorithm::Gzip)));
        assert_eq!(
            detect("image.tar.lz4", None),
            k(Some(Archive::Tar), Some(Algorithm::Lz4))
        );
        assert_eq!(detect("image", Some("xz")), k(None, Some(Algorithm::Xz)));
        assert_eq!(detect("image.weird", None), tgz);
        assert_eq!(level(Some(0)), None);
        assert_eq!(level(Some(42)), Some(9));
        assert_eq!(level(Some(3)), Some(3));
    }

    fn fixture() -> (tempfile::TempDir, Vec<String>) {
        let d = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (n, body) in [("a.txt", "alpha\n"), ("b.bin", "beta beta beta\n")] {
            let p = d.path().join(n);
            std::fs::write(&p, body).unwrap();
            files.push(p.to_string_lossy().into_owned());
        }
        (d, files)
    }

    #[test]
    fn a_tar_gz_holds_each_file_under_its_base_name() {
        let (d, files) = fixture();
        let target = d.path().join("out/x.tar.gz").to_string_lossy().into_owned();
        let said = std::cell::RefCell::new(Vec::new());
        run(&target, detect(&target, None), None, &files, &|s| {
            said.borrow_mut().push(s)
        })
        .unwrap();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&target).unwrap());
        let mut ar = tar::Archive::new(gz);
        let mut got = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            got.push((e.path().unwrap().to_string_lossy().into_owned(), s));
        }
        assert_eq!(
            got,
            vec![
                ("a.txt".to_string(), "alpha\n".to_string()),
                ("b.bin".to_string(), "beta beta beta\n".to_string())
            ]
        );
        assert_eq!(
            said.borrow().last().unwrap(),
            &format!("Archive {target} completed")
        );
    }

    #[test]
    fn every_single_file_compression_round_trips() {
        let (d, files) = fixture();
        let one = &files[..1];
        for ext in ["gz", "lz4", "bgzf", "xz", "bzip2"] {
            let target = d
                .path()
                .join(format!("a.{ext}"))
                .to_string_lossy()
                .into_owned();
            run(&target, detect(&target, None), Some(9), one, &|_| ()).unwrap();
            let f = std::fs::File::open(&target).unwrap();
            let mut r: Box<dyn std::io::Read> = match ext {
                "gz" | "bgzf" => Box::new(flate2::read::MultiGzDecoder::new(f)),
                "lz4" => Box::new(lz4_flex::frame::FrameDecoder::new(f)),
                "xz" => Box::new(lzma_rust2::XzReader::new(f, false)),
                _ => Box::new(bzip2::read::BzDecoder::new(f)),
            };
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            assert_eq!(s, "alpha\n", "{ext}");
        }
        let err = run("x.gz", detect("x.gz", None), None, &files, &|_| ()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Can only have 1 input file when not using tar/zip. Found 2 files"),
            "{err}"
        );
    }

    #[test]
    fn a_zip_holds_each_file_under_its_path() {
        let (d, files) = fixture();
        let target = d.path().join("x.zip").to_string_lossy().into_owned();
        run(&target, detect(&target, None), None, &files, &|_| ()).unwrap();
        let mut z = zip::ZipArchive::new(std::fs::File::open(&target).unwrap()).unwrap();
        assert_eq!(z.len(), 2);
        let mut s = String::new();
        z.by_name(&files[1])
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "beta beta beta\n");
    }

    #[test]
    fn no_files_make_an_empty_tar_as_packer_does() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("empty").to_string_lossy().into_owned();
        run(&target, detect(&target, None), None, &[], &|_| ()).unwrap();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&target).unwrap());
        assert_eq!(tar::Archive::new(gz).entries().unwrap().count(), 0);
    }
}
