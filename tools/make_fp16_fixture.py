#!/usr/bin/env python3
"""A tiny float16 checkpoint for the `embed` stage's fp16 path (fixtures/fp16-gather).

Models exported in half precision (the usual form for the CUDA execution provider) return
float16 hidden states. This fixture is the smallest such model that ONNX Runtime's CPU
provider runs: two float16 embedding tables E0, E1 (vocabulary 2048 × hidden 8) gathered by
`input_ids`, as `hidden_states_0` and `hidden_states_1`. Entry j of token i in table k is
((i · 8 + j + 31·k) mod 97) / 8 − 6, exactly representable in float16, so a test can check
the last-token states without ONNX: the stage must return them as float32, unchanged.

    python3 -m pip install onnx numpy
    python3 tools/make_fp16_fixture.py            # writes fixtures/fp16-gather/
"""
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "fixtures/fp16-gather")
VOCAB, HIDDEN = 2048, 8


def table(k):
    i = np.arange(VOCAB)[:, None]
    j = np.arange(HIDDEN)[None, :]
    return (((i * HIDDEN + j + 31 * k) % 97) / 8.0 - 6.0).astype(np.float16)


def main():
    os.makedirs(OUT, exist_ok=True)
    names = ["hidden_states_0", "hidden_states_1"]
    nodes = [helper.make_node("Gather", [f"E{k}", "input_ids"], [n], axis=0) for k, n in enumerate(names)]
    graph = helper.make_graph(
        nodes,
        "fp16-gather",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT16, ["batch", "seq", HIDDEN]) for n in names],
        initializer=[numpy_helper.from_array(table(k), f"E{k}") for k in range(2)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, "model.onnx"))
    shutil.copy(os.path.join(ROOT, "fixtures/tiny-suite/weak/step-01024/tokenizer.json"), OUT)
    with open(os.path.join(OUT, "checkpoint.json"), "w") as f:
        json.dump({"name": "fp16-gather", "step": 0, "hidden_size": HIDDEN, "num_layers": 1,
                   "inputs": ["input_ids"], "layer_outputs": names, "eval_loss": None}, f, indent=1)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
