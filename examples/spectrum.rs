//! Calibration of the rank tolerances: for each case, each atom's f64 rank, its smallest kept and
//! largest discarded singular value (relative to σ1) and its smallest column norm (relative to
//! the largest). The noise levels quoted in `src/rank/mod.rs` come from this.
//!
//! `cargo run --release --example spectrum cases/*.toml`
fn main() {
    for path in std::env::args().skip(1) {
        let case = moeid::Case::load(&path).unwrap();
        let design = moeid::family::Design::new(&case);
        let n = 3 * case.atoms.len() * moeid::family::max_terms(design.n_vars(), case.order);
        let points = design.sample(&case.atoms, n.max(200), case.seed).unwrap();
        let fstar = design.fstar(&points, &case.atoms).unwrap();
        for (j, theta) in case.atoms.iter().enumerate() {
            let fam =
                moeid::family::atom_family(&design, &points, &fstar, theta, j, case.order).unwrap();
            let r = moeid::rank::analyse(&fam.matrix, &moeid::rank::Tolerance::default());
            let s1 = r.sigma_max();
            let kept = r
                .singular_values
                .get(r.rank.wrapping_sub(1))
                .map_or(0.0, |s| s / s1);
            let dropped = r.singular_values.get(r.rank).map_or(0.0, |s| s / s1);
            let norms: Vec<f64> = fam.matrix.column_iter().map(|c| c.norm()).collect();
            let mx = norms.iter().cloned().fold(0.0, f64::max);
            let mn = norms
                .iter()
                .cloned()
                .filter(|&x| x > 1e-12 * mx)
                .fold(f64::INFINITY, f64::min);
            println!(
                "{:40} atom {}: rank {:3}/{:3} kept {:.1e} dropped {:.1e} min col {:.1e}",
                case.name,
                j + 1,
                r.rank,
                r.n,
                kept,
                dropped,
                mn / mx
            );
        }
    }
}
