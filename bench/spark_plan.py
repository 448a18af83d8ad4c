"""The plan's per-subject work on Spark (local mode) against the single-machine path, in the same run.

    python bench/spark_plan.py [--subjects 1000000] [--partitions 4] [--master local[2]]
    python bench/spark_plan.py --db URL --variants plan-local plan-spark     (a graded store; nothing is written)

A synthetic population (USCC-like ids, 64 strata: 16 counties × 4 credit classes, fixed numpy seed) is written to
a Parquet file, as a cluster would hold it; then each variant runs in its own process, reading that file:
  draw-local   polars reads it, `engine.sampling.draw_frame` at 3 % per stratum (quotas by `sampling.quota`)
  draw-spark   Spark reads it, `engine.spark.draw.draw_spark` with `ratio_quotas` (global counts, exact top-k)
  keys-local   `engine.sampling.ticket_keys` over every id (what the fitted plan hashes once per plan)
  keys-spark   `engine.spark.plan.SparkTicketKeys`: the same ids sent from the driver to Spark and back, in order
  plan-local   with --db: the plan from the store as `suijian plan` makes it (bench/plan_store.py's seed, period
               and as-of), not committed; its digest is the plan id and document SHA-256
  plan-spark   the same with `--engine spark` (SparkTicketKeys): must give the same plan id and SHA-256
Each variant prints a digest of its result (the draw's JSON, the keys' bytes): the Spark ones must equal the local
ones. Per variant: wall time of the whole process (Spark's start included) and of the work alone, CPU seconds
(user + system) and peak RSS of the whole process tree (Python, the Spark JVM, its Python workers), sampled from
/proc every 0.2 s (a process that lives less than 0.2 s may be missed), and the load average at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = "31415926535897932384626433"
RATIO = "3%"
VARIANTS = ("draw-local", "draw-spark", "keys-local", "keys-spark", "plan-local", "plan-spark")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def population(n: int, path: Path) -> None:
    import polars as pl

    rng = np.random.default_rng(20261205)
    digits = rng.integers(0, 10**16, size=n, dtype=np.int64)
    ids = "91" + pl.Series("id", digits).cast(pl.String).str.zfill(16)
    counties = rng.integers(0, 16, size=n)
    classes = rng.choice(np.array(["A", "B", "C", "D"]), size=n, p=[0.6, 0.3, 0.08, 0.02])
    frame = pl.DataFrame(
        {
            "id": ids,
            "stratum": [f"4401{c:02d}/{k}" for c, k in zip(counties.tolist(), classes.tolist(), strict=True)],
        }
    ).unique("id", keep="first", maintain_order=True)
    frame.write_parquet(path)


def run_plan(variant: str, url: str, keys_of: object) -> dict[str, object]:
    """The plan from a graded store as `suijian plan` computes it (not committed): its id and document SHA-256."""
    from bench.plan_store import AS_OF, PERIOD
    from bench.plan_store import SEED as PLAN_SEED
    from commands.common import chosen_pack, store_connection
    from engine import plan_commit, planning

    start = time.perf_counter()
    with chosen_pack(url, None) as pack, store_connection(url) as conn:
        plan, _, _ = plan_commit.compute(
            conn, pack, seed=PLAN_SEED, period=planning.parse_period(PERIOD), as_of=AS_OF, ticket_keys_of=keys_of
        )
    document = planning.plan_document(plan)
    return {"digest": f"{document.id} {document.sha256}", "work_s": time.perf_counter() - start, "drawn": 0}


def run_variant(
    variant: str, path: Path | None, partitions: int, master: str | None, url: str | None = None
) -> dict[str, object]:
    """One variant, in this process: its digest and the wall time of the work alone."""
    import polars as pl

    from engine.sampling import draw_frame, quota, ticket_keys

    if variant.endswith("spark"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from engine.spark.draw import draw_spark, ratio_quotas
        from engine.spark.plan import SparkTicketKeys
        from engine.spark.session import spark_session

        spark = spark_session(master)
    if variant.startswith("plan"):
        assert url is not None
        return run_plan(variant, url, SparkTicketKeys(spark, partitions) if variant == "plan-spark" else None)
    assert path is not None
    start = time.perf_counter()
    if variant == "draw-local":
        frame = pl.read_parquet(path)
        sizes = dict(frame.group_by("stratum").len().iter_rows())
        result = draw_frame(frame, {s: quota(RATIO, n) for s, n in sizes.items()}, SEED)
        digest = hashlib.sha256(json.dumps(result.to_dict()).encode()).hexdigest()
        drawn = len(result.drawn_ids)
    elif variant == "draw-spark":
        frame = spark.read.parquet(str(path)).repartition(partitions)
        result = draw_spark(frame, ratio_quotas(dict.fromkeys(_strata(path), RATIO)), SEED)
        digest = hashlib.sha256(json.dumps(result.to_dict()).encode()).hexdigest()
        drawn = len(result.drawn_ids)
    else:
        ids = pl.read_parquet(path, columns=["id"])["id"].to_list()
        keys = ticket_keys(SEED, ids) if variant == "keys-local" else SparkTicketKeys(spark, partitions)(SEED, ids)
        digest = hashlib.sha256(keys.astype("<u8").tobytes()).hexdigest()
        drawn = 0
    return {"digest": digest, "work_s": time.perf_counter() - start, "drawn": drawn}


def _strata(path: Path) -> list[str]:
    import polars as pl

    return pl.read_parquet(path, columns=["stratum"])["stratum"].unique().to_list()


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _sample(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds, resident bytes) of one process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return cpu, int(fields[21]) * PAGE  # rss in pages


def measure(args: list[str]) -> dict[str, object]:
    """Run a child, sampling its process tree: wall s, CPU s, peak RSS of the tree, and the child's JSON line."""
    start = time.perf_counter()
    # Spark's log and progress bars go to a file, shown only if the child fails.
    with tempfile.TemporaryFile(mode="w+") as log:
        child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        cpu: dict[int, float] = {}
        peak = 0
        while child.poll() is None:
            rss = 0
            for pid in _tree(child.pid):
                try:
                    used, resident = _sample(pid)
                except (OSError, IndexError, ValueError):
                    continue
                cpu[pid] = max(cpu.get(pid, 0.0), used)
                rss += resident
            peak = max(peak, rss)
            time.sleep(0.2)
        wall = time.perf_counter() - start
        out, _ = child.communicate()
        if child.returncode:
            log.seek(0)
            sys.stderr.write(log.read()[-4000:])
            raise SystemExit(f"{' '.join(args)} failed with exit code {child.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall_s=wall, cpu_s=sum(cpu.values()), peak_mb=peak / 2**20, load=os.getloadavg()[0])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--master", default=None, help="Spark master (default: $SUIJIAN_SPARK_MASTER, else local[2])")
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=None)
    ap.add_argument("--db", default=None, help="a graded store for the plan-* variants (read only)")
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # a child's run
    ap.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.parquet, args.partitions, args.master, args.db)))
        return
    if args.variants is None:
        args.variants = ["plan-local", "plan-spark"] if args.db else list(VARIANTS[:4])
    if any(v.startswith("plan") for v in args.variants) and not args.db:
        raise SystemExit("the plan-* variants need --db URL (a graded store)")
    with tempfile.TemporaryDirectory(prefix="suijian-spark-bench-") as tmp:
        path = Path(tmp) / "population.parquet"
        master = args.master or os.environ.get("SUIJIAN_SPARK_MASTER") or "local[2]"
        if all(v.startswith("plan") for v in args.variants):
            print(f"the plan of {args.db}, {args.partitions} Spark partitions, master {master}")
        else:
            population(args.subjects, path)
            print(
                f"{args.subjects:,} subjects, 64 strata at {RATIO}, {args.partitions} Spark partitions, master {master}"
            )
        print(f"{'variant':<11} {'wall s':>8} {'work s':>8} {'CPU s':>8} {'peak MB':>8} {'load':>5}  digest")
        digests: dict[str, str] = {}
        for variant in args.variants:
            command = [sys.executable, __file__, "--variant", variant, "--parquet", str(path)]
            command += ["--partitions", str(args.partitions)] + (["--master", args.master] if args.master else [])
            command += ["--db", args.db] if args.db else []
            r = measure(command)
            digests[variant] = str(r["digest"])
            print(
                f"{variant:<11} {r['wall_s']:>8.1f} {r['work_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_mb']:>8.0f} "
                f"{r['load']:>5.1f}  {str(r['digest'])[:32]}" + (f"  ({r['drawn']:,} drawn)" if r["drawn"] else "")
            )
        for kind in ("draw", "keys", "plan"):
            local, spark = digests.get(f"{kind}-local"), digests.get(f"{kind}-spark")
            if local and spark:
                print(f"{kind}: Spark {'equals' if local == spark else 'DIFFERS FROM'} the single-machine result")
                if local != spark:
                    raise SystemExit(1)


if __name__ == "__main__":
    main()
