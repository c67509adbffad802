//! SVG plots (plotters, SVG backend; text is left to the viewer, no fonts needed):
//! the singular-value spectrum per order with the rank cut, and the log-log convergence of the
//! Voronoi loss with the fitted and the predicted slopes.

use crate::rates::RateReport;
use crate::Verification;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 440);
/// Share of a plot's height kept free for a legend of `entries` lines (22 px each plus the box,
/// of about 330 px of plotting area).
fn legend_share(entries: usize) -> f64 {
    ((entries * 22 + 24) as f64 / 330.0).min(0.7)
}

/// The top of a log axis from `bottom` such that everything up to `highest` stays below the
/// legend's band at the top.
fn top_above(bottom: f64, highest: f64, entries: usize) -> f64 {
    let share = legend_share(entries);
    10f64.powf((highest.log10() - share * bottom.log10()) / (1.0 - share))
}

/// The points of a row with a positive mean, and the centre of the logs of the window's (the
/// upper half of the sizes), through which the window's fitted and the predicted lines are
/// drawn.
fn centred(row: &crate::rates::RateRow) -> (Vec<(f64, f64)>, (f64, f64)) {
    let pts: Vec<(f64, f64)> = row
        .points
        .iter()
        .filter(|p| p.mean > 0.0 && p.mean.is_finite())
        .map(|p| (p.n as f64, p.mean))
        .collect();
    let window = &pts[pts.len() / 2..];
    let m = window.len().max(1) as f64;
    let cx = window.iter().map(|p| p.0.ln()).sum::<f64>() / m;
    let cy = window.iter().map(|p| p.1.ln()).sum::<f64>() / m;
    (pts, (cx, cy))
}

