//! A plugin that misbehaves on request, for the host's fault tests.
//!
//! Kind `fault`, param `mode`:
//! * `ok` — returns a one-row table (and echoes input tables as `in-<i>`);
//! * `panic` — panics inside `run`;
//! * `reject` — rejects param `level` (a param error);
//! * `bad-name` — returns a table named `Bad Name`;
//! * `not-struct` — returns a top-level Int64 array instead of a struct array;
//! * `bad-arrow` — returns a struct array whose Utf8 column holds invalid UTF-8;
//! * `bad-length` — returns a struct array longer than its column.
//!
//! The last two cannot be produced through the SDK (it only exports well-formed batches),
//! so this plugin wraps the SDK's `run` and corrupts its output afterwards.

use std::sync::Arc;

use arrow_array::ffi::to_ffi;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_buffer::Buffer;
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, Fields};
use warmstart_plugin_abi::warmstart_engine::{
    Determinism, EngineError, EngineInfo, KindSpec, ParamSpec, StageOutput, StageRequest,
};
use warmstart_plugin_abi::{Plugin, PluginTable, RunOutput, RunRequest, sdk, status};

/// The plugin type.
pub struct FaultPlugin;

impl Plugin for FaultPlugin {
    fn info() -> EngineInfo {
        EngineInfo {
            id: "fault".into(),
            version: "1".into(),
            kinds: vec![KindSpec {
                name: "fault".into(),
                doc: "Misbehaves as `mode` says".into(),
                params: vec![
                    ParamSpec::string("mode", "What to do").default("ok"),
                    ParamSpec::int("level", "Any integer; rejected in mode `reject`").default(1i64),
                ],
                determinism: Determinism::Deterministic,
                min_inputs: 0,
                max_inputs: None,
                reads: vec![],
                writes: vec![],
            }],
        }
    }

    fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
        let one = || {
            RecordBatch::try_from_iter(vec![(
                "x",
                Arc::new(Int64Array::from(vec![req.seed as i64])) as ArrayRef,
            )])
        };
        match req.str("mode")? {
            "panic" => panic!("fault plugin: deliberate panic in run"),
            "reject" => Err(EngineError::param(
                "level",
                format!("{} is not accepted by the fault plugin", req.i64("level")?),
            )),
            "bad-name" => {
                let mut out = StageOutput::default();
                out.push("Bad Name", one()?);
                Ok(out)
            }
            _ => {
                let mut out = StageOutput::single(one()?);
                for (i, t) in req.inputs.iter().flat_map(|i| &i.tables).enumerate() {
                    out.push(format!("in-{i}"), t.batch.clone());
                }
                Ok(out)
            }
        }
    }
}

static INNER: PluginTable = sdk::plugin_table::<FaultPlugin>();
static TABLE: PluginTable = PluginTable {
    run: run_with_faults,
    ..INNER
};

/// The entry point (hand-written instead of `export_plugin!`, to wrap `run`).
#[unsafe(no_mangle)]
pub extern "C" fn warmstart_plugin_v1() -> *const PluginTable {
    &TABLE
}

fn mode_of(req: *const RunRequest) -> Option<String> {
    // SAFETY: the host passes a valid request for the duration of the call.
    let params = unsafe { (*req).params_json.as_str() }.ok()?;
    let v: serde_json::Value = serde_json::from_str(params).ok()?;
    v.get("mode")?.as_str().map(str::to_string)
}

fn corrupt(
    mode: &str,
) -> Option<(
    arrow_array::ffi::FFI_ArrowArray,
    arrow_array::ffi::FFI_ArrowSchema,
)> {
    let data = match mode {
        "not-struct" => Int64Array::from(vec![1, 2, 3]).to_data(),
        "bad-arrow" => {
            // A Utf8 column whose one value is not UTF-8 (offsets in bounds).
            // SAFETY: the offsets are in bounds of the values buffer, so building the array is
            // memory-safe; only the UTF-8 invariant is broken, on purpose: the host's full
            // validation must catch it.
            let child = unsafe {
                ArrayData::new_unchecked(
                    DataType::Utf8,
                    1,
                    None,
                    None,
                    0,
                    vec![
                        Buffer::from_slice_ref([0i32, 2]),
                        Buffer::from_slice_ref([0xffu8, 0xfe]),
                    ],
                    vec![],
                )
            };
            struct_of(child, 1)
        }
        "bad-length" => {
            // A struct array of 3 rows whose only column has 1 row.
            struct_of(Int64Array::from(vec![1]).to_data(), 3)
        }
        _ => return None,
    };
    to_ffi(&data).ok()
}

/// A one-column struct array of `len` rows, unchecked.
fn struct_of(child: ArrayData, len: usize) -> ArrayData {
    let fields = Fields::from(vec![Field::new("c", child.data_type().clone(), false)]);
    // SAFETY: deliberately unchecked; the host must catch the inconsistency.
    unsafe {
        ArrayData::new_unchecked(
            DataType::Struct(fields),
            len,
            None,
            None,
            0,
            vec![],
            vec![child],
        )
    }
}

unsafe extern "C" fn run_with_faults(req: *const RunRequest, out: *mut RunOutput) -> i32 {
    // SAFETY: forwarding the host's pointers.
    let code = unsafe { (INNER.run)(req, out) };
    if code != status::OK || req.is_null() {
        return code;
    }
    let Some(mode) = mode_of(req) else {
        return code;
    };
    if let Some((array, schema)) = corrupt(&mode) {
        // SAFETY: the SDK filled `out` with at least one table.
        let out = unsafe { &mut *out };
        if out.n_tables > 0 {
            // SAFETY: `n_tables > 0`, so `tables` points to at least one `TableOut` the SDK
            // allocated, and nothing else references it during this call.
            let t = unsafe { &mut *out.tables };
            t.array = array; // the old ones are dropped (released) here
            t.schema = schema;
        }
    }
    code
}
