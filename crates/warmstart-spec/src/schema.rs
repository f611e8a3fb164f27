//! JSON Schema (draft 2020-12) of the experiment file format, for editors (e.g. Taplo or
//! Even Better TOML). With kind declarations, `kind` offers their names (for completion,
//! each with its description) and each kind's params get typed properties (an `if`/`then`
//! on `kind`, and on `engine` where the engine matters).
//!
//! Decision — a kind the schema does not know is accepted, not flagged: the kinds of an
//! experiment depend on the plugins it (or its project file) declares, and a schema written
//! once for a whole directory (`warmstart init`, `warmstart schema > …`) cannot know them.
//! The planner is the authority on unknown kinds; the schema only checks what it knows.

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

/// A kind the schema knows, with the engine that offers it.
#[derive(Debug, Clone, Copy)]
pub struct SchemaKind<'a> {
    /// The name stages select the engine by (`engine = "…"`).
    pub engine: &'a str,
    /// Whether that engine is the kind's default (a stage that names no engine gets it).
    pub default: bool,
    pub spec: &'a KindSpec,
}

/// The JSON Schema of experiment files. Each kind of `kinds` is offered for completion
/// with its description, and a stage of that kind (run by that engine) has its params
/// typed (documented, with bounds, choices and defaults) and unknown params rejected.
/// Kinds not in `kinds` are accepted with any params (see the module docs).
pub fn json_schema(kinds: &[SchemaKind<'_>]) -> Json {
    let mut stage_props = Map::new();
    stage_props.insert("kind".into(), kind_schema(kinds));
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

    let all_of: Vec<Json> = kinds.iter().map(kind_params_schema).collect();
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

/// `kind`: any non-empty string; the known kinds as a first alternative, an enum that
/// editors complete (taplo shows `x-taplo.docs.enumValues` next to each value).
fn kind_schema(kinds: &[SchemaKind<'_>]) -> Json {
    let mut names: Vec<&str> = Vec::new();
    let mut docs: Vec<&str> = Vec::new();
    for k in kinds {
        if !names.contains(&k.spec.name.as_str()) {
            names.push(&k.spec.name);
            docs.push(&k.spec.doc);
        }
    }
    let any = json!({ "type": "string", "minLength": 1 });
    if names.is_empty() {
        return json!({ "type": "string", "minLength": 1, "description": KIND_DOC });
    }
    json!({
        "description": KIND_DOC,
        "anyOf": [
            {
                "type": "string",
                "enum": names,
                "x-taplo": { "docs": { "enumValues": docs } },
            },
            any,
        ],
    })
}

const KIND_DOC: &str = "What the stage computes: a kind of the stage's engine (`warmstart kinds` \
                        lists them; a plugin's kinds are checked when the experiment is planned).";

/// The `if`/`then` that types the params of a stage of one kind: it applies when `kind` is
/// the kind's name and `engine` is absent (for the kind's default engine) or names the engine.
fn kind_params_schema(k: &SchemaKind<'_>) -> Json {
    let mut props = Map::new();
    for r in RESERVED {
        props.insert(r.into(), json!(true));
    }
    for p in &k.spec.params {
        props.insert(p.name.clone(), param_schema(p));
    }
    let required: Vec<&str> = k
        .spec
        .params
        .iter()
        .filter(|p| p.default.is_none())
        .map(|p| p.name.as_str())
        .collect();
    // `properties` only constrains keys that are present: with the default engine a
    // missing `engine` matches too; with another one, `engine` must be written.
    let mut cond = json!({
        "properties": {
            "kind": { "const": k.spec.name },
            "engine": { "const": k.engine },
        },
        "required": ["kind"],
    });
    if !k.default {
        cond["required"] = json!(["kind", "engine"]);
    }
    json!({
        "if": cond,
        "then": {
            "description": k.spec.doc,
            "properties": props,
            "required": required,
            "additionalProperties": false,
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

    fn echo() -> KindSpec {
        KindSpec {
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
        }
    }

    #[test]
    fn kinds_are_typed() {
        let echo = echo();
        let s = json_schema(&[SchemaKind {
            engine: "native",
            default: true,
            spec: &echo,
        }]);
        let stage = &s["$defs"]["stage"];
        let kind = &stage["properties"]["kind"];
        assert_eq!(kind["anyOf"][0]["enum"], json!(["echo"]));
        assert_eq!(
            kind["anyOf"][0]["x-taplo"]["docs"]["enumValues"],
            json!(["Echo a value."])
        );
        let when = &stage["allOf"][0]["if"];
        assert_eq!(when["properties"]["kind"]["const"], json!("echo"));
        assert_eq!(when["properties"]["engine"]["const"], json!("native"));
        assert_eq!(when["required"], json!(["kind"]));
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

    #[test]
    fn unknown_kinds_are_accepted_and_other_engines_must_be_named() {
        let echo = echo();
        let kinds = [
            SchemaKind {
                engine: "native",
                default: true,
                spec: &echo,
            },
            SchemaKind {
                engine: "mine",
                default: false,
                spec: &echo,
            },
        ];
        let s = json_schema(&kinds);
        let stage = &s["$defs"]["stage"];
        let kind = &stage["properties"]["kind"];
        // Offered once, and any other string is a second alternative.
        assert_eq!(kind["anyOf"][0]["enum"], json!(["echo"]));
        assert_eq!(
            kind["anyOf"][1],
            json!({ "type": "string", "minLength": 1 })
        );
        assert_eq!(
            stage["allOf"][1]["if"]["required"],
            json!(["kind", "engine"])
        );
        assert_eq!(
            stage["allOf"][1]["if"]["properties"]["engine"]["const"],
            json!("mine")
        );
    }
}
