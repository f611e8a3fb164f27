#!/usr/bin/env python3
"""Reward-head training: warmstart's `reward-head` stage vs scikit-learn LogisticRegression.

Both train a linear reward head r(x) = w·x on the same pairwise data — 4000 training pairs
of `dim`-dimensional last-token embeddings (Pythia-160M's hidden size, 768, by default) and
a test split — and report test pairwise accuracy, so the times compare models of equal
quality. scikit-learn is used the way a researcher would: features = chosen − rejected,
standardized, both orientations (d → 1, −d → 0), `LogisticRegression()` (lbfgs, no
intercept) with its default C = 1 and with stronger regularization (C = 0.1, 0.01, 0.001),
reported separately; the headline ratio is against the fastest setting within 0.005 of
warmstart's test accuracy. warmstart runs the real stage (Arrow decoding,
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

    def sklearn_once(c):
        t = time.perf_counter()
        d = (train[0] - train[1]).astype(np.float64)
        scaler = StandardScaler(with_mean=False).fit(np.vstack([d, -d]))
        x = scaler.transform(np.vstack([d, -d]))
        y = np.r_[np.ones(len(d)), np.zeros(len(d))]
        clf = LogisticRegression(C=c, fit_intercept=False, max_iter=1000).fit(x, y)
        seconds = time.perf_counter() - t
        dt = scaler.transform((test[0] - test[1]).astype(np.float64))
        return seconds, float(np.mean(dt @ clf.coef_[0] > 0))

    # The default C = 1 and stronger regularization (which also converges faster): the
    # comparison is against the fastest setting that reaches warmstart's test accuracy.
    sk = {}
    for c in (1.0, 0.1, 0.01, 0.001):
        runs = [sklearn_once(c) for _ in range(args.repeats)]
        sk[c] = (statistics.median(s for s, _ in runs), runs[0][1])

    out = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "warmstart-onnx", "--example", "head_speed", "--",
         args.dir, str(args.repeats)],
        check=True, capture_output=True, text=True,
    )
    ws = json.loads(out.stdout.strip().splitlines()[-1])

    print(f"pairs: {args.n_train} train / {args.n_test} test, dim {dim}, median of {args.repeats}")
    print(f"{'':34} {'seconds':>10} {'test acc':>9}")
    for c, (t, acc) in sk.items():
        print(f"{f'scikit-learn lbfgs, C = {c:g}':34} {t:10.4f} {acc:9.4f}")
    print(f"{'warmstart reward-head (1 epoch)':34} {ws['seconds']:10.4f} {ws['accuracy']:9.4f}")
    default_t, default_acc = sk[1.0]
    print(f"speed-up vs scikit-learn defaults: {default_t / ws['seconds']:.1f}x "
          f"(accuracy {ws['accuracy'] - default_acc:+.4f})")
    equal = [(t, c) for c, (t, acc) in sk.items() if acc >= ws["accuracy"] - 0.005]
    if equal:
        t, c = min(equal)
        print(f"speed-up vs the fastest scikit-learn setting within 0.005 of warmstart's accuracy "
              f"(C = {c:g}): {t / ws['seconds']:.1f}x")
    else:
        print("no scikit-learn setting reached warmstart's accuracy")


if __name__ == "__main__":
    sys.exit(main())
