"""`suijian demo --results`: the demo plan's simulated year of results (engine.synth.result_year), shown with
Chinese labels: what the visits found, batches and 公示 on time or late, follow-ups, and the class migrations of the
re-grade."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from commands.common import out, progress_bars, table
from engine.plan.calendar import CalendarFile, WorkCalendar
from engine.results.codes import default_codes
from engine.results.followups import ProposalKind
from engine.rules import Pack
from engine.synth.result_year import CLEAN, COMPARED, FOUND, UNCHECKED, run_year
from entities.identity import Identity


def demo_calendar(path: str | None) -> WorkCalendar:
    """The working-day calendar of `results` commands: the library's years, and a file for others."""
    return WorkCalendar([CalendarFile.read(path)]) if path else WorkCalendar()


def run_results(
    engine: Engine,
    pack: Pack,
    job: dict[str, Any],
    seed: int,
    calendar: WorkCalendar,
    out_dir: Path,
    actor: Identity,
    created_at: dt.datetime,
) -> dict[str, Any]:
    """Simulate, record, publish and re-grade the year of the plan the demo just drew; the `results` document."""
    started = time.perf_counter()
    with progress_bars() as report:
        year = run_year(
            engine,
            plan_id=job["plan_id"],
            grade_run=job["grade"]["run_id"],
            pack=pack,
            seed=seed,
            calendar=calendar,
            actor=actor,
            created_at=created_at,
            out_dir=out_dir,
            on_cycle=lambda n, total: report("检查结果与公示 results and 公示", n, total),
        )
    seconds = round(time.perf_counter() - started, 2)  # measured, not recorded: it decides nothing
    return {**year.as_dict(), "before": {"run_id": job["grade"]["run_id"], "as_of": job["as_of"]}, "seconds": seconds}


def render_year(doc: dict[str, Any], db: str | None) -> None:
    """Print the year: visits, results, batches and 公示, follow-ups, the re-grade's class migrations."""
    v = doc["visits"]
    out.print(
        f"\n【模拟数据】A simulated year of results for plan {doc['plan_id']} (seed {doc['seed']}): "
        f"{v['planned']:,} visits planned, {v['done']:,} done, {v['not_done']:,} not done."
    )
    if v["beyond_calendar"]:
        out.print(
            f"{v['beyond_calendar']:,} visits due after {doc['last_completion']} are left unrecorded: their 20-working-day "
            "公示 deadline falls in a year the working-day calendar does not cover (give it with --calendar FILE)."
        )
    codes = default_codes()
    items = doc["items"]
    total = items["total"] or 1
    out.print(
        table(
            f"检查结果（模拟；{items['total']:,} 个检查事项，一个事项可有两个结果代码）",
            ["结果", "检查事项", "占比"],
            [
                (f"{code} {codes[code].label_zh}", n, f"{100 * n / total:.1f}%")
                for code, n in sorted(items["by_code"].items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        )
    )
    pub = doc["published"]
    late_share = 100 * pub["late"] / pub["records"] if pub["records"] else 0.0
    out.print(
        f"Recorded in {len(doc['batches'])} batches (results import of each half-month's sheets), published in "
        f"{len(doc['publications'])} runs: {pub['records']:,} results, {pub['on_time']:,} within 20 working days, "
        f"{pub['late']:,} late ({late_share:.1f}%); median {pub['median_working_days']} working days to 公示."
    )
    proposals = [(ProposalKind(k).label, n) for k, n in doc["followups"].items()]
    decisions = doc["decisions"]
    out.print(table("后续处置（提议）", ["处置", "件数"], proposals))
    out.print(
        f"经营异常名录: {decisions.get('listed', 0):,} listed, {decisions.get('rejected', 0):,} rejected by the supervisor."
    )
    regrade = doc["regrade"]
    when = regrade["as_of"]
    out.print(
        f"\nRe-graded as of {when}: run {regrade['run_id']}. What the year's results changed — the same day graded "
        "without them (before anything was recorded) and with them:"
    )
    render_migrations(doc["migrations"], doc["unchanged"], f"（{when}，无结果 → 有结果）")
    since = doc["since_plan"]
    before = doc["before"]
    out.print(
        f"\nSince the grade the plan was drawn from ({before['run_id']}, as of {before['as_of']}): the results and "
        "time passing (penalties and complaints leaving their windows, inspections falling due; the demo's data stop "
        f"at {before['as_of']}):"
    )
    render_migrations(
        {k: v for k, v in since["migrations"].items() if k == "credit_class"},
        since["unchanged"],
        f"（{before['as_of']} → {when}）",
    )
    db_arg = f" --db {db}" if db else ""
    out.print(f"\nFiles (results sheets and 公示): {doc['folder']}")
    out.print(f"Check the chain: suijian audit verify{db_arg}")
    out.print(f"Per subject, drawn → visited → result → published: suijian audit trace {doc['plan_id']}{db_arg}")
    out.print(f"Open decisions: suijian followups list --open{db_arg}")


def render_migrations(moved: dict[str, Any], unchanged: dict[str, int], span: str) -> None:
    """One table per compared output that moved: from → to, subjects, and how the year checked them."""
    for name, title, labels in COMPARED:
        rows = moved.get(name)
        if not rows:
            continue
        body = [
            (
                f"{labels.get(r['from'], r['from'])} → {labels.get(r['to'], r['to'])}",
                r["subjects"],
                r[FOUND],
                r[CLEAN],
                r[UNCHECKED],
            )
            for r in rows
        ]
        out.print(table(f"{title}迁移{span}", ["变化", "主体数", "检查发现问题", "检查未发现问题", "本年未检查"], body))
        out.print(f"{title}未变: {unchanged.get(name, 0):,} subjects.")
    if not any(moved.get(name) for name, _, _ in COMPARED):
        out.print("No class changed.")
