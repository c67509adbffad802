//! `[[groups]]` and `gate.group_weight`: a hierarchical gate (docs/theory.md §10). Each group
//! has its own values of the `role = "group"` parameters; each atom names its group with
//! `group = N` (1-based). Expressions are kept apart: the group weight uses `x` and the group
//! parameters only, the expert's gate weight and the expert never use a group parameter.

use super::*;
use crate::case::Groups;

impl Validator<'_> {
    /// An expression that must not use any of `forbidden` (`kind` names their role): the first
    /// such name is reported with its fix, else the expression is checked like any other.
    pub(super) fn expression_over(
        &mut self,
        s: &Spanned<String>,
        key: &str,
        env: &Env,
        (forbidden, kind): (&[Param], &str),
    ) -> Option<Expression> {
        if let Ok(e) = expr::parse(s.get_ref()) {
            let mut named = None;
            e.walk(&mut |n| {
                if let expr::ExprKind::Name(name) = &n.kind {
                    if named.is_none() && forbidden.iter().any(|p| &p.name == name) {
                        named = Some((name.clone(), n.span));
                    }
                }
            });
            if let Some((name, span)) = named {
                let (src, base) = self.expression_source(s, key);
                let (message, help) = if kind == "group" {
                    (
                        format!("`{name}` has role = \"group\": only `gate.group_weight` can use it"),
                        format!("a group parameter weighs a whole group of experts: use `{name}` in `gate.group_weight`, or declare it without `role = \"group\"` to give each expert its own value"),
                    )
                } else {
                    (
                        format!("`{name}` is a {kind} parameter, but `{key}` weighs whole groups of experts"),
                        format!("write `{key}` in x and the parameters with role = \"group\"; `{name}` belongs in `gate.weight` (the weight within a group) or the expert"),
                    )
                };
                self.problems.push(CaseDiagnostic {
                    code: "moeid::expr::role",
                    message: format!("in `{key}`: {message}"),
                    src,
                    span: (base + span.start, span.len().max(1)).into(),
                    label: format!("{kind} parameter"),
                    help: Some(help),
                });
                return None;
            }
        }
        self.expression(s, key, env)
    }

    /// The groups of a hierarchical gate: `None` when the case has none (every problem of a
    /// partial declaration is reported).
    pub(super) fn groups(
        &mut self,
        raw: &RawCase,
        params: Vec<Param>,
        weight: Option<Expression>,
        atoms: usize,
    ) -> Option<Groups> {
        let gate = raw.gate.get_ref();
        let tables = raw.groups.as_ref();
        let named: Vec<(usize, &Spanned<toml::Value>, std::ops::Range<usize>)> = raw
            .atoms
            .get_ref()
            .iter()
            .enumerate()
            .filter_map(|(j, a)| {
                a.get_ref()
                    .0
                    .iter()
                    .find(|(k, _)| k.get_ref() == "group")
                    .map(|(k, v)| (j, v, k.span()))
            })
            .collect();
        let declared = !params.is_empty();
        if tables.is_none() && gate.group_weight.is_none() && !declared {
            for (j, _, span) in &named {
                self.report(
                    "moeid::case::groups",
                    span.clone(),
                    format!("atom {}: `group` names a group, but the case has no [[groups]]", j + 1),
                    "no groups",
                    Some("declare a hierarchical gate with `gate.group_weight`, group parameters (`role = \"group\"`) and one [[groups]] table per group, or remove `group`".into()),
                );
            }
            return None;
        }
        let Some(tables) = tables else {
            let span = gate
                .group_weight
                .as_ref()
                .map(|w| w.span())
                .unwrap_or(raw.params.span());
            self.report(
                "moeid::case::groups",
                span,
                "a hierarchical gate needs its groups: there is no [[groups]] table".into(),
                "groups used here",
                Some("add one [[groups]] table per group with the values of the group parameters, and `group = N` in each [[atoms]] table".into()),
            );
            return None;
        };
        let count = tables.get_ref().len();
        let before = self.problems.len();
        let problem = |v: &mut Self,
                       span: std::ops::Range<usize>,
                       message: String,
                       label: &str,
                       help: String| {
            v.report("moeid::case::groups", span, message, label, Some(help));
        };
        if gate.group_weight.is_none() {
            problem(
                self,
                tables.span(),
                "[[groups]] needs `gate.group_weight`, the weight of a group".into(),
                "groups",
                "add e.g. `group_weight = \"exp(dot(gamma1, x) + gamma0)\"` to [gate], with `gamma1 = { shape = [1], role = \"group\" }` and `gamma0 = { role = \"group\" }` under [params]".into(),
            );
        }
        if gate.normalized == Some(false) {
            problem(
                self,
                raw.gate.span(),
                "a hierarchical gate is normalized at both levels, but `gate.normalized = false`".into(),
                "not normalized",
                "set `normalized = true` (a softmax over the groups, and over the experts within each group)".into(),
            );
        }
        if let Some(k) = &gate.top_k {
            problem(
                self,
                k.span(),
                "`top_k` and [[groups]] cannot be combined yet".into(),
                "top-K",
                "analyse the hierarchical gate dense (remove `top_k`), or the top-K gate without groups".into(),
            );
        }
        if let Some(f) = &raw.fixed {
            problem(
                self,
                f.span(),
                "a [fixed] component and [[groups]] cannot be combined yet".into(),
                "fixed",
                "remove [fixed], or analyse the design without groups".into(),
            );
        }
        if count == 0 || count > MAX_ATOMS {
            problem(
                self,
                tables.span(),
                format!("{count} groups: a hierarchical gate has 1 to {MAX_ATOMS}"),
                "groups",
                "give one [[groups]] table per group".into(),
            );
            return None;
        }
        let total: usize = params.iter().map(Param::len).sum();
        let mut values = Vec::new();
        for (g, table) in tables.get_ref().iter().enumerate() {
            let what = format!("group {}", g + 1);
            let mut gamma = vec![0.0; total];
            for (key, v) in &table.get_ref().0 {
                match params.iter().find(|p| p.name == *key.get_ref()) {
                    Some(p) => {
                        if let Some(vals) = self.value(p, v, &what) {
                            gamma[p.offset..p.offset + p.len()].copy_from_slice(&vals);
                        }
                    }
                    None => problem(
                        self,
                        key.span(),
                        format!("{what}: `{}` is not a group parameter", key.get_ref()),
                        "not a group parameter",
                        if params.is_empty() {
                            "no parameter has role = \"group\"; declare the group weight's parameters with `role = \"group\"`".into()
                        } else {
                            format!(
                                "group parameters: {}; per-expert values belong in [[atoms]]",
                                params
                                    .iter()
                                    .map(|p| p.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                    ),
                }
            }
            for p in &params {
                if !table
                    .get_ref()
                    .0
                    .iter()
                    .any(|(k, _)| k.get_ref() == &p.name)
                {
                    problem(
                        self,
                        table.span(),
                        format!("{what} has no value for `{}`", p.name),
                        "in this group",
                        format!("add `{} = ...` to every [[groups]] table", p.name),
                    );
                }
            }
            values.push(gamma);
        }
        let mut of_atom = vec![usize::MAX; atoms];
        for (j, v, _) in &named {
            match v.get_ref() {
                toml::Value::Integer(n) if (1..=count as i64).contains(n) => {
                    of_atom[*j] = (*n - 1) as usize;
                }
                _ => problem(
                    self,
                    v.span(),
                    format!("atom {}: `group = {}` is not a group", j + 1, v.get_ref()),
                    "not a group",
                    format!("`group` is the number of a [[groups]] table, from 1 to {count}"),
                ),
            }
        }
        for (j, atom) in raw.atoms.get_ref().iter().enumerate().take(atoms) {
            if !named.iter().any(|(k, _, _)| *k == j) {
                problem(
                    self,
                    atom.span(),
                    format!("atom {} has no `group`", j + 1),
                    "in this atom",
                    format!("add `group = N` (1 to {count}) to every [[atoms]] table"),
                );
            }
        }
        for g in 0..count {
            if !of_atom.contains(&g) && named.len() == atoms {
                problem(
                    self,
                    tables.get_ref()[g].span(),
                    format!("group {} has no atom", g + 1),
                    "empty group",
                    format!(
                        "name it in an [[atoms]] table with `group = {}`, or remove it",
                        g + 1
                    ),
                );
            }
        }
        Some(Groups {
            weight: weight?,
            params,
            values,
            of_atom,
        })
        .filter(|_| self.problems.len() == before)
    }
}
