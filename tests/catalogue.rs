//! The catalogue: a snapshot of every case's stable summary (what users' CI would hold).

#[test]
fn summary_of_every_case() {
    insta::glob!("../cases", "**/*.toml", |path| {
        let case = moeid::Case::load(path).unwrap();
        let v = moeid::verify(&case, &moeid::Options::default()).unwrap();
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(v.summary());
        });
    });
}

#[test]
fn every_case_has_a_source_a_title_and_an_expectation_it_meets() {
    for path in crate::util::all_cases() {
        let case = moeid::Case::load(&path).unwrap();
        assert!(
            !case.title.is_empty() && !case.source.is_empty(),
            "{}",
            path.display()
        );
        let want = case
            .expect
            .clone()
            .unwrap_or_else(|| panic!("{} has no [expect]", path.display()));
        let v = moeid::verify(&case, &moeid::Options::default()).unwrap();
        assert_eq!(v.verdict.kind.name(), want, "{}", path.display());
    }
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<String> = crate::util::all_cases()
        .iter()
        .map(|p| moeid::Case::load(p).unwrap().name)
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
}
