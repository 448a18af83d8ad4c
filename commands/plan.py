"""`suijian plan` and `suijian tasks export`: draw the period's checks, staff them, and hand out the lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from commands.common import db_option, emit_json, json_option, out, table
from commands.grade import as_of_option, pack_option, pack_path
from engine import planning
from engine.plan import check_seed
from engine.plan.export import export_tasks
from engine.rules import load_pack
from entities import store


def _pct(value: Any) -> str:
    return f"{100 * float(value):.2f}%" if value is not None else "—"


def render_summary(plan_id: str, summary: dict[str, Any], *, created: bool) -> None:
    """The plan summary as readable tables (what supervisors publish and inspectors read)."""
    period = summary["period"]
    verb = "Committed plan" if created else "Identical plan already stored as"
    out.print(f"{verb} {plan_id}: period {period['label']} ({period['start']} – {period['end']}), as of "
              f"{summary['as_of']}, seed {summary['seed']!r}, regions {', '.join(summary['regions']) or 'all'}")
    rows = []
    for item in summary["items"]:
        mand = summary["mandatory_coverage"]["items"].get(item["code"], {}) if isinstance(
            summary["mandatory_coverage"].get("items"), dict) else {}
        rows.append((item["code"], item["population"], item["excluded"], item["quota"], item["drawn_count"],
                     item["mandatory_required"], mand.get("planned", "—"), item["name"]))
    out.print(table("抽查事项 check items", ["item", "population", "excluded", "quota", "drawn", "mandatory",
                                             "mandatory planned", "name"], rows))
    strata = []
    for item in summary["items"]:
        for s in item["strata"]:
            cut = s["cutoff"]["ticket"][:11] if s["cutoff"] else "—"
            strata.append((item["code"], s["stratum"], s["population"], str(s.get("ratio") or "—"),
                           s["quota"], s["drawn_count"], cut))
    out.print(table("分层抽取 strata (cut-off = largest drawn ticket)", ["item", "stratum", "population", "ratio",
                                                                         "quota", "drawn", "cut-off"], strata))
    v, rep, load = summary["visits"], summary["repeat_visits"], summary["team_load"]
    out.print(
        f"Visits: {v['planned']:,} planned of {v['needed']:,} needed ({v['subject_items']:,} subject-items; "
        f"{v['with_mandatory_items']:,} with mandatory items). Repeat-visit rate {_pct(rep['rate'])} "
        f"(random items {_pct(rep['random_rate'])})."
    )
    out.print(
        f"Teams: {load['inspector_visits']:,} inspector-visits of capacity {load['capacity']:,} "
        f"({load['certified_with_capacity']:,} certified inspectors, {load['min_visits']}–{load['max_visits']} each, "
        f"{load['full']:,} at capacity)."
    )
    for key, label in (("uncovered", "Uncovered (capacity or status)"), ("unstaffed", "Unstaffed (no valid team)")):
        d = summary[key]
        if d["entries"]:
            reasons = ", ".join(f"{k} {n:,}" for k, n in d["by_reason"].items())
            out.print(f"{label}: {d['entries']:,} visits, {d['subject_items']:,} subject-items "
                      f"({d['mandatory_subject_items']:,} mandatory) — {reasons}. Listed in --json and the export.")
        else:
            out.print(f"{label}: none.")


@click.command("plan")
@as_of_option
@click.option("--period", "period_text", required=True, metavar="PERIOD",
              help="2026 (year), 2026Q2 (quarter) or LABEL:START:END (batch, e.g. 第一批:2026-03-01:2026-05-31).")
@click.option("--seed", required=True, metavar="SEED",
              help="The public seed (at least 20 characters, e.g. 20 dice digits announced before the draw).")
@click.option("--region", "regions", multiple=True, metavar="CODE",
              help="Jurisdiction: GB/T 2260 county or 街镇 code (repeatable; default: every subject).")
@click.option("--item", "items", multiple=True, metavar="CODE", help="Only these check items (repeatable).")
@click.option("--run", "run_id", default=None, metavar="RUN_ID", help="Grade run to plan from (default: newest as of --as-of).")
@pack_option
@db_option
@json_option
def plan(as_of: dt.datetime, period_text: str, seed: str, regions: tuple[str, ...], items: tuple[str, ...],
         run_id: str | None, pack_dir: str | None, db: str | None, as_json: bool) -> None:
    """Draw the period's random checks (consistent sampling), add mandatory work, merge visits, staff teams.

    Reproducible by anyone: each subject's ticket is consistent-sampler's first ticket for the seed and its
    USCC, and the smallest tickets in each stratum are drawn. The plan is stored; same inputs, same plan.

    \b
    Examples:
      suijian plan --as-of 2025-12-31 --period 2026 --seed 38147205519264810375
      suijian plan --as-of 2025-12-31 --period 2026Q1 --seed 38147205519264810375 --region 445203
      suijian plan --as-of 2025-12-31 --period 2026 --seed 38147205519264810375 --json > plan.json
    """
    day = as_of.date()
    check_seed(seed)  # refused before any data is read
    period = planning.parse_period(period_text)
    pack = load_pack(pack_path(pack_dir))
    engine = store.open_store(db)
    try:
        with engine.begin() as conn:
            result, run, _ = planning.plan_from_store(
                conn, pack, seed=seed, period=period, as_of=day, regions=list(regions) or None,
                item_codes=list(items) or None, run_id=run_id)
            plan_id, created = planning.save_plan(
                conn, result, run, seed=seed, regions=list(regions) or None, period=period, as_of=day,
                created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    finally:
        engine.dispose()
    summary = result.summary()
    if as_json:
        emit_json({"plan_id": plan_id, "new": created, "grade_run": run["id"], **summary})
        return
    render_summary(plan_id, summary, created=created)
    out.print(f"Export the lists: suijian tasks export --plan {plan_id} --format xlsx --out tasks.xlsx")


@click.group("tasks")
def tasks() -> None:
    """Inspectors' task lists from a stored plan."""


@tasks.command("export")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Plan id (default: the newest plan).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="xlsx", show_default=True)
@click.option("--inspector", default=None, metavar="ID", help="Only the visits this inspector is on.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: tasks-PLAN[-INSPECTOR].FORMAT in the working directory).")
@db_option
def export(plan_id: str | None, fmt: str, inspector: str | None, out_path: str | None, db: str | None) -> None:
    """Write a plan's visits — subject, items with check contents and legal basis, team, due window — to a file.

    CSV is UTF-8 with BOM and XLSX has Chinese headers, so both open in Excel.

    \b
    Examples:
      suijian tasks export --format xlsx --out 2026任务清单.xlsx
      suijian tasks export --plan P2026-1a2b3c4d5e --inspector ZF4452030082 --format csv
    """
    engine = store.open_store(db)
    try:
        with engine.connect() as conn:
            pid, stored = planning.load_plan(conn, plan_id)
            items = planning.check_items(conn)
            inspectors, _ = planning.roster(conn)
            subjects = planning.plan_subject_details(conn, stored)
    finally:
        engine.dispose()
    data = export_tasks(stored, items, subjects, inspectors, format=fmt, inspector=inspector)
    path = Path(out_path or f"tasks-{pid}{'-' + inspector if inspector else ''}.{fmt}")
    path.write_bytes(data)
    visits = sum(1 for v in stored.visits if inspector is None or inspector in v.team)
    click.echo(f"Wrote {visits:,} visits of plan {pid} to {path} ({len(data):,} bytes).")


COMMANDS = [plan, tasks]
