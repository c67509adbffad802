//! Any text: parsing never panics; a parsed tree prints to text that parses back to the same
//! printed form, and compiles and evaluates (or fails with an error) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moeid::expr::{parse, Binding, Env, Shape, TapeBuilder};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(e) = parse(text) else {
        return;
    };
    let printed = e.to_string();
    let again = parse(&printed).unwrap_or_else(|err| panic!("{text:?} → {printed:?}: {err}"));
    assert_eq!(again.to_string(), printed, "printing is not a fixed point");

    let mut env = Env::new();
    env.bind(
        "x",
        Binding::Input {
            offset: 0,
            shape: Shape::Vector(2),
        },
    );
    env.bind(
        "beta1",
        Binding::Param {
            offset: 0,
            shape: Shape::Vector(2),
        },
    );
    env.bind(
        "beta0",
        Binding::Param {
            offset: 2,
            shape: Shape::Scalar,
        },
    );
    let mut b = TapeBuilder::new();
    if let Ok(v) = b.compile(&e, &env) {
        if let Some(s) = v.scalar() {
            let tape = b.finish(s);
            let _: f64 = tape.eval(&[0.3, -0.7], &[1.5, -2.0, 0.25], &mut Vec::new());
        }
    }
});
