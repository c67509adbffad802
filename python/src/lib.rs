//! Python bindings of `moeid`: conversion only. Every analysis runs in the Rust library; this
//! layer turns Python arguments into library calls, results into JSON and markdown for the
//! typed classes of `moeid/__init__.py`, and library errors into Python exceptions.

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use moeid::case::{Case as RustCase, CaseBuilder as RustBuilder, Model, Role};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;

create_exception!(_moeid, MoeidError, PyException, "Any error of moeid.");
create_exception!(
    _moeid,
    CaseError,
    MoeidError,
    "A case that cannot be read or is invalid: the message names the file, the place and the fix."
);
create_exception!(
    _moeid,
    RatesError,
    MoeidError,
    "A rate check that cannot run: a bad setting, a model that cannot be simulated, a checkpoint of another run."
);

/// The diagnostic as the command line prints it without a terminal: plain, 80 columns.
fn render(e: &dyn Diagnostic) -> String {
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(80);
    let mut s = String::new();
    if handler.render_report(&mut s, e).is_err() {
        s = e.to_string();
    }
    s.trim_end().to_string()
}

fn error(e: moeid::Error) -> PyErr {
    match e {
        moeid::Error::Case(c) => CaseError::new_err(render(&moeid::Error::Case(c))),
        moeid::Error::Rates(r) => RatesError::new_err(r.to_string()),
        other => MoeidError::new_err(render(&other)),
    }
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// A validated case (`Case.from_toml`, or a `CaseBuilder`).
#[pyclass(module = "moeid._moeid", frozen)]
#[derive(Clone)]
struct Case {
    inner: RustCase,
}

#[pymethods]
impl Case {
    /// A case from TOML text, or from the path of a case file.
    #[staticmethod]
    fn from_toml(text_or_path: &Bound<'_, PyAny>) -> PyResult<Case> {
        let path: Option<PathBuf> = match text_or_path.extract::<String>() {
            Ok(s) if !s.contains('\n') && !s.trim_start().starts_with('[') && !s.contains('=') => {
                Some(PathBuf::from(s))
            }
            Ok(_) => None,
            Err(_) => Some(text_or_path.extract::<PathBuf>()?),
        };
        let case = match path {
            Some(p) => RustCase::load(&p),
            None => RustCase::parse(&text_or_path.extract::<String>()?, "<string>"),
        };
        case.map(|inner| Case { inner })
            .map_err(|e| error(moeid::Error::Case(e)))
    }

    /// The case's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// One line saying what the case demonstrates.
    #[getter]
    fn title(&self) -> String {
        self.inner.title.clone()
    }

    /// Where the design comes from.
    #[getter]
    fn source(&self) -> String {
        self.inner.source.clone()
    }

    /// The file the case was read from (`<string>` or `<builder>` otherwise).
    #[getter]
    fn path(&self) -> String {
        self.inner.path.clone()
    }

    /// Parameter names as the analysis sees them (`beta1[0]`, `b`, ...).
    #[getter]
    fn variables(&self) -> Vec<String> {
        self.inner.variables()
    }

    /// Number of true atoms (experts).
    #[getter]
    fn atoms(&self) -> usize {
        self.inner.atoms.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Case({:?}, {} atoms)",
            self.inner.name,
            self.inner.atoms.len()
        )
    }
}

/// A case under construction, mirroring the Rust `CaseBuilder`; `build()` validates it exactly
/// like a case file.
#[pyclass(module = "moeid._moeid")]
struct CaseBuilder {
    inner: RustBuilder,
}

fn model(name: &str) -> PyResult<Model> {
    match name {
        "regression" => Ok(Model::Regression),
        "gaussian" => Ok(Model::Gaussian),
        "multinomial" => Ok(Model::Multinomial),
        other => Err(PyValueError::new_err(format!(
            "model {other:?}: use \"regression\", \"gaussian\" or \"multinomial\""
        ))),
    }
}

fn role(name: &str) -> PyResult<Role> {
    match name {
        "per_expert" => Ok(Role::PerExpert),
        "mass" => Ok(Role::Mass),
        "shared" => Ok(Role::Shared),
        other => Err(PyValueError::new_err(format!(
            "role {other:?}: use \"per_expert\", \"mass\" or \"shared\""
        ))),
    }
}

