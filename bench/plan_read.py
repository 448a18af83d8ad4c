"""The plan's read of the subjects (the step that held its peak at city scale), this path against the previous ones,
each in its own process so each peak is its own; then the input snapshot's hash (the same digest on every path).

  new       the grade run's features a USCC range at a time, narrowed as they come (engine.planning)
  whole     the previous path: the recorded features read whole and joined in one lazy query, recorded types
  old       the one before (bench/plan_before.py: names and addresses too, joined eagerly)

  python bench/plan_read.py --db URL                   new and whole, one after the other
  python bench/plan_read.py --db URL --path new        one path (what the parent runs in each child)

The store must be loaded and graded as of 2025-12-31 (as bench/plan.py --from-store builds it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import plan_before  # noqa: E402
from bench.plan import current_rss_mb, peak_rss_mb, reset_peak_rss  # noqa: E402
from commands.common import chosen_pack  # noqa: E402
from engine import planning  # noqa: E402
from engine.ledger import canonical, record  # noqa: E402
from entities import store  # noqa: E402

AS_OF = dt.date(2025, 12, 31)


def one(url: str, path: str) -> None:
    if path == "whole":
        planning.narrow = lambda frame: frame  # the recorded types, as before
    read = {
        "new": planning.subjects_for_plan,
        "whole": planning._subjects_whole,
        "old": plan_before.subjects_for_plan,
    }[path]
    engine = store.open_store(url)
    with chosen_pack(url, None) as pack, engine.connect() as conn:
        run = planning.grade_run(conn, None, AS_OF)
        start, t0, w0 = current_rss_mb(), time.process_time(), time.perf_counter()
        subjects = read(conn, run["id"], AS_OF, pack)
        print(
            f"{path}: read subjects CPU {time.process_time() - t0:.1f} s (wall {time.perf_counter() - w0:.0f} s), "
            f"peak {peak_rss_mb():,.0f} MB (process before: {start:.0f} MB), resident after {current_rss_mb():,.0f} "
            f"MB; frame {subjects.height:,} x {subjects.width}, {subjects.estimated_size() / 2**20:,.0f} MB",
            flush=True,
        )
        past = planning.history(conn, AS_OF)
        inspectors, conflicts = planning.roster(conn)
        tables = record.plan_tables(subjects, planning.check_items(conn), inspectors, conflicts, past)
        base, t0 = current_rss_mb(), time.process_time()
        reset_peak_rss()
        digest = canonical.content_hash(tables)
        alone = canonical.content_hash({"subjects": tables["subjects"]})  # the subjects' values, whatever their types
        print(
            f"{path}: snapshot hash CPU {time.process_time() - t0:.1f} s, peak {peak_rss_mb():,.0f} MB "
            f"(resident before {base:,.0f} MB), {digest[:12]}; the subjects alone {alone[:12]}",
            flush=True,
        )
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--path", choices=["new", "whole", "old"])
    a = ap.parse_args()
    if a.path:
        one(a.db, a.path)
        return
    for path in ("new", "whole"):
        subprocess.run([sys.executable, __file__, "--db", a.db, "--path", path], check=True)


if __name__ == "__main__":
    main()
