//! Markdown reports: one page per case and an index (`moeid report`).
//!
//! GitHub-renderable: math in `$...$`, tables, SVG plots next to the page. Deterministic: no
//! timestamps, fixed number formats, so the same inputs give the same bytes.

use crate::rank::Certificate;
use crate::rates::{Agreement, RateReport};
use crate::relations::{Relation, RelationClass};
use crate::Verification;
use std::fmt::Write;

pub use super::files::{remove_stray_temporaries, unsafe_file_name, write_atomic};

/// File names of one case's report, relative to the report folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    /// `<case>.md`.
    pub page: String,
    /// `<case>-spectrum.svg`.
    pub spectrum: String,
    /// `<case>-rates.svg`, when there is a rate check to plot.
    pub rates: Option<String>,
    /// `<case>-geometry.svg`, when some cell has a profile to plot.
    pub geometry: Option<String>,
}

impl Files {
    /// The names for case `name`.
    pub fn of(name: &str, with_rates: bool, with_geometry: bool) -> Files {
        Files {
            page: format!("{name}.md"),
            spectrum: format!("{name}-spectrum.svg"),
            rates: with_rates.then(|| format!("{name}-rates.svg")),
            geometry: with_geometry.then(|| format!("{name}-geometry.svg")),
        }
    }
}

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

/// Text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A relation as math when its exact form is known, else as code.
fn relation_md(r: &Relation, variables: &[String]) -> String {
    match &r.exact {
        Some(e) => format!("${}$", super::relation::exact(r, e).1),
        None => format!("`{}`", super::relation::text_with(r, variables, 4)),
    }
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

    geometry_section(&mut s, v, files);

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
            let sl = |x: Option<crate::rates::slope::Slope>| match x {
                Some(x) => format!("{:+.2} [{:+.2}, {:+.2}]", x.slope, x.low, x.high),
                None => "—".into(),
            };
            let o = |x: Option<f64>| x.map_or("—".into(), |m| format!("{m:+.2}"));
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
    s
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

/// One row of the index.
#[derive(Clone, Debug)]
pub struct IndexRow {
    /// Case name.
    pub case: String,
    /// Page file name.
    pub page: String,
    /// Gate weight expression.
    pub gate: String,
    /// Expert expression(s).
    pub expert: String,
    /// Verdict.
    pub verdict: String,
    /// The relation that decides the verdict (or the first one).
    pub key_relation: String,
    /// Predicted rates.
    pub predicted: String,
    /// Measured slopes per k.
    pub measured: String,
    /// Agreement per k.
    pub agreement: String,
}

impl IndexRow {
    /// The row for a case.
    pub fn of(v: &Verification, rates: Option<&RateReport>, files: &Files) -> IndexRow {
        let c = &v.case;
        let expert = match (&c.mean, c.logits.is_empty()) {
            (Some(m), _) => m.text.clone(),
            (None, false) => c
                .logits
                .iter()
                .map(|l| l.text.clone())
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        let key = [
            RelationClass::Interaction,
            RelationClass::Invariance,
            RelationClass::Coupling,
        ]
        .iter()
        .find_map(|class| {
            v.relations
                .atoms
                .iter()
                .flat_map(|a| &a.relations)
                .find(|r| r.class == *class)
        })
        .map_or("—".to_string(), |r| relation_md(r, &v.variables));
        let (measured, agreement) = match rates {
            Some(r) => (
                r.rows
                    .iter()
                    .map(|row| {
                        format!(
                            "k={}: {}",
                            row.k,
                            row.window
                                .map_or("—".into(), |x| format!("{:+.2}", x.slope))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                r.rows
                    .iter()
                    .map(|row| format!("k={}: {}", row.k, row.agreement.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("no empirical check yet".into(), "—".into()),
        };
        IndexRow {
            case: c.name.clone(),
            page: files.page.clone(),
            gate: c.weight.text.clone(),
            expert,
            verdict: v.verdict.kind.name().to_string(),
            key_relation: key,
            predicted: format!(
                "exact {}; over {}",
                super::rate::rate(v.predicted.exact(), &v.variables),
                super::rate::rate(v.predicted.over(), &v.variables)
            ),
            measured,
            agreement,
        }
    }
}

/// The index page: one row per case, linking to each page.
pub fn index(rows: &[IndexRow], version: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# moeid reports\n");
    let _ = writeln!(s, "One page per case: the verdict and why, the rank tables, the relations as PDEs, predicted and measured rates, with plots. Generated by `moeid report` (moeid {version}).\n");
    let agrees = rows
        .iter()
        .filter(|r| r.agreement.contains(Agreement::Disagrees.name()))
        .count();
    let checked = rows.iter().filter(|r| r.agreement != "—").count();
    let _ = writeln!(s, "{} cases; {checked} with an empirical rate check, {agrees} of them with a disagreement somewhere.\n", rows.len());
    let _ = writeln!(s, "| case | gate | expert | verdict | key relation | predicted rate | measured slope | agreement |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| [{}]({}) | `{}` | `{}` | {} | {} | {} | {} | {} |",
            r.case,
            r.page,
            cell(&r.gate),
            cell(&r.expert),
            r.verdict,
            cell(&r.key_relation),
            cell(&r.predicted),
            cell(&r.measured),
            cell(&r.agreement)
        );
    }
    s
}

/// One case's page with its plots inside it as `data:` URIs: a self-contained page for a
/// notebook (the Python package's `_repr_markdown_`), the same text as [`write_case`] writes.
///
/// # Errors
/// A message naming the plot that failed.
pub fn page_inline(
    v: &Verification,
    rates: Option<&RateReport>,
    version: &str,
) -> Result<String, String> {
    use base64::Engine;
    let uri = |svg: &str| {
        format!(
            "data:image/svg+xml;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(svg)
        )
    };
    let plot = match rates {
        Some(r) => super::plot::convergence(r)?,
        None => None,
    };
    let geometry = super::plot::geometry(v)?;
    let files = Files {
        page: format!("{}.md", v.case.name),
        spectrum: uri(&super::plot::spectrum(v)?),
        rates: plot.as_deref().map(uri),
        geometry: geometry.as_deref().map(uri),
    };
    Ok(page(v, rates, &files, version))
}

/// Writes one case's page and plots into `dir` (atomically, file by file) and returns its
/// index row.
///
/// # Errors
/// A message naming the file that could not be written or the plot that failed.
pub fn write_case(
    v: &Verification,
    rates: Option<&RateReport>,
    dir: &std::path::Path,
    version: &str,
) -> Result<IndexRow, String> {
    let plot = match rates {
        Some(r) => super::plot::convergence(r)?,
        None => None,
    };
    let geometry = super::plot::geometry(v)?;
    let files = Files::of(&v.case.name, plot.is_some(), geometry.is_some());
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        write_atomic(&path, bytes).map_err(|e| {
            format!(
                "cannot write {}: {e}; remove what is in the way or choose another --out",
                path.display()
            )
        })
    };
    write(&files.spectrum, super::plot::spectrum(v)?.as_bytes())?;
    if let (Some(name), Some(svg)) = (&files.rates, &plot) {
        write(name, svg.as_bytes())?;
    }
    if let (Some(name), Some(svg)) = (&files.geometry, &geometry) {
        write(name, svg.as_bytes())?;
    }
    write(&files.page, page(v, rates, &files, version).as_bytes())?;
    Ok(IndexRow::of(v, rates, &files))
}
