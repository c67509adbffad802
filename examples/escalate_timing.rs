//! Times one escalation (developer diagnostic).
use moeid::family::{atom_family, Design};
use moeid::rank::certify::{escalate, HpFamilies};
use moeid::rank::Tolerance;
fn main() {
    let case = moeid::Case::load("cases/sigmoid-temperature-joint.toml").unwrap();
    let design = Design::new(&case);
    let points = design.sample(&case.atoms, 200, 1).unwrap();
    let fstar = design.fstar(&points, &case.atoms).unwrap();
    let fam = atom_family(&design, &points, &fstar, &case.atoms[0], 0, 3).unwrap();
    let terms: Vec<_> = fam.terms.iter().take(30).map(|t| (0, t.clone())).collect();
    let t = std::time::Instant::now();
    let mut hp = HpFamilies::new(&design, &points, &case.atoms, 50);
    let r = escalate(&mut hp, &terms, &Tolerance::default()).unwrap();
    println!(
        "{:?} in {:?}, {} columns",
        r.map(|r| (r.rank, r.n)),
        t.elapsed(),
        hp.evaluations
    );
}
