#!/usr/bin/env python3
"""PGR summary for the warmstart `process` engine (standard library only).

Reads params.json (written by the engine in the working directory), takes the first table
of the first input -- a CSV with columns weak_acc, strong_acc, w2s_acc (one row per run) --
and writes:

  pgr.csv        every input row plus pgr = (w2s_acc - weak_acc) / (strong_acc - weak_acc)
  summary.jsonl  one row: n, mean_pgr, min_pgr, max_pgr, and the `label` param

Rows where the strong and weak accuracies coincide get an empty (null) pgr.
"""

import csv
import json
import sys


def main():
    with open("params.json") as f:
        spec = json.load(f)
    if not spec["inputs"]:
        sys.exit("pgr.py needs one input stage with columns weak_acc, strong_acc, w2s_acc")
    # `primary` is the upstream stage's primary (first) output table.
    path = spec["inputs"][0]["primary"]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for col in ("weak_acc", "strong_acc", "w2s_acc"):
        if rows and col not in rows[0]:
            sys.exit(f"input {path} has no column {col!r} (columns: {list(rows[0])})")
    pgrs = []
    for r in rows:
        weak, strong, w2s = (float(r[c]) for c in ("weak_acc", "strong_acc", "w2s_acc"))
        gap = strong - weak
        r["pgr"] = "" if gap == 0 else repr((w2s - weak) / gap)
        if gap != 0:
            pgrs.append((w2s - weak) / gap)
    print(f"pgr.py: {len(rows)} rows, {len(pgrs)} with a non-zero gap", flush=True)
    with open("pgr.csv", "w", newline="") as f:
        fields = list(rows[0].keys()) if rows else ["weak_acc", "strong_acc", "w2s_acc", "pgr"]
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    summary = {
        "label": spec["params"].get("env", {}).get("PGR_LABEL", "pgr"),
        "n": len(pgrs),
        "mean_pgr": sum(pgrs) / len(pgrs) if pgrs else None,
        "min_pgr": min(pgrs) if pgrs else None,
        "max_pgr": max(pgrs) if pgrs else None,
        "seed": spec["seed"],
    }
    with open("summary.jsonl", "w") as f:
        f.write(json.dumps(summary) + "\n")
    print("pgr.py: done", file=sys.stderr)


if __name__ == "__main__":
    main()
