#!/usr/bin/env python3
"""Embedding throughput on CPU: warmstart's `embed` stage (ONNX Runtime) vs PyTorch + transformers.

Both embed the same texts with the same model and report tokens/s (non-pad tokens of the
inputs, after truncation). The model is a GPT-NeoX of a chosen shape with random weights
(seeded; default: Pythia-160M's 12 layers × 768 hidden, 12 heads) and the tiny suite's
tokenizer (vocabulary 2048), built here and exported by tools/make_tiny_suite.py's own
`export` (every hidden state an output) into `--out`. Random weights change
nothing in the arithmetic a forward pass does. `--shape tiny` uses the tiny suite's strong
checkpoint shape instead (4 layers × 64).

The PyTorch side does what the stage does, the way a researcher writes it: tokenize with
the same tokenizer (HF `tokenizers`), truncate from the left to `--max-length`, sort by
length, batch with right padding and an attention mask, `GPTNeoXModel(...,
output_hidden_states=True)` (the base model the export wraps) under `torch.inference_mode()`, keep the last non-pad token of
every layer as float32 numpy arrays. warmstart runs its real stage through
crates/warmstart-onnx/examples/embed_throughput.rs (tokenization, session, pooling, the
Arrow table). Both use `--threads` intra-op threads.

    python3 -m pip install torch transformers onnx    # not part of the test command
    python3 bench/embed_bench.py [--shape pythia-160m|tiny] [--pairs 128] [--threads 2]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_tiny_suite import export  # noqa: E402  (the one export recipe)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TOKENIZER = os.path.join(ROOT, "fixtures/tiny-suite/strong/step-01024/tokenizer.json")
DATA = os.path.join(ROOT, "experiments/data/hh-rlhf-helpful/test.jsonl")
SHAPES = {
    "pythia-160m": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "tiny": dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256),
}


def build(shape, out):
    """The model (random weights, seeded) and, once, its export with the tiny suite's recipe."""
    tok = Tokenizer.from_file(TOKENIZER)
    cfg = GPTNeoXConfig(
        vocab_size=tok.get_vocab_size(), max_position_embeddings=2048, rotary_pct=0.25,
        use_parallel_residual=True, **SHAPES[shape],
    )
    torch.manual_seed(0)
    lm = GPTNeoXForCausalLM(cfg).eval()
    if not os.path.exists(os.path.join(out, "model.onnx")):
        export(lm, tok, out, 0, cfg, None, f"random-{shape}")
    lm.eval()  # export() leaves the model in training mode
    return lm.gpt_neox


def torch_embed(model, texts, max_length, batch):
    tok = Tokenizer.from_file(TOKENIZER)
    t0 = time.perf_counter()
    ids = [e.ids[-max_length:] for e in tok.encode_batch(texts)]
    order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
    tokens = sum(len(x) for x in ids)
    pooled = {}
    with torch.inference_mode():
        for s in range(0, len(order), batch):
            chunk = order[s:s + batch]
            width = max(len(ids[i]) for i in chunk)
            x = torch.zeros((len(chunk), width), dtype=torch.long)
            m = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, i in enumerate(chunk):
                x[r, :len(ids[i])] = torch.tensor(ids[i])
                m[r, :len(ids[i])] = 1
            hs = model(input_ids=x, attention_mask=m, output_hidden_states=True, use_cache=False).hidden_states
            last = m.sum(1) - 1
            rows = torch.arange(len(chunk))
            for layer, h in enumerate(hs):
                v = h[rows, last].float().numpy()
                for r, i in enumerate(chunk):
                    pooled[(i, layer)] = v[r]
    return tokens, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="pythia-160m")
    ap.add_argument("--pairs", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or os.path.join(ROOT, "target/embed-bench", args.shape)
    torch.set_num_threads(args.threads)
    model = build(args.shape, out)

    with open(DATA, encoding="utf-8") as f:
        rows = [json.loads(l) for l in f if l.strip()][: args.pairs]
    texts = [t for r in rows for t in (r["chosen"], r["rejected"])]
    torch_embed(model, texts[: 2 * args.batch], args.max_length, args.batch)  # warm-up
    tokens, secs = torch_embed(model, texts, args.max_length, args.batch)
    torch_tps = tokens / secs

    cmd = ["cargo", "run", "-q", "--release", "-p", "warmstart-onnx", "--example", "embed_throughput", "--",
           out, DATA, str(args.pairs), str(args.threads), str(args.batch), str(args.max_length)]
    line = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    m = re.search(r"([0-9.]+) tokens in ([0-9.]+) s = ([0-9.]+) tokens/s", line)
    ws_tokens, ws_secs, ws_tps = float(m.group(1)), float(m.group(2)), float(m.group(3))

    print(f"model: random GPT-NeoX, shape {args.shape}; {args.pairs} pairs ({len(texts)} texts), "
          f"max_length {args.max_length}, batch {args.batch}, {args.threads} thread(s)")
    print(f"{'':34} {'tokens':>8} {'seconds':>9} {'tokens/s':>10}")
    print(f"{'PyTorch ' + torch.__version__ + ' eager fp32':34} {tokens:8d} {secs:9.2f} {torch_tps:10.0f}")
    print(f"{'warmstart embed (ORT 1.31.1)':34} {ws_tokens:8.0f} {ws_secs:9.2f} {ws_tps:10.0f}")
    print(f"ratio (warmstart / PyTorch tokens/s): {ws_tps / torch_tps:.2f}x")
    if int(ws_tokens) != tokens:
        print(f"note: token counts differ ({int(ws_tokens)} vs {tokens})")


if __name__ == "__main__":
    sys.exit(main())
