//! Tests of the coefficient system's Jacobian.

use super::*;
use crate::case::Case;
use crate::family::Design;
use crate::geometry::expansion::{Expansion, Frame, Samples};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The peer case's atom 1: its frame and a degree-5 expansion at 600 points.
fn peer_expansion() -> (Frame, Expansion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/cases/gaussian-2305.03288/softmax-gaussian-peer.toml"
    );
    let case = Case::load(std::path::Path::new(path)).expect("loads");
    let design = Design::new(&case);
    let samples = Samples::draw(&design, &case.atoms, 600, 7).expect("samples");
    let frame = Frame::new(&design, &case.atoms, 0, &samples).expect("frame");
    let exp = Expansion::new(&design, &frame, &samples, 5).expect("expansion");
    (frame, exp)
}

#[test]
fn the_jacobian_matches_finite_differences_beyond_the_supports() {
    // If an unknown moved rows beyond its support, the product would drop them and the
    // Jacobian would disagree with the residual's own differences.
    let (frame, exp) = peer_expansion();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (m, order) in [(1, 3), (2, 5), (3, 6)] {
        let sys = System::new(&frame, &exp, m, 0, 1, 1.0, order);
        let x = sys.random_start(&mut rng);
        let (r, jac) = sys.evaluate(&x).expect("finite");
        for u in 0..sys.unknowns {
            let h = 1e-6;
            let mut xp = x.clone();
            xp[u] += h;
            let mut xm = x.clone();
            xm[u] -= h;
            let (rp, _) = sys.evaluate(&xp).expect("finite");
            let (rm, _) = sys.evaluate(&xm).expect("finite");
            let fd = (rp - rm) / (2.0 * h);
            let err = (&fd - jac.column(u)).amax();
            assert!(
                err < 1e-6 * (1.0 + fd.amax()),
                "m {m}, order {order}, unknown {u}: {err} (residual {})",
                r.norm()
            );
        }
    }
}

#[test]
fn the_product_by_supports_is_the_full_product_to_the_bit() {
    let (frame, exp) = peer_expansion();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (m, order) in [(1, 3), (2, 5), (3, 6)] {
        let sys = System::new(&frame, &exp, m, 0, 1, 1.0, order);
        for n in 1..order {
            let tn = sys.ends[n];
            let b = DMatrix::from_fn(tn, tn, |_, _| rng.random_range(-1.0..1.0));
            let dc = DMatrix::from_fn(tn, sys.unknowns, |a, u| {
                if a < sys.support(u, n) {
                    rng.random_range(-1.0..1.0)
                } else {
                    0.0
                }
            });
            let mut out = DMatrix::zeros(tn, sys.unknowns);
            sys.whitened_jacobian(n, &b, &dc, &mut out.view_mut((0, 0), (tn, sys.unknowns)));
            assert_eq!(out, &b * &dc, "m {m}, order {n}");
        }
    }
}
