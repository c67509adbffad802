//! `moeid new`: a ready-to-edit case file for a new design, every key explained.

use std::fmt::Write;

/// The gates `moeid new` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateKind {
    /// `exp(beta1·x + beta0)`, normalized over experts.
    Softmax,
    /// `sigmoid(beta1·x + beta0)`, unnormalized.
    Sigmoid,
    /// Dense-to-sparse: `exp(beta1·x / tau + beta0)`, `tau` shared.
    SoftmaxTemperature,
    /// Modified softmax with an input transform: `exp(beta1·tanh(x) + beta0)`.
    ModifiedSoftmax,
    /// Modified sigmoid: `exp(gamma)·sigmoid(beta1·x + beta0)`, `gamma` a mass.
    ModifiedSigmoid,
    /// Softmax on a Euclidean score: `exp(-|x - beta1|² + beta0)`, normalized.
    Euclidean,
    /// Modified sigmoid on a Euclidean score: `exp(gamma)·sigmoid(-|x - beta1|²/tau + beta0)`.
    SigmoidEuclidean,
    /// Perturbed cosine router: `exp(beta1·x / ((|beta1| + 0.1)(|x| + 0.1)) + beta0)`.
    Cosine,
    /// Normalized sigmoid: `sigmoid(beta1·x + beta0)` divided by the sum over experts.
    NormalizedSigmoid,
    /// Quadratic monomial gate: `exp(alpha·x² + beta0)` (elementwise squares), normalized.
    Quadratic,
    /// Laplace gate: `exp(-|x - beta1| + beta0)`, normalized.
    Laplace,
    /// Top-K sparse softmax: `exp(beta1·x + beta0)`, the 2 largest of 3 experts kept and
    /// renormalized (`top_k = 2`).
    TopKSoftmax,
    /// Hierarchical softmax: a softmax over 2 groups (`exp(gamma1·x + gamma0)`, group
    /// parameters) times a softmax within each group of 2 experts.
    HierarchicalSoftmax,
}

/// The experts `moeid new` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpertKind {
    /// `a·x + b`
    Linear,
    /// `tanh(a·x + b)`
    Tanh,
    /// `gelu(a·x + b)` (exact erf form)
    Gelu,
    /// `relu(a·x + b)`
    Relu,
    /// `sigmoid(a·x + b)`
    Sigmoid,
    /// `(a·x + b)^2`
    Polynomial,
    /// `eta`
    Constant,
    /// Gaussian experts: mean `a·x + b`, variance `nu`.
    Gaussian,
    /// Multinomial logistic experts, two classes: logits `a·x + b` and `0`.
    Multinomial,
}

impl GateKind {
    /// Every gate, in the order `moeid new --help` lists them.
    pub const ALL: [GateKind; 13] = [
        GateKind::Softmax,
        GateKind::Sigmoid,
        GateKind::SoftmaxTemperature,
        GateKind::ModifiedSoftmax,
        GateKind::ModifiedSigmoid,
        GateKind::Euclidean,
        GateKind::SigmoidEuclidean,
        GateKind::Cosine,
        GateKind::NormalizedSigmoid,
        GateKind::Quadratic,
        GateKind::Laplace,
        GateKind::TopKSoftmax,
        GateKind::HierarchicalSoftmax,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GateKind::Softmax => "softmax",
            GateKind::Sigmoid => "sigmoid",
            GateKind::SoftmaxTemperature => "softmax-temperature",
            GateKind::ModifiedSoftmax => "modified-softmax",
            GateKind::ModifiedSigmoid => "modified-sigmoid",
            GateKind::Euclidean => "euclidean",
            GateKind::SigmoidEuclidean => "sigmoid-euclidean",
            GateKind::Cosine => "cosine",
            GateKind::NormalizedSigmoid => "normalized-sigmoid",
            GateKind::Quadratic => "quadratic",
            GateKind::Laplace => "laplace",
            GateKind::TopKSoftmax => "top-k-softmax",
            GateKind::HierarchicalSoftmax => "hierarchical-softmax",
        }
    }

    /// The gate with this name.
    pub fn from_name(name: &str) -> Option<GateKind> {
        GateKind::ALL.into_iter().find(|g| g.name() == name)
    }
}

