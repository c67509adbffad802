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

pub use builder::CaseBuilder;
pub use diagnostic::{CaseDiagnostic, CaseError};
pub use template::{template, ExpertKind, GateKind};

use crate::expr::{self, Binding, Env, Expr, Shape, Span, TapeBuilder};
use miette::NamedSource;
use raw::{Ordered, RawCase};
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// Largest input dimension.
pub const MAX_DIM: usize = 64;
/// Largest number of classes of a multinomial model.
pub const MAX_CLASSES: usize = 32;
/// Largest case file, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Highest derivative order.
pub const MAX_ORDER: usize = 4;
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
    /// Expert mean $h(x; \eta)$ (regression, gaussian).
    pub mean: Option<Expression>,
    /// Expert variance $\nu$ (gaussian).
    pub variance: Option<Expression>,
    /// Class logits (multinomial), one per class.
    pub logits: Vec<Expression>,
    /// Declared parameters, in declaration order.
    pub params: Vec<Param>,
    /// The true atoms: each a full flattened parameter vector (shared entries included).
    pub atoms: Vec<Vec<f64>>,
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
        let mut out = Vec::new();
        for p in &self.params {
            match p.shape {
                Shape::Scalar => out.push(p.name.clone()),
                Shape::Vector(n) => out.extend((0..n).map(|i| format!("{}[{i}]", p.name))),
            }
        }
        out
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

    /// Every expression of the case.
    pub fn expressions(&self) -> impl Iterator<Item = &Expression> {
        std::iter::once(&self.weight)
            .chain(&self.mean)
            .chain(&self.variance)
            .chain(&self.logits)
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

fn env_of(dim: usize, params: &[Param]) -> Env {
    let mut env = Env::new();
    env.bind(
        "x",
        Binding::Input {
            offset: 0,
            shape: Shape::Vector(dim),
        },
    );
    for p in params {
        env.bind(
            p.name.clone(),
            Binding::Param {
                offset: p.offset,
                shape: p.shape,
            },
        );
    }
    env
}

/// Collects problems while building a [`Case`].
struct Validator<'a> {
    text: &'a str,
    path: &'a str,
    src: NamedSource<Arc<str>>,
    problems: Vec<CaseDiagnostic>,
    /// False once the parameters exceed what a tape can index: expressions are then only
    /// parsed, not compiled.
    compile: bool,
}

type R<T> = std::ops::Range<T>;

