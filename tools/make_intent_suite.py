#!/usr/bin/env python3
"""Generate the intent-language data set and train the intent checkpoint suite.

Run offline, once (NOT in CI); see tools/README.md for the exact command and seed.

  1. writes the preference splits (train_gt / train_w2s / test .jsonl, HH-RLHF's
     {"chosen", "rejected"} format plus the hidden `intent` and a `noisy` flag) of the
     intent language (`intent_language.py`) and their SHA-256 digests;
  2. builds a word-level tokenizer (`tokenizers` WordLevel, whitespace split) over the
     language's whole vocabulary;
  3. pre-trains a small GPT-NeoX on generated dialogues (EOS-joined, cut into blocks),
     exporting checkpoints at log-spaced steps 0, 1, 2, 4, …, N like Pythia's, and a
     smaller weak model (checkpoints at 1/8, 1/4, 1/2 and all of its steps), with the export of make_tiny_suite.py
     (hidden_states_0..L, tokenizer.json, checkpoint.json with eval loss on held-out
     dialogues);
  4. as a sanity check only, fits a logistic probe on the final strong and weak models'
     last-token (`|`) hidden-state differences of the gt pairs and reports its test
     accuracy (the experiment does this per checkpoint in warmstart), and writes
     reference.json for the ONNX Runtime tests.
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPTNeoXConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import intent_language as lang  # noqa: E402
from make_tiny_suite import blocks, eval_loss, train_model  # noqa: E402


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_splits(language, rng, n):
    """Three disjoint splits of `n` pairs (no (chosen, rejected) pair repeats anywhere)."""
    seen, splits = set(), {}
    for name in ["train_gt", "train_w2s", "test"]:
        rows = []
        while len(rows) < n:
            p = language.preference_pair(rng)
            key = (p["chosen"], p["rejected"])
            if key not in seen:
                seen.add(key)
                rows.append(p)
        splits[name] = rows
    return splits


def tokenizer(language):
    vocab = {w: i for i, w in enumerate(language.vocab)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=lang.UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def last_token_states(lm, tok, texts, layer):
    """Hidden state of `layer` at each text's last token (texts encoded alone, no padding
    needed: the batch is grouped by length)."""
    lm.eval()
    encs = [tok.encode(t).ids for t in texts]
    out = np.zeros((len(texts), lm.config.hidden_size), dtype=np.float32)
    by_len = {}
    for i, ids in enumerate(encs):
        by_len.setdefault(len(ids), []).append(i)
    with torch.no_grad():
        for _, idx in by_len.items():
            x = torch.tensor([encs[i] for i in idx])
            hs = lm.gpt_neox(input_ids=x, output_hidden_states=True).hidden_states[layer]
            out[idx] = hs[:, -1, :].numpy()
    lm.train()
    return out


def probe_accuracy(lm, tok, gt, test):
    """Logistic probe (no bias, standardized pair differences) on the last layer: gt → test."""
    def diffs(rows):
        c = last_token_states(lm, tok, [r["chosen"] for r in rows], -1)
        r = last_token_states(lm, tok, [r["rejected"] for r in rows], -1)
        return c - r
    xtr, xte = diffs(gt), diffs(test)
    sd = xtr.std(axis=0) + 1e-8
    g = torch.Generator().manual_seed(0)
    sign = torch.randint(0, 2, (len(xtr),), generator=g).float() * 2 - 1
    x = torch.tensor(xtr / sd) * sign[:, None]
    y = (sign + 1) / 2
    w = torch.zeros(x.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y) + 1e-3 * (w * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    pred = torch.tensor(xte / sd) @ w.detach()
    return float((pred > 0).float().mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="fixtures/intent-suite")
    ap.add_argument("--data-out", default="experiments/data/intent")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--steps", type=int, default=8192)
    ap.add_argument("--weak-steps", type=int, default=2048)
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--dialogues", type=int, default=100000)
    ap.add_argument("--ctx", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--strong", default="64,4,4,256", help="hidden,layers,heads,mlp")
    ap.add_argument("--weak", default="16,1,2,64", help="hidden,layers,heads,mlp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probe-pairs", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    language = lang.Language(vocab_seed=args.seed)
    rng = random.Random(args.seed)
    splits = make_splits(language, rng, args.pairs)
    os.makedirs(args.data_out, exist_ok=True)
    digests = {f"{name}.jsonl": write_jsonl(os.path.join(args.data_out, f"{name}.jsonl"), rows)
               for name, rows in splits.items()}
    corpus = [language.pretraining_dialogue(rng) for _ in range(args.dialogues)]
    held_out = [language.pretraining_dialogue(rng) for _ in range(2000)]
    corpus_digest = hashlib.sha256("\n".join(corpus).encode()).hexdigest()

    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    tok = tokenizer(language)
    eos = tok.token_to_id(lang.EOS)

    def stream(texts):
        ids = []
        for enc in tok.encode_batch(texts):
            ids.extend(enc.ids)
            ids.append(eos)
        return ids

    train = blocks(stream(corpus), args.ctx)
    evald = blocks(stream(held_out), args.ctx)
    print(f"vocab {len(language.vocab)}, train blocks {tuple(train.shape)}, eval blocks {tuple(evald.shape)}",
          flush=True)

    common = dict(vocab_size=len(language.vocab), max_position_embeddings=args.ctx * 2, rotary_pct=0.25,
                  use_parallel_residual=True, hidden_dropout=0.0, attention_dropout=0.0,
                  tie_word_embeddings=False, bos_token_id=eos, eos_token_id=eos)

    def config(spec):
        h, l, a, m = (int(v) for v in spec.split(","))
        return GPTNeoXConfig(hidden_size=h, num_hidden_layers=l, num_attention_heads=a, intermediate_size=m,
                             **common)

    save = {0} | {2**k for k in range(int(math.log2(args.steps)) + 1)} | {args.steps}
    log = []
    gt, test = splits["train_gt"][: args.probe_pairs], splits["test"][: args.probe_pairs]
    strong, saved = train_model("strong", config(args.strong), train, evald, args.steps, save, args.batch,
                                args.lr, args.seed, tok, args.out, log)
    t_strong = time.time() - t_start
    # The weak model is smaller and trained for less; a few of its checkpoints are exported
    # so that an experiment can choose how weak its supervisor is.
    weak_save = {args.weak_steps // 8, args.weak_steps // 4, args.weak_steps // 2, args.weak_steps}
    weak, weak_saved = train_model("weak", config(args.weak), train, evald, args.weak_steps, weak_save,
                                   args.batch, args.lr, args.seed + 1, tok, args.out, log)
    t_train = time.time() - t_start

    # Sanity check (not used by the experiment): a PyTorch probe on the final models.
    probes = {"strong_final": probe_accuracy(strong, tok, gt, test),
              "weak_final": probe_accuracy(weak, tok, gt, test)}
    print(f"probe accuracy (PyTorch, last layer): {probes}", flush=True)
    # Reference for the ONNX Runtime tests: token ids and the last layer's last-token state
    # of the final strong checkpoint, computed by PyTorch, each text alone.
    ref = {"checkpoint": os.path.relpath(saved[args.steps][0], args.out), "texts": []}
    for text in [splits["test"][0]["chosen"], splits["test"][1]["rejected"]]:
        state = last_token_states(strong, tok, [text], -1)[0]
        ref["texts"].append({"text": text, "ids": tok.encode(text).ids,
                             "last_token_state": [round(float(v), 7) for v in state]})
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)

    suite = {"seed": args.seed, "language": lang.PARAMS, "vocab": len(language.vocab),
             "args": vars(args), "data_sha256": digests, "pretraining_corpus_sha256": corpus_digest,
             "strong": [os.path.relpath(saved[s][0], args.out) for s in sorted(saved)],
             "weak": [os.path.relpath(weak_saved[s][0], args.out) for s in sorted(weak_saved)], "python_probe": probes,
             "seconds": {"strong": round(t_strong, 1), "train_total": round(t_train, 1),
                         "total": round(time.time() - t_start, 1)},
             "log": log}
    with open(os.path.join(args.out, "suite.json"), "w") as f:
        json.dump(suite, f, indent=1)


if __name__ == "__main__":
    main()
