//! `embed`: last-token hidden states of an ONNX-exported checkpoint.
//!
//! A checkpoint is a directory holding
//! - `model.onnx`: inputs `input_ids` and `attention_mask` (int64, `[batch, seq]`; an
//!   optional `position_ids` input is fed `0..seq`), outputs `hidden_states_0` …
//!   `hidden_states_L` (float32 — or float16/bfloat16, widened exactly to float32 —
//!   `[batch, seq, hidden]`; 0 = token embeddings, L = last
//!   block), as `tools/make_tiny_suite.py` and the export recipe in `tools/README.md` produce;
//! - `tokenizer.json`: a Hugging Face `tokenizers` file;
//! - `checkpoint.json`: a manifest (`step`, `hidden_size`, `layer_outputs` = the output names
//!   in layer order, `eval_loss`). Optional: without it the outputs named
//!   `hidden_states_<i>` are used (or, for an `optimum-cli export onnx --task
//!   feature-extraction` model, its single `last_hidden_state` output as layer 0), and step
//!   and eval loss are null.
//!
//! Input: a dataset table (`id`, `chosen`, `rejected`; see [`crate::dataset`]). Both texts of
//! each pair are tokenized (no special tokens added beyond the tokenizer's own
//! post-processor), truncated to `max_length` tokens — by default from the left, keeping
//! the end of the dialogue, where the answer being judged is — sorted by length, batched
//! with right padding and an attention mask, and run; for every requested layer the hidden
//! state of the last non-pad token is kept.
//!
//! Outputs: `embeddings` (id, side, layer, embedding; see [`crate::tables`]) and
//! `checkpoint` (one row: step, eval_loss, hidden_size, num_layers, tokens).
//!
//! `batch_size`, `provider` and `device` change how, not what, is computed, and stay out of the key;
//! the model and tokenizer digests and the ONNX Runtime build enter it (`key_extra`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use ort::ep::ExecutionProvider;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use rayon::prelude::*;
use warmstart_engine::{
    Determinism, EngineError, InputSpec, KindSpec, ParamSpec, ParamType, StageOutput, StageRequest,
    TableSpec, Value,
};

use crate::error::OnnxError;
use crate::runtime::runtime;
use crate::tables::{EmbeddingRow, embedding_table, input_table, strings};

pub fn spec() -> KindSpec {
    KindSpec {
        name: "embed".into(),
        doc: "Last-token hidden states of an ONNX checkpoint for the chosen and rejected texts"
            .into(),
        params: vec![
            ParamSpec::path(
                "checkpoint",
                "Directory with model.onnx, tokenizer.json and checkpoint.json; the digests of \
                 model.onnx and tokenizer.json enter the cache key",
            ),
            ParamSpec::list(
                "layers",
                ParamType::Int,
                "Layers to keep (0 = embeddings, L = last block; negative counts from the end, \
                 -1 = last); empty = all",
            )
            .default(Value::List(vec![])),
            ParamSpec::int("max_length", "Maximum tokens per text")
                .default(512i64)
                .min(1.0),
            ParamSpec::string(
                "truncation",
                "Which end to cut when a text is too long: `left` drops the beginning and keeps \
                 the end of the dialogue (where the answer is); `right` keeps the beginning",
            )
            .choices(&["left", "right"])
            .default("left"),
            ParamSpec::int("batch_size", "Texts per forward pass")
                .default(16i64)
                .min(1.0)
                .not_in_key(),
            ParamSpec::string(
                "provider",
                "Execution provider: cpu, cuda (an error if CUDA cannot be used), or \
                 cuda-or-cpu (falls back to CPU with a warning)",
            )
            .choices(&["cpu", "cuda", "cuda-or-cpu"])
            .default("cpu")
            .not_in_key(),
            ParamSpec::int(
                "device",
                "CUDA device number (with provider cuda or cuda-or-cpu)",
            )
            .default(0i64)
            .min(0.0)
            .max(1024.0)
            .not_in_key(),
        ],
        determinism: Determinism::Deterministic,
        min_inputs: 1,
        max_inputs: Some(1),
        reads: vec![
            InputSpec::new("the first table", &["dataset"], "Preference pairs.")
                .col("id", "utf8", "")
                .col("chosen", "utf8", "")
                .col("rejected", "utf8", ""),
        ],
        writes: vec![
            crate::tables::embeddings_spec(),
            TableSpec::new("checkpoint", "The checkpoint (one row).")
                .col("checkpoint", "utf8", "Its directory's name.")
                .col(
                    "step",
                    "int64",
                    "Training step (null without checkpoint.json).",
                )
                .col(
                    "eval_loss",
                    "float64",
                    "Its eval loss (null without checkpoint.json).",
                )
                .col("hidden_size", "int64", "")
                .col("num_layers", "int64", "Layers embedded.")
                .col("tokens", "int64", "Tokens run through the model."),
        ],
    }
}

