"""Benchmark: the features of a store from frames (read, then the pure partition function) next to the SQL GROUP BYs.

    python bench/features.py baiyun                      # generates /tmp/suijian-bench-baiyun.db if missing
    python bench/features.py guangzhou --db sqlite:////tmp/h3/guangzhou.db --workers 2
    python bench/features.py baiyun --db postgresql://postgres@127.0.0.1/test --repeat 1

Each measurement runs in its own process started by this small one (Linux carries a parent's peak RSS into its
children, so the parent holds nothing large), the two paths alternating, `--repeat`
times each: "sql" is the reference GROUP BYs (engine/features/reference.py, what suijian ran before), "frames" the
frame path `suijian grade` runs now. Both compute the same partitions with the same number of worker processes, and
the run checks that their features are identical. A third process times the frame path's phases in one process:
reading the rows once (the floor: what any implementation must read) and computing from them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.features import compute, read  # noqa: E402
from engine.features.partition import partition_features  # noqa: E402
from engine.synth import get_profile, load_demo  # noqa: E402
from entities import store  # noqa: E402

AS_OF = dt.date(2025, 12, 31)


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def child(url: str, path: str, workers: int, out: Path) -> dict[str, float]:
    """One timed run of feature_partitions, as `suijian grade` calls it; the features are written to `out`."""
    engine = store.make_engine(url)
    with engine.connect() as conn:
        t = time.perf_counter()
        frames = list(compute.feature_partitions(conn, AS_OF, url=url, workers=workers, path=path))  # type: ignore[arg-type]
        seconds = time.perf_counter() - t
    features = pl.concat(frames)
    features.write_parquet(out)
    return {
        "seconds": seconds,
        "subjects": features.height,
        "rss_mb": _rss_mb(resource.RUSAGE_SELF),
        "worker_rss_mb": _rss_mb(resource.RUSAGE_CHILDREN),
    }


def phases(url: str) -> dict[str, float]:
    """The frame path in one process, phase by phase: read every partition's rows, compute from them."""
    engine = store.make_engine(url)
    read_s = compute_s = 0.0
    rows = 0
    with engine.connect() as conn:
        holds = read.holds_reports(conn, AS_OF)
        for lo, hi in compute._ranges(conn, 200_000, None):
            t = time.perf_counter()
            tables = read.read_partition(conn, lo, hi, as_of=AS_OF)
            t1 = time.perf_counter()
            partition_features(tables, AS_OF, holds_reports=holds)
            t2 = time.perf_counter()
            read_s, compute_s = read_s + t1 - t, compute_s + t2 - t1
            rows += sum(f.height for f in tables.values())
    return {"read_s": read_s, "compute_s": compute_s, "rows": rows, "rss_mb": _rss_mb(resource.RUSAGE_SELF)}


def _run(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=str(ROOT)
    ).stdout
    return json.loads(done.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", nargs="?", choices=["jiedong", "baiyun", "guangzhou"], default="baiyun")
    ap.add_argument("--subjects", type=int, default=None)
    ap.add_argument("--db", default=None)
    ap.add_argument("--workers", type=int, default=2, help="processes computing partitions (1 = in-process)")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs of each path")
    ap.add_argument("--child", choices=["sql", "frames", "phases", "compare"], help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    url = store.resolve_url(
        args.db or f"sqlite:////tmp/suijian-bench-{args.profile}{'-' + str(args.subjects) if args.subjects else ''}.db"
    )
    if args.child == "phases":
        print(json.dumps(phases(url)))
        return 0
    if args.child == "compare":
        # In a process of its own: Linux carries a parent's peak RSS into the children it starts afterwards.
        folder = Path(args.out)
        same = pl.read_parquet(folder / "sql.parquet").equals(pl.read_parquet(folder / "frames.parquet"))
        print(json.dumps({"identical": same}))
        return 0
    if args.child:
        print(json.dumps(child(url, args.child, args.workers, Path(args.out))))
        return 0

    engine = store.make_engine(url)
    store.initialise(engine)
    with engine.connect() as conn:
        have = store.count_rows(conn, "subject")
    if not have:
        t = time.perf_counter()
        load_demo(engine, get_profile(args.profile, args.subjects), 1, AS_OF, now=dt.datetime(2026, 1, 1))
        print(f"generated the {args.profile} store in {time.perf_counter() - t:.1f} s ({url})")
    engine.dispose()
    print(
        f"python {sys.version.split()[0]}, polars {pl.__version__}, store {url}, as of {AS_OF}, workers {args.workers}"
    )

    runs: dict[str, list[dict[str, Any]]] = {"sql": [], "frames": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for path in ("sql", "frames"):
                out = Path(tmp) / f"{path}.parquet"
                runs[path].append(_run([args.profile, "--db", url, "--workers", str(args.workers), "--child", path,
                                        "--out", str(out)]))  # fmt: skip
                r = runs[path][-1]
                print(
                    f"  run {i + 1} {path:6s} {r['seconds']:7.2f} s  peak RSS {r['rss_mb']:6.0f} MB "
                    f"(largest worker {r['worker_rss_mb']:.0f} MB)"
                )
        identical = bool(_run([args.profile, "--db", url, "--child", "compare", "--out", tmp])["identical"])
    subjects = int(runs["frames"][0]["subjects"])
    for path, label in (("sql", "SQL GROUP BYs (before)"), ("frames", "frames (now)")):
        secs = [r["seconds"] for r in runs[path]]
        print(
            f"{label:24s} median {statistics.median(secs):7.2f} s (min {min(secs):.2f})  "
            f"{subjects / statistics.median(secs):>10,.0f} subjects/s  "
            f"peak RSS {max(r['rss_mb'] for r in runs[path]):.0f} MB, "
            f"workers {max(r['worker_rss_mb'] for r in runs[path]):.0f} MB"
        )
    print(f"features identical: {'yes' if identical else 'NO'} ({subjects:,} subjects)")
    p = _run([args.profile, "--db", url, "--child", "phases"])
    print(
        f"frame path in one process: read {p['read_s']:.2f} s ({int(p['rows']):,} rows: the floor, reading once) + "
        f"compute {p['compute_s']:.2f} s; peak RSS {p['rss_mb']:.0f} MB"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
