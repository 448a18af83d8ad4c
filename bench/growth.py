"""Benchmark: how the cost of each step grows with the district — one table row per step, each its own process.

    python bench/growth.py jiedong --db postgresql://postgres@127.0.0.1/growth_jd
    python bench/growth.py guangzhou --subjects 10000000 --db postgresql://postgres@127.0.0.1/growth_10m --cap-gb 10
    python bench/growth.py baiyun --db sqlite:////tmp/by.db --steps grade,plan      # the store already loaded
    python bench/growth.py --fit jiedong:53453:3.1 baiyun:470700:31 guangzhou:3300000:240   # an exponent only

The steps are the `suijian` commands a bureau runs, each in a child process started by this script:
  load    suijian demo --profile P [--subjects N] --load-only --replace   (generate and write: COPY on PostgreSQL;
          then, untimed, the national catalogue's check items, as `suijian demo` installs them before grading)
  grade   suijian grade --as-of 2025-12-31
  plan    suijian plan --as-of 2025-12-31 --period 2026 --seed …          (the ledger entry included)
  export  suijian tasks export --format csv                              (the plan's task list, streamed)
  verify  suijian audit verify                                           (every hash the ledger recorded)
Time is wall-clock, and the CPU seconds of the step's processes (user + system; what a loaded machine changes
least; PostgreSQL's server processes are not in it); `load` is the 1-minute load average when the step ended.
Peak memory is the child's own maximum resident set (os.wait4's rusage, which covers the
child process; a step that forks workers — grade reads features in 2 processes — reports the largest of them).
Every child runs under an address-space cap (--cap-gb, default 10: setrlimit RLIMIT_AS, as `prlimit --as` does)
so that a step that outgrows the machine fails on its own instead of taking the machine with it; a step that
fails prints its exit status and the last line it wrote to stderr, and the later steps are skipped (they need
its output).

The baseline printed in the same run (PostgreSQL) is a floor for the load: the rows per second the store takes
through the same bulk path (COPY, indexes in place) for about 100,000 rows already generated. `--fit` prints the
exponent b of time ≈ a·n^b between the sizes given (subjects:seconds pairs), the figure the README's growth table
quotes: 1 is linear.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("load", "grade", "plan", "export", "verify")
AS_OF = "2025-12-31"
PERIOD = "2026"
SEED = "38147205519264810375"  # the README's example seed: a public 20-digit seed


@dataclass
class Outcome:
    step: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    load: float
    status: int
    note: str


def command(step: str, args: argparse.Namespace, out_dir: Path) -> list[str]:
    """The `suijian` command line of one step (run with this interpreter, so the worktree's code runs)."""
    cli = [sys.executable, str(ROOT / "cli.py")]
    db = ["--db", args.db]
    if step == "load":
        size = ["--subjects", str(args.subjects)] if args.subjects else []
        return [
            *cli,
            "demo",
            "--profile",
            args.profile,
            *size,
            "--seed",
            str(args.seed),
            "--load-only",
            "--replace",
            *db,
        ]
    if step == "grade":
        return [*cli, "grade", "--as-of", AS_OF, *db]
    if step == "plan":
        # A store benchmarked before holds a committed 2026 plan: drawing again is then a (recorded) re-draw.
        again = ["--redraw-reason", "bench/growth.py"] if committed_plans(args.db) else []
        return [*cli, "plan", "--as-of", AS_OF, "--period", PERIOD, "--seed", SEED, *again, *db]
    if step == "export":
        return [*cli, "tasks", "export", "--format", "csv", "--out", str(out_dir / "tasks.csv"), *db]
    if step == "verify":
        return [*cli, "audit", "verify", *db]
    raise ValueError(step)


def run_step(step: str, argv: list[str], cap_bytes: int, env: dict[str, str]) -> Outcome:
    """Run one step as a child under the address-space cap; its wall time and its own peak RSS."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env, preexec_fn=limit)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        err.seek(0)
        lines = [line for line in err.read().decode("utf-8", "replace").splitlines() if line.strip()]
    # ru_maxrss is in kilobytes on Linux
    peak_mb = usage.ru_maxrss / 1024
    note = "" if proc.returncode == 0 else (lines[-1][:160] if lines else "(no message)")
    # CPU of the child and of the workers it waited for; the server's own CPU (PostgreSQL) is not in it
    cpu = usage.ru_utime + usage.ru_stime
    return Outcome(step, seconds, cpu, peak_mb, os.getloadavg()[0], proc.returncode, note)


def committed_plans(db: str) -> list[str]:
    """Plans already committed for the whole store and the period (the plan step's scope)."""
    sys.path.insert(0, str(ROOT))
    from engine import planning
    from engine.ledger import record
    from entities import store

    engine = store.open_store(db)
    try:
        with engine.connect() as conn:
            return record.committed_for(conn, record.scope_of(None, None, planning.parse_period(PERIOD)))
    finally:
        engine.dispose()


def install_items(db: str) -> int:
    """The pack's check items, as `suijian demo` installs them before it grades (--load-only stops before)."""
    sys.path.insert(0, str(ROOT))
    from engine.catalogue import install_catalogue, load_catalogue
    from entities import store

    engine = store.open_store(db)
    try:
        with engine.begin() as conn:
            return install_catalogue(conn, load_catalogue())
    finally:
        engine.dispose()


def copy_floor(db: str, profile: str, subjects: int | None, seed: int) -> tuple[int, float]:
    """Rows and seconds for writing about 100,000 generated rows through the bulk path into a scratch schema."""
    sys.path.insert(0, str(ROOT))
    import datetime as dt

    import sqlalchemy as sa

    from engine.synth import TABLES, Generator, get_profile
    from entities import store

    url = store.resolve_url(db)
    if not url.startswith("postgresql"):
        return 0, 0.0
    # The first 100,000 or so generated rows, written once they are all in memory: the write alone.
    batches: list[dict[str, list[dict[str, object]]]] = []
    for batch in Generator(get_profile(profile, subjects), seed, dt.date.fromisoformat(AS_OF)).batches():
        batches.append(batch)
        if sum(len(rows) for b in batches for rows in b.values()) >= 100_000:
            break
    schema = f"growth_floor_{os.getpid()}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = store.make_engine(f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    try:
        store.upgrade(engine)
        rows = 0
        with engine.begin() as conn:
            started = time.perf_counter()
            for batch in batches:
                for table in TABLES:
                    part = batch.get(table) or []
                    store.bulk_insert(conn, table, part)
                    rows += len(part)
            seconds = time.perf_counter() - started
        return rows, seconds
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def exponent(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(time) on log(size): time ≈ a·n^b, returns b."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def fit(pairs: list[str]) -> None:
    points = []
    for pair in pairs:
        try:
            size, seconds = pair.split(":")[-2:]
            points.append((float(size), float(seconds)))
        except ValueError:
            sys.exit(f"--fit takes NAME:SUBJECTS:SECONDS or SUBJECTS:SECONDS pairs, not {pair!r}")
    if len(points) < 2 or len({n for n, _ in points}) < 2:
        sys.exit("--fit needs at least two different sizes")
    print(f"exponent b (time ≈ a·n^b) over {len(points)} sizes: {exponent(points):.2f}")
    for (n0, t0), (n1, t1) in zip(points, points[1:], strict=False):
        b = math.log(t1 / t0) / math.log(n1 / n0)
        print(f"  {n0:>12,.0f} → {n1:>12,.0f} subjects: ×{n1 / n0:.1f} size, ×{t1 / t0:.1f} time, b = {b:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", nargs="?", choices=["jiedong", "baiyun", "guangzhou"])
    parser.add_argument("--subjects", type=int, default=None, help="scale the profile to N subjects")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed")
    parser.add_argument("--db", help="store URL (each step writes to it; the load replaces its demo)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, from {','.join(STEPS)}")
    parser.add_argument("--cap-gb", type=float, default=10.0, help="address-space cap of every step (GiB)")
    parser.add_argument("--no-floor", action="store_true", help="skip the COPY floor measurement")
    parser.add_argument("--fit", nargs="+", metavar="SUBJECTS:SECONDS", help="only print the growth exponent")
    args = parser.parse_args()
    if args.fit:
        fit(args.fit)
        return
    if not args.profile or not args.db:
        parser.error("give a profile and --db (or --fit)")
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown step {unknown[0]!r}: choose from {', '.join(STEPS)}")
    cap = int(args.cap_gb * 2**30)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUIJIAN_USER": "bench", "SUIJIAN_ROLE": "supervisor"}
    size = f"{args.subjects:,} subjects" if args.subjects else "its own size"
    print(f"suijian bench: growth, profile {args.profile} ({size}), store {args.db}, cap {args.cap_gb:g} GiB per step")
    print(f"{'step':<8} {'seconds':>9} {'CPU s':>9} {'peak MB':>9} {'load':>5}  status")
    results: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="suijian-growth-") as out:
        for step in steps:
            outcome = run_step(step, command(step, args, Path(out)), cap, env)
            results.append(outcome)
            status = "ok" if outcome.status == 0 else f"FAILED ({outcome.status}): {outcome.note}"
            print(
                f"{step:<8} {outcome.seconds:9.1f} {outcome.cpu_seconds:9.1f} {outcome.peak_mb:9.0f} "
                f"{outcome.load:5.1f}  {status}",
                flush=True,
            )
            if outcome.status != 0:
                print("later steps skipped: they need this step's output")
                break
            if step == "load":
                install_items(args.db)  # untimed: a few hundred rows
    if "load" in steps and not args.no_floor and results and results[0].status == 0:
        rows, seconds = copy_floor(args.db, args.profile, args.subjects, args.seed)
        if rows:
            print(
                f"floor: the store's bulk path takes {rows / seconds:,.0f} rows/s ({rows:,} generated rows in {seconds:.2f} s)"
            )


if __name__ == "__main__":
    main()
