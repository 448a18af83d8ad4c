"""`bench/plan.py --from-store`: the plan step end to end from a store, what `suijian plan` runs, stage by stage.

Three variants, each in its own process so each one's peak RSS is its own (os.wait4 gives the child's rusage):
  fitted    engine.planning.plan_from_store as `suijian plan` calls it (make_plan(fitted=True), suijian.plan/2),
            then engine.planning.save_plan in a transaction that is rolled back (document, SHA-256, ledger entry,
            compressed document row: the commit's cost without changing the store);
  before    the same plan by the previous path (bench/plan_before.py: the steps as they were before the last
            change to them, e.g. the document built whole as text), so a change is measured against its
            predecessor in the same run; it must make the same plan (same id);
  unfitted  the same, with make_plan(fitted=False): the suijian.plan/1 planner ("current figures", the baseline).
The stages are timed from outside: the worker replaces names in the modules' namespaces (engine.planning,
engine.plan.fitted, engine.plan.make, engine.plan.dates when present, engine.ledger.record) by wrappers that time
the call and pass arguments and results through unchanged; time is charged to the innermost stage, and a
sampling thread (every 20 ms) gives each stage's peak RSS. A stage called more than once (the fitted planner's
re-fit loop) shows its call count.

Without --db the store is built in a temporary directory with `suijian demo --profile P --load-only` and
`suijian grade --as-of 2025-12-31` (both timed, each in its own process), and removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2025, 12, 31)
PERIOD = "2026"
SEED = "31415926535897932384626433"
VARIANTS = ("fitted", "before", "unfitted")
SAMPLE_SECONDS = 0.02


# ── measuring inside a worker ───────────────────────────────────────────────────────────────────────────────────


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Stages:
    """Exclusive wall time, calls and peak RSS per stage; stages nest (a stack), time goes to the innermost."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.peak: dict[str, float] = {}
        self.parent: dict[str, str | None] = {}
        self._stack: list[list[Any]] = []  # [name, start, child seconds, peak so far, cpu start, child cpu]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            now = rss_mb()
            with self._lock:
                for frame in self._stack:
                    frame[3] = max(frame[3], now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        with self._lock:
            if name not in self.seconds:
                self.order.append(name)
                self.seconds[name], self.cpu[name], self.calls[name], self.peak[name] = 0.0, 0.0, 0, 0.0
                self.parent[name] = self._stack[-1][0] if self._stack else None
            frame = [name, time.perf_counter(), 0.0, rss_mb(), time.process_time(), 0.0]
            self._stack.append(frame)
        try:
            yield
        finally:
            now = rss_mb()
            with self._lock:
                self._stack.pop()
                elapsed = time.perf_counter() - frame[1]
                cpu = time.process_time() - frame[4]
                self.seconds[name] += elapsed - frame[2]
                self.cpu[name] += cpu - frame[5]
                self.calls[name] += 1
                self.peak[name] = max(self.peak[name], frame[3], now)
                if self._stack:
                    self._stack[-1][2] += elapsed
                    self._stack[-1][5] += cpu

    def wrap(self, module: ModuleType, attr: str, name: str, keep: list[Any] | None = None) -> None:
        """Replace module.attr by a wrapper that times each call as `name`; arguments and results pass through
        (and each result is appended to `keep` when given)."""
        fn = getattr(module, attr)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                out = fn(*args, **kwargs)
            if keep is not None:
                keep.append(out)
            return out

        setattr(module, attr, timed)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "step": n,
                "parent": self.parent[n],
                "seconds": round(self.seconds[n], 3),
                "cpu_seconds": round(self.cpu[n], 3),
                "calls": self.calls[n],
                "peak_mb": round(self.peak[n], 1),
            }
            for n in self.order
        ]


