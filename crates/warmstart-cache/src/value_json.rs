//! Lossless JSON encoding of param [`Value`]s in manifests.
//!
//! JSON has no NaN or ±infinity: serde_json writes them as `null`, which cannot be read
//! back, so an entry whose params or coordinates held one was unreadable and recomputed on
//! every run. Manifests therefore encode values with this module instead of `Value`'s own
//! serde derive:
//!
//! - a non-finite float is `{"$f64": "nan"}`, `{"$f64": "inf"}` or `{"$f64": "-inf"}`;
//! - a table whose only key is `$f64` or `$table` (so that it could be mistaken for the
//!   form above, or for this one) is wrapped as `{"$table": {…}}`;
//! - everything else is exactly what the derive writes, so manifests written before this
//!   encoding existed read back unchanged (their non-finite floats were `null` and stay
//!   unreadable: those entries are corrupt and recomputed once).
//!
//! Architecture invariant: a manifest's `KeyInputs` read back equal (same key) to what was
//! written, for every `Value`, NaN and ±inf included.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value as Json};
use warmstart_engine::Value;

const FLOAT_TAG: &str = "$f64";
const TABLE_TAG: &str = "$table";

/// `value` as manifest JSON.
pub fn encode(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => {
                let text = if f.is_nan() {
                    "nan"
                } else if *f > 0.0 {
                    "inf"
                } else {
                    "-inf"
                };
                tagged(FLOAT_TAG, Json::String(text.into()))
            }
        },
        Value::Str(s) => Json::String(s.clone()),
        Value::List(l) => Json::Array(l.iter().map(encode).collect()),
        Value::Table(t) => {
            let inner: Map<String, Json> = t.iter().map(|(k, v)| (k.clone(), encode(v))).collect();
            let ambiguous =
                t.len() == 1 && t.keys().all(|k| k.as_str() == FLOAT_TAG || k == TABLE_TAG);
            if ambiguous {
                tagged(TABLE_TAG, Json::Object(inner))
            } else {
                Json::Object(inner)
            }
        }
    }
}

fn tagged(tag: &str, inner: Json) -> Json {
    let mut m = Map::new();
    m.insert(tag.into(), inner);
    Json::Object(m)
}

/// Manifest JSON back to a value; `Err` says what is wrong.
pub fn decode(json: &Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => return Err("`null` is not a param value".into()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.is_f64(), n.as_i64()) {
            (false, Some(i)) => Value::Int(i),
            _ => Value::Float(
                n.as_f64()
                    .ok_or_else(|| format!("number {n} is out of range"))?,
            ),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::List(a.iter().map(decode).collect::<Result<_, _>>()?),
        Json::Object(o) => {
            if o.len() == 1
                && let Some(tag) = o.get(FLOAT_TAG)
            {
                return match tag.as_str() {
                    Some("nan") => Ok(Value::Float(f64::NAN)),
                    Some("inf") => Ok(Value::Float(f64::INFINITY)),
                    Some("-inf") => Ok(Value::Float(f64::NEG_INFINITY)),
                    _ => Err(format!(
                        "`{FLOAT_TAG}` must be \"nan\", \"inf\" or \"-inf\", not {tag}"
                    )),
                };
            }
            let fields = match (o.len(), o.get(TABLE_TAG)) {
                (1, Some(Json::Object(inner))) => inner,
                _ => o,
            };
            Value::Table(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), decode(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
    })
}

/// `#[serde(with = …)]` for `BTreeMap<String, Value>`.
pub mod map {
    use super::*;

    pub fn serialize<S: Serializer>(m: &BTreeMap<String, Value>, s: S) -> Result<S::Ok, S::Error> {
        let j: Map<String, Json> = m.iter().map(|(k, v)| (k.clone(), encode(v))).collect();
        j.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Value>, D::Error> {
        let j = Map::<String, Json>::deserialize(d)?;
        j.iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    decode(v).map_err(|e| D::Error::custom(format!("`{k}`: {e}")))?,
                ))
            })
            .collect()
    }
}

/// `#[serde(with = …)]` for coordinates, `Vec<(String, Value)>` (JSON `[[name, value], …]`).
pub mod pairs {
    use super::*;

    pub fn serialize<S: Serializer>(p: &[(String, Value)], s: S) -> Result<S::Ok, S::Error> {
        let j: Vec<(&str, Json)> = p.iter().map(|(k, v)| (k.as_str(), encode(v))).collect();
        j.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Value)>, D::Error> {
        let j = Vec::<(String, Json)>::deserialize(d)?;
        j.into_iter()
            .map(|(k, v)| {
                let v = decode(&v).map_err(|e| D::Error::custom(format!("`{k}`: {e}")))?;
                Ok((k, v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: &Value) -> Value {
        let text = serde_json::to_string(&encode(v)).unwrap();
        decode(&serde_json::from_str(&text).unwrap()).unwrap()
    }

    #[test]
    fn every_value_roundtrips_bit_for_bit() {
        let table = |k: &str, v: Value| Value::Table([(k.to_string(), v)].into());
        let cases = [
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(-0.0),
            Value::Float(1.0),
            Value::Float(0.1),
            Value::Float(f64::MAX),
            Value::Float(f64::MIN_POSITIVE),
            Value::Int(1),
            Value::Int(i64::MIN),
            Value::Bool(true),
            Value::Str("nan".into()),
            Value::List(vec![Value::Float(f64::INFINITY), Value::Int(2)]),
            table("$f64", Value::Str("nan".into())),
            table("$table", Value::Int(1)),
            table("$table", table("$f64", Value::Str("inf".into()))),
            table("a", Value::Float(f64::NEG_INFINITY)),
            Value::Table(BTreeMap::new()),
        ];
        for v in cases {
            let back = roundtrip(&v);
            assert_eq!(back, v, "{v:?}");
            if let (Value::Float(a), Value::Float(b)) = (&back, &v) {
                assert_eq!(a.to_bits(), b.to_bits(), "{v:?}");
            }
        }
        assert!(matches!(roundtrip(&Value::Float(f64::NAN)), Value::Float(f) if f.is_nan()));
    }

    #[test]
    fn finite_values_encode_as_the_derive_does() {
        let v = Value::List(vec![
            Value::Float(0.5),
            Value::Int(3),
            Value::Table([("k".to_string(), Value::Str("s".into()))].into()),
        ]);
        assert_eq!(encode(&v), serde_json::to_value(&v).unwrap());
    }

    #[test]
    fn bad_tags_and_null_are_errors() {
        for text in [
            r#"null"#,
            r#"{"$f64": "nope"}"#,
            r#"{"$f64": 1}"#,
            r#"[null]"#,
        ] {
            let j: Json = serde_json::from_str(text).unwrap();
            assert!(decode(&j).is_err(), "{text}");
        }
    }
}
