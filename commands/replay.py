"""`suijian replay RUN_ID`: recompute a recorded grade run or plan and say whether it is identical, or exactly how not.

Also the rendering of `suijian explain SUBJECT --run RUN_ID` beyond the decisions: what the run recorded for the
subject and, for a plan, each check item's stratum, ticket, cut-off and visit.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from commands.common import db_option, emit_json, json_option, out
from engine import replay as replaying
from engine.plan.select import EXCLUSION_REASONS
from entities import store
from entities.enums import SubjectStatus
from entities.errors import InputError


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render_report(report: replaying.ReplayReport, seconds: float) -> None:
    """The replay as text: what was recomputed and, when it is not identical, every difference found."""
    kind = "grade run" if report.kind == "grade" else "plan"
    verdict = "identical (一致)" if report.identical else "NOT identical (不一致)"
    out.print(f"Replay of {kind} {report.run_id}: {verdict}")
    c = report.counts
    if report.kind == "grade":
        out.print(f"  recomputed {c['subjects']:,} subjects as of {report.as_of}: {c['outcomes']:,} distinct outcomes "
                  f"from {c['evaluations']:,} durable-rules evaluations")
    else:
        out.print(f"  recomputed the draw of {c['items']:,} check items over {c['subjects']:,} subjects as of "
                  f"{report.as_of} with seed {report.seed!r}: {c['drawn']:,} drawn, {c['visits']:,} visits")
    p = report.pack
    out.print(f"  pack {p['name']} {p['version']} (files {p['files_hash']}, rules {p['hash'][:12]})")
    out.print(f"  snapshot {report.snapshot_hash}")
    if report.identical:
        out.print(f"  outputs {report.ledger_hash} — the ledger's, the store's and the replay's")
    else:
        out.print(f"  outputs: ledger   {report.ledger_hash}")
        out.print(f"           replayed {report.replayed_hash}")
        out.print(f"           stored   {report.stored_hash or '(missing)'}")
    out.print(f"  in {seconds:.1f} s")
    for note in report.notes:
        out.print(f"  ! {note}")
    if not report.identical:
        _render_differences(report)
    if report.versions:
        changed = ", ".join(f"{n} {r or '?'} → {now}" for n, r, now in report.versions)
        out.print(f"  (versions differ from the run's, for information: {changed})")


def _render_differences(report: replaying.ReplayReport) -> None:
    if report.kind == "grade":
        shown = sorted({d.where for d in report.differences})
        if report.differing:
            out.print(f"  {report.differing:,} subjects differ; the first {len(shown)} by USCC (recorded → replayed):")
        for d in report.differences:
            out.print(f"    {d.where}  {d.what}: {_show(d.recorded)} → {_show(d.replayed)}")
        unit = "subjects"
    else:
        out.print(f"  {report.differing:,} values of the plan differ"
                  + (f"; the first {len(report.differences)} (recorded → replayed):" if report.differences else ""))
        for d in report.differences:
            place = f"{d.where}.{d.what}" if d.where and d.what else d.where or d.what
            out.print(f"    {place}: {_show(d.recorded)} → {_show(d.replayed)}")
        unit = "visits"
    for label, count, ids in (
        ("recorded but not replayed", report.only_recorded_count, report.only_recorded),
        ("replayed but not recorded", report.only_replayed_count, report.only_replayed),
    ):
        if count:
            more = f" (first {len(ids)})" if count > len(ids) else ""
            out.print(f"  {count:,} {unit} {label}{more}: {', '.join(ids)}")


@click.command("replay")
@click.argument("run_id", metavar="RUN_ID")
@db_option
@json_option
def replay(run_id: str, db: str | None, as_json: bool) -> None:
    """Recompute a grade run or a plan from the ledger and say whether it is identical (回放).

    Uses only what the run recorded: its input snapshot, the rule-pack version it used (every file, restored
    from the store) and its as-of date, seed, period and regions. Today's data and rule files do not enter, so a
    replay holds after subjects were edited or another pack became active. The recomputed outputs are compared
    with the ledger's outputs hash and with the outputs the store holds; any difference is listed (subject and
    output, or the place in the plan). Exit 0 only if identical. Read-only: auditors may run it.

    \b
    Examples:
      suijian replay G20251231-cee06f88-0001
      suijian replay P2026-d640884439 --json
      suijian replay P2026-d640884439 --db postgresql://auditor@db.example/suijian
    """
    engine = store.open_store(db)
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            report = replaying.replay(conn, run_id)
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    if as_json:
        emit_json({**report.as_dict(), "seconds": round(seconds, 2)})
        if not report.identical:
            raise click.exceptions.Exit(1)
        return
    render_report(report, seconds)
    if not report.identical:
        raise InputError(report.summary())


# -- explain SUBJECT --run RUN_ID ---------------------------------------------------------------------------------

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
        out.print(f"\n记录 recorded: grade run {x.grade_run} stored exactly these outputs, fired rules and errors ✓")
    elif x.recorded is None:
        out.print(f"\n记录 recorded: the store holds no outcome of this subject for grade run {x.grade_run or '?'}")
    else:
        out.print(f"\n记录 recorded: grade run {x.grade_run} stored a DIFFERENT outcome for this subject ✗")
        for what in ("outputs", "fired", "errors"):
            out.print(f"  {what}: {_show(x.recorded[what])}")
    if x.kind == "plan":
        _render_items(x)
    for note in x.notes:
        out.print(f"! {note}")


def _render_items(x: replaying.RunExplanation) -> None:
    seeds = "shared: every item draws with the plan's seed" if x.item_seeds == "shared" else \
        "per item: sha256('suijian:item/<code>:' + seed)"
    out.print(f"\n抽查 draw in plan {x.run_id}: seed {x.seed!r} (item seeds {seeds}); 抽签号 ticket = "
              "consistent-sampler first_ticket(USCC, seed); the smallest tickets in each stratum are drawn")
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
        out.print(f"\n[bold]{f.code}[/bold] {f.name}: {'；'.join(flags)}")
        if f.ticket is not None:
            size = f" ({f.population:,} subjects, quota {f.quota:,})" if f.population is not None else ""
            out.print(f"  层 stratum {f.stratum}{size}")
            if f.cutoff is None:
                out.print(f"  抽签号 ticket {f.ticket.ticket_number}; nobody is drawn in this stratum (quota 0)")
            else:
                sign = "≤" if f.ticket <= f.cutoff else ">"
                verdict = STATUS_LABELS["drawn" if f.ticket <= f.cutoff else "not_drawn"]
                out.print(f"  抽签号 ticket  {f.ticket.ticket_number}")
                out.print(f"  截止号 cut-off {f.cutoff.short()}… ({f.cutoff.id}, the largest drawn ticket): "
                          f"ticket {sign} cut-off → {verdict}")
            out.print(f"  check: {f.recipe}")
        if f.visit:
            v = f.visit
            out.print(f"  检查 visit {v['id']}: 检查组 team {'、'.join(v['team'])} (组长 lead {v['lead']}), "
                      f"due {v['due_from']} – {v['due_to']}")
        elif f.dropped:
            out.print(f"  未安排 not scheduled: {f.dropped['reason']} ({f.dropped['code']})")
    for status, codes in elsewhere.items():
        out.print(f"\n{STATUS_LABELS[status]}: {', '.join(codes)}")


COMMANDS = [replay]