def install_hooks(stages: Stages, variant: str, documents: list[Any]) -> Callable[..., Any]:
    """Wrap the planner's steps where plan_from_store and the planners look them up; returns make_plan to use.
    `documents` receives what planning.plan_document returns (plan id, SHA-256, compressed document)."""
    from engine import planning
    from engine.ledger import record
    from engine.plan import fitted, make

    if variant == "before":  # the previous steps first, so the stages below wrap them
        from bench import plan_before

        plan_before.install(planning)
    stages.wrap(planning, "subjects_split", "read: subjects, features, grade outputs")
    stages.wrap(planning, "check_items", "read: items, roster, past checks")
    stages.wrap(planning, "roster", "read: items, roster, past checks")
    stages.wrap(planning, "history", "read: items, roster, past checks")
    for attr in ("org_units", "work_calendar"):  # the unit table and the working-day calendar, where present
        if hasattr(planning, attr):
            stages.wrap(planning, attr, "read: units, calendar")
    stages.wrap(record, "plan_tables", "input snapshot tables")
    stages.wrap(planning, "plan_document", "commit: document JSON + SHA-256", keep=documents)
    stages.wrap(record, "check_draw", "commit: draw-integrity checks")
    stages.wrap(record, "plan", "commit: ledger entry (hashes the inputs)")
    if variant in ("fitted", "before"):
        stages.wrap(fitted, "plan_cells", "plan: cells (eligibility, mandatory, frequencies)")
        stages.wrap(fitted, "eligibility", "plan: cells: eligibility per item")
        stages.wrap(fitted, "item_mandatory", "plan: cells: mandatory per item")
        stages.wrap(fitted, "cells_of", "plan: cells: fit.cells_of")
        stages.wrap(fitted, "ticket_keys", "plan: tickets")
        stages.wrap(fitted, "_tie_order", "plan: tickets")
        stages.wrap(fitted, "fit", "plan: fit (four layers, λ)")
        stages.wrap(fitted, "_draws", "plan: draw")
        stages.wrap(fitted, "_visit_plan", "plan: visit list (nesting, frequency visits)")
        stages.wrap(fitted, "_staff", "plan: staffing (teams)")
        # Task A's working-day schedule (engine/plan/dates.py), called at the end of the fitted planner: wrap
        # whatever fitted.py imported from it, so the bench needs no change when it lands.
        for attr, obj in list(vars(fitted).items()):
            if isinstance(obj, ModuleType) and obj.__name__ == "engine.plan.dates":
                for name, fn in list(vars(obj).items()):
                    if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", "") == obj.__name__:
                        stages.wrap(obj, name, "plan: schedule (working days)")
            elif callable(obj) and getattr(obj, "__module__", "") == "engine.plan.dates":
                stages.wrap(fitted, attr, "plan: schedule (working days)")
        stages.wrap(fitted, "_uncovered_mandatory", "plan: shortfall lists, fit record")
        stages.wrap(fitted, "fit_record", "plan: shortfall lists, fit record")
        chosen = functools.partial(make.make_plan, fitted=True)
    else:
        stages.wrap(make, "ticket_keys", "plan: tickets")
        stages.wrap(make, "select_item", "plan: draw (per item at the asked ratios)")
        stages.wrap(make, "_visits_and_teams", "plan: merge and staffing (teams)")
        chosen = functools.partial(make.make_plan, fitted=False)

    def make_plan(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("fitted", None)  # plan_from_store asks for fitted=True; the variant decides
        with stages.stage("plan (make_plan)"):
            return chosen(*args, **kwargs)

    planning.make_plan = make_plan  # type: ignore[assignment]
    return make_plan


def plan_figures(plan: Any) -> dict[str, Any]:
    """Visits planned, drawn visits (and subject-items) no team was found for, and the fit's layers."""
    drawn = {(t.id, item.code) for item in plan.items for s in item.strata for t in s.draw.drawn}
    staffed = {(v.uscc, i.code) for v in plan.visits for i in v.items if i.drawn}
    missing = drawn - staffed
    layers = [
        {"name": x["name"], "demand": x["demand"], "covered": x["covered"], "shortfall": x["shortfall"]}
        for x in (plan.fit or {}).get("layers", [])
    ]
    why = {
        (d.uscc, code): f"{d.visit}: {d.code}: {d.reason}"
        for d in (*plan.uncovered, *plan.unstaffed)
        for code in d.items
    }
    return {
        "unstaffed_examples": [
            {"uscc": u, "item": code, "dropped": why.get((u, code), "not listed as uncovered or unstaffed")}
            for u, code in sorted(missing)[:5]
        ],
        "format": plan.format,
        "visits_planned": len(plan.visits),
        "drawn_subject_items": len(drawn),
        "drawn_visits_unstaffed": len({u for u, _ in missing}),
        "drawn_subject_items_unstaffed": len(missing),
        "layers": layers,
        "margin": (plan.fit or {}).get("margin"),
        "lambda": (plan.fit or {}).get("lambda"),
    }


def worker(variant: str, url: str, out: str, cprofile: int) -> None:
    """One variant, end to end: plan_from_store, then save_plan rolled back; figures to `out` as JSON."""
    sys.path.insert(0, str(ROOT))
    from commands.common import chosen_pack
    from engine import planning
    from entities import store
    from entities.identity import Identity, Role

    stages = Stages()
    documents: list[Any] = []
    install_hooks(stages, variant, documents)
    profiler = None
    if cprofile:
        import cProfile

        profiler = cProfile.Profile()
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        with stages.stage("read: pack"):
            # As `suijian plan` chooses it: the store's published pack, else the bundled national one.
            pack = stack.enter_context(chosen_pack(url, None))
        engine = store.open_store(url)
        stack.callback(engine.dispose)
        conn = stack.enter_context(engine.connect())
        trans = conn.begin()
        try:
            period = planning.parse_period(PERIOD)
            if profiler:
                profiler.enable()
            plan, run, tables = planning.plan_from_store(
                conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None
            )
            t_plan = time.perf_counter() - t0
            with stages.stage("commit (rolled back)"):
                planning.save_plan(
                    conn,
                    plan,
                    run,
                    pack=pack,
                    tables=tables,
                    seed=SEED,
                    regions=None,
                    items=None,
                    period=period,
                    as_of=AS_OF,
                    created_at=dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC),
                    actor=Identity("bench", Role.SUPERVISOR),
                )
            if profiler:
                profiler.disable()
        finally:
            trans.rollback()
    total = time.perf_counter() - t0
    stages.close()
    result = {
        "variant": variant,
        "seconds_to_plan": round(t_plan, 3),
        "seconds_total": round(total, 3),
        "hwm_mb": round(hwm_mb(), 1),
        "stages": stages.rows(),
        "plan_id": documents[-1].id,
        "sha256": documents[-1].sha256,
        **plan_figures(plan),
    }
    if profiler:
        import io
        import pstats

        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(cprofile)
        cum = io.StringIO()
        pstats.Stats(profiler, stream=cum).sort_stats("cumulative").print_stats(cprofile)
        result["cprofile_tottime"] = text.getvalue()
        result["cprofile_cumulative"] = cum.getvalue()
    Path(out).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


