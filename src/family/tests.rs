use super::*;
use crate::case::Case;

fn case(weight: &str, mean: &str, normalized: bool, params: &str, atoms: &str) -> Case {
    let text = format!(
        "model = \"regression\"\n[gate]\nweight = \"{weight}\"\nnormalized = {normalized}\n\
         [expert]\nmean = \"{mean}\"\n[params]\n{params}\n{atoms}"
    );
    Case::parse(&text, "t.toml").unwrap()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn second_derivatives_match_closed_forms() {
    // u = σ(b1 x + b0) tanh(a x + b)
    let c = case(
        "sigmoid(b1 * x[0] + b0)",
        "tanh(a * x[0] + b)",
        false,
        "b1 = {}\nb0 = {}\na = {}\nb = {}",
        "[[atoms]]\nb1 = 1.5\nb0 = -0.3\na = 0.8\nb = 0.2",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 50, 7).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let theta = &c.atoms[0];
    // ∂²u/∂b1∂b = σ'(s) x · tanh'(t)
    let alphas = [MultiIndex::new(vec![0, 3]), MultiIndex::new(vec![1, 2])];
    let m = d.columns(&pts, &fs, theta, &alphas, 1).unwrap();
    for i in 0..pts.len() {
        let x = pts.x[i];
        let s = 1.5 * x - 0.3;
        let t = 0.8 * x + 0.2;
        let dsig = sigmoid(s) * (1.0 - sigmoid(s));
        let dtanh = 1.0 - t.tanh().powi(2);
        let want = dsig * x * dtanh;
        assert!((m[(i, 0)] - want).abs() < 1e-14, "{} vs {want}", m[(i, 0)]);
        // relation #4: ∂²u/∂b1∂b = ∂²u/∂b0∂a
        assert!((m[(i, 0)] - m[(i, 1)]).abs() < 1e-14);
    }
}

#[test]
fn higher_orders_match_finite_differences_of_lower_ones() {
    let c = case(
        "exp(b1 * x[0] + b0)",
        "gelu(a * x[0] + b)",
        false,
        "b1 = {}\nb0 = {}\na = {}\nb = {}",
        "[[atoms]]\nb1 = 0.7\nb0 = 0.1\na = -1.1\nb = 0.4",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 20, 3).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let theta = c.atoms[0].clone();
    let h = 1e-4;
    // ∂^{k+1} u / ∂(dirs, p) ≈ central difference in θ_p of ∂^k u / ∂(dirs)
    for (dirs, p) in [
        (vec![2, 3], 0usize),
        (vec![0, 2, 3], 2),
        (vec![2, 2, 2], 3),
        (vec![3], 3),
    ] {
        let lower = MultiIndex::new(dirs.iter().map(|&d| d as u16).collect());
        let mut upper_dirs = lower.directions().to_vec();
        upper_dirs.push(p as u16);
        let upper = MultiIndex::new(upper_dirs);
        let ad = d.columns(&pts, &fs, &theta, &[upper], 1).unwrap();
        let mut plus = theta.clone();
        plus[p] += h;
        let mut minus = theta.clone();
        minus[p] -= h;
        let fp = d
            .columns(&pts, &fs, &plus, std::slice::from_ref(&lower), 1)
            .unwrap();
        let fm = d
            .columns(&pts, &fs, &minus, std::slice::from_ref(&lower), 1)
            .unwrap();
        for i in 0..pts.len() {
            let fd = (fp[(i, 0)] - fm[(i, 0)]) / (2.0 * h);
            let scale = 1.0 + ad[(i, 0)].abs();
            assert!(
                (ad[(i, 0)] - fd).abs() < 1e-6 * scale,
                "{lower:?}+{p}: {} vs {fd}",
                ad[(i, 0)]
            );
        }
    }
}

#[test]
fn masses_are_detected_and_declared() {
    // exp(b1 x + b0): ∂u/∂b0 = u, so b0 is a mass even undeclared.
    let c = case(
        "exp(b1 * x[0] + b0)",
        "tanh(a * x[0] + b)",
        false,
        "b1 = {}\nb0 = {}\na = {}\nb = {}",
        "[[atoms]]\nb1 = 0.7\nb0 = 0.1\na = -1.1\nb = 0.4",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 100, 3).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let f = atom_family(&d, &pts, &fs, &c.atoms[0], 0, 2).unwrap();
    assert_eq!(f.masses.len(), 1);
    assert_eq!(f.masses[0].var, 1);
    assert!((f.masses[0].c - 1.0).abs() < 1e-12);
    assert!(f.masses[0].holds && !f.masses[0].declared);
    // u is in the family; no second derivative through b0.
    assert_eq!(f.terms[0], MultiIndex::zero());
    assert!(f.terms.iter().all(|t| t.order() < 2 || t.count(1) == 0));
    // 1 + 4 + (10 - 4) = 11 terms
    assert_eq!(f.terms.len(), 11);

    // A sigmoid gate at b1 = 0 makes b0 a mass with c = 1 − σ(b0) (relation #5).
    let c = case(
        "sigmoid(b1 * x[0] + b0)",
        "a * x[0] + b",
        false,
        "b1 = {}\nb0 = {}\na = {}\nb = {}",
        "[[atoms]]\nb1 = 0.0\nb0 = 0.5\na = -1.1\nb = 0.4",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 100, 3).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let f = atom_family(&d, &pts, &fs, &c.atoms[0], 0, 2).unwrap();
    assert_eq!(f.masses.len(), 1);
    assert!((f.masses[0].c - (1.0 - sigmoid(0.5))).abs() < 1e-12);
}

#[test]
fn kinks_set_second_derivatives_aside() {
    let c = case(
        "sigmoid(b1 * x[0] + b0)",
        "relu(a * x[0] + b)",
        false,
        "b1 = {}\nb0 = {}\na = {}\nb = {}",
        "[[atoms]]\nb1 = 1.0\nb0 = 0.1\na = 1.1\nb = 0.4",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 100, 3).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let f = atom_family(&d, &pts, &fs, &c.atoms[0], 0, 2).unwrap();
    let names: Vec<String> = f
        .singular
        .iter()
        .map(|s| s.alpha.label(&d.variables, "u"))
        .collect();
    assert_eq!(names, ["∂²u/∂a²", "∂²u/∂a∂b", "∂²u/∂b²"]);
    assert_eq!(f.singular[0].kink, "relu(a * x[0] + b)");
}

#[test]
fn normalized_gates_subtract_the_true_output() {
    let c = case(
        "exp(b1 * x[0] + b0)",
        "a * x[0] + b",
        true,
        "b1 = {}\nb0 = { role = \"mass\" }\na = {}\nb = {}",
        "[[atoms]]\nb1 = 1.0\nb0 = 0.0\na = 1.0\nb = 0.5\n[[atoms]]\nb1 = -1.0\nb0 = 0.2\na = -1.0\nb = 0.0",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 30, 3).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let zero = [MultiIndex::zero()];
    let u1 = d.columns(&pts, &fs, &c.atoms[0], &zero, 1).unwrap();
    let u2 = d.columns(&pts, &fs, &c.atoms[1], &zero, 2).unwrap();
    // Σ_j u_j = Σ_j w_j (e_j − f*) = 0: the gauge relation at order 0.
    for i in 0..pts.len() {
        assert!((u1[(i, 0)] + u2[(i, 0)]).abs() < 1e-13 * (1.0 + u1[(i, 0)].abs()));
    }
}

#[test]
fn non_finite_values_name_the_term_and_sample() {
    let c = case(
        "exp(b1 * x[0])",
        "log(a * x[0] + b)",
        false,
        "b1 = {}\na = {}\nb = {}",
        "[[atoms]]\nb1 = 1.0\na = 1.0\nb = 0.0",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 50, 3).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let err = d
        .columns(&pts, &fs, &c.atoms[0], &[MultiIndex::zero()], 1)
        .unwrap_err();
    let FamilyError::NonFinite { term, atom, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((term.as_str(), *atom), ("u", 1));
    assert!(err.to_string().contains("at sample"));
}

#[test]
fn columns_do_not_depend_on_the_thread_count() {
    let c = case(
        "sigmoid(b1 * x[0] + b0)",
        "tanh(a * x[0] + b)",
        false,
        "b1 = {}\nb0 = {}\na = {}\nb = {}",
        "[[atoms]]\nb1 = 1.5\nb0 = -0.3\na = 0.8\nb = 0.2",
    );
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 64, 9).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    let alphas = MultiIndex::all(4, 3);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| d.columns(&pts, &fs, &c.atoms[0], &alphas, 1).unwrap())
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn the_size_check_counts_the_terms_the_mass_rule_keeps() {
    // P = 20 with one mass at order 3: C(22, 3) + 1 = 1541 kept of C(23, 3) = 1771
    assert_eq!(max_terms(20, 3), 1771);
    assert_eq!(max_terms_kept(20, 1, 3), 1541);
    assert_eq!(max_terms_kept(20, 0, 3), 1771);
    assert_eq!(max_terms_kept(4, 1, 0), 1);
    // at order 1 nothing is removed
    assert_eq!(max_terms_kept(5, 2, 1), max_terms(5, 1));
}

#[test]
fn the_kept_count_bounds_the_family_built() {
    let case = crate::case::Case::builder("t", crate::case::Model::Regression)
        .gate("exp(dot(beta1, x) + beta0)", true)
        .mean("dot(a, x) + b")
        .vector("beta1", 2)
        .mass("beta0")
        .vector("a", 2)
        .scalar("b")
        .inputs(2, -1.0, 1.0)
        .atom(&[
            ("beta1", &[1.0, 0.5]),
            ("beta0", &[0.0]),
            ("a", &[1.0, -1.0]),
            ("b", &[0.2]),
        ])
        .atom(&[
            ("beta1", &[-1.0, 0.3]),
            ("beta0", &[0.1]),
            ("a", &[-0.5, 1.0]),
            ("b", &[0.4]),
        ])
        .build()
        .unwrap();
    let v = crate::verify(
        &case,
        &crate::Options {
            order: Some(3),
            cells: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let family = v
        .families
        .iter()
        .find(|f| f.atom == Some(0) && f.order == 3)
        .unwrap();
    assert!(
        family.terms <= max_terms_kept(6, 1, 3),
        "{} terms",
        family.terms
    );
    assert_eq!(
        family.terms,
        max_terms_kept(6, 1, 3),
        "no kink: exactly the kept terms"
    );
}

/// A softmax gate over three linear experts with `gate.top_k = k`.
fn top_k_case(k: usize) -> Case {
    let text = format!(
        "model = \"regression\"\n[gate]\nweight = \"exp(b1 * x[0] + b0)\"\nnormalized = true\n\
         top_k = {k}\n[expert]\nmean = \"a * x[0] + b\"\n[params]\nb1 = {{}}\nb0 = {{ role = \"mass\" }}\n\
         a = {{}}\nb = {{}}\n\
         [[atoms]]\nb1 = 2.0\nb0 = 0.0\na = 1.0\nb = 0.5\n\
         [[atoms]]\nb1 = -2.0\nb0 = 0.0\na = -1.0\nb = 0.0\n\
         [[atoms]]\nb1 = 1.0\nb0 = -0.5\na = 0.5\nb = -0.5"
    );
    Case::parse(&text, "t.toml").unwrap()
}

#[test]
fn a_top_k_gate_selects_the_k_largest_true_weights() {
    for k in [1, 2] {
        let c = top_k_case(k);
        let d = Design::new(&c);
        let pts = d.sample(&c.atoms, 200, 5).unwrap();
        let fs = d.fstar(&pts, &c.atoms).unwrap();
        let mut shares = [0usize; 3];
        for (i, &f) in fs.iter().enumerate() {
            let x = pts.x[i];
            let w: Vec<f64> = c.atoms.iter().map(|t| (t[0] * x + t[1]).exp()).collect();
            let picked: Vec<usize> = (0..3).filter(|&j| pts.selected(i, j)).collect();
            assert_eq!(picked.len(), k, "point {i}: {picked:?}");
            for j in 0..3 {
                if picked.contains(&j) {
                    shares[j] += 1;
                } else {
                    assert!(
                        picked.iter().all(|&p| w[p] >= w[j]),
                        "point {i}: {w:?} {picked:?}"
                    );
                }
            }
            // f* is the gate-weighted mean of the selected experts only.
            let e = |j: usize| c.atoms[j][2] * x + c.atoms[j][3];
            let num: f64 = picked.iter().map(|&j| w[j] * e(j)).sum();
            let den: f64 = picked.iter().map(|&j| w[j]).sum();
            assert!((f - num / den).abs() < 1e-12, "point {i}");
        }
        for (j, &s) in shares.iter().enumerate() {
            assert!((pts.selected_share(j) - s as f64 / 200.0).abs() < 1e-15);
        }
        // Top-2: every atom is selected somewhere and left out somewhere on [-1, 1]; top-1
        // never selects the third (exp(x - 0.5) < exp(2|x|)).
        match k {
            2 => assert!(shares.iter().all(|&s| s > 0 && s < 200), "{shares:?}"),
            _ => assert!(
                shares[2] == 0 && shares[0] > 0 && shares[1] > 0,
                "{shares:?}"
            ),
        }
        // u and its derivatives vanish where an atom is not selected.
        let alphas = [
            MultiIndex::zero(),
            MultiIndex::new(vec![0]),
            MultiIndex::new(vec![2, 3]),
            MultiIndex::new(vec![2]),
        ];
        for atom in 1..=3 {
            let m = d
                .columns(&pts, &fs, &c.atoms[atom - 1], &alphas, atom)
                .unwrap();
            for i in 0..pts.len() {
                if !pts.selected(i, atom - 1) {
                    assert!((0..4).all(|a| m[(i, a)] == 0.0), "atom {atom}, point {i}");
                }
            }
            if shares[atom - 1] == 0 {
                continue;
            }
            let live = |a: usize| {
                (0..pts.len()).any(|i| pts.selected(i, atom - 1) && m[(i, a)].abs() > 1e-6)
            };
            // The expert's derivative lives where the atom is selected.
            assert!(live(3), "atom {atom}");
            // One selected atom: its expert is f*, so u and the gate's first derivatives
            // vanish at the truth (the degeneracy of docs/theory.md §9); two keep them.
            assert_eq!(live(0), k == 2, "atom {atom}");
            assert_eq!(live(1), k == 2, "atom {atom}");
        }
    }
}

#[test]
fn a_dense_gate_selects_every_atom() {
    let mut c = top_k_case(2);
    c.top_k = None;
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 50, 5).unwrap();
    assert!((0..50).all(|i| (0..3).all(|j| pts.selected(i, j))));
    assert_eq!(pts.selected_share(2), 1.0);
}

/// The hierarchical softmax of the catalogue, with `groups` replaced.
fn hierarchical(edit: impl Fn(String) -> String) -> Case {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("cases/softmax-2503.03213/hierarchical.toml"),
    )
    .unwrap();
    Case::parse(&edit(text), "h.toml").unwrap()
}

#[test]
fn one_group_is_the_flat_gate() {
    // every atom in group 1 and a constant group weight: m*_1 = f*, c_1 = 1, so every column
    // equals the flat softmax's
    let grouped = hierarchical(|t| {
        t.replace("group = 2", "group = 1")
            .replace("exp(dot(gamma1, x) + gamma0)", "1")
            .replace(", role = \"group\"", "")
            .replace("gamma1 = { shape = [1] }\n", "")
            .replace("gamma0 = { role = \"group\" }\n", "")
            .replace(
                "[[groups]]\ngamma1 = [1.5]\ngamma0 = 0.2\n\n",
                "[[groups]]\n\n",
            )
            .replace("[[groups]]\ngamma1 = [-1.0]\ngamma0 = -0.1\n\n", "")
    });
    let flat = hierarchical(|t| {
        let t = t
            .replace("group_weight = \"exp(dot(gamma1, x) + gamma0)\"\n", "")
            .replace("gamma1 = { shape = [1], role = \"group\" }\n", "")
            .replace("gamma0 = { role = \"group\" }\n", "")
            .replace("group = 1\n", "")
            .replace("group = 2\n", "");
        let (head, rest) = t.split_once("\n[[groups]]\n").unwrap();
        format!(
            "{head}\n[[atoms]]\n{}",
            rest.split_once("\n[[atoms]]\n").unwrap().1
        )
    });
    assert_eq!(grouped.groups.as_ref().unwrap().values.len(), 1);
    assert!(flat.groups.is_none());
    let (dg, df) = (Design::new(&grouped), Design::new(&flat));
    assert_eq!((dg.stride(), df.stride()), (2, 1));
    let pts = df.sample(&flat.atoms, 60, 3).unwrap();
    let (fg, ff) = (
        dg.fstar(&pts, &grouped.atoms).unwrap(),
        df.fstar(&pts, &flat.atoms).unwrap(),
    );
    for i in 0..pts.len() {
        assert!((fg[2 * i] - ff[i]).abs() < 1e-14, "m*_1 is f*");
        assert!((fg[2 * i + 1] - 1.0).abs() < 1e-14, "c_1 is 1");
    }
    let alphas = MultiIndex::all(df.n_vars(), 2);
    for j in 0..flat.atoms.len() {
        let a = dg
            .columns(&pts, &fg, &grouped.atoms[j], &alphas, j + 1)
            .unwrap();
        let b = df
            .columns(&pts, &ff, &flat.atoms[j], &alphas, j + 1)
            .unwrap();
        assert!((a - b).amax() < 1e-12);
    }
}

#[test]
fn an_expert_of_a_group_is_measured_against_its_group_mean() {
    let c = hierarchical(|t| t);
    let d = Design::new(&c);
    assert_eq!(d.group_count(), 2);
    assert_eq!(d.groups_of_atoms(), &[0, 0, 1, 1]);
    let pts = d.sample(&c.atoms, 40, 5).unwrap();
    let fs = d.fstar(&pts, &c.atoms).unwrap();
    assert_eq!(fs.len(), 40 * 4);
    let mut slots = Vec::new();
    for i in 0..pts.len() {
        let x = pts.x[i];
        let parts: Vec<(f64, f64)> = c
            .atoms
            .iter()
            .map(|a| ((a[0] * x + a[1]).exp(), (a[2] * x + a[3]).tanh()))
            .collect();
        let group_w = [(1.5 * x + 0.2).exp(), (-x - 0.1).exp()];
        let a = group_w[0] + group_w[1];
        let s: f64 = parts.iter().map(|p| p.0).sum();
        for g in 0..2 {
            let (p, q) = (parts[2 * g], parts[2 * g + 1]);
            let b = p.0 + q.0;
            let m = (p.0 * p.1 + q.0 * q.1) / b;
            assert!((fs[4 * i + 2 * g] - m).abs() < 1e-13);
            assert!((fs[4 * i + 2 * g + 1] - group_w[g] / a * s / b).abs() < 1e-12);
            // u of the group's first atom: c_g w (e − m*_g)
            let u: f64 = d.u_at(&pts, i, &fs, (&c.atoms[2 * g], 2 * g), &mut slots);
            let want = group_w[g] / a * s / b * p.0 * (p.1 - m);
            assert!((u - want).abs() < 1e-12, "{u} vs {want}");
        }
        // the mixture: Σ_g π_g m_g
        let all: Vec<(usize, Vec<f64>)> = c.atoms.iter().cloned().enumerate().collect();
        let f: f64 = d.grouped_output(&pts, i, &all);
        let m: Vec<f64> = (0..2)
            .map(|g| {
                let (p, q) = (parts[2 * g], parts[2 * g + 1]);
                (p.0 * p.1 + q.0 * q.1) / (p.0 + q.0)
            })
            .collect();
        assert!((f - (group_w[0] * m[0] + group_w[1] * m[1]) / a).abs() < 1e-13);
    }
}

#[test]
fn the_log_weight_hessian_matches_differences_of_the_gradient() {
    let c = Case::load(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("cases/gaussian-gate-2305.07572/gaussian-gate-linear.toml"),
    )
    .unwrap();
    let d = Design::new(&c);
    let pts = d.sample(&c.atoms, 20, 1).unwrap();
    let vars = d.gate_only();
    let theta = &c.atoms[0];
    let h = d.log_weight_hessian(&pts, theta, &vars).unwrap();
    let eps = 1e-6;
    for (b, &vb) in vars.iter().enumerate() {
        let mut up = theta.clone();
        up[vb] += eps;
        let mut down = theta.clone();
        down[vb] -= eps;
        let gu = d.log_weight_gradient(&pts, &up, &vars).unwrap();
        let gd = d.log_weight_gradient(&pts, &down, &vars).unwrap();
        for i in 0..pts.len() {
            for a in 0..vars.len() {
                let fd = (gu[(i, a)] - gd[(i, a)]) / (2.0 * eps);
                assert!(
                    (h[i][(a, b)] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                    "({a},{b}) at {i}: {} vs {fd}",
                    h[i][(a, b)]
                );
            }
        }
    }
}
