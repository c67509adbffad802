//! The two AD paths agree: num-dual (f64, the fast path) and the project's own hyper-dual jets
//! (generic over the scalar, used with MPFR) evaluated over f64.

use moeid::family::{Design, MultiIndex};

#[test]
fn num_dual_and_jets_agree_to_1e_13_on_every_case() {
    let mut checked = 0;
    for path in crate::util::all_cases() {
        let case = moeid::Case::load(&path).unwrap();
        let design = Design::new(&case);
        let points = design.sample(&case.atoms, 40, case.seed).unwrap();
        let fstar = design.fstar(&points, &case.atoms).unwrap();
        let alphas = MultiIndex::all(design.n_vars(), case.order);
        for (j, theta) in case.atoms.iter().enumerate() {
            let a = design
                .columns(&points, &fstar, theta, &alphas, j + 1)
                .unwrap();
            let b = design.columns_jet_f64(&points, &fstar, theta, &alphas, j + 1);
            for c in 0..alphas.len() {
                let scale = a.column(c).amax().max(1e-300);
                for i in 0..points.len() {
                    let d = (a[(i, c)] - b[(i, c)]).abs();
                    assert!(
                        d <= 1e-13 * scale,
                        "{}: atom {} {} sample {i}: {} vs {}",
                        case.name,
                        j + 1,
                        alphas[c].label(&design.variables, "u"),
                        a[(i, c)],
                        b[(i, c)]
                    );
                }
            }
            checked += alphas.len();
        }
    }
    assert!(checked > 100, "checked {checked} columns");
}