# ── the parent: store, variants, table ──────────────────────────────────────────────────────────────────────────


def run_child(argv: list[str], log: Path | None = None) -> tuple[int, float, float, float]:
    """(exit status, seconds, CPU seconds, the child's own peak RSS in MB) of one process (os.wait4: its rusage
    alone; CPU is user + system of all its threads, the figure a loaded machine disturbs least)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("SUIJIAN_USER", "bench")
    env.setdefault("SUIJIAN_ROLE", "supervisor")
    t0 = time.perf_counter()
    with open(log, "w") if log else contextlib.nullcontext(None) as sink:
        p = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT if sink else None)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def suijian(*args: str) -> list[str]:
    return [sys.executable, "-c", "import cli; cli.main()", *args]


def build_store(profile: str, subjects: int | None, directory: Path) -> tuple[str, list[dict[str, Any]]]:
    url = f"sqlite:///{directory / f'{profile}.db'}"
    rows = []
    scale = ["--subjects", str(subjects)] if subjects else []
    for step, argv in (
        ("suijian demo --load-only", suijian("demo", "--profile", profile, *scale, "--load-only", "--db", url)),
        ("suijian grade", suijian("grade", "--as-of", AS_OF.isoformat(), "--db", url)),
    ):
        log = directory / f"{step.split()[1]}.log"
        code, seconds, cpu, peak = run_child(argv, log)
        if code != 0:
            sys.exit(f"{step} failed (exit {code}); see {log}:\n{log.read_text()[-2000:]}")
        rows.append(
            {"step": step, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_mb": round(peak, 1)}
        )
        print(
            f"  {step:<28} {seconds:8.1f} s (CPU {cpu:.1f} s) {peak:9,.0f} MB   load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return url, rows


def ensure_catalogue(url: str) -> None:
    """A store loaded with `suijian demo --load-only` has no check items (the full demo installs them before it
    plans), and the pack's catalogue is the authority a plan checks the store's items against: install the chosen
    pack's catalogue as `suijian demo` does when the store has none or differs; a matching store is left alone."""
    sys.path.insert(0, str(ROOT))
    from commands.common import chosen_pack
    from engine import planning
    from engine.catalogue import install_catalogue, load_catalogue
    from engine.rules.authority import catalogue_drift, pack_items
    from entities import store

    engine = store.open_store(url)
    try:
        with engine.begin() as conn, chosen_pack(url, None) as pack:
            items = pack_items(pack) or load_catalogue()
            if store.count_rows(conn, "check_item") and not catalogue_drift(items, planning.check_items(conn)):
                return
            n = install_catalogue(conn, items)
            print(f"  installed {n} check items from {pack.name} {pack.version}'s catalogue (as `suijian demo` does)")
    finally:
        engine.dispose()


