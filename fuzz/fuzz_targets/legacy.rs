//! Any text through the legacy `{{ }}` template engine (Packer's Go-template subset).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = ambake::template::legacy::LegacyContext::new(jiff::Timestamp::UNIX_EPOCH);
    let _ = ambake::template::legacy::render(text, &ctx);
});
