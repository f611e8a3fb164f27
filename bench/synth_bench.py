#!/usr/bin/env python3
"""warmstart's online spherical PGD (Rust, `pgd_speed` example) vs the numpy reference
(bench/numpy_pgd.py), in the same run, plus exact-quadrature vs Monte-Carlo risk
(`risk_speed` example). Prints a Markdown table.

    python3 bench/synth_bench.py            # from the repository root
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cargo_example(name):
    out = subprocess.run(
        ["cargo", "run", "--release", "-q", "-p", "warmstart-synth", "--example", name],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return out


def main():
    rust = {}
    out = cargo_example("pgd_speed")
    for m in re.finditer(r"d =\s*(\d+): ([0-9.]+) µs/step", out):
        rust[int(m.group(1))] = float(m.group(2))
    numpy = {}
    out_np = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "numpy_pgd.py"),
                             "--dims", *map(str, sorted(rust))],
                            check=True, capture_output=True, text=True).stdout
    for m in re.finditer(r"d=(\d+) us_per_step=([0-9.]+)", out_np):
        numpy[int(m.group(1))] = float(m.group(2))
    print("| d | warmstart (Rust) µs/step | numpy reference µs/step | numpy / warmstart |")
    print("|---:|---:|---:|---:|")
    for d in sorted(rust):
        r, n = rust[d], numpy.get(d, float("nan"))
        print(f"| {d} | {r:.3f} | {n:.3f} | {n / r:.1f}× |")
    risk = cargo_example("risk_speed")
    ex = re.search(r"exact risk .*?: ([0-9.]+) µs", risk)
    mc = re.search(r"Monte-Carlo risk \(M = (\d+)\): ([0-9.]+) µs", risk)
    print()
    print("| risk at d = 1000 | time | ratio |")
    print("|---|---:|---:|")
    print(f"| exact (Gauss–Hermite quadrature) | {float(ex.group(1)):.2f} µs | 1× |")
    print(f"| Monte-Carlo, M = {mc.group(1)} | {float(mc.group(2)) / 1e3:.1f} ms | "
          f"{float(mc.group(2)) / float(ex.group(1)):.0f}× |")


if __name__ == "__main__":
    main()
