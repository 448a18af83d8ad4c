"""Benchmark: `suijian grade --engine spark` (local mode) next to the single-machine `suijian grade`, same store, same run.

    python bench/spark_grade.py --db sqlite:////work/stores/h1-1m.db --partitions 8
    python bench/spark_grade.py --db sqlite:////tmp/gz-copy.db --partitions 16 --driver-memory 4g

Both runs are committed to the store: use a copy. Steps, each but the first in its own process:
1. the store's tables written to a Parquet folder sorted by owner USCC (engine/spark/inputs.py), in this process;
2. the baseline: `suijian grade --as-of …` (features in worker processes, grading, rows, ledger entry);
3. Spark: the same grade through engine.spark.grade.grade_and_store, reading the folder, local[2] (one JVM and its
   Python workers), with each feature task's cost logged.
Per step: wall seconds, CPU seconds (user + system of the process and every descendant it reaped: the JVM and the
Python workers included) and the peak RSS of the whole process tree (the sum over driver, JVM and workers, sampled
every 0.2 s from /proc), and the load average. Then both runs' outputs hashes and distributions, which must be equal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.process_tree import measured  # noqa: E402


def _line(name: str, m: dict[str, float]) -> str:
    return (
        f"{name}: {m['wall']:.1f} s wall, {m['cpu']:.1f} CPU-s, peak RSS {m['peak_mb']:,.0f} MB (load {m['load']:.1f})"
    )


def child_spark(db: str, folder: Path, blobs: Path, partitions: int, as_of: dt.date, log: Path) -> None:
    """Step 3 in its own process: grade the folder on Spark and commit the run."""
    from engine.rules import load_pack
    from engine.spark.grade import grade_and_store
    from engine.spark.session import spark_session
    from entities import identity, store

    pack = load_pack(ROOT / "rules" / "national")
    engine = store.open_store(db)
    spark = spark_session(partitions=partitions)
    with engine.begin() as conn:
        run = grade_and_store(
            conn,
            spark,
            folder,
            pack,
            as_of,
            blobs=blobs,
            partitions=partitions,
            created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            actor=identity.require("grade"),
            task_log=log,
        )
    print(f"spark run {run.id}: {run.subjects:,} subjects, {run.outcomes:,} outcomes, {run.evaluations:,} evaluations")
    spark.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a store to write two grade runs into (a copy)")
    ap.add_argument("--as-of", default="2025-12-31")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--work", type=Path, default=None, help="folder for the Parquet tables and blobs (default /tmp)")
    ap.add_argument("--driver-memory", default="3g", help="the local-mode JVM's heap (spark.driver.memory)")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--child", choices=["spark"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    as_of = dt.date.fromisoformat(args.as_of)
    work = args.work or Path(f"/tmp/suijian-spark-bench-{os.getpid()}")
    folder, blobs, log = work / "tables", work / "blobs", work / "tasks.log"
    if args.child == "spark":
        child_spark(args.db, folder, blobs, args.partitions, as_of, log)
        return
    os.environ.setdefault("SUIJIAN_USER", "bench")
    os.environ.setdefault("SUIJIAN_ROLE", "supervisor")
    from engine.spark import inputs
    from entities import store

    if not (folder / f"{inputs.REGIONS}.parquet").is_file():
        start, cpu = time.perf_counter(), time.process_time()
        engine = store.open_store(args.db)
        with engine.connect() as conn:
            inputs.export(conn, folder)
        engine.dispose()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"1. Parquet folder {folder}: {time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu:.1f} CPU-s, "
            f"peak RSS {peak:,.0f} MB, {sum(p.stat().st_size for p in folder.iterdir()) / 2**20:,.0f} MB on disk",
            flush=True,
        )
    if not args.skip_baseline:
        base = measured(
            [sys.executable, "cli.py", "grade", "--as-of", args.as_of, "--db", args.db, "--json"], quiet=True
        )
        print("2. " + _line("single machine `suijian grade` (baseline)", base), flush=True)
    log.unlink(missing_ok=True)
    env = {"PYSPARK_SUBMIT_ARGS": f"--driver-memory {args.driver_memory} pyspark-shell"}
    cmd = [sys.executable, "bench/spark_grade.py", "--child", "spark", "--db", args.db, "--as-of", args.as_of]
    cmd += ["--partitions", str(args.partitions), "--work", str(work)]
    spark = measured(cmd, env)
    print("3. " + _line(f"Spark local[2], {args.partitions} partitions", spark), flush=True)
    tasks = [line.split() for line in log.read_text().splitlines()] if log.is_file() else []
    if tasks:
        subjects = [int(t[2]) for t in tasks]
        cost = [float(t[3]) + float(t[4]) for t in tasks]
        reading = sum(float(t[3]) for t in tasks)
        print(
            f"   feature tasks: {len(tasks)}, {sum(subjects):,} subjects, CPU-s per task mean {sum(cost) / len(cost):.2f} "
            f"max {max(cost):.2f} (reading {reading:.1f} of {sum(cost):.1f}); "
            f"{1e6 * sum(cost) / max(1, sum(subjects)):.1f} CPU-µs per subject"
        )
    steps = log.with_suffix(".steps")
    if steps.is_file():
        print("   Spark steps (wall s): " + steps.read_text().replace("\n", " ").strip())
    _compare(args.db)


def _compare(db: str) -> None:
    from engine.ledger import chain
    from entities import store

    engine = store.open_store(db)
    with engine.connect() as conn:
        grades = list(chain.entries(conn, kinds=("grade",)))[-2:]
    engine.dispose()
    if len(grades) == 2:
        a, b = grades
        same = a.get("outputs_hash") == b.get("outputs_hash") and a.details.get("distributions") == b.details.get(
            "distributions"
        )
        print(
            f"outputs hash {a.run_id} {a.get('outputs_hash')[:12]} ({a.schemes['snapshot']}) vs {b.run_id} "
            f"{b.get('outputs_hash')[:12]} ({b.schemes['snapshot']}): {'identical' if same else 'DIFFERENT'}"
        )


if __name__ == "__main__":
    main()