impl CaseBuilder {
    fn with(
        mut slf: PyRefMut<'_, Self>,
        f: impl FnOnce(RustBuilder) -> RustBuilder,
    ) -> PyRefMut<'_, Self> {
        slf.inner = f(slf.inner.clone());
        slf
    }
}

#[pymethods]
impl CaseBuilder {
    /// A builder for a case named `name` of model `regression`, `gaussian` or `multinomial`.
    #[new]
    fn new(name: &str, model_name: &str) -> PyResult<Self> {
        Ok(CaseBuilder {
            inner: RustCase::builder(name, model(model_name)?),
        })
    }

    fn title<'a>(slf: PyRefMut<'a, Self>, title: &str) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.title(title))
    }

    fn source<'a>(slf: PyRefMut<'a, Self>, source: &str) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.source(source))
    }

    /// Inputs uniform on [low, high]^dim.
    fn inputs<'a>(slf: PyRefMut<'a, Self>, dim: usize, low: f64, high: f64) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.inputs(dim, low, high))
    }

    fn classes<'a>(slf: PyRefMut<'a, Self>, classes: usize) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.classes(classes))
    }

    /// The gate weight expression, whether it is normalized over experts, and for a top-K
    /// sparse gate the number K of experts selected at each input (`gate.top_k`).
    #[pyo3(signature = (weight, normalized=true, top_k=None))]
    fn gate<'a>(
        slf: PyRefMut<'a, Self>,
        weight: &str,
        normalized: bool,
        top_k: Option<usize>,
    ) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| match top_k {
            Some(k) => b.gate(weight, normalized).top_k(k),
            None => b.gate(weight, normalized),
        })
    }

    fn mean<'a>(slf: PyRefMut<'a, Self>, mean: &str) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.mean(mean))
    }

    fn variance<'a>(slf: PyRefMut<'a, Self>, variance: &str) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.variance(variance))
    }

    fn logits<'a>(slf: PyRefMut<'a, Self>, logits: Vec<String>) -> PyRefMut<'a, Self> {
        let refs: Vec<&str> = logits.iter().map(String::as_str).collect();
        Self::with(slf, |b| b.logits(&refs))
    }

    /// A fixed component (`[fixed]`, expressions in x only): its weight inside the gate (default
    /// "1"), or its true share `proportion` in (0, 1) when it is mixed outside the gate with an
    /// estimated share; and the expressions the model needs (`mean`, `variance`, or `logits`).
    #[pyo3(signature = (weight=None, mean=None, variance=None, logits=None, proportion=None))]
    fn fixed<'a>(
        slf: PyRefMut<'a, Self>,
        weight: Option<&str>,
        mean: Option<&str>,
        variance: Option<&str>,
        logits: Option<Vec<String>>,
        proportion: Option<f64>,
    ) -> PyResult<PyRefMut<'a, Self>> {
        if weight.is_some() && proportion.is_some() {
            return Err(PyValueError::new_err(
                "fixed(): `weight` and `proportion` cannot be used together: with `proportion` the component is mixed outside the gate (f = λ f0 + (1 − λ) × the gated experts); give one of them",
            ));
        }
        let mut expert = Vec::new();
        if let Some(m) = mean {
            expert.push(("mean", m));
        }
        if let Some(v) = variance {
            expert.push(("variance", v));
        }
        let slf = match proportion {
            Some(p) => Self::with(slf, |b| b.fixed_with_proportion(p, &expert)),
            None => Self::with(slf, |b| b.fixed(weight.unwrap_or("1"), &expert)),
        };
        Ok(match logits {
            Some(ls) => {
                let refs: Vec<&str> = ls.iter().map(String::as_str).collect();
                Self::with(slf, |b| b.fixed_logits(&refs))
            }
            None => slf,
        })
    }

    /// A parameter: `len` None for a scalar; role `per_expert`, `mass` or `shared`.
    #[pyo3(signature = (name, len=None, role_name="per_expert"))]
    fn param<'a>(
        slf: PyRefMut<'a, Self>,
        name: &str,
        len: Option<usize>,
        role_name: &str,
    ) -> PyResult<PyRefMut<'a, Self>> {
        let r = role(role_name)?;
        Ok(Self::with(slf, |b| b.param(name, len, r)))
    }

    fn scalar<'a>(slf: PyRefMut<'a, Self>, name: &str) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.scalar(name))
    }

    fn vector<'a>(slf: PyRefMut<'a, Self>, name: &str, len: usize) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.vector(name, len))
    }

    fn mass<'a>(slf: PyRefMut<'a, Self>, name: &str) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.mass(name))
    }

    fn shared<'a>(slf: PyRefMut<'a, Self>, name: &str, value: f64) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.shared(name, value))
    }

    /// One true atom: a mapping from parameter name to a number or a list of numbers.
    fn atom<'a>(
        slf: PyRefMut<'a, Self>,
        values: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefMut<'a, Self>> {
        let mut owned: Vec<(String, Vec<f64>)> = Vec::new();
        for item in values.call_method0("items")?.try_iter()? {
            let (name, value): (String, Bound<'_, PyAny>) = item?.extract()?;
            let numbers = match value.extract::<f64>() {
                Ok(x) => vec![x],
                Err(_) => value.extract::<Vec<f64>>()?,
            };
            owned.push((name, numbers));
        }
        let pairs: Vec<(&str, &[f64])> = owned
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        Ok(Self::with(slf, |b| b.atom(&pairs)))
    }

    fn order<'a>(slf: PyRefMut<'a, Self>, order: usize) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.order(order))
    }

    fn seed<'a>(slf: PyRefMut<'a, Self>, seed: u64) -> PyRefMut<'a, Self> {
        Self::with(slf, |b| b.seed(seed))
    }

    /// The case file this builder describes.
    fn to_toml(&self) -> String {
        self.inner.to_toml()
    }

    /// The validated case; `CaseError` with the same message as a case file would get.
    fn build(&self) -> PyResult<Case> {
        self.inner
            .clone()
            .build()
            .map(|inner| Case { inner })
            .map_err(|e| error(moeid::Error::Case(e)))
    }
}

