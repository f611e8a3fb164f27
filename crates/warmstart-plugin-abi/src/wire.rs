//! JSON encodings of what crosses the ABI besides tables: params, coordinates, input
//! descriptions and errors. Both sides use these functions, so they cannot disagree.

use serde::{Deserialize, Serialize};
use warmstart_engine::{EngineError, Params, Value};

/// Encode params as a JSON object.
pub fn params_to_json(params: &Params) -> String {
    let map: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Decode params from a JSON object (integers stay integers; `null` is rejected).
pub fn params_from_json(s: &str) -> Result<Params, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| format!("params: {e}"))?;
    let serde_json::Value::Object(o) = v else {
        return Err("params: expected a JSON object".into());
    };
    o.iter()
        .map(|(k, v)| {
            Value::from_json(v)
                .map(|v| (k.clone(), v))
                .ok_or_else(|| format!("param `{k}`: null is not a value"))
        })
        .collect()
}

/// Encode sweep coordinates as a JSON array of `[axis, value]` pairs (order kept).
pub fn coords_to_json(coords: &[(String, Value)]) -> serde_json::Value {
    serde_json::Value::Array(
        coords
            .iter()
            .map(|(a, v)| serde_json::json!([a, v.to_json()]))
            .collect(),
    )
}

/// Decode sweep coordinates from a JSON array of `[axis, value]` pairs.
pub fn coords_from_json(v: &serde_json::Value) -> Result<Vec<(String, Value)>, String> {
    let bad = || "coords: expected an array of [axis, value] pairs".to_string();
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([serde_json::Value::String(a), v]) => {
                Value::from_json(v).map(|v| (a.clone(), v)).ok_or_else(bad)
            }
            _ => Err(bad()),
        })
        .collect()
}

/// The description of one input stage instance; its tables travel as Arrow arrays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputDesc {
    /// The upstream stage's name.
    pub stage: String,
    /// Its sweep coordinates: `[[axis, value], ..]` in axis order.
    pub coords: serde_json::Value,
    /// The names of its tables, in the order their arrays follow.
    pub tables: Vec<String>,
}

/// An [`EngineError`] in JSON form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum WireError {
    /// [`EngineError::Param`].
    Param {
        /// The param's name.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// [`EngineError::Input`].
    Input {
        /// What is wrong with the inputs.
        message: String,
    },
    /// [`EngineError::Failed`].
    Failed {
        /// Why the stage failed.
        message: String,
    },
    /// [`EngineError::Cancelled`].
    Cancelled,
}

/// Encode an engine error as JSON.
pub fn error_to_json(e: &EngineError) -> String {
    let w = match e {
        EngineError::Param { name, message } => WireError::Param {
            name: name.clone(),
            message: message.clone(),
        },
        EngineError::Input(m) => WireError::Input { message: m.clone() },
        EngineError::Failed(m) => WireError::Failed { message: m.clone() },
        EngineError::Cancelled => WireError::Cancelled,
        // A variant added later crosses as its message, which every host understands.
        other => WireError::Failed {
            message: other.to_string(),
        },
    };
    serde_json::to_string(&w).unwrap_or_else(|_| e.to_string())
}

/// Decode an engine error; text that is not a wire error becomes [`EngineError::Failed`].
pub fn error_from_json(s: &str) -> EngineError {
    match serde_json::from_str::<WireError>(s) {
        Ok(WireError::Param { name, message }) => EngineError::Param { name, message },
        Ok(WireError::Input { message }) => EngineError::Input(message),
        Ok(WireError::Failed { message }) => EngineError::Failed(message),
        Ok(WireError::Cancelled) => EngineError::Cancelled,
        Err(_) => EngineError::Failed(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_roundtrip() {
        for e in [
            EngineError::param("lambda", "must be > 0"),
            EngineError::Input("no table".into()),
            EngineError::failed("boom"),
            EngineError::Cancelled,
        ] {
            assert_eq!(error_from_json(&error_to_json(&e)), e);
        }
        assert_eq!(error_from_json("plain"), EngineError::failed("plain"));
    }

    #[test]
    fn params_and_coords_roundtrip() {
        let mut p = Params::new();
        p.insert("n".into(), Value::Int(3));
        p.insert("x".into(), Value::Float(0.5));
        assert_eq!(params_from_json(&params_to_json(&p)).unwrap(), p);
        let c = vec![
            ("b".to_string(), Value::Int(1)),
            ("a".into(), Value::Float(2.0)),
        ];
        assert_eq!(coords_from_json(&coords_to_json(&c)).unwrap(), c);
        assert!(params_from_json("[1]").is_err());
    }
}
