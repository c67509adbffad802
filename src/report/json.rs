//! One JSON object per case.

use crate::geometry::{Cell, Identified, Outcome};
use crate::rates::Rate;
use crate::relations::Relation;
use crate::Verification;
use serde_json::{json, Value};

fn relation(r: &Relation, v: &Verification) -> Value {
    let atoms: Vec<usize> = {
        let mut a: Vec<usize> = r.terms.iter().map(|t| t.atom + 1).collect();
        a.dedup();
        a
    };
    json!({
        "class": r.class.name(),
        "structural": r.structural,
        "atoms": atoms,
        "text": super::relation::text(r, &v.variables),
        "terms": r.terms.iter().map(|t| json!({
            "atom": t.atom + 1,
            "d": t.alpha.names(&v.variables),
            "coef": t.coef,
        })).collect::<Vec<_>>(),
        "residual": r.residual,
        "pure_power": r.pure_power,
        "kink": r.kink,
        "certificate": r.certificate.name(),
        "numeric_text": super::relation::numeric_text(r, &v.variables),
        "sympy": super::sympy::relation(r, &v.variables),
        "exact": r.exact.as_ref().map(|e| json!({
            "text": super::relation::exact(r, e).0,
            "latex": super::relation::exact(r, e).1,
            "verified": e.verified,
            "coefficients": r.terms.iter().zip(&e.coefs).map(|(t, c)| json!({
                "atom": t.atom + 1,
                "d": t.alpha.names(&v.variables),
                "coef": super::coef::coef(c, &e.names),
                "sympy": super::sympy::coefficient(c, &e.names),
            })).collect::<Vec<_>>(),
            "identifiable_combinations": super::relation::combinations(r, e, &v.variables, &v.case.variable_roles()),
        })),
    })
}

fn prediction(m: usize, r: &Rate, v: &Verification) -> Value {
    let exponents: serde_json::Map<String, Value> = v
        .variables
        .iter()
        .filter_map(|name| Some((name.clone(), json!(r.exponent(name)?))))
        .collect();
    json!({
        "m": m,
        "rate": super::rate::rate(r, &v.variables),
        "exponents": exponents,
    })
}

fn cell(c: &Cell, v: &Verification) -> Value {
    let name = |i: usize| v.variables[i].clone();
    let finite = c.coordinates.iter().all(|k| k.exponent.is_some()) && !c.coordinates.is_empty();
    let exponents: serde_json::Map<String, Value> = c
        .coordinates
        .iter()
        .filter_map(|k| Some((name(k.var), json!(k.exponent?))))
        .collect();
    json!({
        "atom": c.atom + 1,
        "m": c.m,
        "outcome": c.outcome.name(),
        "exponents": (c.outcome == Outcome::Polynomial && finite).then_some(exponents.clone()),
        "partial_exponents": exponents,
        "r_bar": c.r_bar(),
        "flat": c.coordinates.iter().filter(|k| k.flat).map(|k| name(k.var)).collect::<Vec<_>>(),
        "identified": c.identified.iter().map(|i| match i {
            Identified::Equal(x) => json!({"param": name(*x), "kind": "equal"}),
            Identified::Average(x) => json!({"param": name(*x), "kind": "average"}),
            Identified::Nonlinear(x) => json!({"param": name(*x), "kind": "nonlinear"}),
        }).collect::<Vec<_>>(),
        "witness": c.witness.as_ref().map(|w| json!({
            "coordinate": name(w.var),
            "order": w.order,
            "q": w.q,
            "scaling": w.scaling.iter().map(|(x, e)| (name(*x), json!(e))).collect::<serde_json::Map<String, Value>>(),
            "text": super::cells::scaling(&w.scaling, &v.variables),
            "masses": w.masses,
            "profile": w.profile.as_ref().map(|p| json!({
                "eps": p.eps,
                "rho": p.rho,
                "slope": p.slope,
                "bits": p.bits,
            })),
        })),
        "confirmed": c.confirmed(),
        "coordinates": c.coordinates.iter().map(|k| json!({
            "param": name(k.var),
            "exponent": k.exponent,
            "flat": k.flat,
            "order": k.order,
            "q": k.q,
            "next_residual": k.next_residual,
            "starts": k.starts,
            "bounded": k.bounded,
            "capped": k.capped,
            "square_isolation": k.square_isolation,
            "confirmed": k.confirmed(),
        })).collect::<Vec<_>>(),
        "reason": c.reason.as_ref().map(|r| super::rate::cell_reason(r, &v.variables)),
        "text": super::cells::line(c, &v.variables),
    })
}

