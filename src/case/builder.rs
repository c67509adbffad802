//! Building a case in code: the same validation as a file, without writing one.

use super::{Case, CaseError, Model, Role};
use toml::{Table, Value};

/// A case under construction; [`CaseBuilder::build`] validates it exactly like a case file.
///
/// ```
/// use moeid::case::{Case, Model};
/// let case = Case::builder("softmax-linear", Model::Regression)
///     .gate("exp(dot(beta1, x) + beta0)", true)
///     .mean("dot(a, x) + b")
///     .vector("beta1", 1)
///     .mass("beta0")
///     .vector("a", 1)
///     .scalar("b")
///     .atom(&[("beta1", &[2.0]), ("beta0", &[0.5]), ("a", &[1.5]), ("b", &[-0.5])])
///     .atom(&[("beta1", &[-1.0]), ("beta0", &[0.0]), ("a", &[-2.0]), ("b", &[0.3])])
///     .build()
///     .unwrap();
/// let v = moeid::verify(&case, &moeid::Options::default()).unwrap();
/// assert_eq!(v.verdict.kind.name(), "interaction");
/// ```
#[derive(Clone, Debug)]
pub struct CaseBuilder {
    name: String,
    root: Table,
    params: Table,
    atoms: Vec<Value>,
    shared: Table,
}

fn section<'a>(t: &'a mut Table, key: &str) -> &'a mut Table {
    t.entry(key.to_string())
        .or_insert_with(|| Value::Table(Table::new()))
        .as_table_mut()
        .expect("sections are tables")
}

fn number_or_list(values: &[f64]) -> Value {
    match values {
        [v] => Value::Float(*v),
        vs => Value::Array(vs.iter().map(|v| Value::Float(*v)).collect()),
    }
}

impl Case {
    /// A builder for a case named `name` (see [`CaseBuilder`]).
    pub fn builder(name: &str, model: Model) -> CaseBuilder {
        let mut root = Table::new();
        root.insert("name".into(), Value::String(name.into()));
        root.insert("model".into(), Value::String(model.name().into()));
        CaseBuilder {
            name: name.into(),
            root,
            params: Table::new(),
            atoms: Vec::new(),
            shared: Table::new(),
        }
    }
}

impl CaseBuilder {
    /// One line saying what the case demonstrates.
    pub fn title(mut self, title: &str) -> Self {
        self.root
            .insert("title".into(), Value::String(title.into()));
        self
    }

    /// Where the design comes from.
    pub fn source(mut self, source: &str) -> Self {
        self.root
            .insert("source".into(), Value::String(source.into()));
        self
    }

    /// Inputs uniform on $[\text{low}, \text{high}]^{\text{dim}}$.
    pub fn inputs(mut self, dim: usize, low: f64, high: f64) -> Self {
        let t = section(&mut self.root, "inputs");
        t.insert("dim".into(), Value::Integer(dim as i64));
        t.insert("low".into(), Value::Float(low));
        t.insert("high".into(), Value::Float(high));
        self
    }

    /// Number of classes (multinomial models).
    pub fn classes(mut self, classes: usize) -> Self {
        section(&mut self.root, "inputs").insert("classes".into(), Value::Integer(classes as i64));
        self
    }

    /// The gate weight, and whether weights are normalized over experts.
    pub fn gate(mut self, weight: &str, normalized: bool) -> Self {
        let t = section(&mut self.root, "gate");
        t.insert("weight".into(), Value::String(weight.into()));
        t.insert("normalized".into(), Value::Boolean(normalized));
        self
    }

    /// A top-K sparse gate: only the `k` atoms with the largest gate weights are selected at
    /// each input (`gate.top_k`, docs/theory.md §9). Call after [`CaseBuilder::gate`].
    pub fn top_k(mut self, k: usize) -> Self {
        section(&mut self.root, "gate").insert("top_k".into(), Value::Integer(k as i64));
        self
    }

    /// The expert mean (regression, gaussian).
    pub fn mean(mut self, mean: &str) -> Self {
        section(&mut self.root, "expert").insert("mean".into(), Value::String(mean.into()));
        self
    }

    /// The expert variance (gaussian).
    pub fn variance(mut self, variance: &str) -> Self {
        section(&mut self.root, "expert").insert("variance".into(), Value::String(variance.into()));
        self
    }

    /// The class logits (multinomial), one per class.
    pub fn logits(mut self, logits: &[&str]) -> Self {
        let v = logits.iter().map(|l| Value::String((*l).into())).collect();
        section(&mut self.root, "expert").insert("logits".into(), Value::Array(v));
        self
    }

