"""Benchmark: what the decision ledger costs a grade run, and how long replay and verify take.

    python bench/ledger.py jiedong          # generates /tmp/suijian-bench-jiedong.db if missing
    python bench/ledger.py guangzhou        # 3.3 M subjects

Phases: `grade_store` end to end (grading, storing outcomes, and the ledger entry with its snapshot, pack
version and outputs hash); the ledger's own steps timed again on the same data (canonical snapshot hash,
the Parquet container, the outputs hash); replay of the run; `audit verify` of the whole chain. Baseline,
measured in the same run: canonical hashing the naive way, one sorted-keys JSON document per subject
(timed on a 200k-subject sample and extrapolated). Peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

import polars as pl

from engine import grading
from engine.ledger import chain, outputs, snapshot
from engine.ledger.canonical import content_hash, pack_tables
from engine.rules import load_pack
from engine.synth import get_profile, load_demo
from entities import store
from entities.identity import Identity, Role

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2025, 12, 31)
BENCH = Identity("bench", Role.SUPERVISOR)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - t
    print(f"  {label:<44} {seconds:8.2f} s")
    return result, seconds


def naive_hash(frame: pl.DataFrame) -> str:
    h = hashlib.sha256()
    for row in sorted(
        json.dumps(r, sort_keys=True, ensure_ascii=False, default=str) for r in frame.iter_rows(named=True)
    ):
        h.update(row.encode())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", choices=["jiedong", "baiyun", "guangzhou"])
    ap.add_argument("--db", default=None)
    ap.add_argument("--pack", default=str(ROOT / "rules" / "national"))
    args = ap.parse_args()
    url = args.db or f"sqlite:////tmp/suijian-bench-{args.profile}.db"
    engine = store.make_engine(url)
    store.initialise(engine)
    with engine.connect() as conn:
        have = store.count_rows(conn, "subject")
    if not have:
        t = time.perf_counter()
        load_demo(engine, get_profile(args.profile, None), 1, AS_OF, now=dt.datetime(2026, 1, 1))
        print(f"generated the {args.profile} store in {time.perf_counter() - t:.1f} s ({url})")
    pack = load_pack(args.pack)
    print(
        f"python {sys.version.split()[0]}, pack {pack.name} {pack.version} ({len(pack.features)} features read), {url}"
    )

    with engine.begin() as conn:
        run, total = timed(
            "grade_store incl. ledger entry",
            grading.grade_store,
            conn,
            pack,
            AS_OF,
            created_at=dt.datetime(2026, 1, 1),
            actor=BENCH,
            url=engine.url.render_as_string(hide_password=False),
            workers=2,
        )
        entry = chain.find(conn, run.id)
        assert entry is not None
        tables, _ = timed("  read the snapshot back (verified)", snapshot.load, conn, entry.body["snapshot_hash"])
        features = tables["features"]
        assert isinstance(features, pl.DataFrame)
        digest, t_hash = timed("  canonical snapshot hash", content_hash, tables)
        blob, t_pack = timed("  Parquet container", pack_tables, tables)
        results, canon, _ = outputs.stored_grade_outputs(conn, run.id)
        _, t_out = timed("  outputs hash", outputs.grade_outputs_hash, results, canon)
    sample = features.head(200_000)
    _, t_naive = timed(f"baseline: JSON per subject ({sample.height:,} sample)", naive_hash, sample)
    naive_total = t_naive * features.height / max(sample.height, 1)
    print(
        f"{run.subjects:,} subjects, snapshot {features.width - 1} features, {len(blob) / 1e6:.1f} MB stored; "
        f"ledger steps {t_hash + t_pack + t_out:.1f} s of {total:.1f} s; canonical hash {t_hash:.1f} s vs naive "
        f"JSON-per-subject {naive_total:.1f} s (extrapolated)"
    )

    try:
        from engine import audit, replay
    except ImportError:  # pragma: no cover - before replay/audit exist
        print("replay / verify: not available")
    else:
        with engine.connect() as conn:
            report, _ = timed("replay the grade run", replay.replay, conn, run.id)
            print(f"  replay identical: {getattr(report, 'identical', report)}")
            verified, _ = timed("audit verify (whole chain)", audit.verify, conn)
            print(f"  verify ok: {getattr(verified, 'ok', verified)}")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
