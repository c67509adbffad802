//! Case files: TOML → [`Case`], validated.
//!
//! A case describes one gate/expert design and one true parameter configuration (the atoms
//! $\theta^*_1, \dots, \theta^*_{k^*}$). Loading checks everything that can be checked without
//! computing: keys, types, expression syntax and shapes, parameter declarations and atom values.
//! All problems in a file are reported at once, each with the offending text underlined
//! ([`CaseDiagnostic`]).
//!
//! ```
//! let case = moeid::case::Case::parse(r#"
//! model = "regression"
//! [gate]
//! weight = "exp(dot(beta1, x) + beta0)"
//! normalized = true
//! [expert]
//! mean = "dot(a, x) + b"
//! [params]
//! beta1 = { shape = [1] }
//! beta0 = { role = "mass" }
//! a = { shape = [1] }
//! b = {}
//! [[atoms]]
//! beta1 = [2.0]
//! beta0 = 0.0
//! a = [1.0]
//! b = 0.5
//! [[atoms]]
//! beta1 = [-2.0]
//! beta0 = 0.0
//! a = [-1.0]
//! b = 0.0
//! "#, "example.toml").unwrap();
//! assert_eq!(case.variables(), ["beta1[0]", "beta0", "a[0]", "b"]);
//! ```

mod builder;
mod diagnostic;
mod raw;
mod template;
mod validate;
use validate::{env_of, Validator};

pub use builder::CaseBuilder;
pub use diagnostic::{CaseDiagnostic, CaseError};
pub use template::{min_dim, template, ExpertKind, GateKind};

use crate::expr::{Env, Expr, Shape};
use std::path::Path;

/// Largest input dimension.
pub const MAX_DIM: usize = 64;
/// Largest number of classes of a multinomial model.
pub const MAX_CLASSES: usize = 32;
/// Largest case file, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Highest derivative order.
pub const MAX_ORDER: usize = 4;
/// Most true atoms (the joint family's cost grows with their cube).
pub const MAX_ATOMS: usize = 32;
/// The verdicts a case may expect.
pub const VERDICTS: [&str; 3] = ["identifiable", "interaction", "degenerate"];

/// What is observed, and so what the expert output $e$ is (docs/theory.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// $Y = \sum_i g_i(x) h(x; \eta_i) + \text{noise}$; $e = h$.
    Regression,
    /// $Y \sim \sum_i g_i(x) N(y; h(x;\eta_i), \nu_i)$; $e$ = the Gaussian density.
    Gaussian,
    /// $P(Y = s) = \sum_i g_i(x) \operatorname{softmax}_s(\ell(x;\eta_i))$; $e$ = the class probability.
    Multinomial,
}

impl Model {
    /// The name used in case files.
    pub fn name(self) -> &'static str {
        match self {
            Model::Regression => "regression",
            Model::Gaussian => "gaussian",
            Model::Multinomial => "multinomial",
        }
    }
}

/// How a parameter is shared between experts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// One value per expert (the default).
    PerExpert,
    /// One value per expert, acting as a mixture weight ($\partial u/\partial\theta = c\,u$).
    Mass,
    /// One value for all experts, e.g. a temperature.
    Shared,
    /// One value per group of experts (`[[groups]]`), used by `gate.group_weight` only: the
    /// top level of a hierarchical gate (docs/theory.md §10).
    Group,
}

/// A declared parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name in expressions.
    pub name: String,
    /// Scalar or vector.
    pub shape: Shape,
    /// How it is shared.
    pub role: Role,
    /// Index of its first entry in the flattened parameter vector $\theta$.
    pub offset: usize,
}

impl Param {
    /// Number of scalar entries.
    pub fn len(&self) -> usize {
        match self.shape {
            Shape::Scalar => 1,
            Shape::Vector(n) => n,
        }
    }

