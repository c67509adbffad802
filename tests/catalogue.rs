//! The catalogue: every case has a source, a title and an expectation it meets; names are
//! unique. (The summary snapshots are in `snapshots.rs`.)

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
        let v = moeid::verify(&case, &crate::util::verdict_only()).unwrap();
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
