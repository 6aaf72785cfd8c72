//! Any text through `ambake fmt`'s formatter; what it formats must format to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(once) = ambake::fmt::format(text) {
        let twice = ambake::fmt::format(&once).expect("formatted text parses");
        assert_eq!(once, twice, "formatting is idempotent");
    }
});
