//! Any text as a template: loading, evaluating, planning and rendering the diagnostics must
//! end in a value or an error with a position — never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = dir().path().join("f.pkr.hcl");
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let mut diags = ambake::diag::Diagnostics::default();
    let opts = ambake::template::LoadOptions {
        path: path.to_string_lossy().into_owned(),
        ..Default::default()
    };
    if let Ok(cfg) = ambake::template::load(&opts, &ambake::template::UnknownData, &mut diags) {
        let _ = ambake::config::plan(&cfg, &Default::default(), &mut diags);
        let _ = diags.render(&cfg.map);
    }
});
