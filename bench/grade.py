"""Benchmark: `suijian grade`'s code path on a synthetic district, next to the previous path and a floor, same run.

    python bench/grade.py jiedong                       # generates /tmp/suijian-bench-jiedong.db if missing
    python bench/grade.py guangzhou --db sqlite:////tmp/guangzhou.db
    python bench/grade.py baiyun --db postgresql://postgres@127.0.0.1/test
    python bench/grade.py guangzhou --db sqlite:////tmp/guangzhou.db --read-floor-only   # step 3's read alone
    python bench/grade.py guangzhou --db sqlite:////tmp/loaded.db --versus /work/main   # `suijian grade`, both trees

`--versus TREE`: `suijian grade` end to end in its own process, TREE's code (another checkout, e.g. main) and then
this tree's, back to back, each on its own copy of the store (a SQLite file, loaded and not graded: each copy is
brought to its tree's schema by `suijian init`, timed apart, then graded; the store is not touched); per run wall,
user and system CPU seconds, minor page faults, the peak RSS of the process tree (sampled every 0.2 s from /proc)
and the outputs hash, which must be the same.

1. `grading.grade_store` end to end (features, grading, grade_result rows, the ledger entry with its streamed
   snapshot), in a transaction rolled back at the end; its time and the process's peak RSS so far (nothing else
   has run yet, so that peak is the grade run's).
2. Its steps one by one, each next to the path it replaced:
   - features (set-based reading + polars per 200k-subject range, in worker processes);
   - grading: one pack evaluation per distinct rule-relevant key with durable-rules asked once per distinct
     input of each decision's rows (durable.ChunkMemo), against the previous path (every distinct key's every
     ruleset asked: one engine call per chunk per key);
   - the snapshot hash: suijian-snapshot-2 (typed binary columns) against suijian-snapshot-1 (canonical text),
     on the same frozen features; and snapshot-2 streamed a partition at a time with its Parquet container;
   - storing one grade_result row per subject (executemany on SQLite, COPY on PostgreSQL).
3. The floor: reading the rows the features need once (one process) and hashing the frozen features' raw column
   buffers once with SHA-256 (no canonical form): no grade run can take less than that. The rows are read both
   ways in the same run: straight into Arrow (engine/features/arrow_read.py) and as the driver's tuples.
4. The naive baseline: one durable-rules call per subject on a sample, extrapolated.

Peak RSS is the process's (resource.getrusage). The store is generated with `engine.synth` when it holds none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from engine import grading
from engine.features import arrow_read, compute, read
from engine.features.compute import feature_partitions
from engine.ledger import canonical, record
from engine.rules import Pack, durable, load_pack, relevant_keys
from engine.synth import get_profile, load_demo
from entities import store
from entities.identity import Identity, Role

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import process_tree  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def previous_grading(pack: Pack, frames: list[pl.DataFrame]) -> tuple[int, int]:
    """The grading step as it was: every distinct key evaluated with all its engine calls (no memo).
    Returns (evaluations, engine calls)."""
    seen: set[tuple[int, ...]] = set()
    features = list(pack.features)
    for frame in frames:
        keys = relevant_keys(pack, frame).with_row_index("_row")
        firsts = keys.group_by(features, maintain_order=True).agg(pl.col("_row").first())
        for rep, key in zip(firsts.get_column("_row").to_list(), firsts.select(features).rows(), strict=True):
            if key not in seen:
                seen.add(key)
                durable.evaluate(pack, frame.row(rep, named=True))
    return len(seen), len(seen) * durable.compile_pack(pack).calls


def floor_hash(frame: pl.DataFrame) -> str:
    """SHA-256 over the raw buffers of every column (text as its joined bytes): hashing with no canonical form."""
    h = hashlib.sha256()
    for series in frame.get_columns():
        if series.dtype == pl.String:
            for start in range(0, len(series), 250_000):
                h.update(series.slice(start, 250_000).fill_null("").str.join("").item().encode())
        else:
            h.update(series.to_physical().fill_null(0).to_numpy().tobytes())
    return h.hexdigest()


def read_floor(engine: Any, url: str, bounds: list[tuple[str, str]]) -> dict[str, tuple[float, float, int]]:
    """Read the rows the features need once, range by range, in this process: through Arrow (where the store is a
    SQLite file and the driver is installed) and as tuples. (wall s, CPU s, rows) per way."""
    reads: dict[str, tuple[float, float, int]] = {}
    path = arrow_read.database_file(url)
    if path is not None and arrow_read.available():
        engine.dispose()  # ADBC's SQLite must be the process's only connection to the file (arrow_read)
        source = arrow_read.ArrowSource(path)
        t, cpu = time.perf_counter(), time.process_time()
        held = 0
        for lo, hi in bounds:
            part = read.read_partition_arrow(source, lo, hi, as_of=AS_OF)
            assert part is not None, "a table could not be read through Arrow"
            held += sum(p.height for p in part.values())
            del part
        reads["arrow"] = (time.perf_counter() - t, time.process_time() - cpu, held)
        source.close()
    with engine.connect() as conn:
        t, cpu = time.perf_counter(), time.process_time()
        held = 0
        for lo, hi in bounds:
            part = read.read_partition(conn, lo, hi, as_of=AS_OF)
            held += sum(p.height for p in part.values())
            del part
        reads["tuples"] = (time.perf_counter() - t, time.process_time() - cpu, held)
    return reads


def init_run(tree: Path, db: Path) -> dict[str, Any]:
    """`suijian init` with `tree`'s code on `db`: the store brought to that tree's schema (a no-op where it is
    there already), measured apart from the grade; wall, user, sys and the file's size after."""
    env = {"PYTHONPATH": str(tree), "SUIJIAN_ROLE": "supervisor", "SUIJIAN_USER": "bench"}
    m = process_tree.measured(
        [sys.executable, "-m", "cli", "init", "--db", f"sqlite:///{db}"], env, quiet=True, cwd=tree
    )
    return {**m, "bytes": db.stat().st_size}