/// `checkpoint.json`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub step: Option<i64>,
    #[serde(default)]
    pub hidden_size: Option<usize>,
    #[serde(default)]
    pub layer_outputs: Option<Vec<String>>,
    #[serde(default)]
    pub eval_loss: Option<f64>,
}

/// A checkpoint directory, checked.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub dir: PathBuf,
    pub model: PathBuf,
    pub tokenizer: PathBuf,
    pub manifest: Manifest,
}

impl Checkpoint {
    /// Check that the directory has `model.onnx` and `tokenizer.json` and read the manifest.
    pub fn open(dir: &Path) -> Result<Self, OnnxError> {
        let need = |name: &str, fix: &str| {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(OnnxError::CheckpointFile {
                    path: p,
                    message: format!("missing; {fix}"),
                })
            }
        };
        let model = need(
            "model.onnx",
            "export the checkpoint with the recipe in tools/README.md (torch.onnx.export \
             with outputs hidden_states_0..L)",
        )?;
        let tokenizer = need(
            "tokenizer.json",
            "copy the model's Hugging Face tokenizer.json next to model.onnx",
        )?;
        let mpath = dir.join("checkpoint.json");
        let manifest = if mpath.is_file() {
            let text = std::fs::read_to_string(&mpath).map_err(|e| OnnxError::CheckpointFile {
                path: mpath.clone(),
                message: e.to_string(),
            })?;
            serde_json::from_str(&text).map_err(|e| OnnxError::CheckpointFile {
                path: mpath.clone(),
                message: format!("not a valid manifest: {e}"),
            })?
        } else {
            Manifest::default()
        };
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            model,
            tokenizer,
            manifest,
        })
    }

    /// blake3 of model.onnx and of tokenizer.json.
    pub fn digests(&self) -> Result<(String, String), OnnxError> {
        Ok((file_digest(&self.model)?, file_digest(&self.tokenizer)?))
    }
}

/// blake3 of a file, streamed.
pub fn file_digest(path: &Path) -> Result<String, OnnxError> {
    let err = |e: std::io::Error| OnnxError::CheckpointFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut h = blake3::Hasher::new();
    let mut f = std::fs::File::open(path).map_err(err)?;
    std::io::copy(&mut f, &mut h).map_err(err)?;
    Ok(h.finalize().to_hex().to_string())
}

/// Which end to cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    Left,
    Right,
}

/// A loaded tokenizer.
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl TextTokenizer {
    pub fn open(path: &Path) -> Result<Self, OnnxError> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| OnnxError::Tokenizer {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(TextTokenizer {
            inner,
            path: path.to_path_buf(),
        })
    }

    /// Token ids of `text`, truncated to `max_len`.
    pub fn encode(
        &self,
        text: &str,
        max_len: usize,
        side: Truncation,
    ) -> Result<Vec<i64>, OnnxError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| OnnxError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        let ids = enc.get_ids();
        let ids = if ids.len() > max_len {
            match side {
                Truncation::Left => &ids[ids.len() - max_len..],
                Truncation::Right => &ids[..max_len],
            }
        } else {
            ids
        };
        Ok(ids.iter().map(|&i| i as i64).collect())
    }
}

/// An ONNX session over a checkpoint, with the layer outputs resolved.
pub struct Embedder {
    session: Session,
    /// Set when `cuda-or-cpu` fell back to the CPU: why (reported as a stage warning).
    pub fallback: Option<String>,
    /// Output names in layer order (index = layer).
    pub layer_outputs: Vec<String>,
    input_names: Vec<String>,
}

/// The execution provider choice; the CUDA ones carry the device number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cpu,
    Cuda(i32),
    CudaOrCpu(i32),
}

impl Provider {
    pub fn parse(s: &str, device: i32) -> Result<Self, OnnxError> {
        match s {
            "cpu" => Ok(Provider::Cpu),
            "cuda" => Ok(Provider::Cuda(device)),
            "cuda-or-cpu" => Ok(Provider::CudaOrCpu(device)),
            o => Err(OnnxError::Provider(format!(
                "unknown provider `{o}` (cpu, cuda, cuda-or-cpu)"
            ))),
        }
    }
}

