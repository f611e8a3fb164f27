#!/usr/bin/env python3
"""Reward-head training: warmstart's `reward-head` stage vs scikit-learn LogisticRegression.

Both train a linear reward head r(x) = w·x on the same pairwise data — 4000 training pairs
of `dim`-dimensional last-token embeddings (Pythia-160M's hidden size, 768, by default) and
a test split — and report test pairwise accuracy, so the times compare models of equal
quality. scikit-learn is used the way a researcher would: features = chosen − rejected,
standardized, both orientations (d → 1, −d → 0), `LogisticRegression()` with its defaults
(lbfgs, C = 1) and no intercept. warmstart runs the real stage (Arrow decoding,
standardization, one epoch of Adam with batch 16 — its defaults — and evaluation) through
crates/warmstart-onnx/examples/head_speed.rs.

Embeddings: x = prompt + noise (+ shift·u for the chosen side), where the prompt part is
shared by both sides of a pair (as a common dialogue prefix is), dimensions have unequal
scales, and u is a planted preference direction; the Bayes accuracy is about 0.8.

    python3 -m pip install numpy scikit-learn
    python3 bench/head_bench.py [--dim 768] [--n-train 4000] [--n-test 4000] [--repeats 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def make_split(rng, n, dim, u, scales, shift):
    prompt = rng.normal(0.0, 2.0, (n, dim)) * scales
    chosen = prompt + rng.normal(0.0, 1.0, (n, dim)) * scales + shift * u
    rejected = prompt + rng.normal(0.0, 1.0, (n, dim)) * scales
    return chosen.astype(np.float32), rejected.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-test", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", default="target/head-bench")
    args = ap.parse_args()

    rng = np.random.default_rng(4)
    dim = args.dim
    scales = np.exp(rng.normal(0.0, 0.5, dim))
    u = rng.normal(size=dim)
    u /= np.linalg.norm(u)
    # In units of each dimension's noise scale the pair difference along u is N(1.2, 2):
    # Bayes accuracy Φ(1.2/√2) ≈ 0.80.
    u_scaled = u * scales
    shift = 1.2
    train = make_split(rng, args.n_train, dim, u_scaled, scales, shift)
    test = make_split(rng, args.n_test, dim, u_scaled, scales, shift)

    os.makedirs(args.dir, exist_ok=True)
    for name, (c, r) in (("train", train), ("test", test)):
        c.astype("<f4").tofile(os.path.join(args.dir, f"{name}_chosen.f32"))
        r.astype("<f4").tofile(os.path.join(args.dir, f"{name}_rejected.f32"))
    with open(os.path.join(args.dir, "meta.json"), "w") as f:
        json.dump({"n_train": args.n_train, "n_test": args.n_test, "dim": dim}, f)

    def sklearn_once():
        t = time.perf_counter()
        d = (train[0] - train[1]).astype(np.float64)
        scaler = StandardScaler(with_mean=False).fit(np.vstack([d, -d]))
        x = scaler.transform(np.vstack([d, -d]))
        y = np.r_[np.ones(len(d)), np.zeros(len(d))]
        clf = LogisticRegression(fit_intercept=False, max_iter=1000).fit(x, y)
        seconds = time.perf_counter() - t
        dt = scaler.transform((test[0] - test[1]).astype(np.float64))
        return seconds, float(np.mean(dt @ clf.coef_[0] > 0))

    sk = [sklearn_once() for _ in range(args.repeats)]
    sk_time = statistics.median(s for s, _ in sk)
    sk_acc = sk[0][1]

    out = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "warmstart-onnx", "--example", "head_speed", "--",
         args.dir, str(args.repeats)],
        check=True, capture_output=True, text=True,
    )
    ws = json.loads(out.stdout.strip().splitlines()[-1])

    print(f"pairs: {args.n_train} train / {args.n_test} test, dim {dim}, median of {args.repeats}")
    print(f"{'':28} {'seconds':>10} {'test acc':>9}")
    print(f"{'scikit-learn (lbfgs)':28} {sk_time:10.4f} {sk_acc:9.4f}")
    print(f"{'warmstart reward-head':28} {ws['seconds']:10.4f} {ws['accuracy']:9.4f}")
    print(f"speed-up: {sk_time / ws['seconds']:.1f}x   accuracy difference: {ws['accuracy'] - sk_acc:+.4f}")


if __name__ == "__main__":
    sys.exit(main())
