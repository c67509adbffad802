//! Whole-pipeline timings of `verify`: every case of `cases/` at order 2 (verdicts alone, and
//! with the local geometry's cells m = 1..3), a synthetic design with 20 parameters per atom,
//! 2 atoms, order 2; the local geometry of two heat-equation cases alone; one escalation.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use moeid::family::HpFamilies;
use moeid::family::{atom_family, Design};
use moeid::rank::certify::escalate;
use moeid::rank::Tolerance;
use moeid::{verify, Case, Options};
use std::path::PathBuf;

fn cases() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
    moeid::case::find(&[dir])
        .iter()
        .map(|p| Case::load(p).unwrap())
        .collect()
}

/// Softmax gate and tanh experts in d = 9: beta1 (9) + beta0 + a (9) + b = 20 parameters.
fn synthetic_20_params() -> Case {
    let d = 9;
    let vec = |seed: f64| {
        let v: Vec<String> = (0..d)
            .map(|i| format!("{:.3}", ((i as f64 + 1.0) * seed).sin()))
            .collect();
        format!("[{}]", v.join(", "))
    };
    let text = format!(
        r#"model = "regression"
[inputs]
dim = {d}
[gate]
weight = "exp(dot(beta1, x) + beta0)"
normalized = true
[expert]
mean = "tanh(dot(a, x) + b)"
[params]
beta1 = {{ shape = [{d}] }}
beta0 = {{ role = "mass" }}
a = {{ shape = [{d}] }}
b = {{}}
[[atoms]]
beta1 = {}
beta0 = 0.2
a = {}
b = 0.1
[[atoms]]
beta1 = {}
beta0 = -0.1
a = {}
b = -0.3
"#,
        vec(1.1),
        vec(0.7),
        vec(2.3),
        vec(1.9)
    );
    Case::parse(&text, "synthetic-20.toml").unwrap()
}

fn verdicts_only() -> Options {
    Options {
        cells: Some(1),
        ..Options::default()
    }
}

fn bench(c: &mut Criterion) {
    let all = cases();
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    g.bench_function(format!("all_{}_cases_order_2_verdicts", all.len()), |b| {
        b.iter(|| {
            for case in &all {
                verify(case, &verdicts_only()).unwrap();
            }
        })
    });
    g.bench_function(
        format!("all_{}_cases_order_2_with_cells_3", all.len()),
        |b| {
            b.iter(|| {
                for case in &all {
                    verify(case, &Options::default()).unwrap();
                }
            })
        },
    );
    let synthetic = synthetic_20_params();
    g.bench_function("synthetic_20_params_2_atoms_order_2_verdict", |b| {
        b.iter(|| verify(&synthetic, &verdicts_only()).unwrap())
    });
    g.bench_function("synthetic_20_params_2_atoms_order_2_with_cells_3", |b| {
        b.iter(|| verify(&synthetic, &Options::default()).unwrap())
    });
    g.bench_function(format!("all_{}_cases_order_2_certified", all.len()), |b| {
        b.iter(|| {
            for case in &all {
                let options = Options {
                    certify: true,
                    ..verdicts_only()
                };
                verify(case, &options).unwrap();
            }
        })
    });
    g.finish();
}

/// The local geometry alone: the cells m = 1..3 of the peer case (softmax-gated Gaussian
/// experts, the heat equation: climbs to order 7 with degree-6 expansions) and of Ho &
/// Nguyen's location–scale mixture.
fn bench_geometry(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut g = c.benchmark_group("geometry");
    g.sample_size(10);
    for name in [
        "gaussian-2305.03288/softmax-gaussian-peer.toml",
        "theory/gaussian-location-scale.toml",
    ] {
        let case = Case::load(dir.join(name)).unwrap();
        let design = Design::new(&case);
        let settings = moeid::geometry::Settings {
            max_cells: 3,
            seed: 1,
        };
        g.bench_function(format!("cells_m_1_to_3_{}", case.name), |b| {
            b.iter(|| moeid::geometry::analyse(&design, &case.atoms, &settings))
        });
    }
    g.finish();
}

/// An escalated rank decision: 30 terms of an order-3 family evaluated at 128 and 256 bits by
/// the project's AD over MPFR, pivoted QR at both precisions, decision by precision doubling.
fn bench_escalation(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
    let case = Case::load(dir.join("theory/sigmoid-temperature-joint.toml")).unwrap();
    let design = Design::new(&case);
    let points = design.sample(&case.atoms, 200, 1).unwrap();
    let fstar = design.fstar(&points, &case.atoms).unwrap();
    let fam = atom_family(&design, &points, &fstar, &case.atoms[0], 0, 3).unwrap();
    let terms: Vec<_> = fam.terms.iter().take(30).map(|t| (0, t.clone())).collect();
    assert_eq!(terms.len(), 30);
    let mut g = c.benchmark_group("certify");
    g.sample_size(10);
    g.bench_function("escalate_30_terms_128_and_256_bits", |b| {
        b.iter_batched(
            || HpFamilies::new(&design, &points, &case.atoms, 50),
            |mut hp| {
                escalate(&mut hp, &terms, &Tolerance::default())
                    .unwrap()
                    .unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench, bench_geometry, bench_escalation);
criterion_main!(benches);
