//! One case's report page: the verdict, the model, the rank table, the relations, the local
//! geometry of the Voronoi cells, the predicted and measured rates, and the commands that
//! reproduce it — one function per section.

use super::markdown::{cell, relation_md, Files};
use crate::rank::Certificate;
use crate::rates::RateReport;
use crate::relations::RelationClass;
use crate::Verification;
use std::fmt::Write;

fn certificate(c: Certificate) -> &'static str {
    match c {
        Certificate::Certified => "certified",
        Certificate::Numerical => "numerical",
        Certificate::Undecided => "undecided",
    }
}

fn sci(x: f64) -> String {
    format!("{x:.2e}")
}

/// The report page of one verified case, with its rate check when there is one.
pub fn page(v: &Verification, rates: Option<&RateReport>, files: &Files, version: &str) -> String {
    let c = &v.case;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", c.name);
    if !c.title.is_empty() {
        let _ = writeln!(s, "{}\n", c.title);
    }
    if !c.source.is_empty() {
        let _ = writeln!(s, "Source: {}\n", c.source);
    }
    let _ = writeln!(
        s,
        "**Verdict: {}** at order {} ({}). {}\n",
        v.verdict.kind.name(),
        v.order,
        certificate(v.verdict.certificate),
        super::text::reason(&v.verdict.reason, &v.variables)
    );

    model_section(&mut s, v);
    rank_section(&mut s, v, files);
    relations_section(&mut s, v);
    geometry_section(&mut s, v, files);
    rates_section(&mut s, v, rates, files);
    reproduce_section(&mut s, v, rates, version);
    s
}

/// The model: the observation model, the input box, and each expression as mathematics and as
/// written in the case file.
fn model_section(s: &mut String, v: &Verification) {
    let c = &v.case;
    let _ = writeln!(s, "## Model\n");
    let u = if c.normalized {
        "$u(x; \\theta_i) = w(x; \\theta_i)\\thinspace\\big(h(x; \\theta_i) - f^{\\ast}(x)\\big)$, the gate normalized over experts"
    } else {
        "$u(x; \\theta_i) = w(x; \\theta_i)\\thinspace h(x; \\theta_i)$, the gate not normalized"
    };
    let _ = writeln!(
        s,
        "- model: {}, $x \\in [{}, {}]^{{{}}}$",
        c.model.name(),
        c.low,
        c.high,
        c.dim
    );
    // each expression in mathematics, then as written in the case file
    let line = |what: &str, lhs: &str, e: &crate::case::Expression| {
        format!(
            "- {what}: ${lhs} = {}$ (`{}`)\n",
            super::latex::expr(&e.expr),
            e.text
        )
    };
    s.push_str(&line("gate weight", "w(x; \\theta)", &c.weight));
    if let Some(m) = &c.mean {
        s.push_str(&line("expert mean", "h(x; \\theta)", m));
    }
    if let Some(var) = &c.variance {
        s.push_str(&line("expert variance", "v(x; \\theta)", var));
    }
    for (k, l) in c.logits.iter().enumerate() {
        s.push_str(&line(
            &format!("logit of class {k}"),
            &format!("\\ell_{{{k}}}(x; \\theta)"),
            l,
        ));
    }
    if let Some(f) = &c.fixed {
        match f.proportion {
            Some(p) => s.push_str(&format!(
                "- fixed component's share, estimated outside the gate ($f = \\lambda f_0 + (1 - \\lambda) f_G$): $\\lambda^* = {}$\n",
                super::coef::format_share(p)
            )),
            None => s.push_str(&line("fixed component's weight", "w_0(x)", &f.weight)),
        }
        if let Some(m) = &f.mean {
            s.push_str(&line("fixed mean", "h_0(x)", m));
        }
        if let Some(var) = &f.variance {
            s.push_str(&line("fixed variance", "v_0(x)", var));
        }
        for (k, l) in f.logits.iter().enumerate() {
            s.push_str(&line(
                &format!("fixed logit of class {k}"),
                &format!("\\ell_{{0,{k}}}(x)"),
                l,
            ));
        }
        if let Some(d) = &v.distinguishability {
            let _ = writeln!(
                s,
                "- fixed component: {} (relative distance from that span {:.1e}{})",
                super::text::fixed_outcome(d),
                d.test.residual,
                if d.test.clear {
                    ""
                } else {
                    "; the rank gap is unclear"
                }
            );
        }
    }
    if let (Some(g), Some(level)) = (&c.groups, &v.relations.groups) {
        s.push_str(&line("group weight", "W(x;\\gamma)", &g.weight));
        let _ = writeln!(
            s,
            "- groups: {}",
            super::text::group_outcome(level, &g.variables())
        );
    }
    let _ = writeln!(s, "- analysed function: {u}\n");
    let _ = writeln!(
        s,
        "| atom | {} |",
        v.variables
            .iter()
            .map(|n| format!("${}$", super::coef::latex_name(n)))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(s, "|---|{}", "---|".repeat(v.variables.len()));
    for (i, a) in c.atoms.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} |",
            i + 1,
            a.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    s.push('\n');
}

