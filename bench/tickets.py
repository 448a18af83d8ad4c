"""How fast tickets and draws are: ours against the public consistent-sampler package, and a city-scale draw.

Run: python bench/tickets.py [--ids 1000000] [--package-ids 200000] [--population 3300000] [--workers 2]

1. tickets for --ids USCC-like ids with engine.sampling (ticket numbers only, and Ticket objects), then the
   package's own `first_ticket` (with the seed hash precomputed, as its `sampler` does) on --package-ids of them,
   extrapolated to --ids when smaller; the package's tickets are checked equal to ours;
2. a draw over --population subjects in 44 strata (11 districts × credit classes A-D at 3/5/10/100 %):
   `draw` over a list of rows and over a generator; split over --workers processes and merged (the
   distributed path); and the polars path: `ticket_keys` once for the population, then `draw_frame` (the
   per-item cost of a plan); every result checked equal.
Prints times, rates and peak RSS (the process's high-water mark, which includes the input rows).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import polars as pl

from engine.sampling import Draw, draw, draw_frame, merge, quota, ticket_keys, ticket_numbers, tickets

SEED = "01382438112797316654"
DISTRICTS = (
    "440103",
    "440104",
    "440105",
    "440106",
    "440111",
    "440112",
    "440113",
    "440114",
    "440115",
    "440117",
    "440118",
)
RATIOS = {"A": "3%", "B": "5%", "C": "10%", "D": "100%"}


def uscc_like(i: int) -> str:
    return f"914401{i:011d}X"


def row(i: int) -> tuple[str, str]:
    # A fixed scramble of i spreads the classes roughly 60/30/8/2 % without a random generator.
    bucket = (i * 2654435761) % 100
    cls = "A" if bucket < 60 else "B" if bucket < 90 else "C" if bucket < 98 else "D"
    return uscc_like(i), f"{DISTRICTS[i % len(DISTRICTS)]}-{cls}"


def rows(start: int, stop: int, step: int = 1) -> Iterator[tuple[str, str]]:
    return map(row, range(start, stop, step))


def quotas_for(n: int) -> dict[str, int]:
    sizes = Counter(stratum for _, stratum in rows(0, n))
    return {s: quota(RATIOS[s[-1]], size) for s, size in sorted(sizes.items())}


def peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: a spawned child's ru_maxrss starts at its parent's peak (Linux keeps it across exec).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def part_draw(args: tuple[int, int, int, dict[str, int]]) -> tuple[Draw, float]:
    """One partition's draw in a fresh (spawned) process: rows k, k + workers, ... generated on the fly."""
    k, workers, population, quotas = args
    return draw(rows(k, population, workers), quotas, SEED, check_unique=False), peak_rss_mb()


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", type=int, default=1_000_000)
    ap.add_argument("--package-ids", type=int, default=200_000)
    ap.add_argument("--population", type=int, default=3_300_000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    import consistent_sampler as cs

    print(f"python {sys.version.split()[0]}, seed {SEED!r}, ids like {uscc_like(0)!r}")
    ids = [uscc_like(i) for i in range(a.ids)]
    numbers, t_num = timed(ticket_numbers, SEED, ids)
    print(f"engine ticket_numbers: {a.ids:>9,} ids in {t_num:6.2f} s = {a.ids / t_num:>10,.0f} tickets/s")
    del numbers
    ours, t_obj = timed(tickets, SEED, ids)
    print(f"engine tickets:        {a.ids:>9,} ids in {t_obj:6.2f} s = {a.ids / t_obj:>10,.0f} tickets/s")

    sample = ids[: a.package_ids]
    seed_hash = cs.sha256_hex(SEED)
    theirs, t_pkg = timed(lambda part: [cs.first_ticket(i, SEED, seed_hash) for i in part], sample)
    assert theirs == ours[: len(sample)], "package tickets differ from ours"
    rate = len(sample) / t_pkg
    note = "" if len(sample) == a.ids else f"; extrapolated to {a.ids:,} ids: {a.ids / rate:.2f} s"
    print(f"package first_ticket:  {len(sample):>9,} ids in {t_pkg:6.2f} s = {rate:>10,.0f} tickets/s{note}")
    print(
        f"  equal to ours on all {len(sample):,}; engine Ticket objects {(a.ids / t_obj) / rate:.1f}x, numbers {(a.ids / t_num) / rate:.1f}x the package's rate"
    )
    del ids, ours, theirs, sample
    print(f"peak RSS after tickets: {peak_rss_mb():.0f} MB")

    quotas, t_q = timed(quotas_for, a.population)
    print(
        f"\ndraw: {a.population:,} subjects, {len(quotas)} strata, quota total {sum(quotas.values()):,} "
        f"(quotas computed in {t_q:.2f} s)"
    )
    population = list(rows(0, a.population))
    base = current_rss_mb()
    print(f"input rows built as a list: RSS {base:.0f} MB")
    whole, t_draw = timed(draw, population, quotas, SEED)
    print(
        f"draw (duplicate check on):  {t_draw:6.2f} s = {a.population / t_draw:>10,.0f} subjects/s; "
        f"peak RSS {peak_rss_mb():.0f} MB"
    )
    again, t_fast = timed(draw, population, quotas, SEED, check_unique=False)
    assert again == whole
    del again
    print(f"draw (duplicate check off): {t_fast:6.2f} s = {a.population / t_fast:>10,.0f} subjects/s")
    streamed, t_stream = timed(draw, rows(0, a.population), quotas, SEED, check_unique=False)
    assert streamed == whole
    del streamed
    print(f"draw streamed from a generator (rows made on the fly, check off): {t_stream:6.2f} s")
    frame = pl.DataFrame({"id": [r[0] for r in population], "stratum": [r[1] for r in population]})
    del population
    keys, t_keys = timed(ticket_keys, SEED, frame["id"].to_list())
    frame = frame.with_columns(ticket_key=pl.Series(keys, dtype=pl.UInt64))
    print(f"ticket_keys for the population (once per plan): {t_keys:6.2f} s = {a.population / t_keys:>10,.0f} ids/s")
    for check in (True, False):
        fast, t_frame = timed(draw_frame, frame, quotas, SEED, key_column="ticket_key", check_unique=check)
        assert fast == whole
        del fast
        print(f"draw_frame with those keys (per item), duplicate check {'on' if check else 'off'}: {t_frame:6.2f} s")
    del frame, keys
    # Fresh processes, so each one's peak RSS is the memory a streamed draw of its rows really needs.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        (alone, rss_alone), t_alone = timed(lambda: pool.submit(part_draw, (0, 1, a.population, quotas)).result())
    assert alone == whole
    print(
        f"streamed draw in a fresh process (rows generated on the fly, check off): {t_alone:6.2f} s "
        f"(incl. process start); its peak RSS {rss_alone:.0f} MB"
    )
    with ProcessPoolExecutor(a.workers, mp_context=spawn) as pool:
        jobs = [(k, a.workers, a.population, quotas) for k in range(a.workers)]
        results, t_par = timed(lambda: list(pool.map(part_draw, jobs)))
    merged, t_merge = timed(merge, [r[0] for r in results])
    assert merged == whole, "partitioned + merged draw differs"
    print(
        f"same, in {a.workers} partitions on {a.workers} processes: {t_par:6.2f} s + merge {t_merge:.2f} s; "
        f"equal to the single draw; peak RSS per process {max(r[1] for r in results):.0f} MB"
    )
    d = whole.strata[0]
    print(
        f"e.g. stratum {d.stratum}: population {d.population:,}, quota {d.quota:,}, "
        f"cut-off {d.cutoff.short() if d.cutoff else '-'}, next in line {d.next_in_line.short() if d.next_in_line else '-'}"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
