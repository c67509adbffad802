//! `[fixed]`: a known component beside the learned experts. Its expressions may use `x` only —
//! it has nothing to estimate — and must give what the model needs (a mean; a mean and a
//! variance; one logit per class). It sits inside the gate with a `weight`, or outside it with
//! a `proportion` in (0, 1), the true value of an estimated share.

use super::*;

impl Validator<'_> {
    pub(super) fn fixed(
        &mut self,
        raw: &RawCase,
        model: Option<Model>,
        classes: usize,
        dim: usize,
        params: &[Param],
    ) -> Option<Fixed> {
        let spanned = raw.fixed.as_ref()?;
        let f = spanned.get_ref();
        let env = env_of(dim, &[]);
        let proportion = self.proportion(f);
        let weight = match &f.weight {
            Some(w) => self.fixed_expression(w, "fixed.weight", &env, params),
            None => Some(Expression {
                key: "fixed.weight".into(),
                text: "1".into(),
                expr: expr::parse("1").expect("a number parses"),
            }),
        };
        let missing = |v: &mut Self, key: &str, m: &str| {
            v.report(
                "moeid::case::missing",
                spanned.span(),
                format!(
                    "missing key `{key}` in [fixed]: the fixed component of a {m} model needs it"
                ),
                "in this table",
                Some(format!("add `{key} = \"...\"`, an expression in x only")),
            );
        };
        let unused = |v: &mut Self, span: R<usize>, key: &str, m: &str| {
            v.report(
                "moeid::case::key",
                span,
                format!("`fixed.{key}` is not used by {m} models"),
                "not used",
                Some(format!("remove `{key}`, or change `model`")),
            );
        };
        let one = |v: &mut Self, s: &Option<Spanned<String>>, key: &str, m: &str| match s {
            Some(s) => v.fixed_expression(s, &format!("fixed.{key}"), &env, params),
            None => {
                missing(v, key, m);
                None
            }
        };
        let (mut mean, mut variance, mut logits) = (None, None, Vec::new());
        match model? {
            Model::Regression => {
                mean = one(self, &f.mean, "mean", "regression");
                if let Some(s) = &f.variance {
                    unused(self, s.span(), "variance", "regression");
                }
            }
            Model::Gaussian => {
                mean = one(self, &f.mean, "mean", "gaussian");
                variance = one(self, &f.variance, "variance", "gaussian");
            }
            Model::Multinomial => {
                for (s, key) in [(&f.mean, "mean"), (&f.variance, "variance")] {
                    if let Some(s) = s {
                        unused(self, s.span(), key, "multinomial");
                    }
                }
                match &f.logits {
                    None => missing(self, "logits", "multinomial"),
                    Some(ls) => {
                        if classes > 0 && ls.get_ref().len() != classes {
                            self.report(
                                "moeid::case::logits",
                                ls.span(),
                                format!(
                                    "`fixed.logits` has {} entries but `inputs.classes` is {classes}",
                                    ls.get_ref().len()
                                ),
                                "one logit per class",
                                Some("write one expression in x per class, e.g. `logits = [\"x[0]\", \"0\"]`".into()),
                            );
                        }
                        for (i, l) in ls.get_ref().iter().enumerate() {
                            let key = format!("fixed.logits[{i}]");
                            if let Some(e) = self.fixed_expression(l, &key, &env, params) {
                                logits.push(e);
                            }
                        }
                    }
                }
            }
        }
        if model? != Model::Multinomial {
            if let Some(ls) = &f.logits {
                unused(self, ls.span(), "logits", model?.name());
            }
        }
        Some(Fixed {
            weight: weight?,
            proportion: proportion?,
            mean,
            variance,
            logits,
        })
    }

    /// `fixed.proportion`: `Some(None)` when absent, `Some(Some(λ*))` when valid, `None` (with
    /// the problem reported) when out of (0, 1) or given with a `weight`.
    fn proportion(&mut self, f: &raw::RawFixed) -> Option<Option<f64>> {
        let Some(p) = &f.proportion else {
            return Some(None);
        };
        let v = *p.get_ref();
        if !(v > 0.0 && v < 1.0) {
            self.report(
                "moeid::case::value",
                p.span(),
                format!("`fixed.proportion` is {v}; the fixed component's share must lie strictly between 0 and 1"),
                "not in (0, 1)",
                Some("write the true share of the fixed component, e.g. `proportion = 0.3` (f = 0.3 f0 + 0.7 × the gated experts)".into()),
            );
            return None;
        }
        if let Some(w) = &f.weight {
            self.report(
                "moeid::case::fixed",
                w.span(),
                "`fixed.weight` and `fixed.proportion` cannot be used together".into(),
                "a gate weight",
                Some("with `proportion` the component is mixed outside the gate (f = λ f0 + (1 − λ) × the gated experts, λ estimated); remove `weight`, or remove `proportion` to put it inside the gate with this weight".into()),
            );
            return None;
        }
        Some(Some(v))
    }

    /// An expression of the fixed component: a declared parameter in it is named as such (the
    /// component has nothing to estimate), then it is checked like any other, with `x` only.
    fn fixed_expression(
        &mut self,
        s: &Spanned<String>,
        key: &str,
        env: &Env,
        params: &[Param],
    ) -> Option<Expression> {
        if let Ok(e) = expr::parse(s.get_ref()) {
            let mut named = None;
            e.walk(&mut |n| {
                if let expr::ExprKind::Name(name) = &n.kind {
                    if named.is_none() && params.iter().any(|p| &p.name == name) {
                        named = Some((name.clone(), n.span));
                    }
                }
            });
            if let Some((name, span)) = named {
                let (src, base) = self.expression_source(s, key);
                self.problems.push(CaseDiagnostic {
                    code: "moeid::case::fixed",
                    message: format!(
                        "in `{key}`: `{name}` is a parameter, but the fixed component has nothing to estimate"
                    ),
                    src,
                    span: (base + span.start, span.len().max(1)).into(),
                    label: "a parameter".into(),
                    help: Some(format!(
                        "write the fixed component in x and numbers only (its weight relative to the experts is set by their own gate parameters); to estimate `{name}`, make this component an [[atoms]] entry"
                    )),
                });
                return None;
            }
        }
        self.expression(s, key, env)
    }
}
