//! moeid: identifiability of mixture-of-experts gate designs.
//!
//! A case file describes a gate, an expert and a true parameter configuration. `moeid`
//! evaluates every Taylor derivative term of each gate–expert atom at sample points, tests
//! their linear independence, turns null vectors into PDE relations, classifies them and
//! computes estimation rates from the local geometry of each Voronoi cell (see
//! `docs/theory.md`).
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! ```text
//! case → model → family → rank → relations → verdict → geometry → rates → report
//! ```
//!
//! `expr` is the leaf language the case stage parses its expressions with; `model` compiles
//! the case once for every later stage.
//!
//! ```no_run
//! let case = moeid::Case::load("cases/softmax-2503.03213/linear.toml")?;
//! let v = moeid::verify(&case, &moeid::Options::default())?;
//! println!("{}", v.verdict.kind);
//! # Ok::<(), moeid::Error>(())
//! ```

pub mod case;
mod error;
pub mod expr;
pub mod family;
pub mod geometry;
pub mod model;
mod note;
pub mod progress;
pub mod rank;
pub mod rates;
pub mod relations;
pub mod report;
pub mod verdict;

pub use case::Case;
pub use error::{CaseShape, Error, OptionsError};
pub use note::Note;
pub use progress::{Cost, Progress};

use family::{AtomFamily, Design, FamilyError, HpFamilies, MAX_SAMPLES, MAX_TERMS, MIN_SAMPLES};
use rank::certify::Escalation;
use rank::{Certificate, Rank};
use rates::Prediction;
use relations::Relations;
use verdict::Verdict;

/// Overrides of the case's `[verify]` settings.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Highest derivative order.
    pub order: Option<usize>,
    /// Seed of every random choice.
    pub seed: Option<u64>,
    /// Certify every decision in high precision, not only the unclear ones.
    pub certify: bool,
    /// Largest cell size $M$ of the local geometry (1 to [`geometry::MAX_CELLS`]; default 3).
    pub cells: Option<usize>,
    /// Where `verify` reports its stages and steps, for a display (none: not reported).
    pub progress: Option<std::sync::Arc<Progress>>,
}

/// Default largest cell size of the local geometry.
pub const DEFAULT_CELLS: usize = 3;

/// One row of the rank table: the family of one atom (or the joint family) up to one order.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyRow {
    /// Atom (0-based); `None` for the joint family (reduced to each atom's independent terms).
    pub atom: Option<usize>,
    /// Highest order in the family.
    pub order: usize,
    /// Number of terms.
    pub terms: usize,
    /// Numerical rank.
    pub rank: usize,
    /// $\sigma_1$ of the column-scaled matrix.
    pub sigma_max: f64,
    /// Smallest kept singular value.
    pub sigma_min_kept: f64,
    /// Gap at the rank cut, in decades.
    pub gap_decades: f64,
    /// Whether the f64 decision is clear.
    pub clear: bool,
    /// How the decision was reached.
    pub certificate: Certificate,
    /// Singular values of the column-scaled matrix, largest first.
    pub singular_values: Vec<f64>,
}

impl FamilyRow {
    fn of(atom: Option<usize>, order: usize, r: &Rank, certificate: Certificate) -> FamilyRow {
        FamilyRow {
            atom,
            order,
            terms: r.n,
            rank: r.rank,
            sigma_max: r.sigma_max(),
            sigma_min_kept: r.sigma_min_kept(),
            gap_decades: r.gap_decades,
            clear: r.clear,
            certificate,
            singular_values: r.singular_values.clone(),
        }
    }
}

/// Evaluation counts, for the record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    /// Sample points.
    pub samples: usize,
    /// Rank decisions (SVDs) of families.
    pub rank_decisions: usize,
    /// Decisions escalated to high precision.
    pub escalations: usize,
    /// Columns evaluated in high precision.
    pub hp_columns: usize,
}