impl ExpertKind {
    /// Every expert, in the order `moeid new --help` lists them.
    pub const ALL: [ExpertKind; 9] = [
        ExpertKind::Linear,
        ExpertKind::Tanh,
        ExpertKind::Gelu,
        ExpertKind::Relu,
        ExpertKind::Sigmoid,
        ExpertKind::Polynomial,
        ExpertKind::Constant,
        ExpertKind::Gaussian,
        ExpertKind::Multinomial,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExpertKind::Linear => "linear",
            ExpertKind::Tanh => "tanh",
            ExpertKind::Gelu => "gelu",
            ExpertKind::Relu => "relu",
            ExpertKind::Sigmoid => "sigmoid",
            ExpertKind::Polynomial => "polynomial",
            ExpertKind::Constant => "constant",
            ExpertKind::Gaussian => "gaussian",
            ExpertKind::Multinomial => "multinomial",
        }
    }

    /// The expert with this name.
    pub fn from_name(name: &str) -> Option<ExpertKind> {
        ExpertKind::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// `[1.5, -0.75, 1.2]`: each value rounded to 12 significant digits first, so products like
/// 1.5 × 0.8 print as written (1.2), not as 1.2000000000000002.
fn list(v: &[f64]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| {
                let short: f64 = format!("{x:.11e}").parse().unwrap_or(*x);
                format!("{short:?}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The smallest input dimension `gate` takes (the cosine router needs two).
pub fn min_dim(gate: GateKind) -> usize {
    if gate == GateKind::Cosine {
        2
    } else {
        1
    }
}

/// A vector of `dim` values for atom `atom`: `one` in one dimension, a fixed spread of
/// distinct values around it otherwise (`two` in two dimensions, as before).
fn values_for(dim: usize, atom: usize, one: f64, two: [f64; 2]) -> Vec<f64> {
    match dim {
        1 => vec![one],
        2 => two.to_vec(),
        _ => {
            const PATTERN: [f64; 8] = [1.0, -0.5, 0.8, -0.3, 0.6, -0.9, 0.4, -0.7];
            (0..dim)
                .map(|i| {
                    let c = PATTERN[(i + 3 * atom) % PATTERN.len()];
                    // distinct per coordinate even past the pattern's length
                    one.abs().max(0.5) * c * (1.0 + 0.1 * (i / PATTERN.len()) as f64)
                })
                .collect()
        }
    }
}

/// The text of a new case file named `name` for `gate` × `expert` with inputs of dimension
/// `dim` (at least [`min_dim`]; `None`: the smallest), with a comment on every key. It verifies
/// as it is; edit the expressions and the atoms.
pub fn template(name: &str, gate: GateKind, expert: ExpertKind, dim: Option<usize>) -> String {
    let dim = dim.unwrap_or(min_dim(gate)).max(min_dim(gate));
    let vec2 = |atom: usize, one: f64, two: [f64; 2]| values_for(dim, atom, one, two);
    let (weight, normalized, gate_params, gate_what) = match gate {
        GateKind::Softmax => (
            "exp(dot(beta1, x) + beta0)",
            true,
            "beta1 beta0:mass",
            "softmax gate",
        ),
        GateKind::Sigmoid => (
            "sigmoid(dot(beta1, x) + beta0)",
            false,
            "beta1 beta0",
            "sigmoid gate",
        ),
        GateKind::SoftmaxTemperature => (
            "exp(dot(beta1, x) / tau + beta0)",
            true,
            "beta1 beta0:mass tau:shared",
            "dense-to-sparse softmax gate with a temperature",
        ),
        GateKind::ModifiedSoftmax => (
            "exp(dot(beta1, tanh(x)) + beta0)",
            true,
            "beta1 beta0:mass",
            "modified softmax gate (input transform tanh)",
        ),
        GateKind::ModifiedSigmoid => (
            "exp(gamma) * sigmoid(dot(beta1, x) + beta0)",
            false,
            "gamma:mass beta1 beta0",
            "modified sigmoid gate exp(gamma) sigma(.)",
        ),
        GateKind::Euclidean => (
            "exp(-sqnorm(x - beta1) + beta0)",
            true,
            "beta1 beta0:mass",
            "softmax gate on a Euclidean score",
        ),
        GateKind::SigmoidEuclidean => (
            "exp(gamma) * sigmoid(-sqnorm(x - beta1) / tau + beta0)",
            false,
            "gamma:mass beta1 beta0 tau:shared",
            "modified sigmoid gate on a Euclidean score",
        ),
        GateKind::NormalizedSigmoid => (
            "sigmoid(dot(beta1, x) + beta0)",
            true,
            "beta1 beta0",
            "normalized sigmoid gate",
        ),
        GateKind::Quadratic => (
            "exp(dot(alpha, x^2) + beta0)",
            true,
            "alpha beta0:mass",
            "quadratic monomial gate",
        ),
        GateKind::Laplace => (
            "exp(-norm(x - beta1) + beta0)",
            true,
            "beta1 beta0:mass",
            "Laplace gate",
        ),
        GateKind::TopKSoftmax => (
            "exp(dot(beta1, x) + beta0)",
            true,
            "beta1 beta0:mass",
            "top-2 sparse softmax gate",
        ),
        GateKind::HierarchicalSoftmax => (
            "exp(dot(beta1, x) + beta0)",
            true,
            "beta1 beta0:mass",
            "hierarchical softmax gate (2 groups of 2 experts)",
        ),
        GateKind::Cosine => (
            "exp(dot(beta1, x) / ((norm(beta1) + 0.1) * (norm(x) + 0.1)) + beta0)",
            true,
            "beta1 beta0:mass",
            "perturbed cosine router",
        ),
    };
    let (model, expert_lines, expert_params, expert_what) = match expert {
        ExpertKind::Linear => (
            "regression",
            vec!["mean = \"dot(a, x) + b\""],
            "a b",
            "linear experts",
        ),
        ExpertKind::Tanh => (
            "regression",
            vec!["mean = \"tanh(dot(a, x) + b)\""],
            "a b",
            "tanh experts",
        ),
        ExpertKind::Gelu => (
            "regression",
            vec!["mean = \"gelu(dot(a, x) + b)\""],
            "a b",
            "GELU experts",
        ),
        ExpertKind::Relu => (
            "regression",
            vec!["mean = \"relu(dot(a, x) + b)\""],
            "a b",
            "ReLU experts",
        ),
        ExpertKind::Sigmoid => (
            "regression",
            vec!["mean = \"sigmoid(dot(a, x) + b)\""],
            "a b",
            "sigmoid experts",
        ),
        ExpertKind::Polynomial => (
            "regression",
            vec!["mean = \"(dot(a, x) + b)^2\""],
            "a b",
            "quadratic experts",
        ),
        ExpertKind::Constant => (
            "regression",
            vec!["mean = \"eta\""],
            "eta",
            "constant experts",
        ),
        ExpertKind::Gaussian => (
            "gaussian",
            vec!["mean = \"dot(a, x) + b\"", "variance = \"nu\""],
            "a b nu",
            "Gaussian experts",
        ),
        ExpertKind::Multinomial => (
            "multinomial",
            vec!["logits = [\"dot(a, x) + b\", \"0\"]"],
            "a b",
            "multinomial logistic experts",
        ),
    };
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "# moeid case file. A gate/expert design and its true configuration (the atoms)."
    );
    let _ = writeln!(
        w,
        "# Edit the expressions and the values, then run: moeid verify {name}.toml"
    );
    let _ = writeln!(
        w,
        "# Expressions: numbers, pi, x and x[i], parameters and v[i], + - * / ^, and the functions"
    );
    let _ = writeln!(
        w,
        "# exp log sqrt abs sigmoid softplus tanh relu gelu erf sin cos pow dot norm sqnorm sum"
    );
    let _ = writeln!(w, "# (scalar functions apply elementwise to vectors).");
    let _ = writeln!(w);
    let _ = writeln!(w, "name = \"{name}\"  # optional; default: the file stem");
    let _ = writeln!(
        w,
        "title = \"{}, {expert_what}\"  # one line: what the case demonstrates",
        capitalise(gate_what)
    );
    let _ = writeln!(w, "source = \"my design\"  # free text: a paper, a note");
    let _ = writeln!(
        w,
        "model = \"{model}\"  # what is observed: regression | gaussian | multinomial"
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "[inputs]");
    let _ = writeln!(
        w,
        "dim = {dim}  # input dimension: x = (x[0], ..., x[dim-1])"
    );
    let _ = writeln!(w, "low = -1.0  # inputs are uniform on [low, high]^dim");
    let _ = writeln!(w, "high = 1.0");
    if model == "multinomial" {
        let _ = writeln!(w, "classes = 2  # number of classes (multinomial only)");
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "[gate]");
    let _ = writeln!(
        w,
        "weight = \"{weight}\"  # the per-expert gate weight w(x; beta)"
    );
    let _ = writeln!(
        w,
        "normalized = {normalized}  # true: weights divided by their sum over experts (softmax-like); false: sigmoid-like"
    );
    let grouped = gate == GateKind::HierarchicalSoftmax;
    let atoms = if gate == GateKind::TopKSoftmax {
        let _ = writeln!(
            w,
            "top_k = 2  # top-K: only the K largest weights are kept at each input (K below the number of atoms)"
        );
        3
    } else if grouped {
        let _ = writeln!(
            w,
            "group_weight = \"exp(dot(gamma1, x) + gamma0)\"  # the weight of a group (hierarchical gate): a softmax over groups times a softmax within each"
        );
        4
    } else {
        2
    };
    let _ = writeln!(w);
    let _ = writeln!(w, "[expert]");
    for l in &expert_lines {
        let what = if l.starts_with("mean") {
            "the expert output h(x; eta)"
        } else if l.starts_with("variance") {
            "the expert variance (gaussian only)"
        } else {
            "one logit per class (multinomial only)"
        };
        let _ = writeln!(w, "{l}  # {what}");
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "[params]  # every parameter the expressions use");
    let mut names: Vec<(String, &str)> = Vec::new();
    for p in gate_params.split(' ').chain(expert_params.split(' ')) {
        let (n, role) = p.split_once(':').unwrap_or((p, ""));
        names.push((n.to_string(), role));
    }
    let vector = |n: &str| n == "beta1" || n == "a" || n == "alpha";
    for (n, role) in &names {
        let mut fields = Vec::new();
        if vector(n) {
            fields.push(format!("shape = [{dim}]"));
        }
        if !role.is_empty() {
            fields.push(format!("role = \"{role}\""));
        }
        let explain = match (*role, vector(n)) {
            ("mass", _) => "a mixture weight: du/dtheta = c u",
            ("shared", _) => "one value for all experts, set in [shared]",
            (_, true) => "a vector: shape = [n]",
            _ => "a scalar (no shape); one value per expert",
        };
        let body = if fields.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", fields.join(", "))
        };
        let _ = writeln!(w, "{n} = {body}  # {explain}");
    }
    if grouped {
        let _ = writeln!(
            w,
            "gamma1 = {{ shape = [{dim}], role = \"group\" }}  # one value per group, set in [[groups]]"
        );
        let _ = writeln!(
            w,
            "gamma0 = {{ role = \"group\" }}  # one value per group, set in [[groups]]"
        );
        for (g, (one, two, c)) in [(0.8, [0.8, -0.4], 0.2), (-0.6, [-0.5, 0.7], -0.1)]
            .into_iter()
            .enumerate()
        {
            let _ = writeln!(w);
            let _ = writeln!(
                w,
                "[[groups]]  # group {}: the values of the group parameters",
                g + 1
            );
            let _ = writeln!(w, "gamma1 = {}", list(&values_for(dim, g + 5, one, two)));
            let _ = writeln!(w, "gamma0 = {c:?}");
        }
    }
    if names.iter().any(|(_, r)| *r == "shared") {
        let _ = writeln!(w);
        let _ = writeln!(w, "[shared]  # values of the shared parameters");
        let _ = writeln!(w, "tau = 0.5");
    }
    // Location gates: centres inside the input box.
    let located = matches!(
        gate,
        GateKind::Euclidean | GateKind::SigmoidEuclidean | GateKind::Laplace
    );
    let values = |atom: usize, n: &str| -> String {
        // A third atom (top-K templates) sits between the first two.
        // rounded to 12 significant digits, like `list`
        let pick = |one: f64, two: f64| {
            let v: f64 = match atom {
                0 => one,
                1 => two,
                2 => 0.3 * one + 0.6 * two + 0.25,
                _ => 0.6 * one + 0.2 * two - 0.35,
            };
            format!("{v:.11e}").parse().unwrap_or(v)
        };
        let pick2 = |one: [f64; 2], two: [f64; 2]| [pick(one[0], two[0]), pick(one[1], two[1])];
        let scaled = |v: Vec<f64>, by: f64| v.into_iter().map(|x| x * by).collect::<Vec<_>>();
        match n {
            "beta1" if located => list(&scaled(
                vec2(atom, pick(0.3, -0.4), pick2([0.3, -0.2], [-0.4, 0.1])),
                if dim > 2 { 0.4 } else { 1.0 },
            )),
            "beta1" => list(&vec2(atom, pick(2.0, -1.0), pick2([1.0, 0.5], [-0.7, 1.2]))),
            "alpha" => list(&vec2(
                atom,
                pick(1.0, -0.8),
                pick2([1.0, -0.5], [-0.8, 0.6]),
            )),
            "a" => list(&vec2(
                atom,
                pick(1.5, -2.0),
                pick2([1.5, -0.5], [-1.0, 0.8]),
            )),
            // The third atom's lower weight leaves it out of the top 2 in mid-box.
            "beta0" if atom == 2 && !grouped => "-0.6".into(),
            "beta0" => format!("{:?}", pick(0.5, 0.0)),
            "gamma" => format!("{:?}", pick(0.2, -0.1)),
            "b" => format!("{:?}", pick(-0.5, 0.3)),
            "eta" => format!("{:?}", pick(0.7, -0.4)),
            // a variance stays positive at every atom
            "nu" => format!("{:?}", [0.3, 0.5, 0.64, 0.36][atom.min(3)]),
            _ => "0.0".into(),
        }
    };
    for atom in 0..atoms {
        let _ = writeln!(w);
        if atom == 0 {
            let _ = writeln!(
                w,
                "[[atoms]]  # a true expert: a value for every parameter that is not shared"
            );
        } else if atom == 1 {
            let _ = writeln!(
                w,
                "[[atoms]]  # another true expert (normalized gates need at least two)"
            );
        } else if grouped {
            let _ = writeln!(w, "[[atoms]]  # a true expert of group 2");
        } else {
            let _ = writeln!(
                w,
                "[[atoms]]  # a third true expert (top_k must stay below the number of atoms)"
            );
        }
        if grouped {
            let _ = writeln!(
                w,
                "group = {}  # its group: a [[groups]] table, from 1",
                atom / 2 + 1
            );
        }
        for (n, role) in &names {
            if *role != "shared" {
                let _ = writeln!(w, "{n} = {}", values(atom, n));
            }
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "[verify]");
    let _ = writeln!(w, "order = 2  # highest derivative order analysed, 1 to 4");
    let _ = writeln!(w, "seed = 1  # seed of every random choice");
    let _ = writeln!(
        w,
        "samples = 0  # sample points; 0: automatic (3 x the terms, at least 200)"
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# [expect]  # what `moeid check` holds the case to, once you know it"
    );
    let _ = writeln!(
        w,
        "# verdict = \"identifiable\"  # identifiable | interaction | degenerate"
    );
    s
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_verifies_as_written() {
        use rayon::prelude::*;
        let pairs: Vec<(GateKind, ExpertKind)> = GateKind::ALL
            .iter()
            .flat_map(|g| ExpertKind::ALL.iter().map(move |e| (*g, *e)))
            .collect();
        // on every core: the pairs are independent (about 110 s on one core)
        pairs.par_iter().for_each(|&(g, e)| {
            let text = template("new-design", g, e, None);
            let case = crate::Case::parse(&text, "new-design.toml")
                .unwrap_or_else(|err| panic!("{g:?} × {e:?}: {err}\n{text}"));
            crate::verify(&case, &crate::Options::default())
                .unwrap_or_else(|err| panic!("{g:?} × {e:?}: {err}"));
        });
    }

    #[test]
    fn every_gate_verifies_in_higher_dimensions() {
        for g in &GateKind::ALL {
            for dim in [3, 9] {
                let text = template("new-design", *g, ExpertKind::Tanh, Some(dim));
                let case = crate::Case::parse(&text, "new-design.toml")
                    .unwrap_or_else(|err| panic!("{g:?}, dim {dim}: {err}\n{text}"));
                assert_eq!(case.dim, dim);
                // In d = 9 a softmax design has 20 parameters per atom and ~90 couplings whose
                // certification takes 35–75 s at order 2 (a performance matter, benched
                // separately); order 1 verifies the same template in about a second.
                let opts = crate::Options {
                    cells: Some(1),
                    order: (dim > 3).then_some(1),
                    ..crate::Options::default()
                };
                crate::verify(&case, &opts).unwrap_or_else(|err| panic!("{g:?}, dim {dim}: {err}"));
            }
        }
    }

    #[test]
    fn the_top_k_template_is_sparse_at_every_atom() {
        for e in [
            ExpertKind::Linear,
            ExpertKind::Gaussian,
            ExpertKind::Multinomial,
        ] {
            let text = template("x", GateKind::TopKSoftmax, e, None);
            let case = crate::Case::parse(&text, "x.toml").unwrap();
            assert_eq!((case.top_k, case.atoms.len()), (Some(2), 3), "{e:?}");
            // Each atom is selected at some inputs and left out at others (verify's note).
            let opts = crate::Options {
                cells: Some(1),
                ..crate::Options::default()
            };
            let v = crate::verify(&case, &opts).unwrap();
            let shares: Vec<f64> = v
                .notes
                .iter()
                .find_map(|n| match n {
                    crate::Note::TopK { k: 2, selected } => Some(selected.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            let note = &v.notes;
            assert_eq!(shares.len(), 3, "{e:?}: {note:?}");
            assert!(
                shares.iter().all(|&s| s > 0.05 && s < 0.95),
                "{e:?}: {note:?}"
            );
        }
    }

    #[test]
    fn values_print_as_written() {
        assert_eq!(list(&[1.5 * 0.8, -0.75, 2.0]), "[1.2, -0.75, 2.0]");
        let text = template("x", GateKind::Softmax, ExpertKind::Tanh, Some(9));
        assert!(!text.contains("0000000"), "{text}");
    }

    #[test]
    fn the_euclidean_template_is_the_softmax_one() {
        let text = template("x", GateKind::Euclidean, ExpertKind::Linear, None);
        assert!(
            text.contains("exp(-sqnorm(x - beta1) + beta0)") && text.contains("normalized = true")
        );
    }

    #[test]
    fn every_key_is_explained() {
        let text = template("x", GateKind::SigmoidEuclidean, ExpertKind::Gaussian, None);
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        {
            let in_atom_or_shared = !line.contains('#');
            if in_atom_or_shared {
                // atom and shared values are explained by their table's comment
                continue;
            }
            assert!(line.contains("  # "), "{line}");
        }
    }
}
