#!/usr/bin/env python3
"""warmstart on the one-node test Slurm: end-to-end time and sbatch calls, against the
plain-sbatch floor (bench/slurm_floor.sh) measured on the same cluster.

Cases:
    a      200 independent instances of one stage (a sweep)         floor: bench/slurm_floor.sh (a')
    b      a 50-deep chain of stages                                  floor: bench/slurm_floor.sh (b)
    exp1   experiments/exp1-alignment.toml (aggregate and plot run locally, the default)
For each: cold run (empty cache) with `--executor slurm`, sbatch calls (counted by a PATH
shim around sbatch), then a no-op re-run under Slurm and a no-op re-run with the local
executor (the same cache), to show that a finished Slurm experiment costs no more to
re-check than a local one.

Usage (cluster started first):
    bash tests/slurm/cluster.sh start
    cargo build --release -p warmstart-cli
    python3 bench/slurm_bench.py [--cases a b exp1] [--warmstart target/release/warmstart]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def independent(n):
    return (f'[experiment]\nname = "bench-a"\n[sweep]\ni = {list(range(n))}\n'
            '[stages.s]\nkind = "echo"\nlocal = false\nvalue = "v${i}"\n')


def chain(n):
    out = ['[experiment]\nname = "bench-b"\n']
    for i in range(n):
        inputs = f'inputs = ["s{i-1}"]\n' if i else ""
        out.append(f'[stages.s{i}]\nkind = "echo"\nlocal = false\n{inputs}value = "v{i}"\n')
    return "\n".join(out)


def exp1():
    # As shipped: its `aggregate` and `plot` stages run on the submitting machine (the
    # default for cheap kinds), everything else as jobs.
    return open(os.path.join(ROOT, "experiments", "exp1-alignment.toml")).read()


def shim(dirpath):
    """An `sbatch` on PATH that counts its calls, then execs the real one."""
    real = shutil.which("sbatch")
    if real is None:
        sys.exit("sbatch is not on PATH: start the test cluster (bash tests/slurm/cluster.sh start)")
    os.makedirs(dirpath, exist_ok=True)
    path = os.path.join(dirpath, "sbatch")
    with open(path, "w") as f:
        # `sbatch --test-only` (the pre-submission check) submits nothing: counted apart.
        f.write('#!/bin/sh\n'
                f'case "$1" in --test-only) echo x >> "{dirpath}/checks";; *) echo x >> "{dirpath}/calls";; esac\n'
                f'exec {real} "$@"\n')
    os.chmod(path, 0o755)
    return dirpath


def calls(dirpath, what="calls"):
    try:
        with open(os.path.join(dirpath, what)) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def timed(cmd, cwd, env):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return dt


def run_case(name, text, exe, workdir):
    d = os.path.join(workdir, name)
    os.makedirs(d)
    with open(os.path.join(d, "warmstart.toml"), "w") as f:
        f.write('root = true\n[executor]\nkind = "slurm"\npoll_interval = 1\n')
    with open(os.path.join(d, "e.toml"), "w") as f:
        f.write(text)
    if name == "exp1":
        # exp1 reads nothing relative to its file; keep a copy of data/ just in case.
        src = os.path.join(ROOT, "experiments", "data")
        if os.path.isdir(src):
            os.symlink(src, os.path.join(d, "data"))
    bindir = shim(os.path.join(d, "bin"))
    os.makedirs(bindir, exist_ok=True)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
    cache = os.path.join(d, "cache")
    cold = timed([exe, "--cache", cache, "run", "e.toml", "--executor", "slurm"], d, env)
    n_sbatch = calls(bindir)
    n_checks = calls(bindir, "checks")
    noop_slurm = timed([exe, "--cache", cache, "run", "e.toml", "--executor", "slurm"], d, env)
    noop_local = timed([exe, "--cache", cache, "run", "e.toml", "--executor", "local"], d, env)
    return cold, n_sbatch, n_checks, noop_slurm, noop_local


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="*", default=["a", "b", "exp1"])
    ap.add_argument("--warmstart", default=os.path.join(ROOT, "target", "release", "warmstart"))
    args = ap.parse_args()
    exe = os.path.abspath(args.warmstart)
    texts = {"a": independent(200), "b": chain(50), "exp1": exp1()}
    # Under the repository (a shared disk), not /tmp: the executor refuses node-local caches.
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="slurm-bench-", dir=out)
    try:
        print("| case | instances | sbatch calls (+ --test-only checks) | cold s | no-op s (slurm) | no-op s (local) |")
        print("|---|---|---|---|---|---|")
        for c in args.cases:
            text = texts[c]
            cold, n, checks, ns, nl = run_case(c, text, exe, work)
            inst = {"a": 200, "b": 50}.get(c, "")
            print(f"| {c} | {inst} | {n} (+{checks}) | {cold:.2f} | {ns:.3f} | {nl:.3f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