/// Everything `verify` finds for one case.
#[derive(Clone, Debug)]
pub struct Verification {
    /// The case.
    pub case: Case,
    /// Analysed order.
    pub order: usize,
    /// Seed used.
    pub seed: u64,
    /// Parameter names, in the order of $\theta$.
    pub variables: Vec<String>,
    /// Rank table: per atom and order, then the joint family.
    pub families: Vec<FamilyRow>,
    /// The relations.
    pub relations: Relations,
    /// The verdict.
    pub verdict: Verdict,
    /// The local geometry: every true atom's cells of $m = 1..M$ fitted atoms.
    pub cells: geometry::Cells,
    /// Predicted rates, from the cells.
    pub predicted: Prediction,
    /// Whether the fixed component (`[fixed]`) is distinguishable from the learned atoms.
    pub distinguishability: Option<relations::Distinguishability>,
    /// Where the cells and the verdict disagree (docs/theory.md §7, "consistency with §3").
    pub inconsistencies: Vec<geometry::Inconsistency>,
    /// Notes worth a reader's attention (declared masses that do not act as masses, ...).
    pub notes: Vec<Note>,
    /// Counts.
    pub counts: Counts,
}

impl Verification {
    /// A stable summary for snapshot tests ([`report::text::summary`]): verdict, certificate,
    /// relations in exact form when available, predicted rates; no floating-point noise.
    pub fn summary(&self) -> String {
        report::text::summary(self)
    }
}

/// A case edited in code still fits its model (files are validated on load): enough atoms of
/// the right length, the expert keys the model needs (the fixed component's too), a finite
/// input box. Every public entry point that takes a [`Case`] calls it first.
///
/// # Errors
/// The first mismatch found.
pub fn check_shape(case: &Case) -> Result<(), CaseShape> {
    if !(1..=case::MAX_DIM).contains(&case.dim) {
        return Err(CaseShape::Dimension(case.dim));
    }
    // the parameters laid out one after another in θ, at most ParamSet::CAPACITY scalars
    let mut offset = 0usize;
    for p in &case.params {
        let len = p.len();
        if p.offset != offset || len == 0 || len > expr::ParamSet::CAPACITY {
            return Err(CaseShape::Params(p.name.clone()));
        }
        offset += len;
        if offset > expr::ParamSet::CAPACITY {
            return Err(CaseShape::Params(p.name.clone()));
        }
    }
    let in_gate = case.fixed.as_ref().is_some_and(case::Fixed::in_gate);
    let want = if case.normalized && !in_gate { 2 } else { 1 };
    if case.atoms.len() < want {
        return Err(CaseShape::Atoms {
            got: case.atoms.len(),
            want,
        });
    }
    if let Some(k) = case.top_k.filter(|&k| k == 0 || k >= case.atoms.len()) {
        return Err(CaseShape::TopK {
            k,
            atoms: case.atoms.len(),
        });
    }
    let p = case.variables().len();
    if let Some((i, a)) = case.atoms.iter().enumerate().find(|(_, a)| a.len() != p) {
        return Err(CaseShape::AtomLength {
            atom: i + 1,
            got: a.len(),
            want: p,
        });
    }
    match case.model {
        case::Model::Regression if case.mean.is_none() => return Err(CaseShape::Missing("mean")),
        case::Model::Gaussian if case.mean.is_none() => return Err(CaseShape::Missing("mean")),
        case::Model::Gaussian if case.variance.is_none() => {
            return Err(CaseShape::Missing("variance"))
        }
        case::Model::Multinomial if case.logits.len() != case.classes || case.classes < 2 => {
            return Err(CaseShape::Missing(
                "logits (one per class, at least two classes)",
            ))
        }
        _ => {}
    }
    if let Some(f) = &case.fixed {
        let complete = match case.model {
            case::Model::Regression => f.mean.is_some(),
            case::Model::Gaussian => f.mean.is_some() && f.variance.is_some(),
            case::Model::Multinomial => f.logits.len() == case.classes,
        };
        if !complete {
            return Err(CaseShape::Missing(
                "fixed component's expression (the keys its model needs)",
            ));
        }
    }
    if !(case.low.is_finite() && case.high.is_finite() && case.low < case.high) {
        return Err(CaseShape::InputBox {
            low: case.low,
            high: case.high,
        });
    }
    // The expressions were checked against the dimension and shapes they were loaded with.
    let env = case.env();
    for e in case.expressions() {
        let compiled = expr::TapeBuilder::new().compile(&e.expr, &env);
        let message = match compiled {
            Ok(v) if v.scalar().is_some() => continue,
            Ok(_) => "it is a vector, not a scalar".to_string(),
            Err(err) => err.to_string(),
        };
        return Err(CaseShape::Expression {
            key: e.key.clone(),
            message,
        });
    }
    Ok(())
}