/// The rank table of the derivative families and the spectrum plot.
fn rank_section(s: &mut String, v: &Verification, files: &Files) {
    let _ = writeln!(s, "## Rank of the derivative families\n");
    let _ = writeln!(
        s,
        "| family | order | terms | rank | σ₁ | smallest kept σ | gap (decades) | decision |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for row in &v.families {
        let who = row
            .atom
            .map_or("joint".to_string(), |a| format!("atom {}", a + 1));
        let gap = if row.rank == row.terms {
            "—".to_string()
        } else {
            format!("{:.1}", row.gap_decades)
        };
        let decision = match row.certificate {
            Certificate::Numerical if !row.clear => "unclear in f64",
            other => certificate(other),
        };
        let _ = writeln!(
            s,
            "| {who} | {} | {} | {} | {} | {} | {gap} | {decision} |",
            row.order,
            row.terms,
            row.rank,
            sci(row.sigma_max),
            sci(row.sigma_min_kept)
        );
    }
    let _ = writeln!(
        s,
        "\n![Singular values per order (atom 1 and the joint family), rank cuts dashed]({})\n",
        files.spectrum
    );
}

/// The relations by class, as PDEs.
fn relations_section(s: &mut String, v: &Verification) {
    let _ = writeln!(s, "## Relations\n");
    let mut any = false;
    for class in [
        RelationClass::Interaction,
        RelationClass::Invariance,
        RelationClass::Coupling,
        RelationClass::Mass,
        RelationClass::Gauge,
        RelationClass::Singular,
    ] {
        let mut items: Vec<String> = Vec::new();
        for ar in &v.relations.atoms {
            for r in ar.relations.iter().filter(|r| r.class == class) {
                let status = if r.exact_form_found() {
                    r.status().to_string()
                } else {
                    format!("{}; exact form not found", r.status())
                };
                let status = if status.is_empty() {
                    status
                } else {
                    format!(" ({status})")
                };
                let mut line = format!(
                    "- atom {}: {}{status}",
                    ar.atom + 1,
                    relation_md(r, &v.variables)
                );
                if let Some(e) = &r.exact {
                    let combinations =
                        super::relation::combinations(r, e, &v.variables, &v.case.variable_roles());
                    if !combinations.is_empty() {
                        let _ = write!(
                            line,
                            "; identifiable: {}",
                            combinations
                                .iter()
                                .map(|c| format!("`{c}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                }
                items.push(line);
            }
        }
        for r in v.relations.cross.iter().filter(|r| r.class == class) {
            items.push(format!("- across atoms: {}", relation_md(r, &v.variables)));
        }
        if !items.is_empty() {
            any = true;
            let _ = writeln!(s, "**{}**\n", class.name());
            for i in items {
                let _ = writeln!(s, "{i}");
            }
            s.push('\n');
        }
    }
    if !any {
        let _ = writeln!(s, "None: every family has full rank.\n");
    }
}

/// The predicted rates and, when there is one, the rate check with its plot; without one, why
/// (a model the check cannot fit) or the command that runs it.
fn rates_section(s: &mut String, v: &Verification, rates: Option<&RateReport>, files: &Files) {
    let c = &v.case;
    let p = &v.predicted;
    let _ = writeln!(s, "## Rates\n");
    let _ = writeln!(
        s,
        "Predicted: exact-specified {}; over-specified (2 fitted per true atom) {}.\n",
        super::rate::rate(p.exact(), &v.variables),
        super::rate::rate(p.over(), &v.variables)
    );
    let _ = writeln!(
        s,
        "Rule: {}. Source: {}.\n",
        super::rate::RULE,
        super::rate::SOURCE
    );
    let data = format!("reports/data/{}.jsonl", c.name);
    match rates {
        // a model the rate check cannot fit: say why, not a command that would refuse
        None if crate::rates::simulable(c).is_err() => {
            if let Err(e) = crate::rates::simulable(c) {
                let _ = writeln!(s, "No empirical check: {e}.\n");
            }
        }
        None => {
            let settings = crate::rates::RateSettings::resolve(
                c,
                &crate::rates::RateOverrides::default(),
                Some(&v.predicted),
            );
            let _ = writeln!(
                s,
                "No empirical check yet: run `{}`, or `moeid report --rates`.\n",
                settings.command(c, std::path::Path::new(&data))
            );
        }
        Some(r) => {
            let st = &r.settings;
            let _ = writeln!(
                s,
                "Measured ({} sizes from {} to {}, {} replicates, seed {}, start noise × $n^{{-{}}}$): slope of log(mean Voronoi loss) on log n over the asymptotic window (the upper half of the sizes), the lower half, every size, the median and the 10%-trimmed mean; the decision needs a window interval within ±{} and a straight curve (docs/theory.md §6).\n",
                st.n.len(),
                st.n.first().copied().unwrap_or(0),
                st.n.last().copied().unwrap_or(0),
                st.replicates,
                st.seed,
                st.init_decay,
                crate::rates::summary::DECISIVE
            );
            let _ = writeln!(s, "| k | cell | window slope [95%] | lower half | all sizes | median's window [95%] | median | trimmed | predicted | decision | fits (converged/cap/failed) |");
            let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
            let (sl, o) = (super::rates::fmt_slope, super::rates::opt);
            for row in &r.rows {
                let text = super::rates::predicted(row, &r.variables);
                let pred = match row.predicted {
                    Some(x) => format!("{x:+.2} ({})", cell(&text)),
                    None => cell(&text),
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {pred} | {}: {} | {}/{}/{} |",
                    row.k,
                    row.cell,
                    sl(row.window),
                    o(row.lower.map(|x| x.slope)),
                    o(row.slope.map(|x| x.slope)),
                    sl(row.median_window),
                    o(row.median_slope),
                    o(row.trimmed_slope),
                    row.agreement.name(),
                    cell(&super::rates::why(row, &r.variables)),
                    row.counts[1],
                    row.counts[2],
                    row.counts[3]
                );
            }
            s.push('\n');
            for row in &r.rows {
                if !row.params.is_empty() {
                    let _ = writeln!(
                        s,
                        "- k = {}: parameter errors, window slope (predicted $-1/(2s)$): {}",
                        row.k,
                        super::rates::params(&row.params)
                    );
                }
                if !row.spreads.is_empty() {
                    let _ = writeln!(
                        s,
                        "- k = {}: along the flat direction (spread of split atoms, or the error with one atom): {}",
                        row.k,
                        super::rates::params(&row.spreads)
                    );
                }
                if row.points.iter().any(|p| p.collapsed > 0.0) {
                    let _ = writeln!(
                        s,
                        "- k = {}: share of fits whose split atoms' masses collapsed, per size: {}",
                        row.k,
                        row.points
                            .iter()
                            .map(|p| format!("{:.0}%", 100.0 * p.collapsed))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            s.push('\n');
            if let Some(f) = &files.rates {
                let _ = writeln!(
                    s,
                    "![Mean Voronoi loss against n, fitted and predicted slopes]({f})\n"
                );
            }
        }
    }
}

/// The commands that reproduce the page: `verify`, and the rate check's when there is one.
fn reproduce_section(s: &mut String, v: &Verification, rates: Option<&RateReport>, version: &str) {
    let c = &v.case;
    let data = format!("reports/data/{}.jsonl", c.name);
    let _ = writeln!(s, "## Reproduce\n");
    let _ = writeln!(
        s,
        "```sh\nmoeid verify {} --order {} --seed {}",
        c.path, v.order, v.seed
    );
    if let Some(r) = rates {
        let _ = writeln!(
            s,
            "{}",
            r.command
                .clone()
                .unwrap_or_else(|| r.settings.command(c, std::path::Path::new(&data)))
        );
    }
    let _ = writeln!(s, "```\n\nmoeid {version}");
}

/// The local geometry: per atom and cell size, each parameter's exponent $s$ (rate
/// $n^{-1/(2s)}$), the witness, and the profile plot.
fn geometry_section(s: &mut String, v: &Verification, files: &Files) {
    use crate::geometry::Outcome;
    let _ = writeln!(s, "## Local geometry of the Voronoi cells\n");
    let _ = writeln!(
        s,
        "A cell of $m$ fitted atoms sharing one true atom: each parameter's exponent $s$ in $\\|f_G - f^{{\\ast}}\\| \\asymp \\varepsilon^s$ (worst configuration with $\\max_i|\\Delta\\theta_{{ik}}| = \\varepsilon$), so the parameter converges like $n^{{-1/(2s)}}$ (docs/theory.md §7).\n"
    );
    let vars: Vec<&String> = v.variables.iter().collect();
    let _ = writeln!(
        s,
        "| atom | m | outcome | {} | witness | decided |",
        vars.iter()
            .map(|n| format!("${}$", super::coef::latex_name(n)))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(s, "|---|---|---|{}---|---|", "---|".repeat(vars.len()));
    for c in &v.cells.cells {
        let per: Vec<String> = (0..vars.len())
            .map(|var| match c.coordinates.iter().find(|k| k.var == var) {
                _ if c.mass == Some(var) => "mass".into(),
                Some(k) if k.flat => "flat".into(),
                Some(k) => k.exponent.map_or("—".into(), |e| {
                    format!(
                        "{} (${}$)",
                        super::cells::trim(e),
                        super::rate::rate_text(e).replace("n^-", "n^{-") + "}"
                    )
                }),
                None => "—".into(),
            })
            .collect();
        let generic = c.r_bar() == Some(if c.m == 1 { 1.0 } else { 2.0 });
        let witness = match (&c.witness, c.outcome) {
            (Some(_), Outcome::Polynomial) if generic => "every Δ ∝ ε".into(),
            (Some(w), Outcome::Polynomial) => {
                cell(&super::cells::scaling(&w.scaling, &v.variables))
            }
            _ => "—".into(),
        };
        let decided = match c.outcome {
            Outcome::Polynomial => {
                let slope = c
                    .witness
                    .as_ref()
                    .and_then(|w| w.profile.as_ref())
                    .map_or(String::new(), |p| format!("ρ slope {:.2}; ", p.slope));
                format!(
                    "{slope}{}",
                    if c.confirmed() {
                        "confirmed"
                    } else {
                        "not confirmed"
                    }
                )
            }
            Outcome::Flat => cell(&format!(
                "identified: {}",
                super::cells::identified(c, &v.variables)
            )),
            Outcome::NotIdentifiable => "an invariance (see the relations)".into(),
            _ => cell(&super::cells::line(c, &v.variables)),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {witness} | {decided} |",
            c.atom + 1,
            c.m,
            c.outcome.name().replace('_', " "),
            per.join(" | ")
        );
    }
    s.push('\n');
    if let Some(f) = &files.geometry {
        let _ = writeln!(
            s,
            "![ρ = ‖f_G − f*‖ along each cell's witness against ε, log-log]({f})\n"
        );
    }
    for i in &v.inconsistencies {
        let _ = writeln!(s, "> {}\n", super::cells::warning(i));
    }
}