impl<'a> Validator<'a> {
    fn new(text: &'a str, path: &'a str) -> Validator<'a> {
        Validator {
            text,
            path,
            src: NamedSource::new(path, Arc::from(text)).with_language("toml"),
            problems: Vec::new(),
            compile: true,
        }
    }

    fn report(
        &mut self,
        code: &'static str,
        span: R<usize>,
        message: String,
        label: &str,
        help: Option<String>,
    ) {
        self.problems.push(CaseDiagnostic {
            code,
            message,
            src: self.src.clone(),
            span: (span.start, span.end.saturating_sub(span.start)).into(),
            label: label.to_string(),
            help,
        });
    }

    fn case(&mut self) -> Option<Case> {
        let raw: RawCase = match toml::from_str(self.text) {
            Ok(raw) => raw,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e
                    .message()
                    .trim()
                    .replace(
                        "struct RawParam with 2 elements",
                        "a table like `{ shape = [2] }`",
                    )
                    .replace("struct RawParam", "a table like `{ shape = [2] }`");
                let help = toml_help(&message);
                self.report("moeid::case::toml", span, message, "here", help);
                return None;
            }
        };

        let name = match &raw.name {
            Some(n) => n.get_ref().clone(),
            None => Path::new(self.path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "case".into()),
        };

        let model = match raw.model.get_ref().as_str() {
            "regression" => Some(Model::Regression),
            "gaussian" => Some(Model::Gaussian),
            "multinomial" => Some(Model::Multinomial),
            other => {
                self.report(
                    "moeid::case::model",
                    raw.model.span(),
                    format!("unknown model `{other}`"),
                    "not a model",
                    Some("model is one of: regression, gaussian, multinomial".into()),
                );
                None
            }
        };

        let (dim, low, high, classes) = self.inputs(&raw, model);
        let normalized = match raw.gate.get_ref().normalized {
            Some(n) => n,
            None => {
                self.report(
                    "moeid::case::missing",
                    raw.gate.span(),
                    "missing key `normalized` in [gate]".into(),
                    "in this table",
                    Some("add `normalized = true` for softmax-like gates (weights divided by their sum) or `normalized = false` for sigmoid-like gates".into()),
                );
                false
            }
        };
        let params = self.params(&raw);
        let env = env_of(dim, &params);

        let weight = self.expression(&raw.gate.get_ref().weight, "gate.weight", &env);
        let expert = raw.expert.get_ref();
        let mut mean = None;
        let mut variance = None;
        let mut logits = Vec::new();
        let forbid = |v: &mut Self, s: &Option<Spanned<String>>, key: &str, m: &str| {
            if let Some(s) = s {
                v.report(
                    "moeid::case::key",
                    s.span(),
                    format!("`expert.{key}` is not used by {m} models"),
                    "not used",
                    Some(format!("remove `{key}`, or change `model`")),
                );
            }
        };
        let require =
            |v: &mut Self, s: &Option<Spanned<String>>, key: &str, m: &str, env: &Env| match s {
                Some(s) => v.expression(s, &format!("expert.{key}"), env),
                None => {
                    v.report(
                        "moeid::case::missing",
                        raw.expert.span(),
                        format!("missing key `{key}` in [expert]: {m} models need it"),
                        "in this table",
                        Some(format!("add `{key} = \"...\"`")),
                    );
                    None
                }
            };
        match model {
            Some(Model::Regression) => {
                mean = require(self, &expert.mean, "mean", "regression", &env);
                forbid(self, &expert.variance, "variance", "regression");
            }
            Some(Model::Gaussian) => {
                mean = require(self, &expert.mean, "mean", "gaussian", &env);
                variance = require(self, &expert.variance, "variance", "gaussian", &env);
            }
            Some(Model::Multinomial) => {
                forbid(self, &expert.mean, "mean", "multinomial");
                forbid(self, &expert.variance, "variance", "multinomial");
            }
            None => {}
        }
        match (&expert.logits, model) {
            (Some(ls), Some(Model::Multinomial)) => {
                // classes is 0 when `inputs.classes` is missing or wrong (reported already)
                if classes > 0 && ls.get_ref().len() != classes {
                    self.report(
                        "moeid::case::logits",
                        ls.span(),
                        format!(
                            "`expert.logits` has {} entries but `inputs.classes` is {classes}",
                            ls.get_ref().len()
                        ),
                        "one logit per class",
                        Some("write one expression per class, e.g. `logits = [\"dot(a, x) + b\", \"0\"]`".into()),
                    );
                }
                for (i, l) in ls.get_ref().iter().enumerate() {
                    if let Some(e) = self.expression(l, &format!("expert.logits[{i}]"), &env) {
                        logits.push(e);
                    }
                }
            }
            (None, Some(Model::Multinomial)) => self.report(
                "moeid::case::missing",
                raw.expert.span(),
                "missing key `logits` in [expert]: multinomial models need one logit per class"
                    .into(),
                "in this table",
                Some("add e.g. `logits = [\"dot(a, x) + b\", \"0\"]`".into()),
            ),
            (Some(ls), Some(m)) => self.report(
                "moeid::case::key",
                ls.span(),
                format!("`expert.logits` is not used by {} models", m.name()),
                "not used",
                Some("remove `logits`, or set `model = \"multinomial\"`".into()),
            ),
            _ => {}
        }

        // Usage is only meaningful when every expression compiled (a broken one uses nothing).
        if self.compile
            && !self
                .problems
                .iter()
                .any(|p| p.code.starts_with("moeid::expr"))
        {
            let compiled = [&weight, &mean, &variance]
                .into_iter()
                .flatten()
                .chain(&logits);
            self.check_usage(&raw, &params, compiled);
        }
        let atoms = self.atoms(&raw, &params);
        let (order, seed, samples) = self.settings(&raw);
        let rates = self.rates(&raw, &params, atoms.len());
        let expect = raw.expect.as_ref().and_then(|e| {
            let v = e.verdict.get_ref();
            if VERDICTS.contains(&v.as_str()) {
                Some(v.clone())
            } else {
                self.report(
                    "moeid::case::expect",
                    e.verdict.span(),
                    format!("unknown verdict `{v}`"),
                    "not a verdict",
                    Some(format!("expect.verdict is one of: {}", VERDICTS.join(", "))),
                );
                None
            }
        });
        if normalized && atoms.len() == 1 {
            self.report(
                "moeid::case::atoms",
                raw.atoms.span(),
                "a normalized gate needs at least two atoms".into(),
                "one atom",
                Some("with one expert the normalized gate is constant (u = 0); add a second [[atoms]] table, or set `gate.normalized = false`".into()),
            );
        }
        let weight = weight?;
        Some(Case {
            name,
            title: raw.title.clone().unwrap_or_default(),
            source: raw.source.clone().unwrap_or_default(),
            path: self.path.to_string(),
            model: model?,
            dim,
            low,
            high,
            classes,
            weight,
            normalized,
            mean,
            variance,
            logits,
            params,
            atoms,
            order,
            seed,
            samples,
            expect,
            rates,
        })
    }

    fn rates(&mut self, raw: &RawCase, params: &[Param], k_star: usize) -> RatesConfig {
        let mut out = RatesConfig::default();
        let Some(r) = &raw.rates else {
            return out;
        };
        let r = r.get_ref();
        let positive = |v: &mut Self, x: &Spanned<i64>, key: &str, max: usize| -> Option<usize> {
            match usize::try_from(*x.get_ref()) {
                Ok(n) if (1..=max).contains(&n) => Some(n),
                _ => {
                    v.report(
                        "moeid::case::rates",
                        x.span(),
                        format!("`rates.{key}` is {}", x.get_ref()),
                        "out of range",
                        Some(format!("`{key}` is an integer from 1 to {max}")),
                    );
                    None
                }
            }
        };
        let nonneg = |v: &mut Self, x: &Spanned<f64>, key: &str, strict: bool| -> Option<f64> {
            let f = *x.get_ref();
            if f.is_finite() && (f > 0.0 || (!strict && f == 0.0)) {
                Some(f)
            } else {
                v.report(
                    "moeid::case::rates",
                    x.span(),
                    format!("`rates.{key}` is {f}"),
                    "out of range",
                    Some(format!(
                        "`{key}` is a {} finite number",
                        if strict { "positive" } else { "non-negative" }
                    )),
                );
                None
            }
        };
        if let Some(f) = &r.fitted {
            let mut ks = Vec::new();
            for k in f.get_ref() {
                match usize::try_from(*k.get_ref()) {
                    Ok(v) if (k_star..=k_star + 8).contains(&v) => ks.push(v),
                    _ => self.report(
                        "moeid::case::rates",
                        k.span(),
                        format!(
                            "`rates.fitted` holds {} but the case has {k_star} true atoms",
                            k.get_ref()
                        ),
                        "out of range",
                        Some(format!(
                            "fit from {k_star} (exact-specified) to {} atoms",
                            k_star + 8
                        )),
                    ),
                }
            }
            if ks.is_empty() && f.get_ref().is_empty() {
                self.report(
                    "moeid::case::rates",
                    f.span(),
                    "`rates.fitted` is empty".into(),
                    "empty",
                    Some(format!("e.g. `fitted = [{k_star}, {}]`", k_star + 1)),
                );
            }
            out.fitted = Some(ks);
        }
        if let Some(n) = &r.n {
            let parsed = match n.get_ref() {
                toml::Value::String(s) => parse_grid(s),
                toml::Value::Integer(i) => parse_grid(&i.to_string()),
                toml::Value::Float(f) => parse_grid(&f.to_string()),
                toml::Value::Array(a) => a
                    .iter()
                    .map(|v| match v {
                        toml::Value::Integer(i) => parse_grid(&i.to_string()).map(|g| g[0]),
                        toml::Value::Float(f) => parse_grid(&f.to_string()).map(|g| g[0]),
                        _ => Err("sample sizes are numbers".to_string()),
                    })
                    .collect(),
                _ => Err("give a grid \"1e3..1e5:12\" or a list of sizes".to_string()),
            };
            match parsed {
                Ok(g) => out.n = Some(g),
                Err(e) => self.report(
                    "moeid::case::rates",
                    n.span(),
                    format!("`rates.n`: {e}"),
                    "here",
                    Some("write `n = \"1e3..1e5:12\"` (12 sizes, log-spaced) or a list, e.g. `n = [1000, 10000]`".into()),
                ),
            }
        }
        if let Some(x) = &r.replicates {
            out.replicates = positive(self, x, "replicates", MAX_REPLICATES);
        }
        if let Some(x) = &r.restarts {
            out.restarts = positive(self, x, "restarts", 100);
        }
        if let Some(x) = &r.max_iters {
            out.max_iters = positive(self, x, "max_iters", 1_000_000);
        }
        if let Some(x) = &r.noise {
            out.noise = nonneg(self, x, "noise", false);
        }
        if let Some(x) = &r.init_gate {
            out.init_gate = nonneg(self, x, "init_gate", false);
        }
        if let Some(x) = &r.init_expert {
            out.init_expert = nonneg(self, x, "init_expert", false);
        }
        if let Some(x) = &r.init_decay {
            out.init_decay = nonneg(self, x, "init_decay", false);
        }
        if let Some(x) = &r.tolerance {
            out.tolerance = nonneg(self, x, "tolerance", true);
        }
        if let Some(s) = &r.seed {
            match u64::try_from(*s.get_ref()) {
                Ok(v) => out.seed = Some(v),
                Err(_) => self.report(
                    "moeid::case::rates",
                    s.span(),
                    format!("`rates.seed` is {}", s.get_ref()),
                    "negative",
                    Some("the seed is a non-negative integer".into()),
                ),
            }
        }
        out.accelerate = r.accelerate;
        if let Some(e) = &r.exponents {
            for (key, value) in &e.get_ref().0 {
                let name = key.get_ref();
                let known = params.iter().any(|p| {
                    &p.name == name || (0..p.len()).any(|i| format!("{}[{i}]", p.name) == *name)
                });
                if !known {
                    self.report(
                        "moeid::case::rates",
                        key.span(),
                        format!("`rates.exponents.{name}` is not a declared parameter"),
                        "unknown",
                        Some(self.declared(params)),
                    );
                    continue;
                }
                if let Some(v) = nonneg(self, value, &format!("exponents.{name}"), true) {
                    out.exponents.push((name.clone(), v));
                }
            }
        }
        out
    }

    fn inputs(&mut self, raw: &RawCase, model: Option<Model>) -> (usize, f64, f64, usize) {
        let (mut dim, mut low, mut high, mut classes) = (1, -1.0, 1.0, 0);
        let Some(inputs) = &raw.inputs else {
            if model == Some(Model::Multinomial) {
                self.report(
                    "moeid::case::missing",
                    raw.model.span(),
                    "multinomial models need `classes` in [inputs]".into(),
                    "multinomial",
                    Some("add `[inputs]` with `classes = 2` (or more)".into()),
                );
            }
            return (dim, low, high, classes);
        };
        let i = inputs.get_ref();
        if let Some(d) = &i.dim {
            match usize::try_from(*d.get_ref()) {
                Ok(v) if (1..=MAX_DIM).contains(&v) => dim = v,
                _ => self.report(
                    "moeid::case::value",
                    d.span(),
                    format!("`inputs.dim` is {}", d.get_ref()),
                    "out of range",
                    Some(format!(
                        "the input dimension is an integer from 1 to {MAX_DIM}"
                    )),
                ),
            }
        }
        if let Some(l) = &i.low {
            low = *l.get_ref();
        }
        if let Some(h) = &i.high {
            high = *h.get_ref();
        }
        if !(low.is_finite() && high.is_finite() && low < high) {
            let span = i
                .high
                .as_ref()
                .or(i.low.as_ref())
                .map(|s| s.span())
                .unwrap_or(inputs.span());
            self.report(
                "moeid::case::value",
                span,
                format!("the input box [{low}, {high}] is empty or infinite"),
                "here",
                Some("set finite `low` < `high`".into()),
            );
        }
        match (&i.classes, model) {
            (Some(c), Some(Model::Multinomial)) => match usize::try_from(*c.get_ref()) {
                Ok(v) if (2..=MAX_CLASSES).contains(&v) => classes = v,
                _ => self.report(
                    "moeid::case::value",
                    c.span(),
                    format!("`inputs.classes` is {}", c.get_ref()),
                    "out of range",
                    Some(format!(
                        "the number of classes is an integer from 2 to {MAX_CLASSES}"
                    )),
                ),
            },
            (None, Some(Model::Multinomial)) => self.report(
                "moeid::case::missing",
                inputs.span(),
                "multinomial models need `classes` in [inputs]".into(),
                "in this table",
                Some("add `classes = 2` (or more)".into()),
            ),
            (Some(c), Some(m)) => self.report(
                "moeid::case::key",
                c.span(),
                format!("`inputs.classes` is not used by {} models", m.name()),
                "not used",
                Some("remove `classes`, or set `model = \"multinomial\"`".into()),
            ),
            _ => {}
        }
        (dim, low, high, classes)
    }

    fn params(&mut self, raw: &RawCase) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        let mut offset = 0;
        if raw.params.get_ref().0.is_empty() {
            self.report(
                "moeid::case::params",
                raw.params.span(),
                "no parameters are declared".into(),
                "empty",
                Some(
                    "declare each parameter under [params], e.g. `beta1 = { shape = [1] }`".into(),
                ),
            );
        }
        for (name, decl) in &raw.params.get_ref().0 {
            let n = name.get_ref();
            let reserved = n == "x" || n == "pi" || expr::Func::from_name(n).is_some();
            let valid = n
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if reserved || !valid {
                self.report(
                    "moeid::case::params",
                    name.span(),
                    format!("`{n}` cannot be a parameter name"),
                    if reserved { "reserved" } else { "not a name" },
                    Some(
                        "names are letters, digits and `_`, and not `x`, `pi` or a function name"
                            .into(),
                    ),
                );
                continue;
            }
            let d = decl.get_ref();
            let shape = match &d.shape {
                None => Shape::Scalar,
                Some(s) => match s.get_ref().as_slice() {
                    [] => Shape::Scalar,
                    [len] => match usize::try_from(*len.get_ref()) {
                        Ok(v) if (1..=ParamSetCap::MAX).contains(&v) => Shape::Vector(v),
                        _ => {
                            self.report(
                                "moeid::case::params",
                                len.span(),
                                format!("`{n}` has length {}", len.get_ref()),
                                "out of range",
                                Some(format!(
                                    "a vector parameter has 1 to {} entries",
                                    ParamSetCap::MAX
                                )),
                            );
                            continue;
                        }
                    },
                    _ => {
                        self.report(
                            "moeid::case::params",
                            s.span(),
                            format!(
                                "`{n}` has {} dimensions; parameters are scalars or vectors",
                                s.get_ref().len()
                            ),
                            "shape",
                            Some(
                                "use `shape = [n]` for a vector, or declare one vector per row"
                                    .into(),
                            ),
                        );
                        continue;
                    }
                },
            };
            let role = match d.role.as_ref().map(|r| r.get_ref().as_str()) {
                None | Some("per-expert") => Role::PerExpert,
                Some("mass") => Role::Mass,
                Some("shared") => Role::Shared,
                Some(other) => {
                    self.report(
                        "moeid::case::params",
                        d.role.as_ref().map(|r| r.span()).unwrap_or(decl.span()),
                        format!("unknown role `{other}` for `{n}`"),
                        "not a role",
                        Some("role is one of: per-expert (default), mass, shared".into()),
                    );
                    Role::PerExpert
                }
            };
            if role == Role::Mass && shape != Shape::Scalar {
                self.report(
                    "moeid::case::params",
                    decl.span(),
                    format!("mass parameter `{n}` must be a scalar"),
                    "vector",
                    Some("a mass acts as one mixture weight per expert; remove `shape`".into()),
                );
            }
            if out.iter().any(|p| &p.name == n) {
                self.report(
                    "moeid::case::params",
                    name.span(),
                    format!("`{n}` is declared twice"),
                    "again",
                    None,
                );
                continue;
            }
            let p = Param {
                name: n.clone(),
                shape,
                role,
                offset,
            };
            offset += p.len();
            out.push(p);
        }
        if offset > ParamSetCap::MAX {
            self.compile = false;
            self.report(
                "moeid::case::params",
                raw.params.span(),
                format!(
                    "{offset} scalar parameters; at most {} are supported",
                    ParamSetCap::MAX
                ),
                "too many",
                Some("analyse a smaller design (fewer or shorter parameters)".into()),
            );
        }
        out
    }

    /// Parses and shape-checks one expression; maps error spans into the file.
    fn expression(&mut self, s: &Spanned<String>, key: &str, env: &Env) -> Option<Expression> {
        let text = s.get_ref();
        let (src, base) = self.expression_source(s, key);
        let problem = |v: &mut Self, code, span: Span, message: String, label: &str, help| {
            v.problems.push(CaseDiagnostic {
                code,
                message: format!("in `{key}`: {message}"),
                src: src.clone(),
                span: (
                    base + span.start,
                    span.len().min(text.len().saturating_sub(span.start).max(1)),
                )
                    .into(),
                label: label.to_string(),
                help,
            });
        };
        let expr = match expr::parse(text) {
            Ok(e) => e,
            Err(e) => {
                let code = match e.kind {
                    expr::ParseErrorKind::UnknownFunction { .. } => "moeid::expr::unknown_function",
                    _ => "moeid::expr::parse",
                };
                problem(self, code, e.span, e.to_string(), "here", e.help());
                return None;
            }
        };
        if !self.compile {
            return None;
        }
        let mut b = TapeBuilder::new();
        match b.compile(&expr, env) {
            Ok(v) if v.scalar().is_some() => {}
            Ok(_) => {
                problem(
                    self,
                    "moeid::expr::shape",
                    expr.span,
                    format!("`{expr}` is a vector; `{key}` must be a scalar"),
                    "vector",
                    Some("reduce it with dot, sum, norm or an index".into()),
                );
                return None;
            }
            Err(e) => {
                let code = match e.kind {
                    expr::CompileErrorKind::UnknownName { .. } => "moeid::expr::unknown_name",
                    expr::CompileErrorKind::IndexOutOfRange { .. } => "moeid::expr::index",
                    _ => "moeid::expr::shape",
                };
                let label = match e.kind {
                    expr::CompileErrorKind::UnknownName { .. } => "not declared",
                    _ => "here",
                };
                problem(self, code, e.span, e.to_string(), label, e.help());
                return None;
            }
        }
        Some(Expression {
            key: key.to_string(),
            text: text.clone(),
            expr,
        })
    }

    /// Where the expression text sits in the file: the file itself when the TOML string is a
    /// literal copy of the text, else the expression on its own.
    fn expression_source(&self, s: &Spanned<String>, key: &str) -> (NamedSource<Arc<str>>, usize) {
        let text = s.get_ref();
        let raw = self.text.get(s.span()).unwrap_or("");
        for quote in ["'''", "\"\"\"", "'", "\""] {
            if let Some(inner) = raw.strip_prefix(quote).and_then(|r| r.strip_suffix(quote)) {
                let skip = if quote.len() == 3 && inner.starts_with('\n') {
                    1
                } else {
                    0
                };
                if &inner[skip..] == text.as_str() {
                    return (self.src.clone(), s.span().start + quote.len() + skip);
                }
            }
        }
        (
            NamedSource::new(format!("{} ({key})", self.path), Arc::from(text.as_str())),
            0,
        )
    }

    fn check_usage<'e>(
        &mut self,
        raw: &RawCase,
        params: &[Param],
        exprs: impl Iterator<Item = &'e Expression>,
    ) {
        let mut used = std::collections::HashSet::new();
        for e in exprs {
            e.expr.walk(&mut |n| {
                if let expr::ExprKind::Name(name) = &n.kind {
                    used.insert(name.clone());
                }
            });
        }
        for (name, _) in &raw.params.get_ref().0 {
            let n = name.get_ref();
            if params.iter().any(|p| &p.name == n) && !used.contains(n) {
                self.report(
                    "moeid::case::params",
                    name.span(),
                    format!("parameter `{n}` is declared but no expression uses it"),
                    "unused",
                    Some(format!(
                        "use `{n}` in the gate or the expert, or remove its declaration"
                    )),
                );
            }
        }
    }

    /// The value of parameter `p` read from `v`, checked against its shape.
    fn value(&mut self, p: &Param, v: &Spanned<toml::Value>, what: &str) -> Option<Vec<f64>> {
        let num = |x: &toml::Value| match x {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(i) => Some(*i as f64),
            _ => None,
        };
        let values = match (p.shape, v.get_ref()) {
            (Shape::Scalar, x) => num(x).map(|f| vec![f]),
            (Shape::Vector(_), toml::Value::Array(a)) => a.iter().map(num).collect(),
            (Shape::Vector(1), x) => num(x).map(|f| vec![f]),
            _ => None,
        };
        let expected = match p.shape {
            Shape::Scalar => "a number".to_string(),
            Shape::Vector(n) => format!("a list of {n} numbers"),
        };
        match values {
            Some(vals) if vals.len() == p.len() && vals.iter().all(|f| f.is_finite()) => Some(vals),
            _ => {
                self.report(
                    "moeid::case::atoms",
                    v.span(),
                    format!("{what}: `{}` should be {expected}", p.name),
                    "here",
                    Some(format!(
                        "`{}` is declared with {}",
                        p.name,
                        match p.shape {
                            Shape::Scalar => "no shape (a scalar)".to_string(),
                            Shape::Vector(n) => format!("shape = [{n}]"),
                        }
                    )),
                );
                None
            }
        }
    }

    fn atoms(&mut self, raw: &RawCase, params: &[Param]) -> Vec<Vec<f64>> {
        let total: usize = params.iter().map(Param::len).sum();
        let mut shared = vec![0.0; total];
        let empty = Ordered::default();
        let shared_table = raw.shared.as_ref().map(|s| s.get_ref()).unwrap_or(&empty);
        for (key, v) in &shared_table.0 {
            match params.iter().find(|p| p.name == *key.get_ref()) {
                Some(p) if p.role == Role::Shared => {
                    if let Some(vals) = self.value(p, v, "[shared]") {
                        shared[p.offset..p.offset + p.len()].copy_from_slice(&vals);
                    }
                }
                Some(p) => self.report(
                    "moeid::case::shared",
                    key.span(),
                    format!(
                        "`{}` is per-expert; its values belong in each [[atoms]] table",
                        p.name
                    ),
                    "not shared",
                    Some(format!(
                        "declare `{} = {{ role = \"shared\" }}` to share it",
                        p.name
                    )),
                ),
                None => self.report(
                    "moeid::case::shared",
                    key.span(),
                    format!(
                        "`{}` in [shared] is not a declared parameter",
                        key.get_ref()
                    ),
                    "unknown",
                    Some(self.declared(params)),
                ),
            }
        }
        for p in params.iter().filter(|p| p.role == Role::Shared) {
            if !shared_table.0.iter().any(|(k, _)| k.get_ref() == &p.name) {
                let span = raw
                    .shared
                    .as_ref()
                    .map(|s| s.span())
                    .unwrap_or(raw.params.span());
                self.report(
                    "moeid::case::shared",
                    span,
                    format!("shared parameter `{}` has no value", p.name),
                    "missing",
                    Some(format!("add `{} = ...` under [shared]", p.name)),
                );
            }
        }
        if raw.atoms.get_ref().is_empty() {
            self.report(
                "moeid::case::atoms",
                raw.atoms.span(),
                "no atoms: the true configuration needs at least one [[atoms]] table".into(),
                "empty",
                None,
            );
        }
        let mut out = Vec::new();
        for (j, atom) in raw.atoms.get_ref().iter().enumerate() {
            let mut theta = shared.clone();
            let what = format!("atom {}", j + 1);
            for (key, v) in &atom.get_ref().0 {
                match params.iter().find(|p| p.name == *key.get_ref()) {
                    Some(p) if p.role != Role::Shared => {
                        if let Some(vals) = self.value(p, v, &what) {
                            theta[p.offset..p.offset + p.len()].copy_from_slice(&vals);
                        }
                    }
                    Some(p) => self.report(
                        "moeid::case::atoms",
                        key.span(),
                        format!(
                            "{what}: `{}` is shared; its value belongs in [shared]",
                            p.name
                        ),
                        "shared",
                        Some(format!("move `{}` to the [shared] table", p.name)),
                    ),
                    // With nothing declared, "no parameters are declared" says it all.
                    None if params.is_empty() => {}
                    None => self.report(
                        "moeid::case::atoms",
                        key.span(),
                        format!("{what}: `{}` is not a declared parameter", key.get_ref()),
                        "unknown",
                        Some(self.declared(params)),
                    ),
                }
            }
            for p in params.iter().filter(|p| p.role != Role::Shared) {
                if !atom.get_ref().0.iter().any(|(k, _)| k.get_ref() == &p.name) {
                    self.report(
                        "moeid::case::atoms",
                        atom.span(),
                        format!("{what} has no value for `{}`", p.name),
                        "in this atom",
                        Some(format!("add `{} = ...` to every [[atoms]] table", p.name)),
                    );
                }
            }
            out.push(theta);
        }
        out
    }

    fn declared(&self, params: &[Param]) -> String {
        if params.is_empty() {
            return "no parameter is declared; declare them under [params]".into();
        }
        format!(
            "declared parameters: {}",
            params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    fn settings(&mut self, raw: &RawCase) -> (usize, u64, usize) {
        let (mut order, mut seed, mut samples) = (2, 1, 0);
        let Some(v) = &raw.verify else {
            return (order, seed, samples);
        };
        if let Some(o) = &v.order {
            match usize::try_from(*o.get_ref()) {
                Ok(x) if (1..=MAX_ORDER).contains(&x) => order = x,
                _ => self.report(
                    "moeid::case::value",
                    o.span(),
                    format!("`verify.order` is {}", o.get_ref()),
                    "out of range",
                    Some(format!("the derivative order is 1 to {MAX_ORDER}")),
                ),
            }
        }
        if let Some(s) = &v.seed {
            match u64::try_from(*s.get_ref()) {
                Ok(x) => seed = x,
                Err(_) => self.report(
                    "moeid::case::value",
                    s.span(),
                    format!("`verify.seed` is {}", s.get_ref()),
                    "negative",
                    Some("the seed is a non-negative integer".into()),
                ),
            }
        }
        if let Some(s) = &v.samples {
            match usize::try_from(*s.get_ref()) {
                Ok(x) => samples = x,
                Err(_) => self.report(
                    "moeid::case::value",
                    s.span(),
                    format!("`verify.samples` is {}", s.get_ref()),
                    "negative",
                    Some("use 0 for automatic, or a positive number of sample points".into()),
                ),
            }
        }
        (order, seed, samples)
    }
}

/// Parameter-count limit shared with the tape's dependency sets.
struct ParamSetCap;
impl ParamSetCap {
    const MAX: usize = crate::expr::ParamSet::CAPACITY;
}

/// Adds the likely fix to a TOML/serde message.
fn toml_help(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove or rename the key; see the case format in README.md".into())
    } else if message.starts_with("missing field") {
        Some("add the key; see the case format in README.md".into())
    } else if message.contains("a table like") {
        Some("declare each parameter as a table, e.g. `a = { shape = [2] }` or `b = {}`".into())
    } else if message.starts_with("invalid type") {
        Some("check the value's type (strings are quoted, shapes are lists of integers)".into())
    } else {
        Some("see the case format in README.md".into())
    }
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
