//! JSON Schema (draft 2020-12) of the experiment file format, for editors (e.g. Taplo or
//! Even Better TOML). With kind declarations, `kind` becomes an enum and each kind's params
//! get typed properties (an `if`/`then` on `kind`).

use serde_json::{Map, Value as Json, json};
use warmstart_engine::{KindSpec, ParamSpec, ParamType};

use crate::parse::RESERVED;

const NAME_PATTERN: &str = "^[A-Za-z0-9_.-]+$";
const IDENT_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

fn type_schema(ty: &ParamType, spec: &ParamSpec) -> Json {
    let mut s = Map::new();
    match ty {
        ParamType::Bool => {
            s.insert("type".into(), json!("boolean"));
        }
        ParamType::Int | ParamType::Float => {
            let t = if matches!(ty, ParamType::Int) {
                "integer"
            } else {
                "number"
            };
            s.insert("type".into(), json!(t));
            if let Some(m) = spec.min {
                s.insert("minimum".into(), json!(m));
            }
            if let Some(m) = spec.max {
                s.insert("maximum".into(), json!(m));
            }
        }
        ParamType::Str | ParamType::Path => {
            s.insert("type".into(), json!("string"));
            if let Some(c) = &spec.choices {
                s.insert("enum".into(), json!(c));
            }
        }
        ParamType::List(of) => {
            s.insert("type".into(), json!("array"));
            s.insert("items".into(), type_schema(of, spec));
        }
        ParamType::Any => {}
    }
    Json::Object(s)
}

fn param_schema(p: &ParamSpec) -> Json {
    let mut s = Map::new();
    s.insert(
        "anyOf".into(),
        json!([type_schema(&p.ty, p), { "$ref": "#/$defs/expression" }]),
    );
    s.insert("description".into(), json!(p.doc));
    if let Some(d) = &p.default {
        s.insert("default".into(), d.to_json());
    }
    Json::Object(s)
}