    /// Whether the parameter has no entries (never: shapes are at least 1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An expression of the case file, parsed and shape-checked.
#[derive(Clone, Debug)]
pub struct Expression {
    /// The key it was read from, e.g. `gate.weight`.
    pub key: String,
    /// The text as written.
    pub text: String,
    /// The parsed tree.
    pub expr: Expr,
}

/// A fixed component (`[fixed]`): a known expert or density with nothing to estimate, beside
/// the learned atoms, e.g. the frozen pretrained expert $f_0$ of a contaminated MoE
/// (docs/theory.md §8). Its expressions use `x` only.
#[derive(Clone, Debug)]
pub struct Fixed {
    /// Its gate weight $w_0(x)$ (default `1`, the softmax reference). Unused with a
    /// `proportion`.
    pub weight: Expression,
    /// `fixed.proportion`: the true share $\lambda^*$ of a component mixed outside the gate,
    /// $f = \lambda f_0 + (1 - \lambda) f_G$, with $\lambda$ estimated (a deviated mixture,
    /// docs/theory.md §8); `None` when the component sits inside the gate with `weight`.
    pub proportion: Option<f64>,
    /// Its mean (regression, gaussian).
    pub mean: Option<Expression>,
    /// Its variance (gaussian).
    pub variance: Option<Expression>,
    /// Its class logits (multinomial).
    pub logits: Vec<Expression>,
}

impl Fixed {
    /// Whether the component sits inside the gate (its weight joins the normalization), not
    /// mixed outside it with a `proportion`.
    pub fn in_gate(&self) -> bool {
        self.proportion.is_none()
    }

    /// Every expression of the component (its weight only when it sits inside the gate).
    pub fn expressions(&self) -> impl Iterator<Item = &Expression> {
        std::iter::once(&self.weight)
            .filter(|_| self.proportion.is_none())
            .chain(&self.mean)
            .chain(&self.variance)
            .chain(&self.logits)
    }
}

/// A hierarchical gate (`[[groups]]` and `gate.group_weight`, docs/theory.md §10): the experts
/// are split into groups; the gate is a normalized gate over the groups times a normalized gate
/// over the experts within each group,
/// $g_i(x) = \frac{W(x;\gamma_{g})}{\sum_h W(x;\gamma_h)} \cdot
/// \frac{w(x;\theta_i)}{\sum_{j \in g} w(x;\theta_j)}$ for expert $i$ of group $g$.
#[derive(Clone, Debug)]
pub struct Groups {
    /// `gate.group_weight`: the weight $W(x;\gamma)$ of a group, in `x` and the group
    /// parameters.
    pub weight: Expression,
    /// The parameters with `role = "group"`, offsets into one group's vector $\gamma$.
    pub params: Vec<Param>,
    /// Each group's true $\gamma^*_g$, in `[[groups]]` order.
    pub values: Vec<Vec<f64>>,
    /// The group (0-based) of each atom.
    pub of_atom: Vec<usize>,
}

impl Groups {
    /// Names of the scalar group parameters, in the order of $\gamma$.
    pub fn variables(&self) -> Vec<String> {
        scalar_names(&self.params)
    }

    /// The names `gate.group_weight` can use: `x` and the group parameters.
    pub fn env(&self, dim: usize) -> Env {
        env_of(dim, &self.params)
    }

