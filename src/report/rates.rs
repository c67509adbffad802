//! Rate checks → text and JSON.

use crate::rates::{RateReport, RateRow};
use serde_json::{json, Value};
use std::fmt::Write;

fn fmt_slope(r: &RateRow) -> (String, String) {
    match r.slope {
        Some(s) => (
            format!("{:+.3}", s.slope),
            format!("[{:+.3}, {:+.3}]", s.low, s.high),
        ),
        None => ("—".into(), "—".into()),
    }
}

/// The rate check as a table: per fitted size, the slope of the mean Voronoi loss with its 95%
/// interval, the predicted slope and the agreement, then the losses per sample size.
pub fn render(r: &RateReport) -> String {
    let mut s = String::new();
    let st = &r.settings;
    let verdict = r.verdict.as_deref().unwrap_or("not verified");
    let _ = writeln!(s, "{}: rate check (verdict {verdict})", r.case);
    let ns = match (st.n.first(), st.n.last()) {
        (Some(a), Some(b)) => format!("n {a}..{b} ({} sizes)", st.n.len()),
        _ => "no sizes".into(),
    };
    let total: usize = r.rows.iter().map(|row| row.counts[0]).sum();
    let _ = writeln!(
        s,
        "  {ns} × {} replicates, {} restart{}, seed {}, tolerance {:e}{}; {total} fits ({} run now)",
        st.replicates,
        st.restarts,
        if st.restarts == 1 { "" } else { "s" },
        st.seed,
        st.tolerance,
        if st.accelerate { "" } else { ", plain EM" },
        r.fitted_now
    );
    let _ = writeln!(
        s,
        "  k   slope   95% interval      predicted  agreement      fits converged/cap/failed  rate"
    );
    for row in &r.rows {
        let (sl, iv) = fmt_slope(row);
        let pred = row
            .predicted
            .map_or("—".to_string(), |p| format!("{p:+.2}"));
        let _ = writeln!(
            s,
            "  {:<3} {:<7} {:<17} {:<10} {:<14} {}/{}/{}{:>18}  {}",
            row.k,
            sl,
            iv,
            pred,
            row.agreement.name(),
            row.counts[1],
            row.counts[2],
            row.counts[3],
            "",
            row.predicted_text
        );
    }
    for row in &r.rows {
        let groups: Vec<String> = row
            .groups
            .iter()
            .map(|(g, sl)| match sl {
                Some(x) => format!("{g} {:+.2} [{:+.2}, {:+.2}]", x.slope, x.low, x.high),
                None => format!("{g} —"),
            })
            .collect();
        let median = row.median_slope.map_or("—".into(), |m| format!("{m:+.2}"));
        let groups = if groups.is_empty() {
            "—".to_string()
        } else {
            groups.join("; ")
        };
        let _ = writeln!(s, "  k = {}: groups  {groups}; median loss {median}", row.k,);
        let pts: Vec<String> = row
            .points
            .iter()
            .map(|p| match p.fits {
                0 => format!("{}: —", p.n),
                _ => format!("{}: {:.3e}", p.n, p.mean),
            })
            .collect();
        let _ = writeln!(s, "         mean loss {}", pts.join(", "));
        if let Some(first) = row.failures.first() {
            let _ = writeln!(
                s,
                "         {} fit{} without a loss; first: {first}",
                row.failures.len(),
                if row.failures.len() == 1 { "" } else { "s" }
            );
        }
    }
    s
}

/// The rate check as JSON (deterministic for a seed: no timings).
pub fn json(r: &RateReport) -> Value {
    let slope = |s: &Option<crate::rates::slope::Slope>| match s {
        Some(s) => json!({"slope": s.slope, "low": s.low, "high": s.high}),
        None => Value::Null,
    };
    json!({
        "case": r.case,
        "verdict": r.verdict,
        "settings": {
            "fitted": r.settings.fitted,
            "n": r.settings.n,
            "replicates": r.settings.replicates,
            "restarts": r.settings.restarts,
            "noise": r.settings.noise,
            "exponents": r.settings.exponents,
            "init_gate": r.settings.init_gate,
            "init_expert": r.settings.init_expert,
            "init_decay": r.settings.init_decay,
            "max_iters": r.settings.max_iters,
            "tolerance": r.settings.tolerance,
            "seed": r.settings.seed,
            "accelerate": r.settings.accelerate,
        },
        "rows": r.rows.iter().map(|row| json!({
            "k": row.k,
            "slope": slope(&row.slope),
            "median_slope": row.median_slope,
            "predicted": row.predicted,
            "predicted_rate": row.predicted_text,
            "agreement": row.agreement.name(),
            "fits": {"total": row.counts[0], "converged": row.counts[1], "cap": row.counts[2], "failed": row.counts[3]},
            "groups": row.groups.iter().map(|(g, s)| (g.clone(), slope(s))).collect::<serde_json::Map<_, _>>(),
            "points": row.points,
            "failures": row.failures,
        })).collect::<Vec<_>>(),
    })
}