/// The line of slope `slope` through the centre, at `x`.
fn through((cx, cy): (f64, f64), slope: f64, x: f64) -> f64 {
    (cy + slope * (x.ln() - cx)).exp()
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The singular values $\sigma_i/\sigma_1$ of the joint family at each order (log scale), with
/// the rank cut of each marked by a dashed vertical line.
///
/// # Errors
/// A message when drawing fails.
pub fn spectrum(v: &Verification) -> Result<String, String> {
    let rows: Vec<_> = v
        .families
        .iter()
        .filter(|r| (r.atom.is_none() || r.atom == Some(0)) && !r.singular_values.is_empty())
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max_terms = rows
            .iter()
            .map(|r| r.singular_values.len())
            .max()
            .unwrap_or(1);
        let floor = rows
            .iter()
            .flat_map(|r| {
                r.singular_values
                    .iter()
                    .map(move |s| s / r.singular_values[0].max(f64::MIN_POSITIVE))
            })
            .filter(|s| *s > 0.0)
            .fold(1.0, f64::min)
            .max(1e-20);
        // Every ratio is at most 1: the legend goes above that line, in the top share of the
        // plot, so it never hides a curve.
        let top = top_above(floor / 10.0, 1.0, rows.len());
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: singular values per order", v.case.name),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                0.5f64..(max_terms as f64 + 0.5),
                (floor / 10.0..top).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("index i")
            .y_desc("σ_i / σ_1")
            .y_label_formatter(&|y| {
                if *y > 1.5 {
                    String::new() // the legend's band
                } else {
                    format!("1e{:.0}", y.log10())
                }
            })
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (c, row) in rows.iter().enumerate() {
            let color = PALETTE[c % PALETTE.len()];
            let s1 = row.singular_values[0].max(f64::MIN_POSITIVE);
            let pts: Vec<(f64, f64)> = row
                .singular_values
                .iter()
                .enumerate()
                .map(|(i, s)| ((i + 1) as f64, (s / s1).max(floor / 10.0)))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(match row.atom {
                    Some(a) => format!(
                        "atom {}, order {}: rank {}/{}",
                        a + 1,
                        row.order,
                        row.rank,
                        row.terms
                    ),
                    None => format!(
                        "joint, order {}: rank {}/{}",
                        row.order, row.rank, row.terms
                    ),
                })
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
            if row.rank < row.terms {
                let x = row.rank as f64 + 0.5;
                let dashes: Vec<(f64, f64)> = (0..40)
                    .filter(|k| k % 2 == 0)
                    .flat_map(|k| {
                        let lo = (floor / 10.0).log10();
                        let step = -lo / 40.0;
                        [
                            (x, 10f64.powf(lo + step * k as f64)),
                            (x, 10f64.powf(lo + step * (k + 1) as f64)),
                        ]
                    })
                    .collect();
                for pair in dashes.chunks(2) {
                    chart
                        .draw_series(LineSeries::new(pair.to_vec(), color.stroke_width(1)))
                        .map_err(err)?;
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Mean Voronoi loss per $n$ (log-log) with ± one standard deviation, the fitted line, and the
/// predicted slope drawn through the same centre; one colour per number of fitted atoms.
/// `None` without any positive mean loss.
///
/// # Errors
/// A message when drawing fails.
pub fn convergence(r: &RateReport) -> Result<Option<String>, String> {
    let all: Vec<(f64, f64)> = r
        .rows
        .iter()
        .flat_map(|row| {
            row.points
                .iter()
                .filter(|p| p.mean > 0.0 && p.mean.is_finite())
                .map(|p| (p.n as f64, p.mean))
        })
        .collect();
    if all.len() < 2 {
        return Ok(None);
    }
    let (xmin, xmax) = all.iter().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (ymin, ymax) = all.iter().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    // The legend sits in the upper right, where decreasing losses leave room: the top is
    // raised until the highest point (with its spread) and line end in the right half stays
    // below the legend's band.
    let middle = (xmin * xmax).sqrt();
    let mut right_max = r
        .rows
        .iter()
        .flat_map(|row| row.points.iter())
        .filter(|p| p.mean > 0.0 && p.mean.is_finite() && p.n as f64 >= middle)
        .map(|p| p.mean + p.sd)
        .fold(ymin, f64::max);
    let mut entries = 0;
    for row in &r.rows {
        let (pts, centre) = centred(row);
        let slopes = row.window.map(|s| s.slope).into_iter().chain(row.predicted);
        entries += 1 + usize::from(row.predicted.is_some());
        if let Some(&(x_end, _)) = pts.last() {
            for slope in slopes {
                right_max = right_max.max(through(centre, slope, x_end));
            }
        }
    }
    let bottom = ymin / 10.0;
    let top = (ymax * 10.0).max(top_above(bottom, right_max, entries));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{}: Voronoi loss", r.case), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (xmin / 1.3..xmax * 1.3).log_scale(),
                (bottom..top).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("sample size n")
            .y_desc("mean loss")
            .x_label_formatter(&|x| format!("1e{:.1}", x.log10()))
            .y_label_formatter(&|y| format!("1e{:.0}", y.log10()))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (c, row) in r.rows.iter().enumerate() {
            let color = PALETTE[c % PALETTE.len()];
            let (pts, centre) = centred(row);
            if pts.is_empty() {
                continue;
            }
            for p in row.points.iter().filter(|p| p.mean > 0.0) {
                let lo = (p.mean - p.sd).max(bottom);
                chart
                    .draw_series(LineSeries::new(
                        vec![(p.n as f64, lo), (p.n as f64, p.mean + p.sd)],
                        color.mix(0.5).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            let label = match &row.window {
                Some(s) => format!("k = {}: window slope {:+.2}", row.k, s.slope),
                None => format!("k = {}", row.k),
            };
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            // lines through the centre of the points in log space
            let ends = [pts[pts.len() / 2].0, pts[pts.len() - 1].0];
            let line = |slope: f64| -> Vec<(f64, f64)> {
                ends.iter()
                    .map(|&x| (x, through(centre, slope, x)))
                    .collect()
            };
            if let Some(s) = &row.window {
                chart
                    .draw_series(LineSeries::new(line(s.slope), color.stroke_width(2)))
                    .map_err(err)?;
            }
            if let Some(p) = row.predicted {
                chart
                    .draw_series(DashedLineSeries::new(
                        line(p),
                        8,
                        5,
                        color.mix(0.8).stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(format!("k = {}: predicted {:+.2} (dashed)", row.k, p))
                    .legend(move |(x, y)| {
                        DashedPathElement::new(
                            vec![(x, y), (x + 20, y)],
                            6,
                            4,
                            color.mix(0.8).stroke_width(2),
                        )
                    });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// $\rho(\varepsilon)$ along each cell's witness (log-log), one series per cell with a
/// profile, labelled with its measured slope and the exponent of the witness's coordinate.
/// `None` when no cell has a profile.
///
/// # Errors
/// A message when drawing fails.
pub fn geometry(v: &Verification) -> Result<Option<String>, String> {
    let series: Vec<(String, Vec<(f64, f64)>)> = v
        .cells
        .cells
        .iter()
        .filter_map(|c| {
            let w = c.witness.as_ref()?;
            let p = w.profile.as_ref()?;
            let pts: Vec<(f64, f64)> = p
                .eps
                .iter()
                .zip(&p.rho)
                .filter(|(e, r)| **e > 0.0 && **r > 0.0)
                .map(|(e, r)| (*e, *r))
                .collect();
            (pts.len() >= 2).then(|| {
                (
                    format!(
                        "atom {}, m = {}, along {}: slope {:.2} (order {})",
                        c.atom + 1,
                        c.m,
                        v.variables[w.var],
                        p.slope,
                        super::cells::trim(w.order as f64 / w.q as f64)
                    ),
                    pts,
                )
            })
        })
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let all = series.iter().flat_map(|s| s.1.iter());
    let (xmin, xmax, ymin, ymax) = all.fold(
        (f64::INFINITY, 0.0f64, f64::INFINITY, 0.0f64),
        |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
    );
    let bottom = ymin / 10.0;
    let top = top_above(bottom, ymax * 3.0, series.len());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: ‖f_G − f*‖ along the witnesses", v.case.name),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (xmin / 1.3..xmax * 1.3).log_scale(),
                (bottom..top).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("ε = max |Δθ_k| (in the coordinate's unit)")
            .y_desc("ρ = ‖f_G − f*‖ / ‖f*‖")
            .x_label_formatter(&|x| format!("1e{:.1}", x.log10()))
            .y_label_formatter(&|y| format!("1e{:.0}", y.log10()))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (c, (label, pts)) in series.iter().enumerate() {
            let color = PALETTE[c % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}
