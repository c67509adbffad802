//! Per-sample derivatives of the fitted objective at one configuration: the rows whose common
//! null space is the set of directions the data cannot see (the invariances, docs/theory.md §6).
//!
//! - regression: $\nabla_\theta f(x_t; \theta)$, the gradient of the mean function (least squares
//!   sees $f$ only);
//! - gaussian and multinomial: the score $\nabla_\theta \log p(y_t \mid x_t; \theta)$, computed
//!   with Fisher's identity $\sum_i r_{ti} \nabla(\log g_{ti} + \log e_{ti})$ at the
//!   responsibilities $r_{ti}$ of $\theta$ itself.
//!
//! Rows are laid out like the fitted vector ([`Layout`]).

use super::{log_expert, Grad};
use crate::case::Model;
use crate::rates::model::{logsumexp, Layout, MixtureModel};
use crate::rates::simulate::Data;

/// One row per sample, `layout.len()` entries each.
pub fn rows(model: &MixtureModel, data: &Data, atoms: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let layout = model.layout(atoms.len());
    let (k, p) = (atoms.len(), layout.p);
    let mut g = Grad::new();
    let (mut dl, mut de) = (vec![vec![0.0; p]; k], vec![vec![0.0; p]; k]);
    let mut scratch = vec![0.0; p];
    let (mut l, mut e) = (vec![0.0; k], vec![0.0; k]);
    let mut out = Vec::with_capacity(data.len());
    for t in 0..data.len() {
        let x = data.x(t);
        for i in 0..k {
            l[i] = g.eval(&model.log_weight, x, &atoms[i], &mut dl[i]);
            e[i] = match model.model {
                Model::Regression => {
                    let mean = model.mean.as_ref().expect("regression has a mean");
                    g.eval(mean, x, &atoms[i], &mut de[i])
                }
                _ => log_expert(model, &mut g, data, t, &atoms[i], &mut de[i], &mut scratch),
            };
        }
        let gates: Vec<f64> = if model.normalized {
            let z = logsumexp(&l);
            l.iter().map(|v| (v - z).exp()).collect()
        } else {
            l.iter().map(|v| v.exp()).collect()
        };
        let mut row = vec![0.0; layout.len()];
        match model.model {
            Model::Regression => {
                let f: f64 = gates.iter().zip(&e).map(|(a, b)| a * b).sum();
                for i in 0..k {
                    let df_dl = if model.normalized {
                        gates[i] * (e[i] - f)
                    } else {
                        gates[i] * e[i]
                    };
                    add(&layout, &mut row, i, |v| {
                        df_dl * dl[i][v] + gates[i] * de[i][v]
                    });
                }
            }
            _ => {
                let a: Vec<f64> = gates.iter().zip(&e).map(|(gi, ei)| gi.ln() + ei).collect();
                let z = logsumexp(&a);
                for i in 0..k {
                    let r = (a[i] - z).exp();
                    let gi = gates[i];
                    add(&layout, &mut row, i, |v| (r - gi) * dl[i][v] + r * de[i][v]);
                }
            }
        }
        out.push(row);
    }
    out
}

fn add(layout: &Layout, row: &mut [f64], atom: usize, d: impl Fn(usize) -> f64) {
    for v in 0..layout.p {
        row[layout.index(atom, v)] += d(v);
    }
}