def fmt_layers(layers: list[dict[str, Any]]) -> str:
    if not layers:
        return "—"
    return "; ".join(f"{x['name']} {x['shortfall']:,}/{x['demand']:,}" for x in layers)


def print_stages(r: dict[str, Any]) -> None:
    """One variant's stages, as soon as its process ends (so a long run shows what it has if stopped)."""
    print(f"{'variant':<9} {'step':<56} {'seconds':>8} {'CPU s':>7} {'calls':>5} {'peak MB':>8}")
    parent = {s["step"]: s["parent"] for s in r["stages"]}
    for s in r["stages"]:
        depth, up = 0, s["parent"]
        while up is not None:
            depth, up = depth + 1, parent.get(up)
        calls = f"×{s['calls']}" if s["calls"] > 1 else ""
        print(
            f"{r['variant']:<9} {'  ' * depth + s['step']:<56} {s['seconds']:8.2f} {s['cpu_seconds']:7.2f} {calls:>5} "
            f"{s['peak_mb']:8,.0f}"
        )
    other = r["seconds_total"] - sum(s["seconds"] for s in r["stages"])
    print(f"{r['variant']:<9} {'(outside the stages: opening the store …)':<56} {other:8.2f}")
    print(f"{r['variant']}: plan {r['plan_id']} ({r['format']}), SHA-256 {r['sha256'][:16]}…", end="")
    if r.get("margin") is not None:
        print(f"; capacity margin held back {r['margin']}, λ {r['lambda']}", end="")
    print(flush=True)
    for key in ("cprofile_tottime", "cprofile_cumulative"):
        if key in r:
            print(f"\n-- {r['variant']}: cProfile, {key.split('_')[1]} --\n{r[key]}", flush=True)


def print_report(profile: str, url: str, results: list[dict[str, Any]], build: list[dict[str, Any]]) -> None:
    print(f"\n== {profile}: plan --period {PERIOD} --as-of {AS_OF} from {url}")
    print(
        f"{'step':<34} {'seconds':>8} {'CPU s':>7} {'peak MB':>8} {'visits planned':>14} {'drawn items':>11} "
        f"{'drawn visits unstaffed':>22}  layer shortfalls (shortfall/demand)"
    )
    for b in build:
        print(f"{b['step']:<34} {b['seconds']:8.1f} {b['cpu_seconds']:7.1f} {b['peak_mb']:8,.0f}")
    for r in results:
        name = {
            "fitted": "plan, fitted (suijian plan)",
            "before": "plan, fitted, previous path",
            "unfitted": "plan, unfitted plan/1 (baseline)",
        }[r["variant"]]
        unstaffed = f"{r['drawn_visits_unstaffed']:,} ({r['drawn_subject_items_unstaffed']:,} items)"
        print(
            f"{name:<34} {r['seconds_total']:8.1f} {r['cpu_seconds']:7.1f} {r['peak_mb']:8,.0f} {r['visits_planned']:>14,} "
            f"{r['drawn_subject_items']:>11,} {unstaffed:>22}  {fmt_layers(r['layers'])}"
        )
    for r in results:
        for x in r.get("unstaffed_examples", []) if r["variant"] == "fitted" else []:
            print(f"fitted: drawn but not staffed: {x['uscc']} {x['item']} — {x['dropped']}")
        if r["variant"] == "fitted" and r["drawn_subject_items"] == 0:
            print("note: the fitted plan draws no subject at random (λ 0): '0 drawn visits unstaffed' holds vacuously")
    by = {r["variant"]: r for r in results}
    if "fitted" in by and "before" in by:
        new, old = by["fitted"], by["before"]
        print(
            f"fitted, this path vs the previous path (same run): {new['seconds_total']:.1f} s vs "
            f"{old['seconds_total']:.1f} s, CPU {new['cpu_seconds']:.1f} s vs {old['cpu_seconds']:.1f} s, peak "
            f"{new['peak_mb']:,.0f} MB vs {old['peak_mb']:,.0f} MB; same plan: "
            f"{'yes' if new['plan_id'] == old['plan_id'] and new['sha256'] == old['sha256'] else 'NO'} ({new['plan_id']})"
        )


