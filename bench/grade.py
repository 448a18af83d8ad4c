"""Benchmark: grade a synthetic district with a rule pack, next to a naive one-durable-call-per-subject baseline.

    python bench/grade.py jiedong                       # generates /tmp/suijian-bench-jiedong.db if missing
    python bench/grade.py guangzhou --pack rules/national
    python bench/grade.py baiyun --db postgresql://postgres@127.0.0.1/test

Phases timed separately: features (set-based SQL + polars, per 200k-subject batch), grading (keying every
subject by the cells of the features the pack reads, one durable-rules evaluation per distinct key, fan-out),
and storing the outcomes (one row per subject). The baseline evaluates a sample of the same subjects with one
durable-rules call each (what a naive engine does), extrapolated to the population. Peak RSS is the process's
(resource.getrusage). The store is generated with `engine.synth` when it holds no subjects.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

import polars as pl

from engine import grading
from engine.features.compute import feature_partitions
from engine.rules import durable, load_pack
from engine.synth import get_profile, load_demo
from entities import store

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2025, 12, 31)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", choices=["jiedong", "baiyun", "guangzhou"])
    ap.add_argument("--subjects", type=int, default=None)
    ap.add_argument("--db", default=None)
    ap.add_argument("--pack", default=str(ROOT / "rules" / "national"))
    ap.add_argument("--baseline-sample", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=2, help="processes computing feature batches (1 = in-process)")
    args = ap.parse_args()
    url = (
        args.db or f"sqlite:////tmp/suijian-bench-{args.profile}{'-' + str(args.subjects) if args.subjects else ''}.db"
    )
    engine = store.make_engine(url)
    store.initialise(engine)
    with engine.connect() as conn:
        have = store.count_rows(conn, "subject")
    if not have:
        t = time.perf_counter()
        load_demo(engine, get_profile(args.profile, args.subjects), 1, AS_OF, now=dt.datetime(2026, 1, 1))
        print(f"generated the {args.profile} store in {time.perf_counter() - t:.1f} s ({url})")
    pack = load_pack(args.pack)
    print(
        f"python {sys.version.split()[0]}, pack {pack.name} {pack.version} ({len(pack.features)} features read), "
        f"store {url}, feature workers {args.workers}"
    )

    # The system under test, phase by phase (same code path as `suijian grade`).
    with engine.begin() as conn:
        t0 = time.perf_counter()
        frames = list(feature_partitions(conn, AS_OF, url=url, workers=args.workers))
        t1 = time.perf_counter()
        g = grading.Grading(pack, AS_OF)
        ids = [g.grade_frame(f) for f in frames]
        t2 = time.perf_counter()
        run_id = "BENCH"
        rows = (
            (run_id, u, int(o))
            for f, i in zip(frames, ids, strict=True)
            for u, o in zip(f.get_column("uscc").to_list(), i.tolist(), strict=True)
        )
        store.bulk_insert_tuples(conn, "grade_result", ("run_id", "uscc", "outcome"), rows)
        t3 = time.perf_counter()
        conn.rollback()  # a benchmark leaves no run behind
    n = g.subjects
    total = t3 - t0
    print(f"subjects            {n:,}")
    print(f"features          {t1 - t0:8.2f} s   {n / (t1 - t0):>12,.0f} subjects/s")
    print(
        f"grade (keyed)     {t2 - t1:8.2f} s   {n / (t2 - t1):>12,.0f} subjects/s   "
        f"{g.evaluations:,} durable-rules evaluations, {len(g.outcomes):,} distinct outcomes"
    )
    print(f"store results     {t3 - t2:8.2f} s")
    print(f"total             {total:8.2f} s   {n / total:>12,.0f} subjects/s")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS          {peak_rss_mb():8.0f} MB (largest feature worker {children:.0f} MB)")

    # Baseline, same run: one durable-rules call per subject on a sample, extrapolated.
    sample = pl.concat(frames).head(args.baseline_sample)
    t = time.perf_counter()
    for record in sample.iter_rows(named=True):
        durable.evaluate(pack, record)
    b = time.perf_counter() - t
    rate = sample.height / b
    print(
        f"baseline (1 durable call per subject): {sample.height:,} subjects in {b:.2f} s = {rate:,.0f} subjects/s "
        f"→ {n / rate:,.0f} s extrapolated for {n:,} (grading phase {n / rate / (t2 - t1):,.0f}x slower)"
    )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
