//! Property tests (proptest): the expression printer and parser are inverse to each other, and
//! neither the parser nor the case loader panics on any input.

use moeid::expr::{parse, BinOp, Expr, ExprKind, Func, Span, MAX_DEPTH};
use moeid::{Case, Options};
use proptest::prelude::*;

/// The tree with every span zeroed, so trees parsed from different texts compare by shape.
fn strip(e: &Expr) -> Expr {
    let kind = match &e.kind {
        ExprKind::Num(v) => ExprKind::Num(*v),
        ExprKind::Name(n) => ExprKind::Name(n.clone()),
        ExprKind::Index(a, i) => ExprKind::Index(Box::new(strip(a)), *i),
        ExprKind::Neg(a) => ExprKind::Neg(Box::new(strip(a))),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(*op, Box::new(strip(a)), Box::new(strip(b))),
        ExprKind::Call(f, args) => ExprKind::Call(*f, args.iter().map(strip).collect()),
    };
    Expr::new(kind, Span::new(0, 0))
}

fn node(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::new(0, 0))
}

/// Non-negative finite numbers (a literal's sign is a `Neg` node), from tiny to huge.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..10.0f64,
        (0u32..1000).prop_map(f64::from),
        any::<f64>().prop_filter_map("finite and non-negative", |v| {
            (v.is_finite()).then_some(v.abs())
        }),
    ]
}

/// Expression trees of every node kind, nested a few levels.
fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        number().prop_map(|v| node(ExprKind::Num(v))),
        prop::sample::select(vec!["x", "beta1", "beta0", "a", "pi", "w_2"])
            .prop_map(|n| node(ExprKind::Name(n.to_string()))),
    ];
    leaf.prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            (inner.clone(), 0usize..4).prop_map(|(e, i)| node(ExprKind::Index(Box::new(e), i))),
            inner.clone().prop_map(|e| node(ExprKind::Neg(Box::new(e)))),
            (
                prop::sample::select(vec![
                    BinOp::Add,
                    BinOp::Sub,
                    BinOp::Mul,
                    BinOp::Div,
                    BinOp::Pow
                ]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| node(ExprKind::Binary(
                    op,
                    Box::new(a),
                    Box::new(b)
                ))),
            (
                prop::sample::select(Func::ALL.to_vec()),
                prop::collection::vec(inner, 2)
            )
                .prop_map(|(f, mut args)| {
                    args.truncate(f.arity());
                    node(ExprKind::Call(f, args))
                }),
        ]
    })
}

/// Text made of the expression language's pieces, well-formed or not.
fn token_soup() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "x",
        "beta1",
        "pi",
        "exp",
        "dot",
        "pow",
        "norm",
        "(",
        ")",
        "[",
        "]",
        ",",
        "+",
        "-",
        "*",
        "/",
        "^",
        "0",
        "1.5",
        "2e3",
        "1e400",
        ".",
        "e",
        " ",
        "0]",
        "[99999999999999999999]",
        "é",
        "\u{0}",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(e in expr()) {
        let text = e.to_string();
        let back = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(strip(&back), strip(&e), "text: {}", text);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn the_parser_never_panics_and_its_trees_print_back(text in token_soup()) {
        if let Ok(e) = parse(&text) {
            let printed = e.to_string();
            let again = parse(&printed)
                .map_err(|err| TestCaseError::fail(format!("{text} → {printed}: {err}")))?;
            prop_assert_eq!(strip(&again), strip(&e));
        }
    }
}

#[test]
fn nesting_beyond_the_limit_is_an_error_not_a_stack_overflow() {
    for depth in [MAX_DEPTH, MAX_DEPTH + 1, 900, 100_000] {
        let text = "(".repeat(depth) + "x" + &")".repeat(depth);
        let minus = "-".repeat(depth) + "x";
        let calls = "exp(".repeat(depth) + "x" + &")".repeat(depth);
        let powers = vec!["x"; depth].join("^");
        for t in [text, minus, calls, powers] {
            // Only the result's existence matters: no overflow, no panic.
            let _ = parse(&t);
        }
    }
    assert!(parse(&("(".repeat(MAX_DEPTH + 1) + "x" + &")".repeat(MAX_DEPTH + 1))).is_err());
}

const BASE: &str = include_str!("../cases/softmax-2503.03213/linear.toml");