    /// The atoms (0-based) of group `g`.
    pub fn members(&self, g: usize) -> Vec<usize> {
        (0..self.of_atom.len())
            .filter(|&j| self.of_atom[j] == g)
            .collect()
    }
}

/// `beta1[0]`, `beta0`, ... for the scalar entries of `params`.
fn scalar_names(params: &[Param]) -> Vec<String> {
    let mut out = Vec::new();
    for p in params {
        match p.shape {
            Shape::Scalar => out.push(p.name.clone()),
            Shape::Vector(n) => out.extend((0..n).map(|i| format!("{}[{i}]", p.name))),
        }
    }
    out
}

/// A validated case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Short name (default: the file stem).
    pub name: String,
    /// One line saying what the case demonstrates.
    pub title: String,
    /// Where the design comes from (free text).
    pub source: String,
    /// The file it was read from.
    pub path: String,
    /// The observation model.
    pub model: Model,
    /// Input dimension $d$: $x = (x_0, \dots, x_{d-1})$.
    pub dim: usize,
    /// Inputs are uniform on $[\text{low}, \text{high}]^d$.
    pub low: f64,
    /// See `low`.
    pub high: f64,
    /// Number of classes (multinomial models; 0 otherwise).
    pub classes: usize,
    /// The per-expert gate weight $w(x; \beta)$.
    pub weight: Expression,
    /// Whether weights are divided by their sum over experts (softmax-like).
    pub normalized: bool,
    /// Top-K sparse gate (`gate.top_k`): at each input only the K atoms with the largest true
    /// gate weights are selected (docs/theory.md §9); `None` for a dense gate.
    pub top_k: Option<usize>,
    /// Expert mean $h(x; \eta)$ (regression, gaussian).
    pub mean: Option<Expression>,
    /// Expert variance $\nu$ (gaussian).
    pub variance: Option<Expression>,
    /// Class logits (multinomial), one per class.
    pub logits: Vec<Expression>,
    /// A fixed component beside the atoms (`[fixed]`), if any.
    pub fixed: Option<Fixed>,
    /// Declared parameters, in declaration order (group parameters are in `groups`).
    pub params: Vec<Param>,
    /// The true atoms: each a full flattened parameter vector (shared entries included).
    pub atoms: Vec<Vec<f64>>,
    /// A hierarchical gate's groups, if the case has `[[groups]]`.
    pub groups: Option<Groups>,
    /// Highest derivative order analysed.
    pub order: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Sample points (0: automatic).
    pub samples: usize,
    /// The verdict `moeid check` holds the case to.
    pub expect: Option<String>,
    /// Settings of the empirical rate check (`[rates]`).
    pub rates: RatesConfig,
}

impl Case {
    /// Reads and validates a case file.
    ///
    /// # Errors
    /// [`CaseError::Io`] when the file cannot be read; [`CaseError::Invalid`] listing every
    /// problem found otherwise.
    pub fn load(path: impl AsRef<Path>) -> Result<Case, CaseError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let io = |source| CaseError::Io {
            path: shown.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        // A FIFO blocks on open and a device has no length: only regular files are read.
        if !meta.is_file() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is not a regular file (a folder, pipe or device); give the path of a case file",
            )));
        }
        // The metadata's length is not trusted: at most one byte past the limit is read.
        let too_large = || {
            io(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("case files are limited to {MAX_FILE_BYTES} bytes"),
            ))
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::fs::File::open(path).map_err(io)?, MAX_FILE_BYTES + 1),
            &mut bytes,
        )
        .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large());
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ))
        })?;
        Case::parse(&text, &shown)
    }

    /// Validates case text; `path` names it in messages and gives the default name.
    ///
    /// # Errors
    /// [`CaseError::Invalid`] listing every problem found.
    pub fn parse(text: &str, path: &str) -> Result<Case, CaseError> {
        let mut v = Validator::new(text, path);
        let case = v.case();
        match case {
            Some(case) if v.problems.is_empty() => Ok(case),
            _ => Err(CaseError::Invalid {
                path: path.to_string(),
                problems: v.problems,
            }),
        }
    }

    /// Names of the scalar parameters, in the order of $\theta$: `beta1[0]`, `beta0`, ...
    pub fn variables(&self) -> Vec<String> {
        scalar_names(&self.params)
    }

    /// Role of each scalar parameter, in the order of $\theta$.
    pub fn variable_roles(&self) -> Vec<Role> {
        self.params
            .iter()
            .flat_map(|p| std::iter::repeat_n(p.role, p.len()))
            .collect()
    }

    /// The names expressions can use: `x` and the parameters.
    pub fn env(&self) -> Env {
        env_of(self.dim, &self.params)
    }

    /// Every expression of the case (the fixed component's last).
    pub fn expressions(&self) -> impl Iterator<Item = &Expression> {
        std::iter::once(&self.weight)
            .chain(&self.mean)
            .chain(&self.variance)
            .chain(&self.logits)
            .chain(self.fixed.iter().flat_map(Fixed::expressions))
    }
}

/// Largest sample size of a rate check.
pub const MAX_N: usize = 10_000_000;
/// Most replicates per sample size.
pub const MAX_REPLICATES: usize = 10_000;

