"""`suijian explain SUBJECT`: how the rule pack decides for one subject, today or as decided in a recorded run."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
from rich.markup import escape

from commands.common import (
    RESTORED_PACK,
    as_of_option,
    chosen_pack,
    db_option,
    emit,
    json_option,
    out,
    pack_member,
    pack_option,
    store_connection,
    table,
)
from engine import grading
from engine import replay as replaying
from engine.explain import explain as explain_subject
from engine.features.compute import features_of
from engine.features.registry import REGISTRY
from engine.plan.select import EXCLUSION_REASONS
from engine.replay import explain_run, shown_locations, trace_dict
from entities import store
from entities.enums import SubjectStatus
from entities.errors import InputError, UsageError


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


def say(text: str) -> None:
    """Print pack text as is: conditions like `in [cancelled, revoked]` are not rich markup."""
    out.print(text, markup=False)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@click.command("explain")
@click.argument("uscc", metavar="SUBJECT")
@as_of_option(
    required=False, help="The date the data is judged at (never the wall clock); with --run, the run's own date."
)
@pack_option
@click.option("--why-not", is_flag=True, help="Also list the rules that did not fire and the condition that failed.")
@click.option(
    "--run",
    "run_id",
    default=None,
    metavar="RUN_ID",
    help="Explain the decision as made in a recorded grade run or plan (its snapshot and pack version; "
    "for a plan also the stratum, ticket, cut-off and visit per check item).",
)
@db_option
@json_option
def explain(
    uscc: str,
    as_of: dt.datetime | None,
    pack_dir: str | None,
    why_not: bool,
    run_id: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Explain in plain language how the rule pack decides for one subject (by USCC) as of a date.

    Shows the features the pack reads, each decision's result, and every fired rule with its reason and
    legal basis; --why-not adds the rules that did not fire and which condition failed. With --run, the
    decision as it was made in that run, from what the ledger recorded (not today's data or rule files), checked
    against the outcome stored then; for a plan, each check item's stratum, the subject's ticket (抽签号) against
    the stratum's cut-off (截止号), and a one-line check with the public consistent-sampler package.

    \b
    Examples:
      suijian explain 91445203MA4W8XYP08 --as-of 2025-12-31
      suijian explain 91445203MA4W8XYP08 --as-of 2025-12-31 --why-not
      suijian explain 91445203MA4W8XYP08 --run P2026-d640884439
      suijian explain 91445203MA4W8XYP08 --run G20251231-cee06f88-0001 --why-not --json
    """
    recorded = None
    if run_id is not None:
        if pack_dir is not None:
            raise UsageError("--run explains with the pack version the run recorded; drop --pack")
        with store_connection(db) as conn:
            recorded = explain_run(conn, run_id, uscc)
        if as_of is not None and as_of.date().isoformat() != recorded.as_of:
            raise UsageError(f"run {recorded.run_id} is as of {recorded.as_of}, not {as_of.date()}; drop --as-of")
        if as_json:
            emit(recorded.as_dict(why_not=why_not))
            return
        values, traces = dict(recorded.values), list(recorded.traces)
        what = "grade run" if recorded.kind == "grade" else "plan"
        p = recorded.pack
        out.print(
            f"[bold]{escape(recorded.uscc)}[/bold]  — as decided in {what} {escape(recorded.run_id)}: as of "
            f"{recorded.as_of}, pack {escape(p['name'])} {escape(p['version'])} (files {p['files_hash'][:12]}), "
            "from the recorded snapshot"
        )
    else:
        if as_of is None:
            raise UsageError("Missing option '--as-of' (or give --run RUN_ID to explain a recorded run).")
        day = as_of.date()
        with chosen_pack(db, pack_dir) as pack:
            grading.check_pack_date(pack, day)
            with store_connection(db) as conn:
                subject = (
                    conn.execute(
                        store.table("subject").select().where(store.table("subject").c.uscc == uscc.strip().upper())
                    )
                    .mappings()
                    .first()
                )
                if subject is None:
                    raise InputError(f"no subject with USCC {uscc} in the store; check the code or import it first")
                feats = features_of(conn, subject["uscc"], day)
            assert feats is not None
            values, raw = explain_subject(pack, feats)
            # The active pack is restored to a temporary directory: show its rules as national/credit.yaml:12.
            traces = list(shown_locations(pack, raw)) if RESTORED_PACK in pack.directory else raw
            member = pack_member(pack)
        if as_json:
            emit(
                {
                    "subject": {"uscc": subject["uscc"], "name": subject["name"]},
                    "as_of": day.isoformat(),
                    "pack": member,
                    "features": values,
                    "decisions": [trace_dict(t, why_not=why_not) for t in traces],
                }
            )
            return
        out.print(
            f"[bold]{escape(subject['name'])}[/bold]  {subject['uscc']}  — as of {day}, pack "
            f"{escape(pack.name)} {escape(pack.version)}"
        )
    out.print(
        table(
            "特征 features read by the pack",
            ["feature", "value", "meaning"],
            [(n, escape(_value(v)), REGISTRY[n].zh) for n, v in values.items()],
        )
    )
    for t in traces:
        result = "；".join(f"{k} = {_value(v)}" for k, v in t.outputs.items())
        out.print(f"\n[bold]{escape(t.description or t.id)}[/bold] ({escape(t.id)}, {t.hit_policy}): {escape(result)}")
        if t.error:
            out.print(f"  [red]error[/red]: {escape(str(t.error))}")
        for r in t.fired:
            say(f"  ✓ {r.id}: {r.reason}\n      依据 basis: {r.basis}  ({r.location})")
        if not t.fired and not t.error:
            out.print("  （没有规则命中 no rule fired）")
        if why_not:
            for r in t.rules:
                if r.fired:
                    continue
                if not r.enabled:
                    say(f"  · {r.id}: switched off by a parameter")
                elif r.matched:
                    say(f"  · {r.id}: matched, but the {t.hit_policy} hit policy chose another row")
                elif r.is_else:
                    say(f"  · {r.id}: else row, not needed (another row matched)")
                else:
                    why = "；".join(f"{c.text} 不成立（{c.input} = {_value(c.value)}）" for c in r.failed)
                    say(f"  ✗ {r.id}: {why}")
    if recorded is not None:
        render_run_tail(recorded)


