#!/usr/bin/env python3
"""No-op re-run of a finished experiment: `--executor local` vs `--executor slurm`,
alternating, median wall time of N runs each (the cluster need not be up when nothing is
live: a no-op asks Slurm nothing).

Usage:
    python3 bench/slurm_noop.py DIR [--runs 15] [--warmstart target/release/warmstart]
DIR holds `e.toml`, its `warmstart.toml` ([executor] kind = "slurm") and a `cache/` in which
the experiment is complete (e.g. left by `bench/slurm_bench.py` with its cleanup skipped, or
by `warmstart run e.toml` once).
"""
import argparse
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmstart", default=os.path.join(ROOT, "target", "release", "warmstart"))
    a = ap.parse_args()
    exe = os.path.abspath(a.warmstart)
    print("| round | mode | median wall ms |")
    print("|---|---|---|")
    for rnd in (1, 2):
        for mode in ("local", "slurm"):
            ts = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                subprocess.run([exe, "--cache", "cache", "run", "e.toml", "--executor", mode],
                               cwd=a.dir, stdout=subprocess.DEVNULL, check=True)
                ts.append(time.perf_counter() - t0)
            print(f"| {rnd} | {mode} | {statistics.median(ts) * 1000:.1f} |", flush=True)


if __name__ == "__main__":
    main()
