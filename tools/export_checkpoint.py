#!/usr/bin/env python3
"""Export one Hugging Face causal-LM checkpoint (e.g. a Pythia revision) for warmstart-onnx.

Writes <out>/model.onnx (inputs input_ids, attention_mask: int64 [batch, seq]; outputs
hidden_states_0..L: float32 [batch, seq, hidden]), <out>/tokenizer.json and
<out>/checkpoint.json (step, hidden_size, num_layers, layer_outputs, eval_loss).

    python tools/export_checkpoint.py --model EleutherAI/pythia-160m --revision step1000 \
        --out checkpoints/pythia-160m/step1000 \
        --eval-jsonl /work/shared/data/hh-rlhf-helpful/test.jsonl --eval-n 256

--model may also be a local directory (save_pretrained output). Models over 2 GB are
written with external data files next to model.onnx (keep them together).
"""

import argparse
import json
import os
import re

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


class HiddenStates(torch.nn.Module):
    """The base model with every hidden state as a separate output."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, input_ids, attention_mask):
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, use_cache=False)
        return tuple(out.hidden_states)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--revision", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--eval-jsonl", default=None, help="JSONL with a `chosen` field: eval loss texts")
    ap.add_argument("--eval-n", type=int, default=256)
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()

    tok = AutoTokenizer.from_pretrained(args.model, revision=args.revision)
    lm = AutoModelForCausalLM.from_pretrained(args.model, revision=args.revision, dtype=torch.float32)
    lm.eval()
    cfg = lm.config
    os.makedirs(args.out, exist_ok=True)

    eval_loss = None
    if args.eval_jsonl:
        with open(args.eval_jsonl, encoding="utf-8") as f:
            texts = [json.loads(l)["chosen"] for l in f if l.strip()][: args.eval_n]
        losses = []
        with torch.no_grad():
            for t in texts:
                ids = torch.tensor([tok(t)["input_ids"][-512:]])
                if ids.shape[1] > 1:
                    losses.append(lm(input_ids=ids, labels=ids).loss.item())
        eval_loss = float(np.mean(losses))

    n_out = cfg.num_hidden_layers + 1
    names = [f"hidden_states_{i}" for i in range(n_out)]
    ids = torch.randint(1, min(cfg.vocab_size, 1000), (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    dyn.update({n: {0: "batch", 1: "seq"} for n in names})
    torch.onnx.export(
        HiddenStates(lm),
        (ids, mask),
        os.path.join(args.out, "model.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=names,
        dynamic_axes=dyn,
        opset_version=args.opset,
        dynamo=False,
    )
    tok.backend_tokenizer.save(os.path.join(args.out, "tokenizer.json"))
    step = None
    if args.revision and re.fullmatch(r"step\d+", args.revision):
        step = int(args.revision[4:])
    manifest = {
        "name": args.model,
        "revision": args.revision,
        "step": step,
        "hidden_size": cfg.hidden_size,
        "num_layers": cfg.num_hidden_layers,
        "vocab_size": cfg.vocab_size,
        "inputs": ["input_ids", "attention_mask"],
        "layer_outputs": names,
        "eval_loss": eval_loss,
    }
    with open(os.path.join(args.out, "checkpoint.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {args.out}: {n_out} layer outputs, hidden {cfg.hidden_size}, eval_loss {eval_loss}")


if __name__ == "__main__":
    main()
