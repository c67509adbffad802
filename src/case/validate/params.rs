//! Parameters (names, shapes, roles) and the true atoms' values.

use super::*;

impl Validator<'_> {
    pub(super) fn params(&mut self, raw: &RawCase) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        let mut offset = 0;
        // group parameters index each group's own vector
        let mut group_offset = 0;
        if raw.params.get_ref().0.is_empty() {
            self.report(
                "moeid::case::params",
                raw.params.span(),
                "no parameters are declared".into(),
                "empty",
                Some(
                    "declare each parameter under [params], e.g. `beta1 = { shape = [1] }`".into(),
                ),
            );
        }
        for (name, decl) in &raw.params.get_ref().0 {
            let n = name.get_ref();
            let reserved =
                n == "x" || n == "pi" || n == "group" || expr::Func::from_name(n).is_some();
            let valid = n
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if reserved || !valid {
                self.report(
                    "moeid::case::params",
                    name.span(),
                    format!("`{n}` cannot be a parameter name"),
                    if reserved { "reserved" } else { "not a name" },
                    Some(
                        "names are letters, digits and `_`, and not `x`, `pi`, `group` or a function name"
                            .into(),
                    ),
                );
                continue;
            }
            let d = decl.get_ref();
            let shape = match &d.shape {
                None => Shape::Scalar,
                Some(s) => match s.get_ref().as_slice() {
                    [] => Shape::Scalar,
                    [len] => match usize::try_from(*len.get_ref()) {
                        Ok(v) if (1..=ParamSetCap::MAX).contains(&v) => Shape::Vector(v),
                        _ => {
                            self.report(
                                "moeid::case::params",
                                len.span(),
                                format!("`{n}` has length {}", len.get_ref()),
                                "out of range",
                                Some(format!(
                                    "a vector parameter has 1 to {} entries",
                                    ParamSetCap::MAX
                                )),
                            );
                            continue;
                        }
                    },
                    _ => {
                        self.report(
                            "moeid::case::params",
                            s.span(),
                            format!(
                                "`{n}` has {} dimensions; parameters are scalars or vectors",
                                s.get_ref().len()
                            ),
                            "shape",
                            Some(
                                "use `shape = [n]` for a vector, or declare one vector per row"
                                    .into(),
                            ),
                        );
                        continue;
                    }
                },
            };
            let role = match d.role.as_ref().map(|r| r.get_ref().as_str()) {
                None | Some("per-expert") => Role::PerExpert,
                Some("mass") => Role::Mass,
                Some("shared") => Role::Shared,
                Some("group") => Role::Group,
                Some(other) => {
                    self.report(
                        "moeid::case::params",
                        d.role.as_ref().map(|r| r.span()).unwrap_or(decl.span()),
                        format!("unknown role `{other}` for `{n}`"),
                        "not a role",
                        Some("role is one of: per-expert (default), mass, shared, group".into()),
                    );
                    Role::PerExpert
                }
            };
            if role == Role::Mass && shape != Shape::Scalar {
                self.report(
                    "moeid::case::params",
                    decl.span(),
                    format!("mass parameter `{n}` must be a scalar"),
                    "vector",
                    Some("a mass acts as one mixture weight per expert; remove `shape`".into()),
                );
            }
            if out.iter().any(|p| &p.name == n) {
                self.report(
                    "moeid::case::params",
                    name.span(),
                    format!("`{n}` is declared twice"),
                    "again",
                    None,
                );
                continue;
            }
            let counter = if role == Role::Group {
                &mut group_offset
            } else {
                &mut offset
            };
            let p = Param {
                name: n.clone(),
                shape,
                role,
                offset: *counter,
            };
            *counter += p.len();
            out.push(p);
        }
        if offset.max(group_offset) > ParamSetCap::MAX {
            self.compile = false;
            self.report(
                "moeid::case::params",
                raw.params.span(),
                format!(
                    "{} scalar parameters; at most {} are supported",
                    offset.max(group_offset),
                    ParamSetCap::MAX
                ),
                "too many",
                Some("analyse a smaller design (fewer or shorter parameters)".into()),
            );
        }
        out
    }

    /// The value of parameter `p` read from `v`, checked against its shape.
    pub(super) fn value(
        &mut self,
        p: &Param,
        v: &Spanned<toml::Value>,
        what: &str,
    ) -> Option<Vec<f64>> {
        let num = |x: &toml::Value| match x {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(i) => Some(*i as f64),
            _ => None,
        };
        let values = match (p.shape, v.get_ref()) {
            (Shape::Scalar, x) => num(x).map(|f| vec![f]),
            (Shape::Vector(_), toml::Value::Array(a)) => a.iter().map(num).collect(),
            (Shape::Vector(1), x) => num(x).map(|f| vec![f]),
            _ => None,
        };
        let expected = match p.shape {
            Shape::Scalar => "a number".to_string(),
            Shape::Vector(n) => format!("a list of {n} numbers"),
        };
        match values {
            Some(vals) if vals.len() == p.len() && vals.iter().all(|f| f.is_finite()) => Some(vals),
            _ => {
                self.report(
                    "moeid::case::atoms",
                    v.span(),
                    format!("{what}: `{}` should be {expected}", p.name),
                    "here",
                    Some(format!(
                        "`{}` is declared with {}",
                        p.name,
                        match p.shape {
                            Shape::Scalar => "no shape (a scalar)".to_string(),
                            Shape::Vector(n) => format!("shape = [{n}]"),
                        }
                    )),
                );
                None
            }
        }
    }

    pub(super) fn atoms(&mut self, raw: &RawCase, params: &[Param]) -> Vec<Vec<f64>> {
        let total: usize = params.iter().map(Param::len).sum();
        let mut shared = vec![0.0; total];
        let empty = Ordered::default();
        let shared_table = raw.shared.as_ref().map(|s| s.get_ref()).unwrap_or(&empty);
        for (key, v) in &shared_table.0 {
            match params.iter().find(|p| p.name == *key.get_ref()) {
                Some(p) if p.role == Role::Shared => {
                    if let Some(vals) = self.value(p, v, "[shared]") {
                        shared[p.offset..p.offset + p.len()].copy_from_slice(&vals);
                    }
                }
                Some(p) => self.report(
                    "moeid::case::shared",
                    key.span(),
                    format!(
                        "`{}` is per-expert; its values belong in each [[atoms]] table",
                        p.name
                    ),
                    "not shared",
                    Some(format!(
                        "declare `{} = {{ role = \"shared\" }}` to share it",
                        p.name
                    )),
                ),
                None => self.report(
                    "moeid::case::shared",
                    key.span(),
                    format!(
                        "`{}` in [shared] is not a declared parameter",
                        key.get_ref()
                    ),
                    "unknown",
                    Some(self.declared(params)),
                ),
            }
        }
        for p in params.iter().filter(|p| p.role == Role::Shared) {
            if !shared_table.0.iter().any(|(k, _)| k.get_ref() == &p.name) {
                let span = raw
                    .shared
                    .as_ref()
                    .map(|s| s.span())
                    .unwrap_or(raw.params.span());
                self.report(
                    "moeid::case::shared",
                    span,
                    format!("shared parameter `{}` has no value", p.name),
                    "missing",
                    Some(format!("add `{} = ...` under [shared]", p.name)),
                );
            }
        }
        if raw.atoms.get_ref().is_empty() {
            self.report(
                "moeid::case::atoms",
                raw.atoms.span(),
                "no atoms: the true configuration needs at least one [[atoms]] table".into(),
                "empty",
                None,
            );
        }
        let count = raw.atoms.get_ref().len();
        if count > MAX_ATOMS {
            let span = raw.atoms.get_ref()[MAX_ATOMS].span();
            self.report(
                "moeid::case::atoms",
                span,
                format!(
                    "{count} atoms: at most {MAX_ATOMS} (the joint family grows with the atoms, and its SVD and certification with their cube: 30 atoms take about 13 s, 100 would take hours)"
                ),
                "too many atoms",
                Some(format!(
                    "keep the {MAX_ATOMS} atoms whose cells you want to study; the verdict of a design does not need every expert"
                )),
            );
        }
        let mut out = Vec::new();
        for (j, atom) in raw.atoms.get_ref().iter().enumerate() {
            let mut theta = shared.clone();
            let what = format!("atom {}", j + 1);
            for (key, v) in &atom.get_ref().0 {
                // the atom's group, read with the groups
                if key.get_ref() == "group" {
                    continue;
                }
                match params.iter().find(|p| p.name == *key.get_ref()) {
                    Some(p) if p.role != Role::Shared => {
                        if let Some(vals) = self.value(p, v, &what) {
                            theta[p.offset..p.offset + p.len()].copy_from_slice(&vals);
                        }
                    }
                    Some(p) => self.report(
                        "moeid::case::atoms",
                        key.span(),
                        format!(
                            "{what}: `{}` is shared; its value belongs in [shared]",
                            p.name
                        ),
                        "shared",
                        Some(format!("move `{}` to the [shared] table", p.name)),
                    ),
                    // With nothing declared, "no parameters are declared" says it all.
                    None if params.is_empty() => {}
                    None => self.report(
                        "moeid::case::atoms",
                        key.span(),
                        format!("{what}: `{}` is not a declared parameter", key.get_ref()),
                        "unknown",
                        Some(self.declared(params)),
                    ),
                }
            }
            for p in params.iter().filter(|p| p.role != Role::Shared) {
                if !atom.get_ref().0.iter().any(|(k, _)| k.get_ref() == &p.name) {
                    self.report(
                        "moeid::case::atoms",
                        atom.span(),
                        format!("{what} has no value for `{}`", p.name),
                        "in this atom",
                        Some(format!("add `{} = ...` to every [[atoms]] table", p.name)),
                    );
                }
            }
            out.push(theta);
        }
        out
    }

    pub(super) fn declared(&self, params: &[Param]) -> String {
        if params.is_empty() {
            return "no parameter is declared; declare them under [params]".into();
        }
        format!(
            "declared parameters: {}",
            params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