/// Splices `piece` into the case text at a fraction of its length, replacing `cut` bytes.
fn mutate(text: &str, at: f64, cut: usize, piece: &str) -> String {
    let mut i = ((text.len() as f64) * at) as usize;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    let mut j = (i + cut).min(text.len());
    while !text.is_char_boundary(j) {
        j += 1;
    }
    format!("{}{piece}{}", &text[..i], &text[j..])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_case_loader_never_panics_and_what_it_accepts_verifies(
        at in 0.0..1.0f64,
        cut in 0usize..12,
        piece in prop::sample::select(vec![
            "", "0", "-1", "1e308", "nan", "inf", "\"", "[", "]", "{", "}", "=", "\n", ",",
            "[[atoms]]\n", "[verify]\norder = 1\n", "shape = [3]", "x", "exp(", ")", "^",
            "role = \"mass\"", "true", "\"sigmoid(x)\"", "é", "\u{0}",
        ]),
    ) {
        let text = mutate(BASE, at, cut, piece);
        if let Ok(case) = Case::parse(&text, "mutated.toml") {
            // Accepted cases are verified at order 1 (quick): an error is fine, a panic is not.
            let _ = moeid::verify(&case, &Options { order: Some(1), ..Options::default() });
        }
    }
}

#[test]
fn printing_does_not_deepen_the_nesting() {
    // found by `cargo fuzz run expr`: `--x` printed as `-(-x)`, so a chain of minus signs
    // within the depth limit printed to text beyond it
    let text = "exp---------------------(x--------------e11)";
    let e = parse(text).unwrap();
    let printed = e.to_string();
    assert_eq!(strip(&parse(&printed).unwrap()), strip(&e), "{printed}");
    assert_eq!(parse("--x").unwrap().to_string(), "--x");
}

/// Random and extreme numbers: ordinary values, zero, negatives, huge, tiny, NaN and infinities.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        -5.0..5.0f64,
        prop::sample::select(vec![
            0.0,
            -0.0,
            1e-300,
            -1e300,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `verify` with any options: a result or an error, never a panic.
    #[test]
    fn verify_takes_any_options(
        order in prop::option::of(0usize..12),
        cells in prop::option::of(0usize..10),
        seed in prop::option::of(any::<u64>()),
    ) {
        let case = Case::parse(BASE, "linear.toml").unwrap();
        // order above 3 is refused by the limits before any work, so this stays quick
        let _ = moeid::verify(&case, &Options { order, seed, certify: false, cells, progress: None });
    }

    /// The rate check with any overrides on a tiny grid: a report or an error, never a panic.
    #[test]
    fn the_rate_check_takes_any_overrides(
        fitted in prop::option::of(prop::collection::vec(0usize..6, 0..3)),
        n in prop::option::of(prop::collection::vec(0usize..160, 0..3)),
        replicates in prop::option::of(0usize..3),
        restarts in prop::option::of(0usize..3),
        seed in prop::option::of(any::<u64>()),
    ) {
        // The case's own grid is tiny too, so an override left out (`None`) does not fall back
        // to the default grid (8 sizes to 5·10⁴, 20 replicates: minutes per case).
        let text = BASE.replace("[expect]", "[rates]\nn = \"100,150\"\nreplicates = 1\nrestarts = 1\n\n[expect]");
        let case = Case::parse(&text, "linear.toml").unwrap();
        assert_eq!(case.rates.replicates, Some(1));
        let overrides = moeid::rates::RateOverrides {
            fitted,
            n,
            replicates,
            restarts,
            seed,
            shard: None,
        };
        let _ = moeid::rates::check(&case, &overrides, None, moeid::rates::Progress::Quiet);
    }

    /// Slopes of any numbers, of any lengths: a number, NaN or `None`, never a panic.
    #[test]
    fn slopes_take_any_numbers(
        x in prop::collection::vec(wild(), 0..6),
        y in prop::collection::vec(wild(), 0..6),
        n in prop::collection::vec(0usize..100_000, 0..5),
        losses in prop::collection::vec(prop::collection::vec(wild(), 0..4), 0..5),
    ) {
        let _ = moeid::rates::slope::ols(&x, &y);
        let _ = moeid::rates::slope::slope(&n, &losses, 20, 1);
        let _ = moeid::rates::slope::slope_of(moeid::rates::slope::Centre::Median, &n, &losses, 20, 1);
        let _ = moeid::geometry::slope(&x, &y);
        let _ = moeid::geometry::median_slope(&x, &y);
    }

    /// Voronoi losses of fitted atoms of any number, length and values against the truth.
    #[test]
    fn losses_take_any_fitted_atoms(
        fitted in prop::collection::vec(prop::collection::vec(wild(), 0..7), 0..5),
    ) {
        let case = Case::parse(BASE, "linear.toml").unwrap();
        let model = moeid::rates::model::MixtureModel::new(&case);
        let spec = moeid::rates::loss::LossSpec::new(&model, &Default::default(), &[]);
        let _ = spec.loss(&case.atoms, &fitted);
        let orbit = moeid::rates::orbit::Orbit::new(&model, &case.atoms, 0.1, 1);
        prop_assert!(orbit.is_none(), "softmax × linear has no invariance");
    }
}

/// Runs `f` on its own thread and fails the test if it takes over a minute (a hang).
fn within_a_minute<T: Send + 'static>(what: String, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("over 60 s: {what}"),
        // the closure panicked: its message is already printed, name the input too
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("panicked: {what}"),
    }
}

