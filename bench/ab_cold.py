#!/usr/bin/env python3
"""A/B of two warmstart binaries on the same disk, alternating old and new runs, so that
the disk's and the CPUs' changing load hits both alike. Uses dag_bench.py's DAG files
(1000-stage chain and fan of `echo` stages by default).

    python3 bench/ab_cold.py --old /tmp/wt-target/release/warmstart \\
        --new target/release/warmstart --rounds 6 [--shapes chain fan] [--n 1000] [--tmp DIR] \\
        [--mode cold|noop]

`--mode cold` (default): every run starts from an empty cache. `--mode noop`: each binary
first fills its own cache once (so each finds the files it writes itself, e.g. an index),
then the timed runs are immediate re-runs with nothing to do. `--mode plan`: `plan`
against an empty cache. `--sweep N` adds plan_bench.py's N-instance sweep as a shape
(`--shapes` may then be empty: `--shapes --sweep 1000000 --mode plan`).

`--old` is typically the previous commit built in a git worktree:
    git worktree add /tmp/wt HEAD~1 && (cd /tmp/wt && CARGO_TARGET_DIR=/tmp/wt-target \\
        cargo build --release -p warmstart-cli)
"""
import argparse
import os
import shutil
import statistics
import tempfile

from dag_bench import timed, warmstart_toml
from plan_bench import sweep_toml


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--shapes", nargs="*", default=["chain", "fan"])
    ap.add_argument("--sweep", type=int, nargs="*", default=[])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--mode", choices=["cold", "noop", "plan"], default="cold")
    args = ap.parse_args()
    print(f"mode: {args.mode}, {args.rounds} rounds, n = {args.n}, {args.jobs} jobs; load: {os.getloadavg()[0]:.2f}\n")
    print("| shape | old (s, sorted) | new (s, sorted) | median old/new |")
    print("|---|---|---|---:|")
    for shape in args.shapes + [f"sweep{n}" for n in args.sweep]:
        d = tempfile.mkdtemp(prefix="ab-cold-", dir=args.tmp)
        with open(os.path.join(d, "e.toml"), "w") as f:
            if shape.startswith("sweep"):
                f.write(sweep_toml(int(shape[5:]))[0])
            else:
                f.write(warmstart_toml(shape, args.n, 0))
        times = {"old": [], "new": []}
        cmd = ["plan"] if args.mode == "plan" else ["run", "-j", str(args.jobs)]
        run = lambda which: [os.path.abspath(getattr(args, which)), *cmd, "e.toml",
                             "--cache", os.path.join(d, "cache-" + which)]
        if args.mode == "noop":
            for which in ("old", "new"):
                timed(run(which), d)
        for _ in range(args.rounds):
            for which in ("old", "new"):
                if args.mode == "cold":
                    shutil.rmtree(os.path.join(d, "cache-" + which), ignore_errors=True)
                times[which].append(timed(run(which), d))
        shutil.rmtree(d, ignore_errors=True)
        fmt = lambda v: " ".join(f"{x:.3f}" for x in sorted(v))
        ratio = statistics.median(times["old"]) / statistics.median(times["new"])
        print(f"| {shape} | {fmt(times['old'])} | {fmt(times['new'])} | {ratio:.1f}× |")


if __name__ == "__main__":
    main()
