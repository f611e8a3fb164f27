#!/usr/bin/env python3
"""Report benchmark: wall time and page size of `warmstart report` on a large experiment.

The experiment: one `echo` stage swept over `a` x `b` (N instances, each a one-row
table) and one `echo` gathering them all (an N + 1-row table) — N + 1 instances. It is run first (not timed), then
`warmstart report` is timed from outside, as one fresh process of the binary, best of
--reps. The report exports every instance's tables to Parquet (N directories), so its
time is dominated by N small Parquet writes; the page itself holds at most 200 instance
rows per stage.

Usage:
    cargo build --release -p warmstart-cli
    python3 bench/report_bench.py [--bin target/release/warmstart] [--sizes 1000 10000] [--reps 3]
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

EXPERIMENT = """
[experiment]
name = "report-bench"
description = "{n} echo instances, gathered and plotted"

[sweep]
a = {{ range = [0, {a}] }}
b = {{ range = [0, 100] }}

[stages.gen]
kind = "echo"
value = "${{a * 100 + b}}"

[stages.all]
kind = "echo"
inputs = ["gen"]
gather = ["a", "b"]
value = "all"
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/warmstart")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    print("| instances | report wall (best of %d) | page size | data/ files |" % args.reps)
    print("|---|---|---|---|")
    for n in args.sizes:
        a = max(1, n // 100)
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "e.toml")
            with open(f, "w") as fh:
                fh.write(EXPERIMENT.format(n=a * 100, a=a))
            cache = os.path.join(d, "cache")
            subprocess.run([binary, "--cache", cache, "run", f], check=True,
                           stdout=subprocess.DEVNULL)
            best = None
            for _ in range(args.reps):
                out = os.path.join(d, "report")
                shutil.rmtree(out, ignore_errors=True)
                t = time.perf_counter()
                subprocess.run([binary, "--cache", cache, "report", f, "--out", out],
                               check=True, stdout=subprocess.DEVNULL)
                dt = time.perf_counter() - t
                best = dt if best is None else min(best, dt)
            size = os.path.getsize(os.path.join(out, "index.html"))
            files = sum(len(fs) for _, _, fs in os.walk(os.path.join(out, "data")))
            print(f"| {a * 100 + 1} | {best:.2f} s | {size / 1e6:.2f} MB | {files} |")


if __name__ == "__main__":
    main()
