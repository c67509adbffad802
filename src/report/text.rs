//! The compact text verdict.

use super::cells;
use crate::rank::Certificate;
use crate::relations::{Relation, RelationClass};
use crate::verdict::Reason;
use crate::{Note, Verification};
use std::fmt::Write;

/// A relation as shown, with the atoms it holds at (identical relations at several atoms are
/// shown once).
struct Line {
    class: RelationClass,
    text: String,
    atoms: Vec<usize>,
    structural: Option<bool>,
    status: &'static str,
    exact: bool,
    combinations: Vec<String>,
}

/// What the verdict's relation statuses mean, printed under the relations.
pub const STATUS_LEGEND: &str = "structural: the same terms are related at perturbed atoms; \
     at this point: at these atoms only; exact form not found: the decimals are this \
     configuration's coefficients";

/// The relations as shown, identical ones at several atoms merged; numeric coefficients to
/// `digits` significant digits.
fn lines(v: &Verification, digits: usize) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let mut push = |r: &Relation, atom: Option<usize>| {
        let text = super::relation::text_with(r, &v.variables, digits);
        if let Some(l) = out.iter_mut().find(|l| {
            l.class == r.class && l.text == text && l.structural == r.structural && atom.is_some()
        }) {
            l.atoms.extend(atom);
            return;
        }
        let mut combinations = r
            .exact
            .as_ref()
            .filter(|e| e.verified)
            .map(|e| super::relation::combinations(r, e, &v.variables, &v.case.variable_roles()))
            .unwrap_or_default();
        if combinations.is_empty() && r.class == RelationClass::Invariance && atom.is_none() {
            combinations = mixture_combinations(r, &v.variables, &v.case.variable_roles());
        }
        out.push(Line {
            class: r.class,
            text,
            atoms: atom.into_iter().collect(),
            structural: r.structural,
            status: r.status(),
            exact: r.exact_form_found(),
            combinations,
        });
    };
    for a in &v.relations.atoms {
        for r in &a.relations {
            push(r, Some(a.atom));
        }
    }
    for r in &v.relations.cross {
        push(r, None);
    }
    out.sort_by_key(|l| rank_of(l.class));
    out
}

/// What stays identifiable along an invariance of the mixture that moves one parameter: a
/// parameter shared by every expert is lost whole (`every parameter but gamma`); one parameter
/// traded between two atoms, $c_i\,\partial u_i/\partial v + c_j\,\partial u_j/\partial v = 0$,
/// keeps $v_i - (c_i/c_j)\,v_j$ (`a₁ + a₂` for a trade at equal rates). Empty otherwise.
fn mixture_combinations(
    r: &Relation,
    variables: &[String],
    roles: &[crate::case::Role],
) -> Vec<String> {
    let vars: Vec<usize> = r
        .terms
        .iter()
        .filter_map(|t| match t.alpha.directions() {
            [d] => Some(usize::from(*d)),
            _ => None,
        })
        .collect();
    if vars.len() != r.terms.len() || vars.iter().any(|&v| v != vars[0]) {
        return Vec::new();
    }
    let v = vars[0];
    if roles.get(v) == Some(&crate::case::Role::Shared) {
        // a move of the shared parameter moves every atom alike: equal coefficients
        let c = r.terms[0].coef;
        let alike = r.terms.iter().all(|t| (t.coef - c).abs() <= 1e-9 * c.abs());
        return if alike {
            vec![format!("every parameter but {}", variables[v])]
        } else {
            Vec::new()
        };
    }
    match r.terms.as_slice() {
        [a, b] if a.atom != b.atom && b.coef != 0.0 => {
            let name =
                |atom: usize| format!("{}{}", variables[v], crate::relations::subscript(atom + 1));
            vec![super::coef::linear_combination(
                [(1.0, name(a.atom)), (-a.coef / b.coef, name(b.atom))].into_iter(),
                6,
            )]
        }
        _ => Vec::new(),
    }
}

/// Display order: what decides the verdict first.
fn rank_of(c: RelationClass) -> u8 {
    match c {
        RelationClass::Invariance => 0,
        RelationClass::CrossAtom => 1,
        RelationClass::Interaction => 2,
        RelationClass::Coupling => 3,
        RelationClass::Mass => 4,
        RelationClass::Gauge => 5,
        RelationClass::Singular => 6,
    }
}