/// The JSON Schema of experiment files. With `kinds` given, `kind` is an enum of their
/// names and each kind's params are typed (documented, with bounds, choices and defaults);
/// unknown params are then rejected by the schema.
pub fn json_schema(kinds: &[KindSpec]) -> Json {
    let mut stage_props = Map::new();
    let kind_schema = if kinds.is_empty() {
        json!({ "type": "string", "minLength": 1, "description": "What the stage computes." })
    } else {
        json!({
            "type": "string",
            "enum": kinds.iter().map(|k| k.name.clone()).collect::<Vec<_>>(),
            "description": "What the stage computes.",
        })
    };
    stage_props.insert("kind".into(), kind_schema);
    stage_props.insert(
        "engine".into(),
        json!({ "type": "string", "description": "The engine that runs the stage." }),
    );
    stage_props.insert(
        "inputs".into(),
        json!({ "type": "array", "items": { "$ref": "#/$defs/input" }, "description": "Stages whose outputs this stage reads." }),
    );
    stage_props.insert(
        "seed".into(),
        json!({
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "\\$\\{" }
            ],
            "description": "Explicit seed for this stage: an integer ≥ 0, or a `${…}` expression evaluated per sweep point (`\"${100 + rep}\"`)."
        }),
    );
    stage_props.insert(
        "threads".into(),
        json!({ "type": "integer", "minimum": 1, "description": "Resource hint: threads to use (not a param)." }),
    );
    stage_props.insert(
        "gpu".into(),
        json!({ "anyOf": [{ "type": "boolean" }, { "type": "integer", "minimum": 0 }], "description": "Resource hint: whether to use a GPU, or which device (not a param)." }),
    );
    stage_props.insert(
        "gather".into(),
        json!({ "type": "array", "items": { "type": "string" }, "uniqueItems": true, "description": "Fan in over these axes: one instance gets all input instances along them." }),
    );
    stage_props.insert(
        "sweep".into(),
        json!({ "type": "array", "items": { "type": "string" }, "uniqueItems": true, "description": "Sweep over these axes even if no param references them." }),
    );
    stage_props.insert("description".into(), json!({ "type": "string" }));
    stage_props.insert(
        "mem".into(),
        json!({ "type": "string", "pattern": "^[0-9]+[KMGTkmgt]?$", "description": "Cluster hint: memory per job, Slurm's --mem (`16G`). Not in the key." }),
    );
    stage_props.insert(
        "time".into(),
        json!({ "type": "string", "description": "Cluster hint: wall-time limit, Slurm's --time (`04:00:00`, `1-12:00:00`). Not in the key." }),
    );
    stage_props.insert(
        "partition".into(),
        json!({ "type": "string", "description": "Cluster hint: Slurm partition for this stage's jobs. Not in the key." }),
    );
    stage_props.insert(
        "local".into(),
        json!({ "type": "boolean", "description": "Run on the submitting machine even under a cluster executor (default for cheap kinds: aggregate, plot, echo)." }),
    );

    let mut all_of = Vec::new();
    for k in kinds {
        let mut props = Map::new();
        for r in RESERVED {
            props.insert(r.into(), json!(true));
        }
        for p in &k.params {
            props.insert(p.name.clone(), param_schema(p));
        }
        let required: Vec<&str> = k
            .params
            .iter()
            .filter(|p| p.default.is_none())
            .map(|p| p.name.as_str())
            .collect();
        all_of.push(json!({
            "if": { "properties": { "kind": { "const": k.name } }, "required": ["kind"] },
            "then": {
                "description": k.doc,
                "properties": props,
                "required": required,
                "additionalProperties": false,
            },
        }));
    }
    let mut stage = json!({
        "type": "object",
        "required": ["kind"],
        "properties": stage_props,
        "additionalProperties": { "$ref": "#/$defs/param" },
    });
    if !all_of.is_empty()
        && let Some(o) = stage.as_object_mut()
    {
        o.insert("allOf".into(), Json::Array(all_of));
    }

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "warmstart experiment",
        "description": "An experiment: a DAG of stages swept over named axes.",
        "type": "object",
        "required": ["experiment", "stages"],
        "additionalProperties": false,
        "properties": {
            "experiment": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": {
                    "name": { "type": "string", "pattern": NAME_PATTERN },
                    "description": { "type": "string" },
                    "seed": { "type": "integer", "minimum": 0, "default": 0 },
                    "metrics": {
                        "type": "array",
                        "description": "What `warmstart compare` shows per run: `stage.column` or `stage.table.column`.",
                        "items": { "type": "string", "pattern": "^[^.]+\\.[^.]+(\\.[^.]+)?$" },
                    },
                },
            },
            "params": {
                "type": "object",
                "description": "Shared values; strings may use ${...} expressions over earlier params and axes.",
                "propertyNames": { "pattern": IDENT_PATTERN },
                "additionalProperties": { "$ref": "#/$defs/param" },
            },
            "sweep": {
                "type": "object",
                "description": "Named axes; file order is axis order.",
                "propertyNames": { "pattern": IDENT_PATTERN },
                "additionalProperties": { "$ref": "#/$defs/axis" },
            },
            "stages": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": { "pattern": NAME_PATTERN },
                "additionalProperties": { "$ref": "#/$defs/stage" },
            },
            "engines": engines_schema("the experiment file"),
        },
        "$defs": {
            "expression": {
                "type": "string",
                "pattern": "\\$\\{",
                "description": "A ${...} expression (a whole-string expression keeps its type).",
            },
            "param": { "description": "Any TOML value; strings may contain ${...} expressions." },
            "scalar": { "type": ["string", "number", "boolean"] },
            "axis": {
                "oneOf": [
                    { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/scalar" } },
                    {
                        "type": "object", "additionalProperties": false, "required": ["values"],
                        "properties": { "values": { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/scalar" } } },
                    },
                    {
                        "type": "object", "additionalProperties": false, "required": ["linspace"],
                        "properties": { "linspace": {
                            "description": "[start, stop (inclusive), count]",
                            "type": "array",
                            "prefixItems": [{ "type": "number" }, { "type": "number" }, { "type": "integer", "minimum": 1 }],
                            "minItems": 3, "maxItems": 3,
                        } },
                    },
                    {
                        "type": "object", "additionalProperties": false, "required": ["logspace"],
                        "properties": { "logspace": {
                            "description": "[start exponent, stop exponent, count] (base 10)",
                            "type": "array",
                            "prefixItems": [{ "type": "number" }, { "type": "number" }, { "type": "integer", "minimum": 1 }],
                            "minItems": 3, "maxItems": 3,
                        } },
                    },
                    {
                        "type": "object", "additionalProperties": false, "required": ["glob"],
                        "properties": { "glob": {
                            "description": "Entries of a directory (relative to the experiment file) matching a pattern with one `*` in its last component; the values are what `*` stood for (integers when all are numbers).",
                            "type": "string", "pattern": "^[^*]*\\*[^*/]*$",
                        } },
                    },
                    {
                        "type": "object", "additionalProperties": false, "required": ["range"],
                        "properties": { "range": {
                            "description": "[start, end (excluded)] or [start, end, step]",
                            "type": "array", "items": { "type": "integer" },
                            "minItems": 2, "maxItems": 3,
                        } },
                    },
                ],
            },
            "input": {
                "oneOf": [
                    { "type": "string", "description": "A stage name." },
                    {
                        "type": "object", "additionalProperties": false, "required": ["stage"],
                        "properties": {
                            "stage": { "type": "string" },
                            "pick": { "type": "object", "additionalProperties": { "$ref": "#/$defs/scalar" } },
                        },
                    },
                ],
            },
            "stage": stage,
        },
    })
}