def run_from_store(args: argparse.Namespace) -> int:
    if args.worker:
        worker(args.worker, args.db, args.out, args.cprofile)
        return 0
    profile = args.profile
    if profile not in ("jiedong", "baiyun", "guangzhou"):
        sys.exit(f"--from-store takes --profile jiedong, baiyun or guangzhou, not {profile}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        flush=True,
    )
    temp = None
    if not args.db:
        if args.store_dir:
            temp = Path(args.store_dir)
            temp.mkdir(parents=True, exist_ok=True)
        else:
            temp = Path(tempfile.mkdtemp(prefix=f"suijian-bench-plan-{profile}-"))
    try:
        build: list[dict[str, Any]] = []
        url = args.db
        if temp is not None:
            print(f"building the {profile} store in {temp}", flush=True)
            url, build = build_store(profile, args.subjects, temp)
        ensure_catalogue(url)
        results = []
        for variant in args.variants:
            out = Path(tempfile.mkstemp(prefix=f"plan-{variant}-", suffix=".json")[1])
            argv = [sys.executable, str(Path(__file__).with_name("plan.py")), "--from-store", "--worker", variant]
            argv += [
                "--db",
                url,
                "--out",
                str(out),
                "--cprofile",
                str(args.cprofile if variant in args.cprofile_variants else 0),
            ]
            code, seconds, cpu, peak = run_child(argv)
            if code != 0:
                sys.exit(f"the {variant} worker failed (exit {code})")
            result = json.loads(out.read_text(encoding="utf-8"))
            out.unlink()
            result["peak_mb"] = round(peak, 1)
            result["process_seconds"] = round(seconds, 2)
            result["cpu_seconds"] = round(cpu, 2)
            results.append(result)
            print(
                f"  {variant:<9} {result['seconds_total']:8.1f} s (CPU {cpu:.1f} s) {peak:9,.0f} MB   load average "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
            print_stages(result)
        print_report(profile, url, results, build)
        print(f"\nload average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if args.json_out:
            Path(args.json_out).write_text(
                json.dumps({"profile": profile, "store": url, "build": build, "variants": results}, indent=1),
                encoding="utf-8",
            )
        bad = [r for r in results if r["variant"] == "fitted" and r["drawn_visits_unstaffed"]]
        if bad:
            print(f"FAIL: the fitted plan left {bad[0]['drawn_visits_unstaffed']:,} drawn visits unstaffed")
            return 1
        sha = {r["variant"]: r["sha256"] for r in results}
        if "fitted" in sha and "before" in sha and sha["fitted"] != sha["before"]:
            print("FAIL: the previous path made a different plan than the current one")
            return 1
        return 0
    finally:
        if temp is not None:
            if args.keep or args.store_dir:
                print(f"store kept: {temp}")
            else:
                shutil.rmtree(temp, ignore_errors=True)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--from-store", action="store_true", help="end to end from a store (this module)")
    ap.add_argument("--db", default=None, help="store URL of a loaded and graded store (default: build one)")
    ap.add_argument("--subjects", type=int, default=None, help="scale the profile (store built by the bench only)")
    ap.add_argument("--keep", action="store_true", help="keep the store the bench built")
    ap.add_argument("--store-dir", default=None, help="build the store in this directory (kept) instead of a temp one")
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--cprofile", type=int, default=0, help="print the top N functions by cProfile (slower run)")
    ap.add_argument("--cprofile-variants", nargs="+", choices=VARIANTS, default=["fitted"])
    ap.add_argument("--json-out", default=None, help="write the figures as JSON here too")
    ap.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