/// The `[rates]` table: settings of the empirical rate check, each optional (the command line
/// and defaults fill the rest).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RatesConfig {
    /// Numbers of fitted atoms $k$.
    pub fitted: Option<Vec<usize>>,
    /// Sample sizes.
    pub n: Option<Vec<usize>>,
    /// Replicates per sample size.
    pub replicates: Option<usize>,
    /// Restarts per fit (the best likelihood is kept).
    pub restarts: Option<usize>,
    /// Noise standard deviation of regression responses.
    pub noise: Option<f64>,
    /// Exponents of over-specified cells in the Voronoi loss, by parameter name.
    pub exponents: Vec<(String, f64)>,
    /// Initialisation noise of gate parameters (times $n^{-\text{decay}}$).
    pub init_gate: Option<f64>,
    /// Initialisation noise of expert parameters.
    pub init_expert: Option<f64>,
    /// Decay exponent of the initialisation noise.
    pub init_decay: Option<f64>,
    /// Iteration cap per fit.
    pub max_iters: Option<usize>,
    /// Relative change of the objective that stops a fit.
    pub tolerance: Option<f64>,
    /// Seed (default: `verify.seed`).
    pub seed: Option<u64>,
    /// Accelerate EM by SQUAREM (default true; false: plain EM, as the peer code).
    pub accelerate: Option<bool>,
}