/// One verification, kept in Rust; the Python `Verdict` reads it through JSON and markdown.
#[pyclass(module = "moeid._moeid", frozen)]
struct Verification {
    inner: moeid::Verification,
}

#[pymethods]
impl Verification {
    /// The JSON object of `moeid verify --format json`.
    fn json(&self) -> String {
        moeid::report::json::render(&self.inner).to_string()
    }

    /// The text block of `moeid verify`.
    fn text(&self) -> String {
        moeid::report::text::render(&self.inner)
    }

    /// The stable summary (what users' CI snapshots hold).
    fn summary(&self) -> String {
        self.inner.summary()
    }

    /// The report page, plots inside it.
    fn markdown(&self) -> PyResult<String> {
        moeid::report::markdown::page_inline(&self.inner, None, version())
            .map_err(MoeidError::new_err)
    }

    /// The report page as HTML (math left as `$...$` for the notebook's typesetter).
    fn html(&self) -> PyResult<String> {
        let md = self.markdown()?;
        let mut options = pulldown_cmark::Options::empty();
        options.insert(pulldown_cmark::Options::ENABLE_TABLES);
        options.insert(pulldown_cmark::Options::ENABLE_MATH);
        let parser = pulldown_cmark::Parser::new_ext(&md, options);
        let mut html = String::new();
        pulldown_cmark::html::push_html(&mut html, parser);
        Ok(html)
    }
}

/// Verifies a case: the derivative families, their ranks, relations, verdict, cells and
/// predicted rates (the GIL is released while it runs).
#[pyfunction]
#[pyo3(signature = (case, order=None, certify=false, seed=None, cells=None))]
fn verify(
    py: Python<'_>,
    case: &Case,
    order: Option<usize>,
    certify: bool,
    seed: Option<u64>,
    cells: Option<usize>,
) -> PyResult<Verification> {
    let options = moeid::Options {
        order,
        seed,
        certify,
        cells,
        progress: None,
    };
    let inner = &case.inner;
    py.detach(|| moeid::verify(inner, &options))
        .map(|inner| Verification { inner })
        .map_err(error)
}

