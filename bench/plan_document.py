"""The columnar plan document (suijian.plan/3) end to end, next to a baseline code tree in the same run.

For each code tree (this one, and `--baseline DIR`: a checkout of the code before plan/3, e.g. `git worktree add
/tmp/main 534b5ed`), on its own copy of a graded store: `suijian plan`, `tasks export --format csv`, `audit
verify` and `replay` of the plan, each in its own process under `/usr/bin/time -v`, niced. Prints per step the
wall time, CPU seconds (user + system), peak RSS and the load average when the step ended, then whether both trees
drew the same visits (same subjects, teams and dates: the CSV task lists are compared byte for byte).

    python bench/plan_document.py --store /work/stores/gz.db --work /work/stores --baseline /tmp/main
    python bench/plan_document.py --store gz.db --work /tmp --baseline /tmp/main --steps export verify --reuse

The store given is never written: each tree works on `WORK/<prefix><tree>.db` (copied unless --reuse).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SEED = "31415926535897932384626"
STEPS = ("plan", "export", "verify", "replay")


def _time(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> dict[str, float]:
    start = time.perf_counter()
    with log.open("w") as out:
        # In the tree's own directory: `python -c` puts the working directory first on sys.path, before PYTHONPATH,
        # so run from another checkout both trees would run that checkout's code.
        done = subprocess.run(
            ["nice", "/usr/bin/time", "-v", *cmd], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace")
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}); see {log}")

    def field(name: str) -> float:
        m = re.search(rf"{re.escape(name)}: ([0-9.]+)", text)
        return float(m.group(1)) if m else float("nan")

    return {
        "wall": wall,
        "cpu": field("User time (seconds)") + field("System time (seconds)"),
        "rss_mb": field("Maximum resident set size (kbytes)") / 1024,
        "load": os.getloadavg()[0],
    }


def _plan_id(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT id FROM plan ORDER BY created_at DESC, id DESC LIMIT 1").fetchone()[0])


def run_tree(
    name: str, code: Path, store: Path, work: Path, steps: list[str], reuse: bool, prefix: str
) -> dict[str, object]:
    db = work / f"{prefix}{name}.db"
    if not reuse:
        shutil.copy(store, db)
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "SUIJIAN_ROLE": "supervisor",
        "SUIJIAN_USER": "bench",
    }
    url = f"sqlite:///{db}"
    suijian = [sys.executable, "-c", "import sys, cli; sys.argv[0] = 'suijian'; sys.exit(cli.main())"]
    out: dict[str, object] = {}
    csv = work / f"{prefix}{name}.csv"
    for step in steps:
        log = work / f"{prefix}{name}-{step}.log"
        if step == "plan":
            cmd = ["plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED]
        elif step == "export":
            cmd = ["tasks", "export", "--format", "csv", "--out", str(csv)]
        elif step == "verify":
            cmd = ["audit", "verify"]
        else:
            cmd = ["replay", _plan_id(db)]
        figures = _time([*suijian, *cmd, "--db", url], env, log, code)
        out[step] = figures
        print(f"{name:9} {step:7} " + "  ".join(f"{k} {v:,.1f}" for k, v in figures.items()), flush=True)
    out["plan_id"] = _plan_id(db)
    out["csv"] = csv
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, required=True, help="a graded store (SQLite), never written")
    ap.add_argument("--work", type=Path, required=True, help="where the copies, logs and CSVs go")
    ap.add_argument("--baseline", type=Path, required=True, help="the code tree to compare with")
    ap.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    ap.add_argument("--reuse", action="store_true", help="work on the copies a previous run made")
    ap.add_argument("--only", choices=("this", "baseline"), help="run one tree")
    ap.add_argument("--prefix", default="plan3-", help="of the copies' and logs' names in WORK")
    args = ap.parse_args()
    results = {}
    for name, code in (("baseline", args.baseline), ("this", HERE)):
        if args.only in (None, name):
            results[name] = run_tree(name, code, args.store, args.work, args.steps, args.reuse, args.prefix)
    for step in args.steps:
        row = [f"{step:7}"]
        for name, r in results.items():
            f = r[step]
            assert isinstance(f, dict)
            row.append(
                f"{name} {f['wall']:.1f} s wall, {f['cpu']:.1f} CPU s, {f['rss_mb']:,.0f} MB (load {f['load']:.1f})"
            )
        print(" | ".join(row))
    if len(results) == 2 and "export" in args.steps:
        a, b = (Path(str(r["csv"])).read_bytes() for r in results.values())
        print(
            f"plans {results['baseline']['plan_id']} and {results['this']['plan_id']}: task lists "
            + ("identical" if a == b else "DIFFERENT")
            + f" ({len(a):,} bytes)"
        )


if __name__ == "__main__":
    main()
