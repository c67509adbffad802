//! Any bytes as a case file: the loader never panics, and a case it accepts is verified at
//! order 1 without panicking (an error is a fine answer). Cells of one atom only, and cases
//! whose estimated cost exceeds a second are skipped: the target looks for panics, not for slow
//! but correct analyses (the sanitizer makes every run several times slower).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(case) = moeid::Case::parse(text, "fuzz.toml") {
        let options = moeid::Options {
            order: Some(1),
            cells: Some(1),
            ..moeid::Options::default()
        };
        match moeid::cost(&case, &options) {
            Ok(c) if c.seconds.1 <= 1.0 => {
                let _ = moeid::verify(&case, &options);
            }
            _ => {}
        }
    }
});