/// `verify --estimate --format json`: one case's sizes and estimated seconds.
pub fn cost(path: &std::path::Path, c: &crate::Cost) -> Value {
    json!({
        "path": path.display().to_string(),
        "atoms": c.atoms,
        "params": c.params,
        "order": c.order,
        "terms": c.terms,
        "samples": c.samples,
        "cells": c.cells,
        "seconds_low": c.seconds.0,
        "seconds_high": c.seconds.1,
    })
}

/// The verification as a JSON value.
pub fn render(v: &Verification) -> Value {
    let c = &v.case;
    let relations: Vec<Value> = v
        .relations
        .atoms
        .iter()
        .flat_map(|a| &a.relations)
        .chain(&v.relations.cross)
        .map(|r| relation(r, v))
        .collect();
    let mut out = json!({
        "case": c.name,
        "title": c.title,
        "source": c.source,
        "path": c.path,
        "verdict": v.verdict.kind.name(),
        "order": v.order,
        "seed": v.seed,
        "reason": super::text::reason(&v.verdict.reason, &v.variables),
        "certificate": v.verdict.certificate.name(),
        "f64_clear": v.families.iter().all(|f| f.clear),
        "expect": c.expect,
        "variables": v.variables,
        "families": v.families.iter().map(|f| json!({
            "atom": f.atom.map(|a| json!(a + 1)).unwrap_or(json!("joint")),
            "order": f.order,
            "terms": f.terms,
            "rank": f.rank,
            "sigma_max": f.sigma_max,
            "sigma_min_kept": f.sigma_min_kept,
            "gap_decades": f.gap_decades,
            "clear": f.clear,
            "certificate": f.certificate.name(),
            "singular_values": f.singular_values,
        })).collect::<Vec<_>>(),
        "relations": relations,
        "psd": v.relations.atoms.iter().map(|a| json!({
            "atom": a.atom + 1,
            "interaction": a.psd.interaction,
            "lambda": a.psd.lambda,
            "decided": a.psd.decided,
        })).collect::<Vec<_>>(),
        "predicted": {
            "exact": super::rate::rate(v.predicted.exact(), &v.variables),
            "over": super::rate::rate(v.predicted.over(), &v.variables),
            "by_size": v.predicted.by_size.iter().enumerate().map(|(i, r)| prediction(i + 1, r, v)).collect::<Vec<_>>(),
            "rule": super::rate::RULE,
            "source": super::rate::SOURCE,
        },
        "cells": v.cells.cells.iter().map(|c| cell(c, v)).collect::<Vec<_>>(),
        "warnings": v.inconsistencies.iter().map(super::cells::warning).collect::<Vec<_>>(),
        "notes": v.notes.iter().map(super::text::note).collect::<Vec<_>>(),
        "samples": v.counts.samples,
    });
    // Only hierarchical gates carry the key: the groups and the group level's test.
    if let (Some(g), Some(level)) = (&c.groups, &v.relations.groups) {
        let names = g.variables();
        out["groups"] = json!({
            "weight": g.weight.text,
            "params": names,
            "values": g.values,
            "group_of_atom": g.of_atom.iter().map(|k| k + 1).collect::<Vec<_>>(),
            "gauge": level.gauge,
            "clear": level.clear,
            "identifiable": level.clear && level.invariances.is_empty(),
            "invariances": level.invariances.iter().map(|d| {
                d.iter().map(|&(grp, var, coef)| json!({"group": grp + 1, "param": names[var], "coef": coef})).collect::<Vec<_>>()
            }).collect::<Vec<_>>(),
            "text": super::text::group_outcome(level, &names),
        });
    }
    // Only cases with a fixed component carry the key, so other outputs are unchanged.
    if let Some(d) = &v.distinguishability {
        out["fixed"] = span_test(&d.test);
        out["fixed"]["expressions"] = c
            .fixed
            .iter()
            .flat_map(|f| f.expressions())
            .map(|e| json!({"key": e.key, "text": e.text}))
            .collect();
        // A component mixed outside the gate: its true share and the first-order test that
        // decides whether the share is identifiable.
        if let (Some(p), Some(t)) = (d.proportion, &d.first_order) {
            out["fixed"]["proportion"] = json!(p);
            out["fixed"]["first_order"] = span_test(t);
        }
    }
    out
}

/// One rank test of a fixed component's column against the atoms' terms.
fn span_test(t: &crate::relations::SpanTest) -> Value {
    json!({
        "distinguishable": t.distinguishable,
        "terms": t.terms,
        "rank_without": t.rank_without,
        "rank_with": t.rank_with,
        "residual": t.residual,
        "clear": t.clear,
    })
}