/// The sizes of a verification, checked against the limits.
struct Size {
    order: usize,
    seed: u64,
    max_cells: usize,
    design: Design,
    joint: usize,
    all_terms: usize,
    samples: usize,
}

fn size(case: &Case, options: &Options) -> Result<Size, Error> {
    let fail = |source| Error::Family {
        path: case.path.clone(),
        error: source,
    };
    let order = options.order.unwrap_or(case.order);
    let seed = options.seed.unwrap_or(case.seed);
    let max_cells = options.cells.unwrap_or(DEFAULT_CELLS);
    if !(1..=geometry::MAX_CELLS).contains(&max_cells) {
        return Err(Error::Options(OptionsError::Cells(max_cells)));
    }
    if !(1..=case::MAX_ORDER).contains(&order) {
        return Err(Error::Options(OptionsError::Order(order)));
    }
    check_shape(case).map_err(|c| Error::Options(OptionsError::Case(c)))?;
    let design = Design::new(case);
    let k = case.atoms.len();
    // Limits count the terms the mass rule keeps (none of order >= 2 through a declared mass);
    // the default number of samples stays 3 per term before that rule, as it always was, so
    // results do not move.
    let masses = design
        .roles
        .iter()
        .filter(|r| **r == case::Role::Mass)
        .count();
    let joint = family::max_terms_kept(design.n_vars(), masses, order).saturating_mul(k);
    if joint > MAX_TERMS {
        return Err(fail(FamilyError::TooManyTerms {
            terms: joint,
            atoms: k,
            params: design.n_vars(),
            order,
        }));
    }
    let all_terms = family::max_terms(design.n_vars(), order).saturating_mul(k);
    let samples = if case.samples == 0 {
        MIN_SAMPLES.max(3 * all_terms)
    } else {
        case.samples
    };
    if samples > MAX_SAMPLES || (case.samples != 0 && samples < joint) {
        return Err(fail(FamilyError::Samples {
            samples,
            terms: joint,
        }));
    }
    if samples.saturating_mul(joint) > family::MAX_ENTRIES {
        return Err(fail(FamilyError::MatrixTooLarge {
            samples,
            terms: joint,
        }));
    }
    Ok(Size {
        order,
        seed,
        max_cells,
        design,
        joint,
        all_terms,
        samples,
    })
}

/// What `verify` would cost, without running it: the sizes and a rough estimate of seconds.
///
/// # Errors
/// As [`verify`] for options and limits (a case `verify` refuses is refused here).
pub fn cost(case: &Case, options: &Options) -> Result<Cost, Error> {
    let s = size(case, options)?;
    let (atoms, params) = (case.atoms.len(), s.design.n_vars());
    Ok(Cost {
        atoms,
        params,
        order: s.order,
        terms: s.joint,
        samples: s.samples,
        cells: s.max_cells,
        seconds: Cost::range(atoms, params, s.order, s.joint, s.samples, s.max_cells),
    })
}

