"""Benchmark: `audit verify` and `replay PLAN` of a store, this tree's code next to another tree's (main's) in one run,
and a floor: what reading and hashing the bytes they check costs.

    python bench/verify.py --db sqlite:////path/gz-plan.db                    # verify, replay of the newest plan
    python bench/verify.py --db sqlite:////path/gz-plan.db --only verify --against /work/main
    python bench/verify.py --db sqlite:////path/jd.db --plan P2026-57af8e4c4d --repeat 2

Every measurement runs in a process of its own (this file with --worker), with PYTHONPATH set to the tree measured,
so each one's CPU seconds (user + sys, its own and its children's: the Arrow read of `audit verify` runs in a child
process) and peak RSS (its own VmHWM; a child's separately) are its own. The worker times the stages it knows from
outside (wrappers put in the modules' namespaces that time the call and pass arguments and results through), and a
sampling thread gives each stage's peak RSS. A stage a tree does not have is not shown for it.

The floor (`--worker floor`): the ledger rows, every blob and plan document read and SHA-256 hashed as stored bytes,
and the grade results read through ADBC and their Arrow buffers hashed; no canonical form. It reads the store with
ADBC only (no SQLAlchemy connection in that process). It is what any verify of these bytes costs at least.

Compare CPU seconds on a shared machine, not wall time (the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.02


# ── inside a worker ─────────────────────────────────────────────────────────────────────────────────────────────


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class _Stages:
    """Per stage: calls, wall and CPU seconds (charged to the innermost stage), and the peak RSS while it ran."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}
        self._stack: list[str] = []
        self._peak = 0.0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            self._peak = max(self._peak, _rss_mb())
            time.sleep(SAMPLE_SECONDS)

    def wrap(self, module: ModuleType, name: str, label: str) -> None:
        fn = getattr(module, name, None)
        if fn is None:
            return  # a stage this tree does not have

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                # Run beside the main thread (this tree's verify): its wall time only, the CPU is the process's.
                row = self.rows.setdefault(f"{label} [thread]", {"calls": 0, "wall": 0.0, "cpu": 0.0, "peak": 0.0})
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    row["calls"] += 1
                    row["wall"] += time.perf_counter() - t
                    row["cpu"] = row["peak"] = float("nan")  # the process's, not this stage's
            row = self.rows.setdefault(label, {"calls": 0, "wall": 0.0, "cpu": 0.0, "peak": 0.0})
            outer = self._stack[-1] if self._stack else None
            self._stack.append(label)
            t, c = time.perf_counter(), _cpu()
            self._peak = _rss_mb()
            try:
                return fn(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - t, _cpu() - c
                self._stack.pop()
                row["calls"] += 1
                row["wall"] += wall
                row["cpu"] += cpu
                row["peak"] = max(row["peak"], self._peak, _rss_mb())
                if outer is not None:  # the innermost stage is charged: take it off the one around it
                    self.rows[outer]["wall"] -= wall
                    self.rows[outer]["cpu"] -= cpu

        setattr(module, name, timed)


def _verify_stages(stages: _Stages) -> None:
    from engine import audit
    from engine.ledger import outputs, plan_reader

    stages.wrap(audit, "_rows", "ledger rows")
    stages.wrap(audit, "_chain_problems", "chain")
    stages.wrap(audit, "_grade_outputs_later", "grade outcomes (+ results started)")
    stages.wrap(audit, "_plan_document_later", "plan row and document read")
    stages.wrap(audit, "_blob_problem", "snapshots and pack versions")
    stages.wrap(audit, "_grade_problems", "grade run (waits for its results)")
    stages.wrap(audit, "_plan_problems", "plan (waits for its document)")
    stages.wrap(outputs, "stored_grade_outputs", "grade results read")
    stages.wrap(outputs, "grade_outputs_hash", "grade outputs hash")
    stages.wrap(plan_reader, "read", "plan document hash")


def _replay_stages(stages: _Stages) -> None:
    from engine.replay import recompute

    stages.wrap(recompute, "_stored_document", "stored document read")
    stages.wrap(recompute.snapshot, "load", "input snapshot load")
    stages.wrap(recompute, "plan_inputs", "plan inputs (records)")
    stages.wrap(recompute, "graded_mismatch", "graded mismatch")
    stages.wrap(recompute.outputs, "stored_grade_outputs", "grade results read")
    stages.wrap(recompute, "remake_plan", "make_plan")
    stages.wrap(recompute, "_document_hash", "replayed document hash")
    stages.wrap(recompute, "plan_document", "replayed document (built)")


def _floor(url: str) -> dict[str, Any]:
    """The ledger, blobs and plan documents as stored bytes, and the grade results as Arrow, SHA-256 hashed."""
    from engine.features import arrow_read

    path = arrow_read.database_file(url)
    if path is None or not arrow_read.available():
        return {"ok": None, "note": "no floor: not a SQLite file, or ADBC not installed"}
    source = arrow_read.ArrowSource(path)
    h = hashlib.sha256()
    read = 0
    try:
        import polars as pl

        queries = (
            (
                "SELECT seq, body, entry_hash FROM ledger ORDER BY seq",
                {"seq": pl.Int64, "body": pl.String, "e": pl.String},
            ),
            ("SELECT hash, data FROM blob", {"hash": pl.String, "data": pl.Binary}),
            ("SELECT id, document FROM plan", {"id": pl.String, "document": pl.Binary}),
            ("SELECT uscc, outcome FROM grade_result", {"uscc": pl.String, "outcome": pl.Int64}),
            ("SELECT run_id, outcome, outputs FROM grade_outcome", {"r": pl.String, "o": pl.Int64, "x": pl.String}),
        )
        for sql, schema in queries:
            frame = source.frame(sql, (), schema)
            if frame is None:
                return {"ok": None, "note": f"no floor: ADBC could not read {sql!r}"}
            for column in frame.iter_columns():
                for buffer in column.to_arrow().buffers():
                    if buffer is not None:
                        h.update(memoryview(buffer))
                        read += buffer.size
    finally:
        source.close()
    return {"ok": True, "bytes": read, "digest": h.hexdigest()[:12]}


def worker(what: str, url: str, plan: str | None) -> int:
    stages = _Stages()
    t, c = time.perf_counter(), _cpu()
    out: dict[str, Any] = {}
    if what == "floor":
        out = _floor(url)
    else:
        from entities import store

        engine = store.make_engine(url)
        if what == "verify":
            from engine import audit

            _verify_stages(stages)
            with engine.connect() as conn:
                report = audit.verify(conn)
            out = {"ok": report.ok, "problems": [str(p) for p in report.problems[:3]]}
            out["module"] = audit.__file__
        else:
            from engine import replay

            _replay_stages(stages)
            with engine.connect() as conn:
                found = replay.replay(conn, str(plan))
            out = {"ok": found.identical, "hash": found.replayed_hash[:12], "module": replay.__file__}
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.update(
        wall=time.perf_counter() - t,
        cpu=_cpu() - c,
        children_cpu=kids.ru_utime + kids.ru_stime,
        peak_mb=_hwm_mb(),
        child_peak_mb=kids.ru_maxrss / 1024,
        stages=stages.rows,
    )
    print("RESULT " + json.dumps(out))
    return 0


# ── the parent ──────────────────────────────────────────────────────────────────────────────────────────────────


def _run(tree: Path, what: str, url: str, plan: str | None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "SUIJIAN_ROLE": "supervisor", "SUIJIAN_USER": "bench"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", what, "--db", url]
    if plan:
        cmd += ["--plan", plan]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            found: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return found
    raise SystemExit(f"{what} under {tree} failed:\n{done.stderr[-3000:]}")


def _newest_plan(url: str) -> str | None:
    import sqlalchemy as sa

    from entities import store

    with store.make_engine(url).connect() as conn:
        t = store.table("ledger")
        found = conn.execute(sa.select(t.c.run_id).where(t.c.kind == "plan").order_by(t.c.seq.desc())).first()
    return None if found is None else str(found.run_id)


def _show(label: str, r: dict[str, Any]) -> None:
    print(
        f"  {label:<22} cpu {r['cpu']:7.1f} s (children {r['children_cpu']:5.1f})  wall {r['wall']:7.1f} s  "
        f"peak {r['peak_mb']:6.0f} MB (child {r['child_peak_mb']:5.0f})  ok {r.get('ok')}"
    )
    for name, row in r.get("stages", {}).items():
        print(
            f"      {name:<38} x{int(row['calls']):<3} cpu {row['cpu']:7.2f}  wall {row['wall']:7.2f}  "
            f"peak {row['peak']:6.0f} MB"
        )


def _load(label: str) -> None:
    print(f"{label}: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--plan", default=None, help="the plan to replay (default: the newest in the ledger)")
    ap.add_argument("--against", default="/work/main", help="the other tree (its code, measured the same way)")
    ap.add_argument("--only", choices=["verify", "replay", "floor"], action="append")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--worker", choices=["verify", "replay", "floor"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.db, args.plan)
    what = args.only or ["floor", "verify", "replay"]
    plan = args.plan or (_newest_plan(args.db) if "replay" in what else None)
    trees: list[tuple[str, Path]] = [("this tree", ROOT), ("against", Path(args.against))]
    print(f"python {sys.version.split()[0]}, {args.db}, this tree {ROOT}, against {args.against}")
    _load("before")
    for w in what:
        print(f"{w}{' ' + plan if w == 'replay' and plan else ''}:")
        if w == "floor":
            _show("floor (read + hash)", _run(ROOT, "floor", args.db, plan))
            continue
        for _ in range(args.repeat):
            for label, tree in trees:  # back to back, this tree first
                _show(label, _run(tree, w, args.db, plan))
    _load("after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