/// One rate check, kept in Rust.
#[pyclass(module = "moeid._moeid", frozen)]
struct RateCheck {
    inner: moeid::rates::RateCheck,
}

#[pymethods]
impl RateCheck {
    /// The JSON object of `moeid rates --format json`.
    fn json(&self) -> String {
        moeid::report::rates::json(&self.inner.report).to_string()
    }

    /// The text of `moeid rates`.
    fn text(&self) -> String {
        moeid::report::rates::render(&self.inner.report)
    }

    /// The case's report page with this rate check, plots inside it; `None` when the case has
    /// no verdict.
    fn markdown(&self) -> PyResult<Option<String>> {
        match &self.inner.verification {
            Ok(v) => moeid::report::markdown::page_inline(v, Some(&self.inner.report), version())
                .map(Some)
                .map_err(MoeidError::new_err),
            Err(_) => Ok(None),
        }
    }

    /// Why the case has no verdict (the check then ran without a prediction).
    fn verification_error(&self) -> Option<String> {
        self.inner.verification.as_ref().err().map(|e| render(e))
    }
}

/// Fits over-specified mixtures at growing n and compares the loss slopes with the predicted
/// rates; `out` is a checkpoint to resume from and append to.
#[pyfunction]
#[pyo3(signature = (case, fitted=None, n=None, replicates=None, restarts=None, seed=None, out=None))]
#[allow(clippy::too_many_arguments)]
fn rates(
    py: Python<'_>,
    case: &Case,
    fitted: Option<Vec<usize>>,
    n: Option<Vec<usize>>,
    replicates: Option<usize>,
    restarts: Option<usize>,
    seed: Option<u64>,
    out: Option<PathBuf>,
) -> PyResult<RateCheck> {
    let overrides = moeid::rates::RateOverrides {
        fitted,
        n,
        replicates,
        restarts,
        seed,
        shard: None,
    };
    let inner = &case.inner;
    py.detach(|| {
        moeid::rates::check(
            inner,
            &overrides,
            out.as_deref(),
            moeid::rates::Progress::Quiet,
        )
    })
    .map(|inner| RateCheck { inner })
    .map_err(|e| error(e.into()))
}

/// Writes report pages (and their plots) for the given verifications into `out`, with an
/// index `README.md`; returns the index's path.
#[pyfunction]
fn report(verifications: Vec<PyRef<'_, Verification>>, out: PathBuf) -> PyResult<PathBuf> {
    std::fs::create_dir_all(&out).map_err(|e| {
        MoeidError::new_err(format!(
            "cannot create {}: {e}; choose another folder",
            out.display()
        ))
    })?;
    let mut rows = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for v in &verifications {
        let name = &v.inner.case.name;
        if let Some(why) = moeid::report::markdown::unsafe_file_name(name) {
            return Err(MoeidError::new_err(format!(
                "the case name `{name}` cannot name a report page ({why}); set `name` to letters, digits, '-', '_' and '.'"
            )));
        }
        if names.contains(name) {
            return Err(MoeidError::new_err(format!(
                "two cases are named `{name}`, and their report pages would overwrite each other; rename one"
            )));
        }
        names.push(name.clone());
        rows.push(
            moeid::report::markdown::write_case(&v.inner, None, &out, version())
                .map_err(MoeidError::new_err)?,
        );
    }
    let index = out.join("README.md");
    moeid::report::markdown::write_atomic(
        &index,
        moeid::report::markdown::index(&rows, version()).as_bytes(),
    )
    .map_err(|e| MoeidError::new_err(format!("cannot write {}: {e}", index.display())))?;
    Ok(index)
}

#[pymodule]
fn _moeid(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", version())?;
    m.add("MoeidError", py.get_type::<MoeidError>())?;
    m.add("CaseError", py.get_type::<CaseError>())?;
    m.add("RatesError", py.get_type::<RatesError>())?;
    m.add_class::<Case>()?;
    m.add_class::<CaseBuilder>()?;
    m.add_class::<Verification>()?;
    m.add_class::<RateCheck>()?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(rates, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    Ok(())
}
