//! One JSON object per case.

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
        "text": r.text(&v.variables),
        "terms": r.terms.iter().map(|t| json!({
            "atom": t.atom + 1,
            "d": t.alpha.names(&v.variables),
            "coef": t.coef,
        })).collect::<Vec<_>>(),
        "residual": r.residual,
        "pure_power": r.pure_power,
        "kink": r.kink,
        "certificate": r.certificate.name(),
        "numeric_text": r.numeric_text(&v.variables),
        "exact": r.exact.as_ref().map(|e| json!({
            "text": e.text,
            "latex": e.latex,
            "verified": e.verified,
            "coefficients": r.terms.iter().zip(&e.coefs).map(|(t, c)| json!({
                "atom": t.atom + 1,
                "d": t.alpha.names(&v.variables),
                "coef": c.text(&v.variables),
            })).collect::<Vec<_>>(),
            "identifiable_combinations": e.combinations,
        })),
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
    json!({
        "case": c.name,
        "title": c.title,
        "source": c.source,
        "path": c.path,
        "verdict": v.verdict.kind.name(),
        "order": v.order,
        "seed": v.seed,
        "reason": v.verdict.reason,
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
        })).collect::<Vec<_>>(),
        "relations": relations,
        "psd": v.relations.atoms.iter().map(|a| json!({
            "atom": a.atom + 1,
            "interaction": a.psd.interaction,
            "lambda": a.psd.lambda,
            "decided": a.psd.decided,
        })).collect::<Vec<_>>(),
        "predicted": {
            "exact": v.predicted.exact.to_string(),
            "over": v.predicted.over.to_string(),
            "rule": v.predicted.rule,
            "source": v.predicted.source,
        },
        "notes": v.notes,
        "samples": v.counts.samples,
    })
}
