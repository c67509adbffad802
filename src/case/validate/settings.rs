//! The `[verify]` and `[rates]` tables: orders, seeds, grids, replicates, noise and exponents.

use super::*;

impl Validator<'_> {
    pub(super) fn rates(&mut self, raw: &RawCase, params: &[Param], k_star: usize) -> RatesConfig {
        let mut out = RatesConfig::default();
        let Some(r) = &raw.rates else {
            return out;
        };
        let r = r.get_ref();
        let positive = |v: &mut Self, x: &Spanned<i64>, key: &str, max: usize| -> Option<usize> {
            match usize::try_from(*x.get_ref()) {
                Ok(n) if (1..=max).contains(&n) => Some(n),
                _ => {
                    v.report(
                        "moeid::case::rates",
                        x.span(),
                        format!("`rates.{key}` is {}", x.get_ref()),
                        "out of range",
                        Some(format!("`{key}` is an integer from 1 to {max}")),
                    );
                    None
                }
            }
        };
        let nonneg = |v: &mut Self, x: &Spanned<f64>, key: &str, strict: bool| -> Option<f64> {
            let f = *x.get_ref();
            if f.is_finite() && (f > 0.0 || (!strict && f == 0.0)) {
                Some(f)
            } else {
                v.report(
                    "moeid::case::rates",
                    x.span(),
                    format!("`rates.{key}` is {f}"),
                    "out of range",
                    Some(format!(
                        "`{key}` is a {} finite number",
                        if strict { "positive" } else { "non-negative" }
                    )),
                );
                None
            }
        };
        if let Some(f) = &r.fitted {
            let mut ks = Vec::new();
            for k in f.get_ref() {
                match usize::try_from(*k.get_ref()) {
                    Ok(v) if (k_star..=k_star + 8).contains(&v) => ks.push(v),
                    _ => self.report(
                        "moeid::case::rates",
                        k.span(),
                        format!(
                            "`rates.fitted` holds {} but the case has {k_star} true atoms",
                            k.get_ref()
                        ),
                        "out of range",
                        Some(format!(
                            "fit from {k_star} (exact-specified) to {} atoms",
                            k_star + 8
                        )),
                    ),
                }
            }
            if ks.is_empty() && f.get_ref().is_empty() {
                self.report(
                    "moeid::case::rates",
                    f.span(),
                    "`rates.fitted` is empty".into(),
                    "empty",
                    Some(format!("e.g. `fitted = [{k_star}, {}]`", k_star + 1)),
                );
            }
            out.fitted = Some(ks);
        }
        if let Some(n) = &r.n {
            let parsed = match n.get_ref() {
                toml::Value::String(s) => parse_grid(s),
                toml::Value::Integer(i) => parse_grid(&i.to_string()),
                toml::Value::Float(f) => parse_grid(&f.to_string()),
                toml::Value::Array(a) => a
                    .iter()
                    .map(|v| match v {
                        toml::Value::Integer(i) => parse_grid(&i.to_string()).map(|g| g[0]),
                        toml::Value::Float(f) => parse_grid(&f.to_string()).map(|g| g[0]),
                        _ => Err("sample sizes are numbers".to_string()),
                    })
                    .collect(),
                _ => Err("give a grid \"1e3..1e5:12\" or a list of sizes".to_string()),
            };
            match parsed {
                Ok(g) => out.n = Some(g),
                Err(e) => self.report(
                    "moeid::case::rates",
                    n.span(),
                    format!("`rates.n`: {e}"),
                    "here",
                    Some("write `n = \"1e3..1e5:12\"` (12 sizes, log-spaced) or a list, e.g. `n = [1000, 10000]`".into()),
                ),
            }
        }
        if let Some(x) = &r.replicates {
            out.replicates = positive(self, x, "replicates", MAX_REPLICATES);
        }
        if let Some(x) = &r.restarts {
            out.restarts = positive(self, x, "restarts", 100);
        }
        if let Some(x) = &r.max_iters {
            out.max_iters = positive(self, x, "max_iters", 1_000_000);
        }
        if let Some(x) = &r.noise {
            out.noise = nonneg(self, x, "noise", false);
        }
        if let Some(x) = &r.init_gate {
            out.init_gate = nonneg(self, x, "init_gate", false);
        }
        if let Some(x) = &r.init_expert {
            out.init_expert = nonneg(self, x, "init_expert", false);
        }
        if let Some(x) = &r.init_decay {
            out.init_decay = nonneg(self, x, "init_decay", false);
        }
        if let Some(x) = &r.tolerance {
            out.tolerance = nonneg(self, x, "tolerance", true);
        }
        if let Some(s) = &r.seed {
            match u64::try_from(*s.get_ref()) {
                Ok(v) => out.seed = Some(v),
                Err(_) => self.report(
                    "moeid::case::rates",
                    s.span(),
                    format!("`rates.seed` is {}", s.get_ref()),
                    "negative",
                    Some("the seed is a non-negative integer".into()),
                ),
            }
        }
        out.accelerate = r.accelerate;
        if let Some(e) = &r.exponents {
            for (key, value) in &e.get_ref().0 {
                let name = key.get_ref();
                let known = params.iter().any(|p| {
                    &p.name == name || (0..p.len()).any(|i| format!("{}[{i}]", p.name) == *name)
                });
                if !known {
                    self.report(
                        "moeid::case::rates",
                        key.span(),
                        format!("`rates.exponents.{name}` is not a declared parameter"),
                        "unknown",
                        Some(self.declared(params)),
                    );
                    continue;
                }
                if let Some(v) = nonneg(self, value, &format!("exponents.{name}"), true) {
                    out.exponents.push((name.clone(), v));
                }
            }
        }
        out
    }

    pub(super) fn settings(&mut self, raw: &RawCase) -> (usize, u64, usize) {
        let (mut order, mut seed, mut samples) = (2, 1, 0);
        let Some(v) = &raw.verify else {
            return (order, seed, samples);
        };
        if let Some(o) = &v.order {
            match usize::try_from(*o.get_ref()) {
                Ok(x) if (1..=MAX_ORDER).contains(&x) => order = x,
                _ => self.report(
                    "moeid::case::value",
                    o.span(),
                    format!("`verify.order` is {}", o.get_ref()),
                    "out of range",
                    Some(format!("the derivative order is 1 to {MAX_ORDER}")),
                ),
            }
        }
        if let Some(s) = &v.seed {
            match u64::try_from(*s.get_ref()) {
                Ok(x) => seed = x,
                Err(_) => self.report(
                    "moeid::case::value",
                    s.span(),
                    format!("`verify.seed` is {}", s.get_ref()),
                    "negative",
                    Some("the seed is a non-negative integer".into()),
                ),
            }
        }
        if let Some(s) = &v.samples {
            match usize::try_from(*s.get_ref()) {
                Ok(x) => samples = x,
                Err(_) => self.report(
                    "moeid::case::value",
                    s.span(),
                    format!("`verify.samples` is {}", s.get_ref()),
                    "negative",
                    Some("use 0 for automatic, or a positive number of sample points".into()),
                ),
            }
        }
        (order, seed, samples)
    }
}
