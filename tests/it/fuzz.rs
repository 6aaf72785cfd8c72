//! No panic on any input: arbitrary bytes and mutated real templates go through the loader,
//! the planner and the formatter in-process. A seeded generator keeps failures reproducible.

use super::support::repo;
use ambake::diag::Diagnostics;

fn corpus() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["tests/fixtures", "templates"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap().flatten() {
            if e.path().to_string_lossy().ends_with(".pkr.hcl") {
                out.push(std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    out
}

fn mutate(rng: &mut fastrand::Rng, src: &str) -> String {
    let mut b: Vec<char> = src.chars().collect();
    const PIECES: &[&str] = &[
        "{", "}", "[", "]", "\"", "${", "%{", "}}", "{{", "=", "\n", "null", "var.", "local.",
        "<<EOF\n", "(", ")", ",", "#", "*", ".", "dynamic", "-1", "1e999", "\\u{0}", "é", "try(",
        "[*]",
    ];
    for _ in 0..rng.usize(1..6) {
        if b.is_empty() {
            break;
        }
        let at = rng.usize(0..b.len());
        match rng.u8(0..4) {
            0 => {
                let end = (at + rng.usize(0..20)).min(b.len());
                b.drain(at..end);
            }
            1 => {
                let p = PIECES[rng.usize(0..PIECES.len())];
                for (i, c) in p.chars().enumerate() {
                    b.insert(at + i, c);
                }
            }
            2 => b[at] = char::from(rng.u8(32..127)),
            _ => {
                let from = rng.usize(0..b.len());
                let seg: Vec<char> = b[from..(from + rng.usize(0..30)).min(b.len())].to_vec();
                for (i, c) in seg.into_iter().enumerate() {
                    b.insert(at + i, c);
                }
            }
        }
    }
    b.into_iter().collect()
}

fn exercise(dir: &std::path::Path, text: &str) {
    let p = dir.join("f.pkr.hcl");
    std::fs::write(&p, text).unwrap();
    let mut diags = Diagnostics::default();
    let opts = ambake::template::LoadOptions {
        path: p.to_string_lossy().into_owned(),
        ..Default::default()
    };
    if let Ok(cfg) = ambake::template::load(&opts, &ambake::template::UnknownData, &mut diags) {
        let _ = ambake::config::plan(&cfg, &Default::default(), &mut diags);
        let _ = diags.render(&cfg.map);
    }
    let _ = ambake::fmt::format(text);
}

#[test]
fn mutated_templates_never_panic() {
    let corpus = corpus();
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("AMBAKE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let iterations: usize = std::env::var("AMBAKE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut rng = fastrand::Rng::with_seed(seed);
    for i in 0..iterations {
        let src = &corpus[rng.usize(0..corpus.len())];
        let text = mutate(&mut rng, src);
        let r = std::panic::catch_unwind(|| exercise(dir.path(), &text));
        assert!(
            r.is_ok(),
            "panic at iteration {i} (seed {seed}) on input:\n{text}"
        );
    }
}

#[test]
fn random_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..500 {
        let len = rng.usize(0..300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let r = std::panic::catch_unwind(|| exercise(dir.path(), &text));
        assert!(r.is_ok(), "panic on input bytes {bytes:?}");
    }
}
