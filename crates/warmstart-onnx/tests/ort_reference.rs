//! Embeddings through ONNX Runtime against the PyTorch references of the tiny suite and the
//! intent suite, and the `embed` kind end to end. These tests need the ONNX Runtime library
//! (found by the same search as the engine): without it they fail with the install hint.

mod common;

use common::*;
use warmstart_engine::{Engine, Value};
use warmstart_onnx::OnnxEngine;
use warmstart_onnx::embed::{Checkpoint, Embedder, Provider, TextTokenizer, Truncation};

#[derive(serde::Deserialize)]
struct RefText {
    text: String,
    ids: Vec<i64>,
    /// [layer][position][hidden]
    hidden_states: Vec<Vec<Vec<f32>>>,
}

#[derive(serde::Deserialize)]
struct Reference {
    checkpoint: String,
    texts: Vec<RefText>,
}

fn reference() -> Reference {
    let p = suite().join("reference.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("reference.json")).expect("json")
}

fn ok<T>(r: Result<T, warmstart_onnx::OnnxError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn token_ids_match_python_tokenizers() {
    let r = reference();
    let ck = ok(Checkpoint::open(&suite().join(&r.checkpoint)));
    let tok = ok(TextTokenizer::open(&ck.tokenizer));
    for t in &r.texts {
        assert_eq!(ok(tok.encode(&t.text, 10_000, Truncation::Left)), t.ids);
    }
    // Left truncation keeps the end, right keeps the start.
    let t = &r.texts[0];
    assert_eq!(
        ok(tok.encode(&t.text, 3, Truncation::Left)),
        t.ids[t.ids.len() - 3..]
    );
    assert_eq!(ok(tok.encode(&t.text, 3, Truncation::Right)), t.ids[..3]);
}

#[test]
fn hidden_states_match_pytorch_in_a_padded_batch() {
    let r = reference();
    let ck = ok(Checkpoint::open(&suite().join(&r.checkpoint)));
    let mut emb = ok(Embedder::new(&ck, 2, Provider::Cpu));
    let seqs: Vec<&[i64]> = r.texts.iter().map(|t| t.ids.as_slice()).collect();
    // Lengths differ, so the shorter texts are right-padded.
    assert!(seqs.iter().any(|s| s.len() != seqs[0].len()));
    let got = ok(emb.all_states(&seqs));
    assert_eq!(got.len(), r.texts[0].hidden_states.len());
    let mut max_diff = 0f32;
    for (l, layer) in got.iter().enumerate() {
        for (s, seq) in layer.iter().enumerate() {
            let want = &r.texts[s].hidden_states[l];
            assert_eq!(seq.len(), want.len());
            for (a, b) in seq.iter().zip(want) {
                for (x, y) in a.iter().zip(b) {
                    max_diff = max_diff.max((x - y).abs());
                }
            }
        }
    }
    eprintln!("max |ORT − PyTorch| over all layers and positions = {max_diff:e}");
    assert!(max_diff <= 1e-4, "max |ORT − PyTorch| = {max_diff}");
}

#[test]
fn embed_kind_end_to_end_with_key_extra() {
    let engine = OnnxEngine::with_base_dir(repo());
    let data = run(
        &engine,
        "dataset",
        &[
            ("path", "fixtures/hh-mini/test.jsonl".into()),
            ("limit", Value::Int(5)),
        ],
        vec![],
    )
    .unwrap();
    let out = run(
        &engine,
        "embed",
        &[
            ("checkpoint", "fixtures/tiny-suite/strong/step-01024".into()),
            ("layers", Value::List(vec![Value::Int(0), Value::Int(-1)])),
            ("batch_size", Value::Int(3)),
        ],
        vec![input("data", &data)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let emb = &out.tables[0].batch;
    assert_eq!(out.tables[0].name, "embeddings");
    // 5 pairs × 2 sides × 2 layers.
    assert_eq!(emb.num_rows(), 20);
    let pairs = warmstart_onnx::tables::read_pairs(emb).unwrap();
    assert_eq!(pairs.keys().copied().collect::<Vec<_>>(), vec![0, 4]);
    assert_eq!(pairs[&4].dim, 64);
    assert_eq!(f64_col(&out, "checkpoint", "step"), vec![1024.0]);

    // Batch size does not change the result (it is not in the key).
    let out1 = run(
        &engine,
        "embed",
        &[
            ("checkpoint", "fixtures/tiny-suite/strong/step-01024".into()),
            ("layers", Value::List(vec![Value::Int(0), Value::Int(-1)])),
            ("batch_size", Value::Int(1)),
        ],
        vec![input("data", &data)],
    )
    .unwrap();
    let p1 = warmstart_onnx::tables::read_pairs(&out1.tables[0].batch).unwrap();
    assert_eq!(pairs[&4].len(), p1[&4].len());
    for i in 0..pairs[&4].len() {
        for (x, y) in pairs[&4].chosen(i).iter().zip(p1[&4].chosen(i)) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    let p = params(
        &engine,
        "embed",
        &[("checkpoint", "fixtures/tiny-suite/strong/step-01024".into())],
    );
    let extra = engine.key_extra(&p).unwrap();
    let names: Vec<&str> = extra.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["model.onnx", "tokenizer.json", "onnxruntime"]);
    assert!(extra[2].1.contains("1.31"), "{}", extra[2].1);
    let other = params(
        &engine,
        "embed",
        &[("checkpoint", "fixtures/tiny-suite/strong/step-00000".into())],
    );
    assert_ne!(engine.key_extra(&other).unwrap()[0], extra[0]);
}

#[test]
fn cuda_where_it_cannot_load_is_a_clear_error() {
    let ck = ok(Checkpoint::open(&suite().join("strong/step-00001")));
    let Err(e) = Embedder::new(&ck, 1, Provider::Cuda(0)) else {
        // A CUDA-enabled runtime with a GPU: nothing to check here.
        return;
    };
    let m = e.to_string();
    assert!(m.contains("provider = \"cuda\" cannot be used"), "{m}");
    // cuda-or-cpu falls back.
    ok(Embedder::new(&ck, 1, Provider::CudaOrCpu(0)));
}

#[test]
fn missing_checkpoint_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("model.onnx") && e.contains("tools/README.md"),
        "{e}"
    );
    std::fs::copy(
        suite().join("strong/step-00001/model.onnx"),
        dir.path().join("model.onnx"),
    )
    .unwrap();
    let e = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json"), "{e}");
}

#[test]
fn w2sg_pipeline_runs_on_the_tiny_suite() {
    let e = OnnxEngine::with_base_dir(repo());
    let ds = |split: &str| {
        run(
            &e,
            "dataset",
            &[("path", format!("fixtures/hh-mini/{split}.jsonl").into())],
            vec![],
        )
        .unwrap()
    };
    let (gt, w2s, test) = (ds("train_gt"), ds("train_w2s"), ds("test"));
    let embed = |ck: &str, d: &warmstart_engine::StageOutput| {
        run(
            &e,
            "embed",
            &[
                ("checkpoint", format!("fixtures/tiny-suite/{ck}").into()),
                ("max_length", Value::Int(48)),
                ("layers", Value::List(vec![Value::Int(-1)])),
            ],
            vec![input("data", d)],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let (wg, ww, wt) = (
        embed("weak/step-01024", &gt),
        embed("weak/step-01024", &w2s),
        embed("weak/step-01024", &test),
    );
    let (sg, sw, st) = (
        embed("strong/step-01024", &gt),
        embed("strong/step-01024", &w2s),
        embed("strong/step-01024", &test),
    );
    // At most 48 tokens per text.
    assert!(f64_col(&sg, "checkpoint", "tokens")[0] <= 48.0 * 96.0);
    let labels = run(
        &e,
        "reward-head",
        &[],
        vec![input("gt", &wg), input("w2s", &ww)],
    )
    .unwrap();
    let weak = run(
        &e,
        "reward-head",
        &[],
        vec![input("gt", &wg), input("test", &wt)],
    )
    .unwrap();
    let student = run(
        &e,
        "reward-head",
        &[("loss", "reverse-bce".into())],
        vec![
            input("w2s", &sw),
            input("test", &st),
            input("labels", &labels),
        ],
    )
    .unwrap();
    let ceiling = run(
        &e,
        "reward-head",
        &[],
        vec![input("gt", &sg), input("test", &st)],
    )
    .unwrap();
    for o in [&weak, &student, &ceiling] {
        let a = f64_col(o, "metrics", "accuracy")[0];
        assert!((0.0..=1.0).contains(&a));
        assert_eq!(f64_col(o, "metrics", "n_eval"), vec![48.0]);
    }
    let pgr = run(
        &e,
        "pgr",
        &[],
        vec![
            input("weak", &weak),
            input("w2s", &student),
            input("ceiling", &ceiling),
        ],
    )
    .unwrap();
    let (w, s, c, p) = (
        f64_col(&pgr, "pgr", "weak")[0],
        f64_col(&pgr, "pgr", "w2s")[0],
        f64_col(&pgr, "pgr", "ceiling")[0],
        f64_col(&pgr, "pgr", "pgr")[0],
    );
    if c != w {
        assert!((p - (s - w) / (c - w)).abs() < 1e-12);
    }
    // The student must not be trained on the test split: refused.
    let err = run(
        &e,
        "reward-head",
        &[],
        vec![input("test", &st), input("test2", &st)],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("split overlap"), "{err}");
}

/// Entry `j` of token `i` in table `k` of fixtures/fp16-gather (tools/make_fp16_fixture.py).
fn fp16_fixture_value(k: usize, i: i64, j: usize) -> f32 {
    (((i as usize * 8 + j + 31 * k) % 97) as f32) / 8.0 - 6.0
}

#[test]
fn float16_models_give_float32_embeddings_unchanged() {
    // A half-precision export returns f16 hidden states; the stage widens them exactly.
    let engine = OnnxEngine::with_base_dir(repo());
    let data = run(
        &engine,
        "dataset",
        &[
            ("path", "fixtures/hh-mini/test.jsonl".into()),
            ("limit", Value::Int(4)),
        ],
        vec![],
    )
    .unwrap();
    let out = run(
        &engine,
        "embed",
        &[
            ("checkpoint", "fixtures/fp16-gather".into()),
            ("max_length", Value::Int(64)),
            ("batch_size", Value::Int(3)),
        ],
        vec![input("data", &data)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let pairs = warmstart_onnx::tables::read_pairs(&out.tables[0].batch).unwrap();
    assert_eq!(pairs.keys().copied().collect::<Vec<_>>(), vec![0, 1]);

    // The expected state of each text is its last token's row of the table.
    let ck = ok(Checkpoint::open(&repo().join("fixtures/fp16-gather")));
    let tok = ok(TextTokenizer::open(&ck.tokenizer));
    let ds = &data.tables[0].batch;
    let ids = warmstart_onnx::tables::strings(ds, "id").unwrap();
    let chosen = warmstart_onnx::tables::strings(ds, "chosen").unwrap();
    let rejected = warmstart_onnx::tables::strings(ds, "rejected").unwrap();
    for (layer, p) in &pairs {
        assert_eq!(p.len(), 4);
        for i in 0..p.len() {
            let row = ids.iter().position(|id| *id == p.ids[i]).expect("id");
            for (text, got) in [(&chosen[row], p.chosen(i)), (&rejected[row], p.rejected(i))] {
                let toks = ok(tok.encode(text, 64, Truncation::Left));
                let last = *toks.last().expect("a token");
                let want: Vec<f32> = (0..8)
                    .map(|j| fp16_fixture_value(*layer as usize, last, j))
                    .collect();
                assert_eq!(got, want.as_slice(), "layer {layer}, pair {}", p.ids[i]);
            }
        }
    }
}

/// The intent suite's reference (`tools/make_intent_suite.py`): word-level token ids and
/// the last layer's state at each text's last token, computed by PyTorch.
#[derive(serde::Deserialize)]
struct IntentRefText {
    text: String,
    ids: Vec<i64>,
    last_token_state: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct IntentReference {
    checkpoint: String,
    texts: Vec<IntentRefText>,
}

#[test]
fn intent_suite_word_level_tokenizer_and_last_token_states_match_pytorch() {
    let dir = repo().join("fixtures/intent-suite");
    let r: IntentReference = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reference.json")).expect("reference.json"),
    )
    .expect("json");
    let ck = ok(Checkpoint::open(&dir.join(&r.checkpoint)));
    let tok = ok(TextTokenizer::open(&ck.tokenizer));
    for t in &r.texts {
        assert_eq!(ok(tok.encode(&t.text, 10_000, Truncation::Left)), t.ids);
    }
    let mut emb = ok(Embedder::new(&ck, 2, Provider::Cpu));
    let seqs: Vec<&[i64]> = r.texts.iter().map(|t| t.ids.as_slice()).collect();
    let got = ok(emb.all_states(&seqs));
    let last_layer = got.last().expect("layers");
    let mut max_diff = 0f32;
    for (seq, want) in last_layer.iter().zip(&r.texts) {
        let state = seq.last().expect("a position");
        assert_eq!(state.len(), want.last_token_state.len());
        for (x, y) in state.iter().zip(&want.last_token_state) {
            max_diff = max_diff.max((x - y).abs());
        }
    }
    assert!(max_diff <= 1e-4, "max |ORT − PyTorch| = {max_diff}");
}
