//! The text verdict of every case in `cases/`, snapshotted.
//!
//! Gap sizes and σmin depend on rounding noise (the CPU's SIMD kernels), so they are redacted;
//! verdicts, relations and ranks are kept.

#[test]
fn text_verdict_of_every_case() {
    insta::glob!("../cases", "**/*.toml", |path| {
        let case = moeid::Case::load(path).unwrap();
        let v = moeid::verify(&case, &moeid::Options::default()).unwrap();
        let text = moeid::report::text::render(&v);
        insta::with_settings!({
            filters => vec![
                (r"gap \d+\.\d decades", "gap [decades]"),
                (r"σmin \d\.\de-?\d+", "σmin [value]"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(text);
        });
    });
}
