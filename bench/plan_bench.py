#!/usr/bin/env python3
"""Planning benchmark: wall time and peak resident memory of `warmstart plan` (and, for
sweeps, of a cold and a no-op `run`) as the number of stage instances grows.

Two shapes, both of the built-in `echo` kind:

- `chain`: N explicit stages `s0 -> s1 -> ... -> sN-1` (each `inputs = [previous]`): the
  cost of many *stages* (parsing, graph checks, per-stage lookups).
- `sweep`: one stage `gen` over the axes `a` x `b` (999 values of `b`) and one stage `sum`
  that gathers `b` (one `sum` per value of `a`), N = a*999 + a instances in all: the cost
  of many *instances* of few stages (expansion, binding, keys, the cache lookups).

Every measurement is one fresh process of the binary, timed from outside with its peak
RSS from `getrusage(RUSAGE_CHILDREN)` (measured in a forked helper so that sizes do not
mask each other). `plan` runs against an empty cache (every instance a miss: its "ref" is
looked up to explain why) unless the sweep was run first, in which case it also shows the
all-fresh case. Output: one Markdown table per shape.

Usage:
    cargo build --release -p warmstart-cli
    python3 bench/plan_bench.py [--bin target/release/warmstart] \
        [--chains 5000 10000 20000 40000 100000] [--sweeps 10000 100000 1000000] \
        [--run-sweeps 10000 100000] [--reps 1]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B_VALUES = 999


def chain_toml(n):
    out = ['[experiment]\nname = "chain"\n']
    for i in range(n):
        inputs = f'inputs = ["s{i-1}"]\n' if i > 0 else ""
        out.append(f'[stages.s{i}]\nkind = "echo"\n{inputs}value = "v{i}"\n')
    return "\n".join(out)


def sweep_toml(n):
    """a x 999 `gen` instances + a `sum` instances; a chosen so that the total is n."""
    a = max(1, n // (B_VALUES + 1))
    return (
        '[experiment]\nname = "sweep"\n'
        f"[sweep]\na = {{ range = [0, {a}] }}\nb = {{ range = [0, {B_VALUES}] }}\n"
        '[stages.gen]\nkind = "echo"\nvalue = "${a}-${b}"\n'
        '[stages.sum]\nkind = "echo"\ninputs = ["gen"]\ngather = ["b"]\nvalue = "sum"\n'
    ), a * B_VALUES + a


def measure(argv, cwd):
    """(wall seconds, peak RSS in MB, exit code) of one run of argv, stdout discarded."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # helper: its RUSAGE_CHILDREN sees only this one command
        os.close(r)
        import resource
        t0 = time.perf_counter()
        rc = subprocess.call(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        os.write(w, f"{wall} {rss_kb} {rc}".encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    wall, rss_kb, rc = data.split()
    return float(wall), int(rss_kb) / 1024.0, int(rc)


def best(argv, cwd, reps):
    runs = [measure(argv, cwd) for _ in range(reps)]
    return min(runs, key=lambda x: x[0])


def fmt(m):
    wall, rss, rc = m
    bad = "" if rc == 0 else f" (exit {rc})"
    return f"{wall:.2f} s, {rss:.0f} MB{bad}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "warmstart"))
    p.add_argument("--chains", type=int, nargs="*", default=[5000, 10000, 20000, 40000, 100000])
    p.add_argument("--sweeps", type=int, nargs="*", default=[10000, 100000, 1000000])
    p.add_argument("--run-sweeps", type=int, nargs="*", default=[10000, 100000],
                   help="sweep sizes also run cold and then no-op (writes that many cache entries)")
    p.add_argument("--reps", type=int, default=1, help="best of this many runs per cell")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.path.exists(binary):
        sys.exit(f"no binary at {binary}: cargo build --release -p warmstart-cli")
    print(f"binary: {binary}; cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.2f}\n")

    if args.chains:
        print("| chain stages | `plan` (empty cache): wall, peak RSS | per stage |")
        print("|---:|---:|---:|")
        for n in args.chains:
            with tempfile.TemporaryDirectory(prefix="plan-bench-") as d:
                f = os.path.join(d, "chain.toml")
                with open(f, "w") as fh:
                    fh.write(chain_toml(n))
                m = best([binary, "plan", f, "--cache", os.path.join(d, "cache")], d, args.reps)
                print(f"| {n} | {fmt(m)} | {m[0] / n * 1e6:.1f} µs |", flush=True)
        print()

    if args.sweeps:
        print("| sweep instances | `plan` (empty cache) | cold `run` | no-op `run` | `plan` (all fresh) | `plan` RSS per instance |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n in args.sweeps:
            with tempfile.TemporaryDirectory(prefix="plan-bench-") as d:
                text, total = sweep_toml(n)
                f = os.path.join(d, "sweep.toml")
                with open(f, "w") as fh:
                    fh.write(text)
                cache = os.path.join(d, "cache")
                plan = best([binary, "plan", f, "--cache", cache], d, args.reps)
                cells = [fmt(plan)]
                if n in args.run_sweeps:
                    run = [binary, "run", f, "--cache", cache, "--jobs", str(args.jobs)]
                    cold = measure(run, d)
                    noop = best(run, d, args.reps)
                    fresh = best([binary, "plan", f, "--cache", cache], d, args.reps)
                    cells += [fmt(cold), fmt(noop), fmt(fresh)]
                else:
                    cells += ["—", "—", "—"]
                per = plan[1] * 1024 * 1024 / total
                print(f"| {total} | {' | '.join(cells)} | {per:.0f} B |", flush=True)
                shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
