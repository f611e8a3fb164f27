//! [`NodeParams`]: a planned node's checked params in a compact form.
//!
//! A plan holds one params set per stage instance, and a sweep can have a million
//! instances. A `BTreeMap<String, Value>` (the engines' [`Params`]) costs a ~640-byte
//! leaf node plus one `String` per name for each of them, however few params there are;
//! this is one allocation per instance of `(name, value)` pairs sorted by name, with the
//! names shared (`Arc<str>`) by every instance of a stage. Engines still receive
//! [`Params`]: [`NodeParams::to_params`] builds it when a stage runs.

use std::sync::Arc;

use warmstart_engine::{Params, Value};

/// Checked params with defaults filled in, sorted by name (the order of [`Params`], so
/// iterating gives the same sequence and keys stay bit-identical).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeParams(Box<[(Arc<str>, Value)]>);

impl NodeParams {
    /// From (name, value) pairs with unique names, in any order.
    pub fn from_pairs(mut pairs: Vec<(Arc<str>, Value)>) -> NodeParams {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        NodeParams(pairs.into_boxed_slice())
    }

    /// The value of the param named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// (name, value) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + Clone {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The engines' form (what a [`warmstart_engine::StageRequest`] carries).
    pub fn to_params(&self) -> Params {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_like_a_btreemap_and_found_by_name() {
        let p = NodeParams::from_pairs(vec![
            (Arc::from("value"), Value::Int(1)),
            (Arc::from("fail"), Value::Bool(false)),
            (Arc::from("b_"), Value::Str("x".into())),
            (Arc::from("b"), Value::Float(0.5)),
        ]);
        let map = p.to_params();
        let from_map: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(p.iter().collect::<Vec<_>>(), from_map);
        assert_eq!(p.get("b"), Some(&Value::Float(0.5)));
        assert_eq!(p.get("value"), Some(&Value::Int(1)));
        assert!(p.contains_key("fail"));
        assert!(!p.contains_key("c"));
        assert_eq!(p.len(), 4);
        assert!(NodeParams::default().is_empty());
    }
}