/// The `[engines]` table: plugins by name, each a shared library relative to `relative_to`.
fn engines_schema(relative_to: &str) -> Json {
    json!({
        "type": "object",
        "description": "Engines loaded from files (plugins); stages select one with `engine = \"NAME\"`.",
        "additionalProperties": {
            "type": "object",
            "required": ["path"],
            "additionalProperties": false,
            "properties": { "path": {
                "type": "string",
                "description": format!("Shared library, relative to {relative_to} (extension optional)."),
            } },
        },
    })
}

/// The JSON Schema of the project file, `warmstart.toml` (see [`crate::project`]).
pub fn project_json_schema() -> Json {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "warmstart project (warmstart.toml)",
        "description": "Settings shared by every experiment below this file's directory.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "root": { "type": "boolean", "description": "Marks this directory as the project's top: the search for warmstart.toml never goes above it (nor above the enclosing git repository)." },
            "engines": engines_schema("warmstart.toml"),
            "executor": {
                "type": "object",
                "description": "Which executor `warmstart run` uses, and the defaults of its cluster jobs.",
                "additionalProperties": false,
                "required": ["kind"],
                "properties": {
                    "kind": { "enum": ["local", "slurm"] },
                    "partition": { "type": "string" },
                    "account": { "type": "string" },
                    "qos": { "type": "string" },
                    "time": { "type": "string", "description": "Default --time of a job." },
                    "mem": { "type": "string", "pattern": "^[0-9]+[KMGTkmgt]?$", "description": "Default --mem of a job." },
                    "extra": { "type": "array", "items": { "type": "string", "pattern": "^-" }, "description": "Further sbatch options, verbatim." },
                    "max_submitted": { "type": "integer", "minimum": 1, "description": "At most this many jobs in the queue at once." },
                    "poll_interval": { "type": "number", "minimum": 1, "maximum": 3600, "description": "Seconds between two queue checks (one squeue for all jobs); default 10." },
                    "allow_node_local_cache": { "type": "boolean", "description": "Allow a cache under /tmp or /dev/shm (one-node clusters only)." },
                    "description": { "type": "string" },
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warmstart_engine::Determinism;

    #[test]
    fn kinds_are_typed() {
        let kinds = vec![KindSpec {
            name: "echo".into(),
            doc: "Echo a value.".into(),
            params: vec![
                ParamSpec::float("rho", "correlation").range(0.0, 1.0),
                ParamSpec::string("act", "activation")
                    .choices(&["relu", "tanh"])
                    .default("relu"),
            ],
            determinism: Determinism::Deterministic,
            min_inputs: 0,
            max_inputs: None,
            reads: vec![],
            writes: vec![],
        }];
        let s = json_schema(&kinds);
        let stage = &s["$defs"]["stage"];
        assert_eq!(stage["properties"]["kind"]["enum"], json!(["echo"]));
        let then = &stage["allOf"][0]["then"];
        assert_eq!(then["properties"]["rho"]["anyOf"][0]["maximum"], json!(1.0));
        assert_eq!(
            then["properties"]["rho"]["description"],
            json!("correlation")
        );
        assert_eq!(
            then["properties"]["act"]["anyOf"][0]["enum"],
            json!(["relu", "tanh"])
        );
        assert_eq!(then["properties"]["act"]["default"], json!("relu"));
        assert_eq!(then["required"], json!(["rho"]));
        assert_eq!(
            json_schema(&[])["$defs"]["stage"]["properties"]["kind"]["type"],
            json!("string")
        );
    }
}