def grade_run(tree: Path, db: Path) -> dict[str, Any]:
    """`suijian grade` with `tree`'s code on `db` in its own process: wall, user, sys, faults, tree peak, hash."""
    env = {"PYTHONPATH": str(tree), "SUIJIAN_ROLE": "supervisor", "SUIJIAN_USER": "bench"}
    args = [sys.executable, "-m", "cli", "grade", "--as-of", AS_OF.isoformat(), "--db", f"sqlite:///{db}"]
    m = process_tree.measured(args, env, quiet=True, cwd=tree)
    with sqlite3.connect(db) as conn:
        body = json.loads(conn.execute("SELECT body FROM ledger WHERE kind = 'grade'").fetchone()[0])
    return {**m, "hash": body["outputs_hash"], "snapshot": body["snapshot_hash"]}


def versus(url: str, base: Path) -> int:
    """`suijian grade` with `base`'s code, then this tree's, each on a fresh copy of the (ungraded) store."""
    source = Path(store.resolve_url(url).removeprefix("sqlite:///"))
    runs = {}
    for name, tree in (("base", base), ("this", ROOT)):
        copy = source.with_name(f"{source.stem}-bench-{name}.db")
        shutil.copyfile(source, copy)
        try:
            # A tree with a newer schema (migration 0012's indexes) upgrades its copy first, as a user would.
            i = init_run(tree, copy)
            print(
                f"suijian init, {name}: {i['wall']:.1f} s wall, {i['user'] + i['sys']:.1f} CPU-s, store "
                f"{source.stat().st_size / 1e9:.2f} -> {i['bytes'] / 1e9:.2f} GB",
                flush=True,
            )
            runs[name] = grade_run(tree, copy)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        m = runs[name]
        print(
            f"suijian grade, {name} ({tree}): {m['wall']:.1f} s wall, {m['user']:.1f} s user + {m['sys']:.1f} s sys "
            f"= {m['user'] + m['sys']:.1f} CPU-s, {m['faults']:,} minor page faults, tree peak RSS "
            f"{m['peak_mb']:,.0f} MB, outputs hash {m['hash'][:12]}, snapshot {m['snapshot'][:12]} (load {m['load']:.1f})",
            flush=True,
        )
    a, b = runs["base"], runs["this"]
    print(
        f"this / base: CPU {(b['user'] + b['sys']) / (a['user'] + a['sys']):.2f}x, sys {b['sys'] / a['sys']:.2f}x, "
        f"faults {b['faults'] / a['faults']:.2f}x, peak {b['peak_mb'] / a['peak_mb']:.2f}x; outputs hash "
        + ("the same" if a["hash"] == b["hash"] else "DIFFERENT")
        + ", snapshot hash "
        + ("the same" if a["snapshot"] == b["snapshot"] else "DIFFERENT")
    )
    same = a["hash"] == b["hash"] and a["snapshot"] == b["snapshot"]
    return 0 if same else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", choices=["jiedong", "baiyun", "guangzhou"])
    ap.add_argument("--subjects", type=int, default=None)
    ap.add_argument("--db", default=None)
    ap.add_argument("--pack", default=str(ROOT / "rules" / "national"))
    ap.add_argument("--baseline-sample", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=2, help="processes computing feature batches (1 = in-process)")
    ap.add_argument("--read-floor-only", action="store_true", help="only read the features' rows both ways (no grade)")
    ap.add_argument("--versus", type=Path, metavar="TREE", help="`suijian grade` with TREE's code and this tree's")
    args = ap.parse_args()
    if args.versus:
        if not args.db or not args.db.startswith("sqlite:///"):
            ap.error("--versus grades copies of a SQLite store: give --db sqlite:////path/to/loaded.db")
        return versus(args.db, args.versus)
    url = (
        args.db or f"sqlite:////tmp/suijian-bench-{args.profile}{'-' + str(args.subjects) if args.subjects else ''}.db"
    )
    engine = store.make_engine(url)
    store.initialise(engine)
    with engine.connect() as conn:
        have = store.count_rows(conn, "subject")
    if not have:
        t = time.perf_counter()
        load_demo(engine, get_profile(args.profile, args.subjects), 1, AS_OF, now=NOW)
        print(f"generated the {args.profile} store in {time.perf_counter() - t:.1f} s ({url})")
    if args.read_floor_only:
        with engine.connect() as conn:
            bounds = list(compute._ranges(conn, 200_000, None))
        reads = read_floor(engine, url, bounds)
        for way, (wall, cpu, rows) in reads.items():
            print(f"read floor, {way:6}  {wall:8.2f} s   {cpu:.2f} CPU s   {rows:,} rows, one process")
        return 0
    pack = load_pack(args.pack)
    print(
        f"python {sys.version.split()[0]}, pack {pack.name} {pack.version} ({len(pack.features)} features read), "
        f"store {url}, feature workers {args.workers}"
    )

    # 1. End to end, first, so the peak RSS so far is the grade run's.
    actor = Identity("bench", Role.SUPERVISOR)
    with engine.connect() as conn:
        t = time.perf_counter()
        with conn.begin() as tx:
            run = grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=actor, url=url, workers=args.workers)
            end_to_end = time.perf_counter() - t
            tx.rollback()  # a benchmark leaves no run behind
    n = run.subjects
    print(
        f"grade_store end to end   {end_to_end:8.2f} s   peak RSS {peak_rss_mb():,.0f} MB   {n:,} subjects, "
        f"{run.evaluations:,} evaluations, {run.outcomes:,} outcomes (the run rolled back)"
    )

    # 2. Step by step, each next to the path it replaced.
    with engine.connect() as conn:
        t0 = time.perf_counter()
        frames = list(feature_partitions(conn, AS_OF, url=url, workers=args.workers))
        t1 = time.perf_counter()
        g = grading.Grading(pack, AS_OF)
        ids = [g.grade_frame(f) for f in frames]
        t2 = time.perf_counter()
        evaluations, calls = previous_grading(pack, frames)
        t3 = time.perf_counter()
    print(f"features                 {t1 - t0:8.2f} s   {n / (t1 - t0):>12,.0f} subjects/s")
    print(
        f"grading                  {t2 - t1:8.2f} s   {g.evaluations:,} evaluations, {g.engine_calls:,} durable-rules "
        f"calls   | previous path {t3 - t2:8.2f} s, {evaluations:,} evaluations, {calls:,} calls "
        f"({(t3 - t2) / (t2 - t1):.1f}x)"
    )
    frozen = pl.concat([record.frozen_features(f, pack) for f in frames], how="vertical")
    t = time.perf_counter()
    v2 = canonical.content_hash({"features": frozen}, canonical.SNAPSHOT2)
    t_v2 = time.perf_counter() - t
    t = time.perf_counter()
    canonical.content_hash({"features": frozen}, canonical.SNAPSHOT)
    t_v1 = time.perf_counter() - t
    t = time.perf_counter()
    streamed = canonical.StreamedFrame()
    for f in frames:
        streamed.add(record.frozen_features(f, pack))
    streamed_hash = canonical.content_hash({"features": streamed}, canonical.SNAPSHOT2)
    container = canonical.pack_tables({"features": streamed})
    t_stream = time.perf_counter() - t
    assert streamed_hash == v2, "the streamed snapshot must hash as the whole frame"
    print(
        f"snapshot hash (features) {t_v2:8.2f} s   snapshot-2, {frozen.width} columns   | snapshot-1 {t_v1:8.2f} s "
        f"({t_v1 / t_v2:.1f}x); snapshot-2 streamed per partition with its Parquet container ({len(container) / 2**20:.1f}"
        f" MB) {t_stream:.2f} s"
    )
    with engine.connect() as conn, conn.begin() as tx:
        t = time.perf_counter()
        result_rows = (
            ("BENCH", u, o)
            for f, i in zip(frames, ids, strict=True)
            for u, o in zip(f.get_column("uscc").to_list(), i.tolist(), strict=True)
        )
        store.bulk_insert_tuples(conn, "grade_result", ("run_id", "uscc", "outcome"), result_rows)
        t_store = time.perf_counter() - t
        tx.rollback()
    print(f"store results            {t_store:8.2f} s   {n / t_store:>12,.0f} rows/s")

    # 3. The floor: read the rows once in one process, hash the raw columns once. Read both ways: straight into
    # Arrow (engine/features/arrow_read.py, as the grade's workers read them) and as the driver's tuples.
    usccs = pl.concat([f.get_column("uscc") for f in frames])
    step = 200_000
    bounds = [(usccs[s], usccs[min(s + step, len(usccs)) - 1]) for s in range(0, len(usccs), step)]
    reads = read_floor(engine, url, bounds)
    t = time.perf_counter()
    floor_hash(frozen)
    t_hash = time.perf_counter() - t
    way = "arrow" if "arrow" in reads else "tuples"
    t_read, cpu_read, held = reads[way]
    other = (
        f"reading them as tuples {reads['tuples'][0]:.2f} s ({reads['tuples'][1]:.2f} CPU s)"
        if way == "arrow"
        else "Arrow unavailable (not a SQLite file, or adbc-driver-sqlite not installed)"
    )
    print(
        f"floor                    {t_read + t_hash:8.2f} s   = reading the {held:,} rows the features need once (one process, "
        f"{way}) {t_read:.2f} s ({cpu_read:.2f} CPU s) + SHA-256 of the frozen features' raw buffers {t_hash:.2f} s   "
        f"| {other}"
    )

    # 4. Naive baseline: one durable call per subject on a sample, extrapolated.
    sample = pl.concat(frames).head(args.baseline_sample)
    t = time.perf_counter()
    for rec in sample.iter_rows(named=True):
        durable.evaluate(pack, rec)
    b = time.perf_counter() - t
    rate = sample.height / b
    print(
        f"baseline (1 durable call per subject): {sample.height:,} subjects in {b:.2f} s = {rate:,.0f} subjects/s "
        f"→ {n / rate:,.0f} s extrapolated for {n:,} (grading step {n / rate / (t2 - t1):,.0f}x slower)"
    )
    print(f"peak RSS of the whole benchmark {peak_rss_mb():,.0f} MB (step 2 holds every partition's features at once)")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
