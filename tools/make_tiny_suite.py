#!/usr/bin/env python3
"""Train and export the tiny GPT-NeoX checkpoint suite used by warmstart-onnx's tests.

Run offline, once (NOT in CI); see tools/README.md for the exact command and seed.

What it does:
  1. trains a byte-level BPE tokenizer (`tokenizers`) on the HH-RLHF helpful train_gt texts;
  2. trains a small GPT-NeoX language model from scratch on those dialogues, saving
     checkpoints at log-spaced steps 0, 1, 2, 4, ..., N (like Pythia);
  3. trains a smaller "weak" GPT-NeoX model the same way (final checkpoint only);
  4. exports every checkpoint with torch.onnx.export to <dir>/model.onnx with inputs
     (input_ids, attention_mask) [batch, seq] int64 and outputs hidden_states_0..L, each
     [batch, seq, hidden] float32 (hidden_states_0 = the embeddings, L = num layers), and
     writes <dir>/tokenizer.json and <dir>/checkpoint.json (step, hidden size, output names,
     eval loss on held-out text);
  5. writes reference.json: for 3 fixed texts, the token ids and every hidden state of one
     checkpoint computed by PyTorch (each text alone, no padding).
"""

import argparse
import json
import math
import os
import random
import shutil
import time

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

EOS = "<|endoftext|>"
REFERENCE_TEXTS = [
    "\n\nHuman: What is a good way to learn to cook?\n\nAssistant: Start with simple recipes.",
    "\n\nHuman: Hi\n\nAssistant: Hello! How can I help you today?",
    "\n\nHuman: Can you tell me about the history of the bicycle, briefly?"
    "\n\nAssistant: The first bicycles appeared in the early 19th century in Europe.",
]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def blocks(token_stream, ctx):
    n = len(token_stream) // ctx
    return torch.tensor(token_stream[: n * ctx], dtype=torch.long).view(n, ctx)


def eval_loss(model, data):
    model.eval()
    with torch.no_grad():
        losses = [model(input_ids=data[i : i + 32], labels=data[i : i + 32]).loss.item() for i in range(0, len(data), 32)]
    model.train()
    return float(np.mean(losses))


class HiddenStates(torch.nn.Module):
    """Wraps the base GPT-NeoX model: returns every hidden state as a separate output."""

    def __init__(self, lm):
        super().__init__()
        self.base = lm.gpt_neox

    def forward(self, input_ids, attention_mask):
        out = self.base(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, use_cache=False)
        return tuple(out.hidden_states)


def export(lm, tok, out_dir, step, cfg, loss, name):
    os.makedirs(out_dir, exist_ok=True)
    lm.eval()
    wrap = HiddenStates(lm)
    n_out = cfg.num_hidden_layers + 1
    names = [f"hidden_states_{i}" for i in range(n_out)]
    ids = torch.randint(1, cfg.vocab_size, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    dyn.update({n: {0: "batch", 1: "seq"} for n in names})
    torch.onnx.export(
        wrap,
        (ids, mask),
        os.path.join(out_dir, "model.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=names,
        dynamic_axes=dyn,
        opset_version=17,
        dynamo=False,
    )
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    manifest = {
        "name": name,
        "architecture": "gpt_neox",
        "step": step,
        "hidden_size": cfg.hidden_size,
        "num_layers": cfg.num_hidden_layers,
        "vocab_size": cfg.vocab_size,
        "inputs": ["input_ids", "attention_mask"],
        "layer_outputs": names,
        "eval_loss": loss,
    }
    with open(os.path.join(out_dir, "checkpoint.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    lm.train()


def train_model(name, cfg, train, evald, steps, save_steps, batch, lr, seed, tok, out_root, log):
    torch.manual_seed(seed)
    lm = GPTNeoXForCausalLM(cfg)
    opt = torch.optim.AdamW(lm.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    g = torch.Generator().manual_seed(seed)
    saved = {}
    t0 = time.time()
    for step in range(steps + 1):
        if step in save_steps:
            loss = eval_loss(lm, evald)
            d = os.path.join(out_root, name, f"step-{step:05d}")
            export(lm, tok, d, step, cfg, loss, name)
            saved[step] = (d, loss)
            log.append({"model": name, "step": step, "eval_loss": loss, "seconds": round(time.time() - t0, 1)})
            print(f"[{name}] step {step} eval_loss {loss:.4f} ({time.time() - t0:.0f}s)", flush=True)
        if step == steps:
            break
        idx = torch.randint(0, len(train), (batch,), generator=g)
        x = train[idx]
        loss = lm(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        sched.step()
    return lm, saved


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data/hh-rlhf-helpful")
    ap.add_argument("--out", default="fixtures/tiny-suite")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--steps", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    gt = read_jsonl(os.path.join(args.data, "train_gt.jsonl"))
    test = read_jsonl(os.path.join(args.data, "test.jsonl"))
    train_texts = [r["chosen"] for r in gt] + [r["rejected"] for r in gt]
    # Held-out text for eval loss: the first 256 `chosen` dialogues of the test split.
    eval_texts = [r["chosen"] for r in test[:256]]

    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    tok = train_tokenizer(train_texts, args.vocab)
    eos = tok.token_to_id(EOS)

    def stream(texts):
        ids = []
        for enc in tok.encode_batch(texts):
            ids.extend(enc.ids)
            ids.append(eos)
        return ids

    train = blocks(stream(train_texts), args.ctx)
    evald = blocks(stream(eval_texts), args.ctx)
    print(f"train blocks {tuple(train.shape)}, eval blocks {tuple(evald.shape)}", flush=True)

    common = dict(vocab_size=args.vocab, max_position_embeddings=args.ctx * 4, rotary_pct=0.25,
                  use_parallel_residual=True, hidden_dropout=0.0, attention_dropout=0.0,
                  tie_word_embeddings=False, bos_token_id=eos, eos_token_id=eos)
    strong_cfg = GPTNeoXConfig(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256, **common)
    weak_cfg = GPTNeoXConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, **common)
    save = {0} | {2**k for k in range(int(math.log2(args.steps)) + 1)}
    log = []
    strong, saved = train_model("strong", strong_cfg, train, evald, args.steps, save, 16, 3e-3, args.seed, tok, args.out, log)
    train_model("weak", weak_cfg, train, evald, args.steps, {args.steps}, 16, 3e-3, args.seed + 1, tok, args.out, log)

    # Reference fixture: PyTorch hidden states of the final strong checkpoint, each text alone.
    strong.eval()
    ref = {"checkpoint": os.path.relpath(saved[args.steps][0], args.out), "texts": []}
    with torch.no_grad():
        for t in REFERENCE_TEXTS:
            ids = tok.encode(t).ids
            x = torch.tensor([ids])
            hs = strong.gpt_neox(input_ids=x, attention_mask=torch.ones_like(x), output_hidden_states=True).hidden_states
            ref["texts"].append({"text": t, "ids": ids, "hidden_states": [[[round(float(v), 7) for v in row] for row in h[0]] for h in hs]})
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(ref, f)
    suite = {"seed": args.seed, "steps": args.steps, "ctx": args.ctx, "vocab": args.vocab,
             "strong": [os.path.relpath(saved[s][0], args.out) for s in sorted(saved)],
             "weak": [f"weak/step-{args.steps:05d}"], "log": log}
    with open(os.path.join(args.out, "suite.json"), "w") as f:
        json.dump(suite, f, indent=1)


if __name__ == "__main__":
    main()
