//! Any bytes as a case file: the loader never panics, and a case it accepts is verified at
//! order 1 without panicking (an error is a fine answer).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(case) = moeid::Case::parse(text, "fuzz.toml") {
        let options = moeid::Options {
            order: Some(1),
            ..moeid::Options::default()
        };
        let _ = moeid::verify(&case, &options);
    }
});