STATUS_LABELS = {
    "drawn": "已抽中 drawn",
    "not_drawn": "未抽中 not drawn",
    "excluded": "排除 excluded from the draw",
    "not_in_population": "不在抽查对象范围 not in the item's population",
    "outside_jurisdiction": "不在辖区 outside the plan's regions",
}


def _status(code: str) -> str:
    try:
        return f"{SubjectStatus(code).label} ({code})"
    except ValueError:
        return code


def render_run_tail(x: replaying.RunExplanation) -> None:
    """After the decisions: whether the stored outcome equals the recomputed one, then the plan's draw per item."""
    if x.recorded_matches:
        say(f"\n记录 recorded: grade run {x.grade_run} stored exactly these outputs, fired rules and errors ✓")
    elif x.recorded is None:
        say(f"\n记录 recorded: the store holds no outcome of this subject for grade run {x.grade_run or '?'}")
    else:
        say(f"\n记录 recorded: grade run {x.grade_run} stored a DIFFERENT outcome for this subject ✗")
        for what in ("outputs", "fired", "errors"):
            say(f"  {what}: {_show(x.recorded[what])}")
    if x.kind == "plan":
        _render_items(x)
    for note in x.notes:
        say(f"! {note}")


def _render_items(x: replaying.RunExplanation) -> None:
    seeds = (
        "shared: every item draws with the plan's seed"
        if x.item_seeds == "shared"
        else "per item: sha256('suijian:item/<code>:' + seed)"
    )
    say(
        f"\n抽查 draw in plan {x.run_id}: seed {x.seed!r} (item seeds {seeds}); 抽签号 ticket = "
        "consistent-sampler first_ticket(USCC, seed); the smallest tickets in each stratum are drawn"
    )
    elsewhere: dict[str, list[str]] = {}
    for f in x.items:
        if f.status in ("not_in_population", "outside_jurisdiction") and not f.mandatory:
            elsewhere.setdefault(f.status, []).append(f.code)
            continue
        flags = [STATUS_LABELS[f.status]]
        if f.status == "excluded" and f.exclusion:
            flags[0] += f"（{EXCLUSION_REASONS.get(f.exclusion, f.exclusion)}）"
        if f.mandatory:
            flags.append(f"必查 mandatory: {f.mandatory_reason}")
        if f.mandatory_gone:
            flags.append(f"but registration ended ({_status(f.mandatory_gone)}): cannot be visited")
        out.print(f"\n[bold]{escape(f.code)}[/bold] {escape(f.name)}: {escape('；'.join(flags))}")
        if f.ticket is not None:
            size = f" ({f.population:,} subjects, quota {f.quota:,})" if f.population is not None else ""
            if f.ratio is not None and f.ratio_asked is not None and f.ratio != f.ratio_asked:
                size += f", ratio {f.ratio} fitted of {f.ratio_asked} asked"
            say(f"  层 stratum {f.stratum}{size}")
            if f.cutoff is None:
                say(f"  抽签号 ticket {f.ticket.ticket_number}; nobody is drawn in this stratum (quota 0)")
            else:
                sign = "≤" if f.ticket <= f.cutoff else ">"
                verdict = STATUS_LABELS["drawn" if f.ticket <= f.cutoff else "not_drawn"]
                say(f"  抽签号 ticket  {f.ticket.ticket_number}")
                say(
                    f"  截止号 cut-off {f.cutoff.short()}… ({f.cutoff.id}, the largest drawn ticket): "
                    f"ticket {sign} cut-off → {verdict}"
                )
            say(f"  check: {f.recipe}")
        if f.visit:
            v = f.visit
            say(
                f"  检查 visit {v['id']}: 检查组 team {'、'.join(v['team'])} (组长 lead {v['lead']}), "
                f"due {v['due_from']} – {v['due_to']}"
            )
        elif f.dropped:
            say(f"  未安排 not scheduled: {f.dropped['reason']} ({f.dropped['code']})")
    for status, codes in elsewhere.items():
        say(f"\n{STATUS_LABELS[status]}: {', '.join(codes)}")


def register(cli: click.Group) -> None:
    cli.add_command(explain)
