//! One EM fit of the peer protocol (theory.md §6): the case
//! `cases/gaussian-2305.03288/softmax-gaussian-peer.toml`, $k = 3$ fitted atoms for $k^* = 2$,
//! $n = 10^5$, from the protocol's near-true initialisation. One benchmark per replicate (their
//! iteration counts differ), so the median over replicates is the figure the README states;
//! simulation is timed apart. Run on one core: `RAYON_NUM_THREADS=1 cargo bench --bench fit`.

use criterion::{criterion_group, criterion_main, Criterion};
use moeid::rates::fit::{fit, FitSettings};
use moeid::rates::model::MixtureModel;
use moeid::rates::sweep::initial;
use moeid::rates::{RateOverrides, RateSettings};
use moeid::Case;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

fn peer() -> Case {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cases/gaussian-2305.03288/softmax-gaussian-peer.toml");
    Case::load(&path).expect("the peer case loads")
}

fn bench_fit(c: &mut Criterion) {
    let case = peer();
    let model = MixtureModel::new(&case);
    let settings = RateSettings::resolve(&case, &RateOverrides::default(), None);
    let fit_settings = FitSettings {
        tolerance: settings.tolerance,
        max_iters: settings.max_iters,
        generic: false,
        accelerate: true,
        target: None,
    };
    let n = 100_000;
    let mut group = c.benchmark_group("fit");
    group.sample_size(10);
    group.bench_function("simulate-n1e5", |b| {
        b.iter(|| {
            model.simulate(
                &case.atoms,
                n,
                settings.noise,
                &mut ChaCha8Rng::seed_from_u64(1),
            )
        })
    });
    for replicate in 0..8u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + replicate);
        let data = model
            .simulate(&case.atoms, n, settings.noise, &mut rng)
            .expect("simulation");
        let init = initial(&model, &case.atoms, 3, n, &settings, None, &mut rng);
        group.bench_function(format!("peer-k3-n1e5/r{replicate}"), |b| {
            b.iter(|| fit(&model, &data, init.clone(), &fit_settings))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_fit);
criterion_main!(benches);