fn atoms_label(atoms: &[usize], total: usize) -> String {
    match atoms.len() {
        0 => String::new(),
        n if n == total && total > 1 => "all atoms".into(),
        1 => format!("atom {}", atoms[0] + 1),
        _ => format!(
            "atoms {}",
            atoms
                .iter()
                .map(|a| (a + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A stable summary for snapshot tests: the verdict and its certificate, every relation (exact
/// form when verified, else coefficients to 4 significant digits) with its class, atoms and
/// status, and the predicted rates; no singular values or other rounding noise.
///
/// ```no_run
/// let case = moeid::Case::load("cases/softmax-2503.03213/linear.toml")?;
/// let v = moeid::verify(&case, &moeid::Options::default())?;
/// assert!(v.summary().starts_with("softmax-linear: interaction at order 2"));
/// # Ok::<(), moeid::Error>(())
/// ```
pub fn summary(v: &Verification) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} at order {} ({})",
        v.case.name,
        v.verdict.kind.name(),
        v.order,
        v.verdict.certificate.name()
    );
    for l in lines(v, 4) {
        let atoms = atoms_label(&l.atoms, v.case.atoms.len());
        let tail = [atoms.as_str(), l.status]
            .iter()
            .filter(|x| !x.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(s, "  {:<11} {}  [{tail}]", l.class.name(), l.text);
        if !l.combinations.is_empty() {
            let _ = writeln!(
                s,
                "  {:<11} identifiable: {}",
                "",
                l.combinations.join(", ")
            );
        }
    }
    if let Some(d) = &v.distinguishability {
        let _ = writeln!(s, "  fixed       {}", fixed_outcome(d));
    }
    if let Some(g) = groups_line(v) {
        let _ = writeln!(s, "  groups      {g}");
    }
    let _ = writeln!(
        s,
        "  predicted   exact-specified {}; over-specified {}",
        super::rate::rate(v.predicted.exact(), &v.variables),
        super::rate::rate(v.predicted.over(), &v.variables)
    );
    for c in &v.cells.cells {
        let _ = writeln!(
            s,
            "  cell        atom {} m={} {}: {}",
            c.atom + 1,
            c.m,
            c.outcome.name(),
            cells::summary_line(c, &v.variables)
        );
    }
    for i in &v.inconsistencies {
        let _ = writeln!(s, "  {}", cells::warning(i));
    }
    s
}

/// A duration for people: `0.4 s`, `12 s`, `3 min`, `2.5 h`.
pub fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// One line of `verify --estimate`: the sizes of the case's verification and its estimate.
pub fn cost(path: &std::path::Path, c: &crate::Cost) -> String {
    format!(
        "{}: {} atom{} × {} parameters at order {} → {} terms × {} samples, cells up to {}: {} to {} on one core",
        path.display(),
        c.atoms,
        if c.atoms == 1 { "" } else { "s" },
        c.params,
        c.order,
        c.terms,
        c.samples,
        c.cells,
        seconds(c.seconds.0),
        seconds(c.seconds.1)
    )
}

/// The group level's test of a hierarchical gate in words, if the case has one.
pub fn groups_line(v: &Verification) -> Option<String> {
    let level = v.relations.groups.as_ref()?;
    let names = v.case.groups.as_ref()?.variables();
    Some(group_outcome(level, &names))
}

/// The group level of a hierarchical gate in words (no floats but a direction's coefficients,
/// to 2 digits).
pub fn group_outcome(level: &crate::relations::GroupLevel, variables: &[String]) -> String {
    let groups = level.columns / variables.len().max(1);
    let what = format!(
        "{groups} groups × {} ({})",
        variables.len(),
        variables.join(", ")
    );
    if !level.clear {
        return format!("{what}: undecided (a rank gap is unclear in f64)");
    }
    if level.invariances.is_empty() {
        return format!(
            "{what}: first-order independent of each other and of the experts' terms apart from the group gauge (dimension {}): identifiable, n^-1/2 with the number of groups known",
            level.gauge
        );
    }
    let dirs: Vec<String> = level
        .invariances
        .iter()
        .map(|d| {
            super::coef::linear_combination(
                d.iter().map(|&(g, v, c)| {
                    (
                        c,
                        format!("δ{}{}", variables[v], crate::relations::subscript(g + 1)),
                    )
                }),
                2,
            )
        })
        .collect();
    format!(
        "{what}: NOT identifiable: beyond the group gauge (dimension {}), the mixture does not move at first order along {}",
        level.gauge,
        dirs.join("; ")
    )
}

/// The distinguishability test of a fixed component in words, with its ranks (no floats).
pub fn fixed_outcome(d: &crate::relations::Distinguishability) -> String {
    let t = &d.test;
    let ranks =
        |t: &crate::relations::SpanTest| format!("rank {} → {}", t.rank_without, t.rank_with);
    match (d.proportion, &d.first_order) {
        (Some(p), Some(first)) => {
            let what = format!(
                "e0 − f_G* (the direction of its share λ, λ* = {})",
                super::coef::format_share(p)
            );
            if !first.distinguishable {
                format!(
                    "NOT distinguishable at first order: {what} lies in the span of the atoms' {} terms of order ≤ 1 ({}): λ trades against the atoms' parameters",
                    first.terms,
                    ranks(first)
                )
            } else if !t.distinguishable {
                format!(
                    "distinguishable at first order ({} terms, {}: λ is identifiable), NOT at the analysed order: {what} lies in the span of the atoms' {} derivative terms ({})",
                    first.terms,
                    ranks(first),
                    t.terms,
                    ranks(t)
                )
            } else {
                format!(
                    "distinguishable: {what} is outside the span of the atoms' {} derivative terms ({})",
                    t.terms,
                    ranks(t)
                )
            }
        }
        _ if t.distinguishable => format!(
            "distinguishable: w0·e0 is outside the span of the atoms' {} derivative terms ({})",
            t.terms,
            ranks(t)
        ),
        _ => format!(
            "NOT distinguishable: w0·e0 lies in the span of the atoms' {} derivative terms ({}): the learned experts can mimic the fixed one",
            t.terms,
            ranks(t)
        ),
    }
}

/// Renders one verification as a compact block of text.
pub fn render(v: &Verification) -> String {
    let mut s = String::new();
    let c = &v.case;
    let cert = match v.verdict.certificate {
        Certificate::Certified => "certified",
        Certificate::Numerical => "numerical",
        Certificate::Undecided => "undecided",
    };
    let _ = writeln!(
        s,
        "{}: {} at order {} ({cert})",
        c.name,
        v.verdict.kind.name().to_uppercase(),
        v.order
    );
    match (c.title.is_empty(), c.source.is_empty()) {
        (false, false) => {
            let _ = writeln!(s, "  {} [{}]", c.title, c.source);
        }
        (false, true) => {
            let _ = writeln!(s, "  {}", c.title);
        }
        (true, false) => {
            let _ = writeln!(s, "  [{}]", c.source);
        }
        (true, true) => {}
    }
    let _ = writeln!(
        s,
        "  why        {}",
        reason(&v.verdict.reason, &v.variables)
    );
    let ls = lines(v, 6);
    if ls.is_empty() {
        let _ = writeln!(s, "  relations  none: every family has full rank");
    } else {
        let width = ls
            .iter()
            .map(|l| l.text.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        for (i, l) in ls.iter().enumerate() {
            let label = if i == 0 { "relations" } else { "" };
            let status = if l.exact {
                l.status.to_string()
            } else {
                format!("{}; exact form not found", l.status)
            };
            let atoms = atoms_label(&l.atoms, c.atoms.len());
            let mut tail = [atoms.as_str(), status.as_str()]
                .iter()
                .filter(|x| !x.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if !tail.is_empty() {
                tail = format!("  ({tail})");
            }
            let pad = width.saturating_sub(l.text.chars().count());
            let _ = writeln!(
                s,
                "  {label:<9}  {:<11} {}{}{tail}",
                l.class.name(),
                l.text,
                " ".repeat(pad)
            );
            if !l.combinations.is_empty() {
                let _ = writeln!(s, "{:24}identifiable: {}", "", l.combinations.join(", "));
            }
        }
        // Decimals beside "structural" need saying what each word means.
        if ls.iter().any(|l| !l.exact) {
            let _ = writeln!(s, "{:13}({STATUS_LEGEND})", "");
        }
    }
    if let Some(d) = &v.distinguishability {
        let _ = writeln!(
            s,
            "  fixed      {} (residual {:.1e}{})",
            fixed_outcome(d),
            d.test.residual,
            if d.test.clear {
                ""
            } else {
                "; the rank gap is unclear"
            }
        );
    }
    if let Some(g) = groups_line(v) {
        let _ = writeln!(s, "  groups     {g}");
    }
    let p = &v.predicted;
    let _ = writeln!(
        s,
        "  rates      exact-specified {}; over-specified (2 fitted per true atom) {}",
        super::rate::rate(p.exact(), &v.variables),
        super::rate::rate(p.over(), &v.variables)
    );
    let _ = writeln!(
        s,
        "             rule: {}; source: {}",
        super::rate::RULE,
        super::rate::SOURCE
    );
    let mut atom = usize::MAX;
    for c in &v.cells.cells {
        let label = if c.atom != atom {
            atom = c.atom;
            format!("atom {}", c.atom + 1)
        } else {
            String::new()
        };
        let head = if c.atom == 0 && c.m == 1 { "cells" } else { "" };
        let _ = writeln!(
            s,
            "  {head:<9}  {label:<7} m={}  {}",
            c.m,
            cells::line(c, &v.variables)
        );
    }
    let mut ranks = Vec::new();
    for row in &v.families {
        if row.order != v.order {
            continue;
        }
        let who = match row.atom {
            Some(a) => format!("atom {}", a + 1),
            None => "joint".into(),
        };
        let gap = if row.rank == row.terms {
            format!(
                "σmin {:.1e}",
                row.sigma_min_kept / row.sigma_max.max(f64::MIN_POSITIVE)
            )
        } else {
            format!("gap {:.1} decades", row.gap_decades)
        };
        let how = match row.certificate {
            Certificate::Certified => ", certified",
            Certificate::Undecided => ", undecided",
            Certificate::Numerical if row.clear => "",
            Certificate::Numerical => ", unclear in f64",
        };
        ranks.push(format!("{who} {}/{} ({gap}{how})", row.rank, row.terms));
    }
    let _ = writeln!(s, "  rank       {}", ranks.join("; "));
    for n in &v.notes {
        let _ = writeln!(s, "  note       {}", note(n));
    }
    for i in &v.inconsistencies {
        let _ = writeln!(s, "  {}", cells::warning(i));
    }
    s
}

/// A note in words (text, markdown and JSON show the same sentence).
pub fn note(n: &Note) -> String {
    match n {
        Note::MassNotActing { atom, variable } => format!(
            "atom {atom}: `{variable}` is declared a mass but ∂u/∂{variable} is not a multiple of u there; it is treated as a mass as declared"
        ),
        Note::TopK { k, selected } => format!(
            "top-{k} gate: the selected set is held at the truth's (atoms selected at {} of the samples); the information in the selection boundaries is not analysed (docs/theory.md §9)",
            selected
                .iter()
                .map(|s| format!("{:.0}%", 100.0 * s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Note::FixedShare { proportion, lost } => format!(
            "fixed component mixed outside the gate (share λ* = {}): the cells hold λ at λ*, so the rates are the atoms' with λ known{}",
            super::coef::format_share(*proportion),
            if *lost {
                "; here λ trades against the atoms' parameters at first order, so with λ estimated no rate holds along that direction (docs/theory.md §8)"
            } else {
                " (docs/theory.md §8)"
            }
        ),
        Note::Kinks(kinks) => format!(
            "non-smooth: {} — derivatives that differentiate a kink twice are singular and set aside",
            kinks.join(", ")
        ),
    }
}

/// Why a verdict is what it is, in one sentence.
pub fn reason(r: &Reason, variables: &[String]) -> String {
    let text = |rel: &Relation| super::relation::text(rel, variables);
    let at = |rel: &Relation| match rel.structural {
        Some(false) => " (at this point only)",
        _ => "",
    };
    match r {
        Reason::Invariance { atom, relation } => format!(
            "atom {}: {}{} is an invariance: u does not change along this direction, so the parameters are not locally identifiable",
            atom + 1,
            text(relation),
            at(relation)
        ),
        Reason::MixtureInvariance(relation) => format!(
            "{} is an invariance of the mixture that no single atom shows: the model does not change along this direction, so the parameters are not identifiable",
            text(relation)
        ),
        Reason::NotDistinct(relation) => format!(
            "{}: the atoms are not distinct functions, so the configuration is not identifiable",
            text(relation)
        ),
        Reason::Interaction {
            atom,
            relation,
            order,
        } => {
            let what = match (atom, relation) {
                (Some(j), Some(r)) => format!("atom {}: {}{}", j + 1, text(r), at(r)),
                (None, Some(r)) => format!(
                    "the cross-atom relation {}{}, beyond the gauge orbit,",
                    text(r),
                    at(r)
                ),
                _ => "a combination of relations".into(),
            };
            format!("{what} has a nonzero positive semidefinite second-order block, so Voronoi-cell coefficients can cancel at order {order}")
        }
        Reason::Identifiable { order, couplings } => {
            let note = match couplings {
                0 => String::new(),
                1 => " (1 coupling, harmless)".into(),
                n => format!(" ({n} couplings, harmless)"),
            };
            format!("no invariance and no interaction up to order {order}{note}")
        }
        Reason::FixedShare {
            terms,
            rank_without,
            rank_with,
        } => format!(
            "the fixed component's share λ is not identifiable: its direction e0 − f_G* lies in the span of the atoms' {terms} terms of order ≤ 1 (rank {rank_without} → {rank_with}), so λ and the atoms' parameters trade against each other"
        ),
        Reason::Groups { directions, moved } => format!(
            "the group parameters are not identifiable: {directions} direction(s) of ({}) beyond the group gauge leave the mixture unchanged at first order",
            moved.join(", ")
        ),
    }
}