    /// A fixed component (`[fixed]`, expressions in `x` only): its weight, and one expression
    /// per key the model needs (`mean`; `mean` and `variance`), e.g.
    /// `.fixed("1", &[("mean", "0.3 * x[0]")])`. Multinomial logits: [`CaseBuilder::fixed_logits`].
    pub fn fixed(mut self, weight: &str, expert: &[(&str, &str)]) -> Self {
        let t = section(&mut self.root, "fixed");
        t.insert("weight".into(), Value::String(weight.into()));
        for (k, v) in expert {
            t.insert((*k).into(), Value::String((*v).into()));
        }
        self
    }

    /// A fixed component mixed outside the gate with an estimated share (`fixed.proportion`):
    /// $f = \lambda f_0 + (1 - \lambda) f_G$ with true share `proportion` in (0, 1), e.g.
    /// `.fixed_with_proportion(0.3, &[("mean", "0"), ("variance", "1")])`.
    pub fn fixed_with_proportion(mut self, proportion: f64, expert: &[(&str, &str)]) -> Self {
        let t = section(&mut self.root, "fixed");
        t.remove("weight");
        t.insert("proportion".into(), Value::Float(proportion));
        for (k, v) in expert {
            t.insert((*k).into(), Value::String((*v).into()));
        }
        self
    }

    /// The fixed component's class logits (multinomial), one per class.
    pub fn fixed_logits(mut self, logits: &[&str]) -> Self {
        let v = logits.iter().map(|l| Value::String((*l).into())).collect();
        section(&mut self.root, "fixed").insert("logits".into(), Value::Array(v));
        self
    }

    /// Declares a parameter: `len` entries (`None` for a scalar) and a role.
    pub fn param(mut self, name: &str, len: Option<usize>, role: Role) -> Self {
        let mut t = Table::new();
        if let Some(n) = len {
            t.insert("shape".into(), Value::Array(vec![Value::Integer(n as i64)]));
        }
        let role = match role {
            Role::PerExpert => None,
            Role::Mass => Some("mass"),
            Role::Shared => Some("shared"),
            Role::Group => Some("group"),
        };
        if let Some(r) = role {
            t.insert("role".into(), Value::String(r.into()));
        }
        self.params.insert(name.into(), Value::Table(t));
        self
    }

    /// A per-expert scalar parameter.
    pub fn scalar(self, name: &str) -> Self {
        self.param(name, None, Role::PerExpert)
    }

    /// A per-expert vector parameter of `len` entries.
    pub fn vector(self, name: &str, len: usize) -> Self {
        self.param(name, Some(len), Role::PerExpert)
    }

    /// A per-expert scalar acting as a mixture weight.
    pub fn mass(self, name: &str) -> Self {
        self.param(name, None, Role::Mass)
    }

    /// A scalar shared by all experts, with its value.
    pub fn shared(mut self, name: &str, value: f64) -> Self {
        self.shared.insert(name.into(), Value::Float(value));
        self.param(name, None, Role::Shared)
    }

    /// One true atom: a value (or list of values) for every non-shared parameter.
    pub fn atom(mut self, values: &[(&str, &[f64])]) -> Self {
        let mut t = Table::new();
        for (k, v) in values {
            t.insert((*k).into(), number_or_list(v));
        }
        self.atoms.push(Value::Table(t));
        self
    }

    /// Highest derivative order analysed.
    pub fn order(mut self, order: usize) -> Self {
        section(&mut self.root, "verify").insert("order".into(), Value::Integer(order as i64));
        self
    }

    /// Seed of every random choice.
    pub fn seed(mut self, seed: u64) -> Self {
        section(&mut self.root, "verify").insert("seed".into(), Value::Integer(seed as i64));
        self
    }

    /// The case as the TOML of a case file.
    pub fn to_toml(&self) -> String {
        let mut root = self.root.clone();
        root.insert("params".into(), Value::Table(self.params.clone()));
        if !self.shared.is_empty() {
            root.insert("shared".into(), Value::Table(self.shared.clone()));
        }
        root.insert("atoms".into(), Value::Array(self.atoms.clone()));
        toml::to_string(&root).unwrap_or_default()
    }

    /// Validates and returns the case.
    ///
    /// # Errors
    /// [`CaseError::Invalid`] with every problem, as for a case file named `<name>.toml`.
    pub fn build(self) -> Result<Case, CaseError> {
        Case::parse(&self.to_toml(), &format!("{}.toml", self.name))
    }
}