/// A regression case and a Gaussian case, the starting points of the field edits.
fn bases() -> Vec<Case> {
    let gaussian = include_str!("../cases/gaussian-2305.03288/softmax-gaussian-peer.toml");
    vec![
        Case::parse(BASE, "linear.toml").unwrap(),
        Case::parse(gaussian, "peer.toml").unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A `Case` edited in code (its fields are public) into any shape — dimensions, boxes,
    /// orders, atoms of any length and value, a missing mean or variance, a top-K larger than
    /// the atoms — through `verify`, `rates::check` and `rates::run` (the checkpointed entry):
    /// a result or an error within a minute, never a panic or a hang.
    #[test]
    fn the_library_takes_any_edited_case(
        which in 0usize..2,
        dim in prop::option::weighted(0.25, prop::sample::select(vec![0usize, 1, 2, 3, 64, 65, usize::MAX])),
        low in prop::option::weighted(0.25, wild()),
        high in prop::option::weighted(0.25, wild()),
        classes in prop::option::weighted(0.25, 0usize..40),
        order in prop::option::weighted(0.25, 0usize..12),
        samples in prop::option::weighted(0.25, prop::sample::select(vec![0usize, 1, 7, 200, 5000, usize::MAX])),
        top_k in prop::option::weighted(0.25, prop::option::weighted(0.25, 0usize..5)),
        normalized in prop::option::weighted(0.25, any::<bool>()),
        drop_mean in prop::bool::weighted(0.1),
        drop_variance in prop::bool::weighted(0.1),
        atoms in prop::option::weighted(0.25, prop::collection::vec(prop::collection::vec(wild(), 0..8), 0..4)),
        replicates in prop::option::weighted(0.25, prop::sample::select(vec![0usize, 10_001, usize::MAX])),
        shards in prop::sample::select(vec![0usize, 1, 3, usize::MAX]),
        param_len in prop::option::weighted(0.25, prop::sample::select(vec![0usize, 2, 129, usize::MAX])),
        param_offset in prop::option::weighted(0.25, prop::sample::select(vec![1usize, 7, usize::MAX])),
        seed in any::<u64>(),
    ) {
        let mut case = bases().swap_remove(which);
        if let Some(v) = dim { case.dim = v; }
        if let Some(v) = low { case.low = v; }
        if let Some(v) = high { case.high = v; }
        if let Some(v) = classes { case.classes = v; }
        if let Some(v) = order { case.order = v; }
        if let Some(v) = samples { case.samples = v; }
        if let Some(v) = top_k { case.top_k = v; }
        if let Some(v) = normalized { case.normalized = v; }
        if drop_mean { case.mean = None; }
        if drop_variance { case.variance = None; }
        if let Some(v) = atoms { case.atoms = v; }
        case.rates.replicates = Some(replicates.unwrap_or(1));
        // the first parameter's length or offset (a parameter declared in code)
        if let Some(n) = param_len { case.params[0].shape = moeid::expr::Shape::Vector(n); }
        if let Some(o) = param_offset { case.params[0].offset = o; }
        case.seed = seed;
        let what = format!("{case:?}");
        within_a_minute(what, move || {
            let options = Options { cells: Some(1), ..Options::default() };
            let _ = moeid::cost(&case, &options);
            let _ = moeid::verify(&case, &options);
            // a tiny grid, whatever the case's own (its replicates edited above: not overridden)
            let overrides = moeid::rates::RateOverrides {
                n: Some(vec![100, 150]),
                restarts: Some(1),
                ..Default::default()
            };
            let _ = moeid::rates::check(&case, &overrides, None, moeid::rates::Progress::Quiet);
            let out = std::env::temp_dir().join(format!("moeid-prop-{}-{seed}.jsonl", std::process::id()));
            let settings = moeid::rates::RateSettings::resolve(&case, &overrides, None);
            if moeid::rates::feasible(&case, &settings).is_ok() {
                let _ = moeid::rates::plan(&case, &settings, shards);
            }
            let _ = moeid::rates::run(&case, &settings, None, Some(&out), moeid::rates::Progress::Quiet);
            let _ = std::fs::remove_file(&out);
        });
    }
}