impl Embedder {
    /// Create a session for `ck` with `threads` intra-op threads on `provider`.
    pub fn new(ck: &Checkpoint, threads: usize, provider: Provider) -> Result<Self, OnnxError> {
        let rt = runtime()?;
        let ort_err =
            |e: ort::Error<ort::session::builder::SessionBuilder>| OnnxError::Ort(e.to_string());
        let mut b = Session::builder(&rt.env)?
            .with_intra_threads(threads.max(1))
            .map_err(ort_err)?;
        let mut fallback = None;
        if let Provider::Cuda(device) | Provider::CudaOrCpu(device) = provider {
            let available = ort::ep::CUDA::is_available().unwrap_or(false);
            let registered = if available {
                b.with_execution_providers([ort::ep::CUDA::default()
                    .with_device_id(device)
                    .build()
                    .error_on_failure()])
                    .map_err(|e| e.message().to_string())
            } else {
                Err(format!(
                    "the ONNX Runtime at {} has no CUDA execution provider (install \
                     onnxruntime-gpu==1.31.1 and point ORT_DYLIB_PATH at its \
                     libonnxruntime.so, with CUDA and cuDNN libraries on the loader path)",
                    rt.path.display()
                ))
            };
            b = match (registered, provider) {
                (Ok(b), _) => b,
                (Err(m), Provider::Cuda(_)) => {
                    return Err(OnnxError::Provider(format!(
                        "provider = \"cuda\" cannot be used: {m}; use provider = \"cpu\" or \
                         \"cuda-or-cpu\""
                    )));
                }
                (Err(m), _) => {
                    fallback = Some(format!("CUDA unavailable ({m}); embedded on CPU"));
                    Session::builder(&rt.env)?
                        .with_intra_threads(threads.max(1))
                        .map_err(ort_err)?
                }
            };
        }
        let session = b
            .commit_from_file(&ck.model)
            .map_err(|e| OnnxError::CheckpointFile {
                path: ck.model.clone(),
                message: format!("ONNX Runtime cannot load it: {e}"),
            })?;
        let outputs: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        let layer_outputs = match &ck.manifest.layer_outputs {
            Some(names) => {
                for n in names {
                    if !outputs.contains(n) {
                        return Err(OnnxError::CheckpointFile {
                            path: ck.dir.join("checkpoint.json"),
                            message: format!(
                                "layer output `{n}` is not an output of model.onnx (outputs: {})",
                                outputs.join(", ")
                            ),
                        });
                    }
                }
                names.clone()
            }
            None => {
                let mut v = Vec::new();
                while outputs.contains(&format!("hidden_states_{}", v.len())) {
                    v.push(format!("hidden_states_{}", v.len()));
                }
                // An `optimum-cli export onnx --task feature-extraction` model has only the
                // last hidden state: it becomes the single layer 0.
                if v.is_empty() && outputs.iter().any(|o| o == "last_hidden_state") {
                    v.push("last_hidden_state".to_string());
                }
                v
            }
        };
        if layer_outputs.is_empty() {
            return Err(OnnxError::CheckpointFile {
                path: ck.model.clone(),
                message: format!(
                    "no hidden-state outputs: expected outputs named hidden_states_0..L (found: \
                     {}); re-export with the recipe in tools/README.md",
                    outputs.join(", ")
                ),
            });
        }
        let input_names: Vec<String> = session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        for n in &input_names {
            if !matches!(n.as_str(), "input_ids" | "attention_mask" | "position_ids") {
                return Err(OnnxError::CheckpointFile {
                    path: ck.model.clone(),
                    message: format!(
                        "unsupported model input `{n}` (supported: input_ids, attention_mask, \
                         position_ids)"
                    ),
                });
            }
        }
        Ok(Embedder {
            session,
            fallback,
            layer_outputs,
            input_names,
        })
    }

