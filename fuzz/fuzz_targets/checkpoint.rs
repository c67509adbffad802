//! Any bytes as a rate-check checkpoint of the peer case: reading it never panics, and what it
//! accepts is summarised (`moeid report`'s path: the stored fits against the case's truth) and
//! resumed (`moeid rates`'s path: the file opened for appending, its cut tail trimmed) without
//! panicking. An error is a fine answer. The bytes go through a file, as checkpoints do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixture {
    case: moeid::Case,
    settings: moeid::rates::RateSettings,
    path: std::path::PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let text = include_str!("../../cases/gaussian-2305.03288/softmax-gaussian-peer.toml");
        let case = moeid::Case::parse(text, "peer.toml").expect("the peer case loads");
        let settings = moeid::rates::RateSettings::resolve(
            &case,
            &moeid::rates::RateOverrides::default(),
            None,
        );
        let path = std::env::temp_dir().join(format!("moeid-fuzz-{}.jsonl", std::process::id()));
        Fixture {
            case,
            settings,
            path,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    if std::fs::write(&f.path, data).is_err() {
        return;
    }
    let params = f.case.variables().len();
    let _ = moeid::rates::checkpoint::read(&f.path, Some(params));
    let _ = moeid::rates::stored(&f.case, &f.settings, None, &f.path);
    let header = f.settings.header(&f.case, &f.path);
    let _ = moeid::rates::checkpoint::open(&f.path, &header, params);
});