/// Verifies one case: family → rank → relations → verdict → predicted rates.
///
/// # Errors
/// [`Error::Family`] when an evaluation is not finite or a limit is exceeded.
pub fn verify(case: &Case, options: &Options) -> Result<Verification, Error> {
    let fail = |source| Error::Family {
        path: case.path.clone(),
        error: source,
    };
    let Size {
        order,
        seed,
        max_cells,
        design,
        joint: _,
        all_terms,
        samples,
    } = size(case, options)?;
    let k = case.atoms.len();
    let progress = options.progress.as_deref();
    if let Some(p) = progress {
        // families, each atom's ranks, relations, geometry, the end
        p.plan(1 + k * order + 3);
    }
    progress::enter(progress, "derivative families");
    let points = design.sample(&case.atoms, samples, seed).map_err(fail)?;
    let fstar = design.fstar(&points, &case.atoms).map_err(fail)?;
    let families: Vec<AtomFamily> = case
        .atoms
        .iter()
        .enumerate()
        .map(|(j, theta)| family::atom_family(&design, &points, &fstar, theta, j, order))
        .collect::<Result<_, _>>()
        .map_err(fail)?;
    let tol = rank::Tolerance::default();
    let distinguishability =
        relations::distinguish(&design, &points, &case.atoms, &families, order, &tol)
            .map_err(fail)?;
    // High-precision families live on the first points (enough for the joint family) and on a
    // fresh sample set for checking relations.
    let n_hp = samples.min(all_terms + all_terms / 5 + 20);
    let fresh = design
        .sample(&case.atoms, n_hp, seed ^ 0x5ca1_ab1e)
        .map_err(fail)?;
    let mut escalation = Escalation {
        hp: HpFamilies::new(&design, &points, &case.atoms, n_hp),
        fresh: HpFamilies::new(&design, &fresh, &case.atoms, n_hp),
        all: options.certify,
        tol,
        escalations: 0,
    };
    let mut rows = Vec::new();
    let mut ranks = Vec::new();
    let mut counts = Counts {
        samples,
        ..Counts::default()
    };
    for fam in &families {
        for r in 1..=order {
            progress::enter(progress, "rank decisions");
            let n = fam.up_to_order(r);
            let m = fam.matrix.columns(0, n).into_owned();
            let terms: Vec<(usize, family::MultiIndex)> = fam.terms[..n]
                .iter()
                .map(|t| (fam.atom, t.clone()))
                .collect();
            // The last order's null space is read for relations.
            let f64_rank = rank::analyse(&m, &tol);
            let (rk, cert) = if r == order {
                escalation.decide_for_relations(f64_rank, &terms)
            } else {
                escalation.decide(f64_rank, &terms)
            }
            .map_err(fail)?;
            counts.rank_decisions += 1;
            rows.push(FamilyRow::of(Some(fam.atom), r, &rk, cert));
            if r == order {
                ranks.push((rk, cert));
            }
        }
    }
    let settings = relations::Settings {
        rank: tol,
        seed,
        ..relations::Settings::default()
    };
    progress::enter(progress, "relations");
    let relations = relations::analyse(
        &design,
        &points,
        &case.atoms,
        &families,
        &ranks,
        &mut escalation,
        &settings,
    )
    .map_err(fail)?;
    if let Some(j) = &relations.joint {
        counts.rank_decisions += 1;
        rows.push(FamilyRow::of(None, order, j, relations.joint_certificate));
    }
    counts.escalations = escalation.escalations;
    counts.hp_columns = escalation.hp.evaluations + escalation.fresh.evaluations;
    let has_mass: Vec<bool> = families.iter().map(|f| !f.masses.is_empty()).collect();
    let mut verdict = verdict::decide(&relations, order, &has_mass);
    if let Some(d) = &distinguishability {
        verdict = verdict::with_fixed(verdict, d);
    }
    if let Some(level) = &relations.groups {
        verdict = verdict::with_groups(verdict, level, design.group_variables());
    }
    progress::enter(progress, "local geometry");
    let cells = geometry::analyse(
        &design,
        &case.atoms,
        &geometry::Settings { max_cells, seed },
    );
    let inconsistencies = geometry::consistency(&cells, &verdict);
    // an invariance of the mixture that no cell shows (through a shared parameter, or across
    // atoms beyond the gauge) leaves the parameters it moves unidentified at every cell size
    let moved: Vec<String> = relations
        .cross
        .iter()
        .filter(|r| r.class == relations::RelationClass::Invariance)
        .flat_map(|r| &r.terms)
        .flat_map(|t| t.alpha.names(&design.variables))
        .collect();
    let predicted = rates::predict(&cells, &design.variables)
        .with_mixture_invariances(&moved, &design.variables);
    let mut notes = Vec::new();
    for f in &families {
        for m in f.masses.iter().filter(|m| m.declared && !m.holds) {
            notes.push(Note::MassNotActing {
                atom: f.atom + 1,
                variable: design.variables[m.var].clone(),
            });
        }
    }
    if let Some(k) = design.top_k {
        let selected = (0..case.atoms.len())
            .map(|j| points.selected_share(j))
            .collect();
        notes.push(Note::TopK { k, selected });
    }
    if let Some(d) = distinguishability
        .as_ref()
        .filter(|d| d.proportion.is_some())
    {
        notes.push(Note::FixedShare {
            proportion: d.proportion.unwrap_or_default(),
            lost: d.proportion_lost(),
        });
    }
    if !design.kinks.is_empty() {
        notes.push(Note::Kinks(
            design.kinks.iter().map(|k| k.text.clone()).collect(),
        ));
    }
    progress::enter(progress, "done");
    Ok(Verification {
        case: case.clone(),
        order,
        seed,
        variables: design.variables.clone(),
        families: rows,
        relations,
        verdict,
        cells,
        predicted,
        distinguishability,
        inconsistencies,
        notes,
        counts,
    })
}