    /// Run one right-padded batch; returns, per requested layer (in `layers` order), what
    /// `pick(hidden, values)` takes from that layer's raw `[batch, max_len, hidden]` output.
    /// `pick` reads the output in place: copying whole outputs (every position of every
    /// layer, when the stage keeps one position) cost more than the tiny models' forward
    /// pass, in copies and page faults.
    fn forward<T>(
        &mut self,
        seqs: &[&[i64]],
        layers: &[usize],
        pick: impl Fn(usize, &[f32]) -> T,
    ) -> Result<Vec<T>, OnnxError> {
        let b = seqs.len();
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        if b == 0 || seqs.iter().any(|s| s.is_empty()) {
            return Err(OnnxError::Input(
                "empty batch or empty token sequence".into(),
            ));
        }
        let mut ids = vec![0i64; b * len];
        let mut mask = vec![0i64; b * len];
        for (i, s) in seqs.iter().enumerate() {
            ids[i * len..i * len + s.len()].copy_from_slice(s);
            mask[i * len..i * len + s.len()].fill(1);
        }
        let pos: Vec<i64> = (0..b).flat_map(|_| 0..len as i64).collect();
        let mut inputs: Vec<(String, SessionInputValue<'_>)> = Vec::new();
        for n in &self.input_names {
            let data = match n.as_str() {
                "input_ids" => ids.clone(),
                "attention_mask" => mask.clone(),
                _ => pos.clone(),
            };
            let t = Tensor::from_array(([b, len], data))?;
            inputs.push((n.clone(), t.into()));
        }
        let outputs = self.session.run(inputs)?;
        let mut out = Vec::with_capacity(layers.len());
        for &l in layers {
            let name = &self.layer_outputs[l];
            let v = outputs
                .get(name.as_str())
                .ok_or_else(|| OnnxError::Ort(format!("output `{name}` missing")))?;
            let check = |shape: &ort::value::Shape| -> Result<usize, OnnxError> {
                let dims: Vec<i64> = shape.iter().copied().collect();
                if dims.len() != 3 || dims[0] as usize != b || dims[1] as usize != len {
                    return Err(OnnxError::Ort(format!(
                        "output `{name}` has shape {dims:?}, expected [{b}, {len}, hidden]"
                    )));
                }
                Ok(dims[2] as usize)
            };
            // Half-precision models (the usual export for the CUDA provider) return f16 or
            // bf16 hidden states: widened to f32 exactly, so the table type never changes.
            if let Ok((shape, data)) = v.try_extract_tensor::<f32>() {
                out.push(pick(check(shape)?, data));
            } else if let Ok((shape, data)) = v.try_extract_tensor::<half::f16>() {
                let wide: Vec<f32> = data.iter().map(|x| x.to_f32()).collect();
                out.push(pick(check(shape)?, &wide));
            } else if let Ok((shape, data)) = v.try_extract_tensor::<half::bf16>() {
                let wide: Vec<f32> = data.iter().map(|x| x.to_f32()).collect();
                out.push(pick(check(shape)?, &wide));
            } else {
                return Err(OnnxError::Ort(format!(
                    "output `{name}` must be a float32, float16 or bfloat16 tensor, found {}",
                    v.dtype()
                )));
            }
        }
        Ok(out)
    }

    /// Run one right-padded batch; returns, per requested layer (in `layers` order), per
    /// sequence, the hidden state of its last token.
    pub fn last_token_states(
        &mut self,
        seqs: &[&[i64]],
        layers: &[usize],
    ) -> Result<Vec<Vec<Vec<f32>>>, OnnxError> {
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        self.forward(seqs, layers, |h, data| {
            seqs.iter()
                .enumerate()
                .map(|(i, s)| {
                    let off = (i * len + s.len() - 1) * h;
                    data[off..off + h].to_vec()
                })
                .collect()
        })
    }

    /// Every hidden state of every layer, `[layer][sequence][position][hidden]`, for a
    /// right-padded batch (positions beyond a sequence's length are dropped).
    pub fn all_states(&mut self, seqs: &[&[i64]]) -> Result<Vec<Vec<Vec<Vec<f32>>>>, OnnxError> {
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        let layers: Vec<usize> = (0..self.layer_outputs.len()).collect();
        self.forward(seqs, &layers, |h, data| {
            seqs.iter()
                .enumerate()
                .map(|(i, s)| {
                    (0..s.len())
                        .map(|t| data[(i * len + t) * h..(i * len + t + 1) * h].to_vec())
                        .collect()
                })
                .collect()
        })
    }
}

/// Resolve `layers` (negative = from the end) against `n` layer outputs.
pub fn resolve_layers(spec: &[i64], n: usize) -> Result<Vec<usize>, EngineError> {
    if spec.is_empty() {
        return Ok((0..n).collect());
    }
    let mut out = Vec::new();
    for &l in spec {
        let i = if l < 0 { n as i64 + l } else { l };
        if i < 0 || i >= n as i64 {
            return Err(EngineError::param(
                "layers",
                format!("layer {l} out of range: the model has layers 0..={}", n - 1),
            ));
        }
        if !out.contains(&(i as usize)) {
            out.push(i as usize);
        }
    }
    Ok(out)
}

pub fn run(req: &StageRequest) -> Result<StageOutput, EngineError> {
    let dir = crate::resolve(req.base_dir.as_deref(), req.str("checkpoint")?);
    let ck = Checkpoint::open(&dir)?;
    let max_len = req.usize("max_length")?;
    let side = match req.str("truncation")? {
        "right" => Truncation::Right,
        _ => Truncation::Left,
    };
    let batch_size = req.usize("batch_size")?.max(1);
    let provider = Provider::parse(req.str("provider")?, req.i64("device")? as i32)?;
    let layer_spec: Vec<i64> = req
        .opt("layers")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    let input = req
        .inputs
        .first()
        .ok_or_else(|| EngineError::Input("embed needs a dataset input".into()))?;
    let table = input_table(input, "out")?;
    let ids = strings(table, "id")?;
    let chosen = strings(table, "chosen")?;
    let rejected = strings(table, "rejected")?;

    let tok = TextTokenizer::open(&ck.tokenizer)?;
    // texts[2i] = chosen of row i, texts[2i+1] = rejected.
    let texts: Vec<&str> = chosen
        .iter()
        .zip(&rejected)
        .flat_map(|(c, r)| [c.as_str(), r.as_str()])
        .collect();
    let tokens: Vec<Vec<i64>> = texts
        .par_iter()
        .map(|t| tok.encode(t, max_len, side))
        .collect::<Result<_, _>>()?;
    if let Some(k) = tokens.iter().position(|t| t.is_empty()) {
        return Err(EngineError::Input(format!(
            "the {} text of example `{}` has no tokens",
            if k % 2 == 0 { "chosen" } else { "rejected" },
            ids[k / 2]
        )));
    }

    let mut emb = Embedder::new(&ck, req.threads.max(1), provider)?;
    let layers = resolve_layers(&layer_spec, emb.layer_outputs.len())?;
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(tokens[i].len()), i));
    // states[layer_idx][text] = last-token state.
    let mut states: Vec<Vec<Vec<f32>>> = vec![vec![Vec::new(); tokens.len()]; layers.len()];
    for chunk in order.chunks(batch_size) {
        let seqs: Vec<&[i64]> = chunk.iter().map(|&i| tokens[i].as_slice()).collect();
        let out = emb.last_token_states(&seqs, &layers)?;
        for (li, per_seq) in out.into_iter().enumerate() {
            for (&i, v) in chunk.iter().zip(per_seq) {
                states[li][i] = v;
            }
        }
    }
    let dim = states
        .first()
        .and_then(|s| s.first())
        .map(Vec::len)
        .unwrap_or(0);
    let mut rows = Vec::with_capacity(tokens.len() * layers.len());
    for (k, id) in ids.iter().enumerate() {
        for (side_i, chosen_side) in [(0, true), (1, false)] {
            for (li, &l) in layers.iter().enumerate() {
                rows.push(EmbeddingRow {
                    id: id.clone(),
                    chosen: chosen_side,
                    layer: l as i64,
                    embedding: std::mem::take(&mut states[li][2 * k + side_i]),
                });
            }
        }
    }
    let mut out = StageOutput::default();
    out.push("embeddings", embedding_table(&rows, dim)?);
    out.push(
        "checkpoint",
        checkpoint_table(
            &ck,
            dim,
            emb.layer_outputs.len(),
            tokens.iter().map(Vec::len).sum(),
        )?,
    );
    out.warnings.extend(emb.fallback.take());
    Ok(out)
}

fn checkpoint_table(
    ck: &Checkpoint,
    dim: usize,
    n_layers: usize,
    n_tokens: usize,
) -> Result<RecordBatch, EngineError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("checkpoint", DataType::Utf8, false),
        Field::new("step", DataType::Int64, true),
        Field::new("eval_loss", DataType::Float64, true),
        Field::new("hidden_size", DataType::Int64, false),
        Field::new("num_layers", DataType::Int64, false),
        Field::new("tokens", DataType::Int64, false),
    ]));
    let name = ck
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![name])),
            Arc::new(Int64Array::from(vec![ck.manifest.step])),
            Arc::new(Float64Array::from(vec![ck.manifest.eval_loss])),
            Arc::new(Int64Array::from(vec![dim as i64])),
            Arc::new(Int64Array::from(vec![n_layers.saturating_sub(1) as i64])),
            Arc::new(Int64Array::from(vec![n_tokens as i64])),
        ],
    )?)
}