/// Parses a grid of sample sizes: `"1e3..1e5:12"` (12 values spaced evenly in $\log n$, both
/// ends included, rounded to integers), a comma-separated list (`"1000,5000,20000"`) or a
/// single number.
///
/// # Errors
/// A message saying what is wrong and the expected form.
pub fn parse_grid(text: &str) -> Result<Vec<usize>, String> {
    let number = |s: &str| -> Result<f64, String> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 1.0)
            .ok_or_else(|| format!("`{s}` is not a sample size"))
    };
    let check = |v: f64| -> Result<usize, String> {
        let n = v.round() as usize;
        if (10..=MAX_N).contains(&n) {
            Ok(n)
        } else {
            Err(format!("sample size {n} is outside 10..{MAX_N}"))
        }
    };
    if text.contains(',') {
        let mut out = text
            .split(',')
            .map(|s| check(number(s)?))
            .collect::<Result<Vec<usize>, String>>()?;
        out.sort_unstable();
        out.dedup();
        return Ok(out);
    }
    let Some((range, count)) = text.split_once(':') else {
        return Ok(vec![check(number(text)?)?]);
    };
    let (lo, hi) = range
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not of the form LOW..HIGH:COUNT, e.g. 1e3..1e5:12"))?;
    let (lo, hi) = (number(lo)?, number(hi)?);
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| format!("`{count}` is not a count"))?;
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) || !(2..=200).contains(&count) {
        return Err(format!(
            "`{text}` needs LOW < HIGH and a count from 2 to 200"
        ));
    }
    let mut out = Vec::new();
    for i in 0..count {
        let v = (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (count - 1) as f64).exp();
        let n = check(v)?;
        if out.last() != Some(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Every case file under `paths`, sorted per argument: a directory contributes its `*.toml`
/// files recursively; other paths are returned as they are (loading reports missing ones).
pub fn find(paths: &[impl AsRef<Path>]) -> Vec<std::path::PathBuf> {
    // Each folder is walked once, by its canonical path: symbolic links that loop (or lead
    // back to a folder already walked) add nothing.
    fn collect(
        dir: &Path,
        out: &mut Vec<std::path::PathBuf>,
        seen: &mut std::collections::BTreeSet<std::path::PathBuf>,
    ) {
        let Ok(canonical) = std::fs::canonicalize(dir) else {
            return;
        };
        if !seen.insert(canonical) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out, seen);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for p in paths {
        let p = p.as_ref();
        if p.is_dir() {
            let mut found = Vec::new();
            collect(p, &mut found, &mut seen);
            found.sort();
            out.extend(found);
        } else {
            out.push(p.to_path_buf());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "softmax-linear"
title = "Softmax gate, linear experts"
source = "arXiv 2503.03213"
model = "regression"

[inputs]
dim = 1

[gate]
weight = "exp(dot(beta1, x) + beta0)"
normalized = true

[expert]
mean = "dot(a, x) + b"

[params]
beta1 = { shape = [1] }
beta0 = { role = "mass" }
a = { shape = [1] }
b = {}

[[atoms]]
beta1 = [25.0]
beta0 = -8.0
a = [-20.0]
b = 15.0

[[atoms]]
beta1 = [0]
beta0 = 0
a = [20.0]
b = -5.0

[verify]
order = 2
seed = 3

[expect]
verdict = "interaction"
"#;

    #[test]
    fn loads_the_documented_example() {
        let c = Case::parse(GOOD, "cases/x.toml").unwrap();
        assert_eq!(c.name, "softmax-linear");
        assert_eq!(c.variables(), ["beta1[0]", "beta0", "a[0]", "b"]);
        assert_eq!(c.atoms[0], [25.0, -8.0, -20.0, 15.0]);
        assert_eq!(c.atoms[1], [0.0, 0.0, 20.0, -5.0]);
        assert_eq!(c.variable_roles()[1], Role::Mass);
        assert_eq!((c.order, c.seed, c.samples), (2, 3, 0));
        assert_eq!(c.expect.as_deref(), Some("interaction"));
        assert!(c.normalized);
    }

    #[track_caller]
    fn problems(text: &str) -> Vec<String> {
        match Case::parse(text, "t.toml") {
            Ok(_) => panic!("expected an error"),
            Err(e) => e
                .problems()
                .iter()
                .map(|p| format!("{}: {}", p.code, p.message))
                .collect(),
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let p = problems(&GOOD.replace("[verify]", "[verify]\nordr = 2"));
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("unknown field `ordr`"), "{p:?}");
    }

    #[test]
    fn expression_errors_point_into_the_file() {
        let text = GOOD.replace("exp(dot(beta1, x) + beta0)", "exp(dot(betta1, x) + beta0)");
        let err = Case::parse(&text, "t.toml").unwrap_err();
        let p = &err.problems()[0];
        assert_eq!(p.code, "moeid::expr::unknown_name");
        let at = p.span.offset();
        assert_eq!(&text[at..at + p.span.len()], "betta1");
        assert!(p.help.as_ref().unwrap().contains("did you mean `beta1`"));
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let text = GOOD
            .replace("mean = \"dot(a, x) + b\"", "mean = \"a * x + \"")
            .replace("b = -5.0", "c = 1.0")
            .replace("order = 2", "order = 7");
        let p = problems(&text);
        assert!(
            p.iter().any(|m| m.starts_with("moeid::expr::parse")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("`c` is not a declared parameter")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|m| m.contains("atom 2 has no value for `b`")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("`verify.order` is 7")), "{p:?}");
    }

    #[test]
    fn shapes_and_roles_are_checked() {
        let p = problems(&GOOD.replace("beta1 = [25.0]", "beta1 = [25.0, 1.0]"));
        assert!(
            p[0].contains("`beta1` should be a list of 1 numbers"),
            "{p:?}"
        );
        let p = problems(&GOOD.replace("b = {}", "b = { role = \"global\" }"));
        assert!(p[0].contains("unknown role `global`"), "{p:?}");
        let p = problems(&GOOD.replace("a = { shape = [1] }", "a = { shape = [2] }"));
        assert!(
            p[0].contains("`dot(a, x)` takes the inner product of a vector of 2 and a vector of 1"),
            "{p:?}"
        );
    }

    #[test]
    fn unused_parameters_and_single_normalized_atoms_are_errors() {
        let p = problems(&GOOD.replace("b = {}", "b = {}\nc = {}"));
        assert!(
            p.iter()
                .any(|m| m.contains("`c` is declared but no expression uses it")),
            "{p:?}"
        );
        let one = GOOD
            .split("[[atoms]]\nbeta1 = [0]")
            .next()
            .unwrap()
            .to_string()
            + "\n[verify]\norder = 2\n";
        let p = problems(&one);
        assert!(p.iter().any(|m| m.contains("at least two atoms")), "{p:?}");
    }

    #[test]
    fn model_specific_keys() {
        let g = GOOD.replace("model = \"regression\"", "model = \"gaussian\"");
        let p = problems(&g);
        assert!(p[0].contains("missing key `variance`"), "{p:?}");
        let m = GOOD.replace("model = \"regression\"", "model = \"multinomial\"");
        let p = problems(&m);
        assert!(p.iter().any(|m| m.contains("need `classes`")), "{p:?}");
    }
}
