#!/usr/bin/env python3
"""Scheduler overhead benchmark: warmstart vs Snakemake on the same DAG shapes.

DAGs of N trivial stages (warmstart: the built-in `echo` kind; Snakemake: equivalent
`cat`/`echo` shell rules), shapes `chain` (s0 -> s1 -> ... -> sN-1) and `fan`
(root -> N-2 leaves -> one gather). For each: cold run (empty cache), no-op re-run, and
re-run after changing the middle stage. Wall times are medians of --reps runs, measured
in the same process run for both tools, and written as a Markdown table.

Usage:
    cargo build --release -p warmstart-cli
    python3 bench/dag_bench.py --sizes 10 100 1000 [--snakemake bench/.venv/bin/snakemake]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARMSTART = os.path.join(ROOT, "target", "release", "warmstart")


ENGINE = "echo"  # or "process": the same DAG with `sh -c` cat/echo process stages


def stage_body(value):
    """The kind + params of one stage (echo, or a process stage doing Snakemake's cat/echo)."""
    if ENGINE == "echo":
        return f'kind = "echo"\nvalue = "{value}"\n'
    # Inputs arrive as inputs/<stage>/out.csv (with a header row); append our value.
    cmd = ("{ echo value; for f in inputs/*/out.csv; do [ -f \\\"$f\\\" ] && tail -n +2 \\\"$f\\\"; done; "
           f"echo {value}; }} > out.csv")
    return f'kind = "process"\nshell = true\ncommand = "{cmd}"\noutputs = ["out.csv"]\n'


def warmstart_toml(shape, n, middle_value):
    out = ['[experiment]\nname = "bench"\n']
    mid = n // 2
    if shape == "chain":
        for i in range(n):
            value = middle_value if i == mid else f"v{i}"
            inputs = f'inputs = ["s{i-1}"]\n' if i > 0 else ""
            out.append(f'[stages.s{i}]\n{inputs}{stage_body(value)}')
    else:
        out.append(f'[stages.root]\n{stage_body("root")}')
        for i in range(n - 2):
            value = middle_value if i == mid else f"v{i}"
            out.append(f'[stages.s{i}]\ninputs = ["root"]\n{stage_body(value)}')
        ins = ", ".join(f'"s{i}"' for i in range(n - 2))
        out.append(f'[stages.gather]\ninputs = [{ins}]\n{stage_body("all")}')
    return "\n".join(out)


def snakefile(shape, n, middle_value):
    mid = n // 2
    rules = []
    if shape == "chain":
        rules.append(f'rule all:\n    input: "out/s{n-1}.txt"\n')
        for i in range(n):
            value = middle_value if i == mid else f"v{i}"
            if i == 0:
                rules.append(f'rule s{i}:\n    output: "out/s{i}.txt"\n    shell: "echo {value} > {{output}}"\n')
            else:
                rules.append(
                    f'rule s{i}:\n    input: "out/s{i-1}.txt"\n    output: "out/s{i}.txt"\n'
                    f'    shell: "cat {{input}} > {{output}} && echo {value} >> {{output}}"\n')
    else:
        rules.append('rule all:\n    input: "out/gather.txt"\n')
        rules.append('rule root:\n    output: "out/root.txt"\n    shell: "echo root > {output}"\n')
        for i in range(n - 2):
            value = middle_value if i == mid else f"v{i}"
            rules.append(
                f'rule s{i}:\n    input: "out/root.txt"\n    output: "out/s{i}.txt"\n'
                f'    shell: "cat {{input}} > {{output}} && echo {value} >> {{output}}"\n')
        ins = ", ".join(f'"out/s{i}.txt"' for i in range(n - 2))
        rules.append(f'rule gather:\n    input: {ins}\n    output: "out/gather.txt"\n'
                     f'    shell: "cat {{input}} > {{output}} && echo all >> {{output}}"\n')
    return "\n".join(rules)


def timed(cmd, cwd):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
    return dt


def bench_warmstart(shape, n, reps, jobs, tmp):
    res = {"cold": [], "noop": [], "middle": []}
    for _ in range(reps):
        d = tempfile.mkdtemp(prefix="ws-bench-", dir=tmp)
        f = os.path.join(d, "e.toml")
        with open(f, "w") as fh:
            fh.write(warmstart_toml(shape, n, "mid"))
        cmd = [WARMSTART, "run", f, "--cache", os.path.join(d, "cache"), "-j", str(jobs)]
        res["cold"].append(timed(cmd, d))
        res["noop"].append(timed(cmd, d))
        with open(f, "w") as fh:
            fh.write(warmstart_toml(shape, n, "changed"))
        res["middle"].append(timed(cmd, d))
        shutil.rmtree(d)
    return {k: statistics.median(v) for k, v in res.items()}


def bench_snakemake(snakemake, shape, n, reps, jobs, tmp):
    res = {"cold": [], "noop": [], "middle": []}
    for _ in range(reps):
        d = tempfile.mkdtemp(prefix="sm-bench-", dir=tmp)
        with open(os.path.join(d, "Snakefile"), "w") as fh:
            fh.write(snakefile(shape, n, "mid"))
        # Snakemake builds its DAG recursively: a 1000-rule chain exceeds Python's default
        # recursion limit, so raise it (as one must to use Snakemake on such a chain).
        py = os.path.join(os.path.dirname(snakemake), "python")
        launcher = ("import sys; sys.setrecursionlimit(100000); sys.argv[0] = 'snakemake'; "
                    "from snakemake.cli import main; main()")
        cmd = [py, "-c", launcher, "--cores", str(jobs), "--quiet", "all"]
        res["cold"].append(timed(cmd, d))
        res["noop"].append(timed(cmd, d))
        with open(os.path.join(d, "Snakefile"), "w") as fh:
            fh.write(snakefile(shape, n, "changed"))
        # Snakemake re-runs rules whose code changed (rerun-triggers include `code`).
        res["middle"].append(timed(cmd, d))
        shutil.rmtree(d)
    return {k: statistics.median(v) for k, v in res.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--shapes", nargs="+", default=["chain", "fan"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--snakemake", default=os.path.join(ROOT, "bench", ".venv", "bin", "snakemake"))
    ap.add_argument("--engine", choices=["echo", "process"], default="echo",
                    help="warmstart stages: built-in echo, or process stages running sh -c")
    ap.add_argument("--tmp", default=None,
                    help="directory for the projects and caches (default: the system temp dir)")
    ap.add_argument("--snakemake-max", type=int, default=1000,
                    help="skip Snakemake above this size (its cold runs take minutes)")
    a = ap.parse_args()
    global ENGINE
    ENGINE = a.engine
    have_sm = os.path.exists(a.snakemake)
    print("| shape | N | warmstart cold | per stage | no-op | middle change | Snakemake cold | no-op | middle change | ratio cold | ratio no-op | ratio middle |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for shape in a.shapes:
        for n in a.sizes:
            w = bench_warmstart(shape, n, a.reps, a.jobs, a.tmp)
            row = (f"| {shape} | {n} | {w['cold']*1e3:.0f} ms | {w['cold']/n*1e3:.2f} ms | "
                   f"{w['noop']*1e3:.1f} ms | {w['middle']*1e3:.0f} ms |")
            if have_sm and n <= a.snakemake_max:
                s = bench_snakemake(a.snakemake, shape, n, 1 if n >= 1000 else a.reps, a.jobs, a.tmp)
                row += (f" {s['cold']:.2f} s | {s['noop']:.2f} s | {s['middle']:.2f} s |"
                        f" {s['cold']/w['cold']:.0f}× | {s['noop']/w['noop']:.0f}× | {s['middle']/w['middle']:.0f}× |")
            else:
                row += " – | – | – | – | – | – |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
