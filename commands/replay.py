"""`suijian replay RUN_ID`: recompute a recorded grade run or plan and say whether it is identical, or exactly how not."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from commands.common import db_option, emit, fail, json_option, out, progress_bars, store_connection
from engine import replay as replaying


def say(text: str) -> None:
    """Print as is: recorded values like ["a", "b"] are not rich markup."""
    out.print(text, markup=False)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render_report(report: replaying.ReplayReport, seconds: float) -> None:
    """The replay as text: what was recomputed and, when it is not identical, every difference found."""
    kind = "grade run" if report.kind == "grade" else "plan"
    verdict = "identical (一致)" if report.identical else "NOT identical (不一致)"
    say(f"Replay of {kind} {report.run_id}: {verdict}")
    c = report.counts
    if report.kind == "grade":
        say(
            f"  recomputed {c['subjects']:,} subjects as of {report.as_of}: {c['outcomes']:,} distinct outcomes "
            f"from {c['evaluations']:,} durable-rules evaluations"
        )
    else:
        say(
            f"  recomputed the draw of {c['items']:,} check items over {c['subjects']:,} subjects as of "
            f"{report.as_of} with seed {report.seed!r}: {c['drawn']:,} drawn, {c['visits']:,} visits"
        )
    p = report.pack
    say(f"  pack {p['name']} {p['version']} (files {p['files_hash']}, rules {p['hash'][:12]})")
    say(f"  snapshot {report.snapshot_hash}")
    if report.identical:
        say(f"  outputs {report.ledger_hash} — the ledger's, the store's and the replay's")
    else:
        say(f"  outputs: ledger   {report.ledger_hash}")
        say(f"           replayed {report.replayed_hash}")
        say(f"           stored   {report.stored_hash or '(missing)'}")
    say(f"  in {seconds:.1f} s")
    for note in report.notes:
        say(f"  ! {note}")
    if not report.identical:
        _render_differences(report)
    if report.versions:
        changed = ", ".join(f"{n} {r or '?'} → {now}" for n, r, now in report.versions)
        say(f"  (versions differ from the run's, for information: {changed})")


def _render_differences(report: replaying.ReplayReport) -> None:
    if report.kind == "grade":
        shown = sorted({d.where for d in report.differences})
        if report.differing:
            say(f"  {report.differing:,} subjects differ; the first {len(shown)} by USCC (recorded → replayed):")
        for d in report.differences:
            say(f"    {d.where}  {d.what}: {_show(d.recorded)} → {_show(d.replayed)}")
        unit = "subjects"
    else:
        say(
            f"  {report.differing:,} values of the plan differ"
            + (f"; the first {len(report.differences)} (recorded → replayed):" if report.differences else "")
        )
        for d in report.differences:
            place = f"{d.where}.{d.what}" if d.where and d.what else d.where or d.what
            say(f"    {place}: {_show(d.recorded)} → {_show(d.replayed)}")
        unit = "visits"
    for label, count, ids in (
        ("recorded but not replayed", report.only_recorded_count, report.only_recorded),
        ("replayed but not recorded", report.only_replayed_count, report.only_replayed),
    ):
        if count:
            more = f" (first {len(ids)})" if count > len(ids) else ""
            say(f"  {count:,} {unit} {label}{more}: {', '.join(ids)}")


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
    started = time.perf_counter()
    with store_connection(db) as conn, progress_bars() as bars:
        report = replaying.replay(conn, run_id, progress=bars)
    seconds = time.perf_counter() - started
    document = {**report.as_dict(), "seconds": round(seconds, 2)}
    if report.identical:
        if as_json:
            emit(document)
        else:
            render_report(report, seconds)
        return
    failure = fail(as_json, document, "not_identical", report.summary())
    if not as_json:
        render_report(report, seconds)
    raise failure


def register(cli: click.Group) -> None:
    cli.add_command(replay)
