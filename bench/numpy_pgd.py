#!/usr/bin/env python3
"""Numpy reference for warmstart's online spherical PGD, written the way researchers do:
a Python loop over steps, sample generation vectorized by pre-drawing blocks of samples.

Same model as warmstart-synth (science.md §1): x = g + sqrt(λ)·h·v, σ = shifted He3
(z³ − 3 s² z, s² = 1 + λα²), weak labels ŷ = σ(⟨w_weak, x⟩), g = (σ(⟨w,x⟩) − ŷ) σ'(⟨w,x⟩) x,
w ← (w − η g)/‖w − η g‖, η = δ/d.  Prints one line per d: "d=<d> us_per_step=<µs>".

    python3 bench/numpy_pgd.py [--dims 100 1000 10000] [--steps-total 2000000]
"""
import argparse
import time

import numpy as np


def unit(v):
    return v / np.linalg.norm(v)


def orth_unit(rng, a):
    u = rng.standard_normal(a.shape[0])
    u -= (u @ a) * a
    return unit(u)


def problem(d, alpha=0.5, rho=0.6, lam=3.0, seed=1):
    rng = np.random.default_rng(seed)
    w_star = unit(rng.standard_normal(d))
    v = alpha * w_star + np.sqrt(1 - alpha**2) * orth_unit(rng, w_star)
    w_weak = rho * w_star + np.sqrt(1 - rho**2) * orth_unit(rng, w_star)
    w0 = 0.6 * w_star + np.sqrt(1 - 0.36) * orth_unit(rng, w_star)
    return w_star, v, w_weak, w0, 1.0 + lam * alpha**2, lam


def pgd(w0, v, w_weak, s2, lam, delta, steps, seed=7, block=256):
    d = w0.shape[0]
    eta = delta / d
    rng = np.random.default_rng(seed)
    sl = np.sqrt(lam)
    sigma = lambda z: z**3 - 3 * s2 * z
    dsigma = lambda z: 3 * z**2 - 3 * s2
    w = w0.copy()
    done = 0
    while done < steps:
        b = min(block, steps - done)
        X = rng.standard_normal((b, d)) + sl * rng.standard_normal((b, 1)) * v  # block of samples
        Y = sigma(X @ w_weak)  # weak labels for the block
        for k in range(b):
            x = X[k]
            z = x @ w
            w = w - (eta * (sigma(z) - Y[k]) * dsigma(z)) * x
            w /= np.sqrt(w @ w)
        done += b
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--steps-total", type=int, default=2_000_000,
                    help="about steps_total·10/d steps per d (as pgd_speed), capped below")
    ap.add_argument("--max-steps", type=int, default=100_000)
    args = ap.parse_args()
    for d in args.dims:
        w_star, v, w_weak, w0, s2, lam = problem(d)
        steps = min(args.steps_total // d * 10, args.max_steps)
        t0 = time.perf_counter()
        w = pgd(w0, v, w_weak, s2, lam, 1e-3, steps)
        us = (time.perf_counter() - t0) * 1e6 / steps
        print(f"d={d} us_per_step={us:.3f} steps={steps} overlap={w @ w_star:.3f}", flush=True)


if __name__ == "__main__":
    main()
