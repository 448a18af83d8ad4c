"""`suijian grade` and `suijian explain`: grade subjects with a rule pack as of a date, and say why."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

import rules as rules_pkg
from commands.common import db_option, emit_json, json_option, out, progress, table
from engine import grading, publish
from engine.explain import explain as explain_subject
from engine.features.catalogue import CATALOGUE
from engine.features.compute import features_of, population_size
from engine.replay import shown_locations
from engine.rules import Pack, load_pack
from entities import identity, store
from entities.errors import InputError

_NATIONAL = Path(rules_pkg.__file__).parent / "national"


def pack_path(given: str | None) -> str:
    """--pack, else the national pack shipped with suijian, shown relative to the working directory when it is
    the checkout (so rule locations read rules/national/credit.yaml:12, not a machine's absolute path)."""
    if given:
        return given
    rel = os.path.relpath(_NATIONAL)
    return str(_NATIONAL) if rel.startswith("..") else rel

@contextmanager
def chosen_pack(db: str | None, pack_dir: str | None) -> Iterator[Pack]:
    """--pack, else the store's active pack (`suijian rules publish`, restored from the store), else the
    national pack shipped with suijian."""
    if pack_dir:
        yield load_pack(pack_dir)
        return
    with ExitStack() as stack:
        engine = store.open_store(db)
        try:
            with engine.connect() as conn:
                active = stack.enter_context(publish.active_pack(conn))
        finally:
            engine.dispose()
        yield active if active is not None else load_pack(pack_path(None))


pack_option = click.option(
    "--pack", "pack_dir", default=None, show_default="the active published pack, else rules/national",
    metavar="DIR", help="Rule pack directory (a provincial pack names its parent in pack.yaml).",
)
as_of_option = click.option(
    "--as-of", "as_of", required=True, type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
    help="The date the data is judged at (never the wall clock).",
)


def workers_for(subjects: int) -> int:
    """Feature batches in two processes once there are enough subjects to pay for starting them (2 cores)."""
    return min(2, os.cpu_count() or 1) if subjects > 400_000 else 1


def _value(v: Any) -> str:
    if v is None:
        return "—（缺失）"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return "、".join(map(str, v)) or "（无）"
    return str(v)


@click.command("grade")
@as_of_option
@pack_option
@click.option("--subject", "subjects", multiple=True, metavar="USCC", help="Grade only these subjects (repeatable).")
@db_option
@json_option
def grade(as_of: dt.datetime, pack_dir: str | None, subjects: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Grade every subject (or --subject) with a rule pack as of a date; store the results and fired rule ids.

    Prints, per decision output, how many subjects got each value (credit class, food grade, frequency,
    task list…). Each distinct rule-relevant input is evaluated once on durable-rules and fanned out.

    \b
    Examples:
      suijian grade --as-of 2025-12-31
      suijian grade --as-of 2025-12-31 --pack rules/guangdong --json
      suijian grade --as-of 2025-12-31 --subject 91445203MA4W8XYZ0K
    """
    actor = identity.require("grade")
    day = as_of.date()
    with chosen_pack(db, pack_dir) as pack:
        run = _grade(pack, day, subjects, db, actor)
    if as_json:
        emit_json(run.as_dict())
        return
    out.print(
        f"Graded {run.subjects:,} subjects as of {day} with {pack.name} {pack.version} "
        f"(hash {pack.hash[:12]}): run {run.id}, recorded in the ledger by {actor}"
    )
    out.print(
        f"{run.outcomes:,} distinct outcomes from {run.evaluations:,} durable-rules evaluations"
        + (f"; {run.errors:,} subjects hit a rule-pack error" if run.errors else "")
    )
    if run.registered_later:
        out.print(f"{run.registered_later:,} subjects registered after {day} were left out (not in the population then)")
    for name, dist in run.distributions.items():
        n = sum(dist.values()) or 1
        rows = [(value, count, f"{100 * count / n:.1f}%") for value, count in dist.items()]
        out.print(table(name, ["value", "subjects", "share"], rows))


def _grade(pack: Pack, day: dt.date, subjects: tuple[str, ...], db: str | None, actor: identity.Identity) -> Any:
    engine = store.open_store(db)
    try:
        with engine.begin() as conn:
            total = len(subjects) or population_size(conn, day)
            with progress() as bar:
                task = bar.add_task("评级 grading", total=total)
                run = grading.grade_store(
                    conn, pack, day, created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), actor=actor,
                    usccs=list(subjects) or None, on_batch=lambda n: bar.advance(task, n),
                    url=engine.url.render_as_string(hide_password=False), workers=workers_for(total),
                )
    finally:
        engine.dispose()
    return run


@click.command("explain")
@click.argument("uscc", metavar="SUBJECT")
@click.option("--as-of", "as_of", default=None, type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="The date the data is judged at (never the wall clock); with --run, the run's own date.")
@pack_option
@click.option("--why-not", is_flag=True, help="Also list the rules that did not fire and the condition that failed.")
@click.option("--run", "run_id", default=None, metavar="RUN_ID",
              help="Explain the decision as made in a recorded grade run or plan (its snapshot and pack version; "
                   "for a plan also the stratum, ticket, cut-off and visit per check item).")
@db_option
@json_option
def explain(uscc: str, as_of: dt.datetime | None, pack_dir: str | None, why_not: bool, run_id: str | None,
            db: str | None, as_json: bool) -> None:
    """Explain in plain language how the rule pack decides for one subject (by USCC) as of a date.

    Shows the features the pack reads, each decision's result, and every fired rule with its reason and
    legal basis; --why-not adds the rules that did not fire and which condition failed. With --run, the
    decision as it was made in that run, from what the ledger recorded (not today's data or rule files), checked
    against the outcome stored then; for a plan, each check item's stratum, the subject's ticket (抽签号) against
    the stratum's cut-off (截止号), and a one-line check with the public consistent-sampler package.

    \b
    Examples:
      suijian explain 91445203MA4W8XYZ0K --as-of 2025-12-31
      suijian explain 91445203MA4W8XYZ0K --as-of 2025-12-31 --why-not
      suijian explain 91445203MA4W8XYZ0K --run P2026-d640884439
      suijian explain 91445203MA4W8XYZ0K --run G20251231-cee06f88-0001 --why-not --json
    """
    from commands.replay import render_run_tail
    from engine.replay import explain_run, trace_dict
    from entities.errors import UsageError

    recorded = None
    if run_id is not None:
        if pack_dir is not None:
            raise UsageError("--run explains with the pack version the run recorded; drop --pack")
        engine = store.open_store(db)
        try:
            with engine.connect() as conn:
                recorded = explain_run(conn, run_id, uscc)
        finally:
            engine.dispose()
        if as_of is not None and as_of.date().isoformat() != recorded.as_of:
            raise UsageError(f"run {recorded.run_id} is as of {recorded.as_of}, not {as_of.date()}; drop --as-of")
        if as_json:
            emit_json(recorded.as_dict(why_not=why_not))
            return
        values, traces = dict(recorded.values), list(recorded.traces)
        what = "grade run" if recorded.kind == "grade" else "plan"
        p = recorded.pack
        out.print(f"[bold]{recorded.uscc}[/bold]  — as decided in {what} {recorded.run_id}: as of {recorded.as_of}, "
                  f"pack {p['name']} {p['version']} (files {p['files_hash'][:12]}), from the recorded snapshot")
    else:
        if as_of is None:
            raise UsageError("Missing option '--as-of' (or give --run RUN_ID to explain a recorded run).")
        day = as_of.date()
        with chosen_pack(db, pack_dir) as pack:
            grading.check_pack_date(pack, day)
            engine = store.open_store(db)
            try:
                with engine.connect() as conn:
                    subject = conn.execute(
                        store.table("subject").select().where(store.table("subject").c.uscc == uscc.strip().upper())
                    ).mappings().first()
                    if subject is None:
                        raise InputError(f"no subject with USCC {uscc} in the store; check the code or import it first")
                    feats = features_of(conn, subject["uscc"], day)
            finally:
                engine.dispose()
            assert feats is not None
            values, raw = explain_subject(pack, feats)
            # The active pack is restored to a temporary directory: show its rules as national/credit.yaml:12.
            traces = list(shown_locations(pack, raw)) if "suijian-pack-" in pack.directory else raw
        if as_json:
            emit_json({
                "subject": {"uscc": subject["uscc"], "name": subject["name"]},
                "as_of": day.isoformat(),
                "pack": {"name": pack.name, "version": pack.version, "hash": pack.hash},
                "features": values,
                "decisions": [trace_dict(t, why_not=why_not) for t in traces],
            })
            return
        out.print(f"[bold]{subject['name']}[/bold]  {subject['uscc']}  — as of {day}, pack {pack.name} {pack.version}")
    out.print(table("特征 features read by the pack", ["feature", "value", "meaning"],
                    [(n, _value(v), CATALOGUE[n].zh) for n, v in values.items()]))
    for t in traces:
        result = "；".join(f"{k} = {_value(v)}" for k, v in t.outputs.items())
        out.print(f"\n[bold]{t.description or t.id}[/bold] ({t.id}, {t.hit_policy}): {result}")
        if t.error:
            out.print(f"  [red]error[/red]: {t.error}")
        for r in t.fired:
            out.print(f"  ✓ {r.id}: {r.reason}\n      依据 basis: {r.basis}  ({r.location})")
        if not t.fired and not t.error:
            out.print("  （没有规则命中 no rule fired）")
        if why_not:
            for r in t.rules:
                if r.fired:
                    continue
                if not r.enabled:
                    out.print(f"  · {r.id}: switched off by a parameter")
                elif r.matched:
                    out.print(f"  · {r.id}: matched, but the {t.hit_policy} hit policy chose another row")
                elif r.is_else:
                    out.print(f"  · {r.id}: else row, not needed (another row matched)")
                else:
                    why = "；".join(f"{c.text} 不成立（{c.input} = {_value(c.value)}）" for c in r.failed)
                    out.print(f"  ✗ {r.id}: {why}")
    if recorded is not None:
        render_run_tail(recorded)

COMMANDS = [grade, explain]
