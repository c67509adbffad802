//! The text verdict and the stable summary of every case in `cases/`, snapshotted (one
//! verification per case serves both; the summary is what users' CI would hold).
//!
//! Gap sizes and σmin depend on rounding noise (the CPU's SIMD kernels), so they are redacted;
//! verdicts, relations, ranks and the cells' exponents are kept. The cells' witness curves and
//! measured slopes are redacted too: they are one solution among many of the coefficient
//! system, and rounding can pick another on another CPU (the exponents do not move).

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
                (r"witness [^;)]*; ρ slope -?\d+\.\d+", "witness [curve]; ρ slope [slope]"),
                (r"ρ slope -?\d+\.\d+", "ρ slope [slope]"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!("text_verdict_of_every_case", text);
            insta::assert_snapshot!("summary_of_every_case", v.summary());
        });
    });
}
