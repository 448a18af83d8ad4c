"""`suijian plan` and `suijian tasks export`: draw the period's checks, staff them, and hand out the lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from commands.common import db_option, emit_json, json_option, out, table
from commands.grade import chosen_pack, pack_option
from engine import planning
from engine.ledger import chain, record
from engine.plan import check_seed
from engine.plan.export import export_tasks
from entities import identity, store
from entities.errors import InputError, UsageError


def _pct(value: Any) -> str:
    return f"{100 * float(value):.2f}%" if value is not None else "—"


def render_summary(plan_id: str, summary: dict[str, Any], *, created: bool, preview: bool = False) -> None:
    """The plan summary as readable tables (what supervisors publish and inspectors read)."""
    period = summary["period"]
    verb = "Preview of plan" if preview else "Committed plan" if created else "Identical plan already committed as"
    out.print(f"{verb} {plan_id}: period {period['label']} ({period['start']} – {period['end']}), as of "
              f"{summary['as_of']}, seed {summary['seed']!r}, regions {', '.join(summary['regions']) or 'all'}",
              markup=False)  # seed and period label are the user's text
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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@click.command("plan")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
              help="The date the data is judged at (never the wall clock); needed to draw, not to commit a seed.")
@click.option("--period", "period_text", required=True, metavar="PERIOD",
              help="2026 (year), 2026Q2 (quarter) or LABEL:START:END (batch, e.g. 第一批:2026-03-01:2026-05-31).")
@click.option("--seed", default=None, metavar="SEED",
              help="The public seed (at least 20 characters, e.g. 20 dice digits announced before the draw).")
@click.option("--commit-seed", "commit_hash", default=None, metavar="SHA256",
              help="Commit to a seed by its SHA-256 before the population is frozen (supervisors); the plan must "
                   "later reveal a matching --seed and use a grade run made after the commitment.")
@click.option("--redraw-reason", default=None, metavar="TEXT",
              help="Draw again for a scope and period that already has a committed plan (supervisors; recorded "
                   "and listed by `suijian audit redraws`).")
@click.option("--preview", is_flag=True,
              help="Show the draw without committing it (supervisors; recorded in the ledger with the seed and "
                   "the viewer, and bound by the same rules as the draw).")
@click.option("--region", "regions", multiple=True, metavar="CODE",
              help="Jurisdiction: GB/T 2260 county or 街镇 code (repeatable; default: every subject).")
@click.option("--item", "items", multiple=True, metavar="CODE", help="Only these check items (repeatable).")
@click.option("--run", "run_id", default=None, metavar="RUN_ID", help="Grade run to plan from (default: newest as of --as-of).")
@pack_option
@db_option
@json_option
def plan(as_of: dt.datetime | None, period_text: str, seed: str | None, commit_hash: str | None, redraw_reason: str | None,
         preview: bool, regions: tuple[str, ...], items: tuple[str, ...], run_id: str | None, pack_dir: str | None,
         db: str | None, as_json: bool) -> None:
    """Draw the period's random checks (consistent sampling), add mandatory work, merge visits, staff teams.

    Reproducible by anyone: each subject's ticket is consistent-sampler's first ticket for the seed and its
    USCC, and the smallest tickets in each stratum are drawn. The plan is committed to the ledger; same inputs,
    same plan. A committed plan for a scope and period is final: drawing again needs --redraw-reason.
    With a seed committed first (--commit-seed), the draw must reveal that seed, for that scope, from a grade
    run made after the commitment. Needs an identity (SUIJIAN_USER, SUIJIAN_ROLE): inspectors and supervisors
    commit plans; only supervisors commit seeds, re-draw and preview.

    \b
    Examples:
      suijian plan --period 2026 --commit-seed 9f2c…(64 hex) --region 445203   # before grading
      suijian plan --as-of 2025-12-31 --period 2026 --seed 38147205519264810375
      suijian plan --as-of 2025-12-31 --period 2026Q1 --seed 38147205519264810375 --region 445203
      suijian plan --as-of 2025-12-31 --period 2026 --seed 51920374662810395527 --redraw-reason "名录库更正后重抽"
    """
    if commit_hash is not None:
        if seed is not None or preview or run_id is not None:
            raise UsageError("--commit-seed records a commitment only; give --seed (and --run) later, when you draw")
        actor = identity.require("commit-seed")
        digest = record.check_seed_hash(commit_hash)  # refused before the store is opened
        scope = record.scope_of(list(regions) or None, list(items) or None, planning.parse_period(period_text))
        _commit(db, actor, digest, scope, redraw_reason, as_json)
        return
    if seed is None:
        raise UsageError("missing --seed (or --commit-seed SHA256 to commit to one first)")
    if as_of is None:
        raise UsageError("missing --as-of YYYY-MM-DD: the date the data is judged at")
    actor = identity.require("preview" if preview else "plan")
    if redraw_reason is not None and not preview:
        identity.require("redraw", actor)  # an inspector is refused before anything is computed
    day = as_of.date()
    period = planning.parse_period(period_text)
    scope = record.scope_of(list(regions) or None, list(items) or None, period)
    check_seed(seed)  # refused before any data is read
    with chosen_pack(db, pack_dir) as pack:
        engine = store.open_store(db)
        try:
            with engine.begin() as conn:
                result, run, tables = planning.plan_from_store(
                    conn, pack, seed=seed, period=period, as_of=day, regions=list(regions) or None,
                    item_codes=list(items) or None, run_id=run_id)
                superseded: list[str] = []
                if preview:
                    plan_id, _, digest = planning.plan_id_of(result)
                    entry, _ = record.preview(
                        conn, plan_digest=digest, scope=scope, seed=seed, as_of=day, pack=pack, grade_run_id=run["id"],
                        actor=actor, created_at=_now(), reason=redraw_reason,
                        frozen=record.frozen_tables(tables["subjects"], pack),
                        pack_files_hash=record.save_pack(conn, pack)["files_hash"])
                    created = False
                else:
                    plan_id, created = planning.save_plan(
                        conn, result, run, pack=pack, tables=tables, seed=seed, regions=list(regions) or None,
                        items=list(items) or None, period=period, as_of=day, created_at=_now(), actor=actor,
                        redraw_reason=redraw_reason, scope=scope)
                    superseded = [] if created else record.superseded_by(conn, plan_id)
                head = chain.head(conn)
        finally:
            engine.dispose()
    summary = result.summary()
    if as_json:
        emit_json({"plan_id": None if preview else plan_id, "preview": entry.run_id if preview else None,
                   "new": created, "superseded_by": superseded, "grade_run": run["id"],
                   "ledger_head": {"seq": head[0], "hash": head[1]}, **summary})
        return
    if preview:
        out.print(f"PREVIEW {entry.run_id} — not committed; recorded in the ledger as seen by {actor}.", markup=False)
    render_summary(plan_id, summary, created=created, preview=preview)
    if superseded:
        out.print(f"Plan {plan_id} was re-drawn as {', '.join(superseded)}; see `suijian audit redraws`.")
    if not preview:
        out.print(f"Ledger head #{head[0]} {head[1]} (publish it with the plan; `suijian audit verify --head` checks it).")
        out.print(f"Export the lists: suijian tasks export --plan {plan_id} --format xlsx --out tasks.xlsx")
        out.print(f"Replay it: suijian replay {plan_id}")


def _commit(db: str | None, actor: identity.Identity, digest: str, scope: dict[str, Any], reason: str | None,
            as_json: bool) -> None:
    engine = store.open_store(db)
    try:
        with engine.begin() as conn:
            # A commitment for a misspelt region or item would bind nothing: the scope must name real ones.
            regions = [r for r in scope["regions"] if r != "*"]
            unknown = sorted(set(regions) - store.existing_values(conn, "region", "code", regions))
            if unknown:
                raise InputError(f"unknown region {unknown[0]} (not in the region table); check the GB/T 2260 code")
            if scope["items"] != ["*"]:
                planning.check_items(conn, scope["items"])
            entry, created = record.commit_seed(conn, digest=digest, scope=scope, actor=actor, created_at=_now(),
                                                reason=reason)
    finally:
        engine.dispose()
    if as_json:
        emit_json({"commitment": entry.run_id, "new": created, "seed_sha256": digest, "scope": scope,
                   "entry_hash": entry.entry_hash})
        return
    verb = "Committed" if created else "Already committed as"
    out.print(f"{verb} {entry.run_id}: seed sha256 {digest} for {record.describe(scope)}, by {entry.actor.get('user')}.",
              markup=False)
    out.print("Now freeze the population (`suijian grade`), then draw with the seed: suijian plan --seed SEED …")


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
