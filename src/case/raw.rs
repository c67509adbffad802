//! The case file as written: serde structs mirroring the TOML, with spans for diagnostics.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;
use toml::Spanned;

/// A TOML table read in document order.
#[derive(Debug)]
pub struct Ordered<V>(pub Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V_<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V_<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V_(PhantomData))
    }
}

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

/// An array of tables of values in document order (`[[atoms]]`, `[[groups]]`).
pub type Tables = Vec<Spanned<Ordered<Spanned<toml::Value>>>>;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCase {
    pub name: Option<Spanned<String>>,
    pub title: Option<String>,
    pub source: Option<String>,
    pub model: Spanned<String>,
    #[serde(default)]
    pub inputs: Option<Spanned<RawInputs>>,
    pub gate: Spanned<RawGate>,
    pub expert: Spanned<RawExpert>,
    #[serde(default)]
    pub fixed: Option<Spanned<RawFixed>>,
    pub params: Spanned<Ordered<Spanned<RawParam>>>,
    pub atoms: Spanned<Tables>,
    #[serde(default)]
    pub groups: Option<Spanned<Tables>>,
    #[serde(default)]
    pub shared: Option<Spanned<Ordered<Spanned<toml::Value>>>>,
    #[serde(default)]
    pub verify: Option<RawVerify>,
    #[serde(default)]
    pub expect: Option<RawExpect>,
    #[serde(default)]
    pub rates: Option<Spanned<RawRates>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRates {
    pub fitted: Option<Spanned<Vec<Spanned<i64>>>>,
    pub n: Option<Spanned<toml::Value>>,
    pub replicates: Option<Spanned<i64>>,
    pub restarts: Option<Spanned<i64>>,
    pub noise: Option<Spanned<f64>>,
    pub exponents: Option<Spanned<Ordered<Spanned<f64>>>>,
    pub init_gate: Option<Spanned<f64>>,
    pub init_expert: Option<Spanned<f64>>,
    pub init_decay: Option<Spanned<f64>>,
    pub max_iters: Option<Spanned<i64>>,
    pub tolerance: Option<Spanned<f64>>,
    pub seed: Option<Spanned<i64>>,
    pub accelerate: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInputs {
    pub dim: Option<Spanned<i64>>,
    pub low: Option<Spanned<f64>>,
    pub high: Option<Spanned<f64>>,
    pub classes: Option<Spanned<i64>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    pub weight: Spanned<String>,
    pub group_weight: Option<Spanned<String>>,
    pub normalized: Option<bool>,
    pub top_k: Option<Spanned<i64>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpert {
    pub mean: Option<Spanned<String>>,
    pub variance: Option<Spanned<String>>,
    pub logits: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[fixed]`: a known component beside the learned experts.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFixed {
    pub weight: Option<Spanned<String>>,
    pub proportion: Option<Spanned<f64>>,
    pub mean: Option<Spanned<String>>,
    pub variance: Option<Spanned<String>>,
    pub logits: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    pub shape: Option<Spanned<Vec<Spanned<i64>>>>,
    pub role: Option<Spanned<String>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerify {
    pub order: Option<Spanned<i64>>,
    pub seed: Option<Spanned<i64>>,
    pub samples: Option<Spanned<i64>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub verdict: Spanned<String>,
}
