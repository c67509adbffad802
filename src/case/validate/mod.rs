//! Case text → [`Case`]: every check of a case file, each problem a diagnostic with its place
//! and fix (the [`Validator`] collects them all before failing).

use super::*;

mod fixed;
mod groups;
mod params;
mod settings;
mod top_k;
mod weights;
use crate::expr::{self, Binding, Env, Shape, Span, TapeBuilder};
use miette::NamedSource;
use raw::{Ordered, RawCase};
use std::sync::Arc;
use toml::Spanned;

pub(super) fn env_of(dim: usize, params: &[Param]) -> Env {
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
pub(super) struct Validator<'a> {
    text: &'a str,
    path: &'a str,
    src: NamedSource<Arc<str>>,
    pub(super) problems: Vec<CaseDiagnostic>,
    /// False once the parameters exceed what a tape can index: expressions are then only
    /// parsed, not compiled.
    compile: bool,
}

type R<T> = std::ops::Range<T>;

impl<'a> Validator<'a> {
    pub(super) fn new(text: &'a str, path: &'a str) -> Validator<'a> {
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

    pub(super) fn case(&mut self) -> Option<Case> {
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
        let (params, group_params): (Vec<Param>, Vec<Param>) = self
            .params(&raw)
            .into_iter()
            .partition(|p| p.role != Role::Group);
        if params.is_empty() && !group_params.is_empty() {
            self.report(
                "moeid::case::groups",
                raw.params.span(),
                "every parameter has role = \"group\": the experts have nothing of their own to estimate".into(),
                "only group parameters",
                Some("declare the experts' own parameters (per-expert, mass or shared) beside the group ones, e.g. `beta0 = { role = \"mass\" }` in `gate.weight`".into()),
            );
        }
        let env = env_of(dim, &params);
        let group_env = env_of(dim, &group_params);

        let own = (group_params.as_slice(), "group");
        let weight = self.expression_over(&raw.gate.get_ref().weight, "gate.weight", &env, own);
        let group_weight = raw.gate.get_ref().group_weight.as_ref().and_then(|w| {
            self.expression_over(w, "gate.group_weight", &group_env, (&params, "per-expert"))
        });
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
                Some(s) => v.expression_over(s, &format!("expert.{key}"), env, own),
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
                    let key = format!("expert.logits[{i}]");
                    if let Some(e) = self.expression_over(l, &key, &env, own) {
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

        let fixed = self.fixed(&raw, model, classes, dim, &params);
        // Usage is only meaningful when every expression compiled (a broken one uses nothing).
        if self.compile
            && !self
                .problems
                .iter()
                .any(|p| p.code.starts_with("moeid::expr"))
        {
            let compiled = [&weight, &mean, &variance, &group_weight]
                .into_iter()
                .flatten()
                .chain(&logits);
            // without a group weight, its missing declaration says what the group parameters lack
            let all: Vec<Param> = params
                .iter()
                .chain(group_params.iter().filter(|_| group_weight.is_some()))
                .cloned()
                .collect();
            self.check_usage(&raw, &all, compiled);
            let expert = [&mean, &variance].into_iter().flatten().chain(&logits);
            self.check_tied_masses(&raw, &params, expert);
        }
        let atoms = self.atoms(&raw, &params);
        let groups = self.groups(&raw, group_params, group_weight, atoms.len());
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
        // A fixed component inside the gate gives a lone atom's weight something to be
        // normalized against; one mixed outside it (`proportion`) does not.
        let in_gate = raw
            .fixed
            .as_ref()
            .is_some_and(|f| f.get_ref().proportion.is_none());
        if normalized && atoms.len() == 1 && !in_gate {
            self.report(
                "moeid::case::atoms",
                raw.atoms.span(),
                "a normalized gate needs at least two atoms".into(),
                "one atom",
                Some("with one expert the normalized gate is constant (u = 0); add a second [[atoms]] table, a [fixed] component inside the gate (no `proportion`), or set `gate.normalized = false`".into()),
            );
        }
        let top_k = self.top_k(&raw, atoms.len());
        let weight = weight?;
        if normalized && self.problems.is_empty() {
            let span = raw.gate.get_ref().weight.span();
            self.positive_weights(&weight, &env, &atoms, (dim, low, high), span);
        }
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
            top_k,
            mean,
            variance,
            logits,
            fixed,
            params,
            atoms,
            groups,
            order,
            seed,
            samples,
            expect,
            rates,
        })
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
        // (its width must be finite too: inputs are drawn uniformly from it)
        if !(low.is_finite() && high.is_finite() && low < high && (high - low).is_finite()) {
            let span = i
                .high
                .as_ref()
                .or(i.low.as_ref())
                .map(|s| s.span())
                .unwrap_or(inputs.span());
            self.report(
                "moeid::case::value",
                span,
                format!(
                    "the input box [{}, {}] is empty or infinite",
                    short(low),
                    short(high)
                ),
                "here",
                Some("set finite `low` < `high`, with `high - low` finite too".into()),
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
}

impl Validator<'_> {
    /// A parameter tied between the gate and the expert (one that both use) cannot be a mass:
    /// a mass only scales the gate weight ($\partial u/\partial\theta_m = c\,u$).
    fn check_tied_masses<'e>(
        &mut self,
        raw: &RawCase,
        params: &[Param],
        expert: impl Iterator<Item = &'e Expression>,
    ) {
        let mut used: Vec<(String, String)> = Vec::new();
        for e in expert {
            e.expr.walk(&mut |n| {
                if let expr::ExprKind::Name(name) = &n.kind {
                    if !used.iter().any(|(u, _)| u == name) {
                        used.push((name.clone(), e.key.clone()));
                    }
                }
            });
        }
        for (name, _) in &raw.params.get_ref().0 {
            let n = name.get_ref();
            let mass = params.iter().any(|p| &p.name == n && p.role == Role::Mass);
            if let Some((_, key)) = used.iter().find(|(u, _)| mass && u == n) {
                self.report(
                    "moeid::case::params",
                    name.span(),
                    format!("parameter `{n}` is declared a mass, but `{key}` uses it: a mass only scales the gate weight (∂u/∂{n} = c·u), so it cannot appear in the expert"),
                    "a mass in the expert",
                    Some(format!(
                        "remove `role = \"mass\"` from `{n}` (a per-expert parameter may appear in both gate and expert, tying them), or give the expert its own parameter"
                    )),
                );
            }
        }
    }
}

/// A number as written when short, in scientific notation when huge (`1e308`, not 309 digits).
fn short(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
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
