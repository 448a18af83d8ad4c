"""`suijian audit verify` and `suijian audit redraws`: check the decision ledger and list the re-draws (read-only)."""

from __future__ import annotations

import time

import click
from rich.cells import cell_len

from commands.common import db_option, emit, fail, json_option, out, progress_bars, store_connection, table
from engine import audit as engine_audit
from engine import planning
from engine.results import publishing
from entities.errors import InputError
from entities.identity import Role

_KIND_LABELS = {"plan": "重抽 re-draw", "commit": "更换种子承诺 replaced seed commitment", "preview": "预览 preview"}


@click.group("audit")
def audit() -> None:
    """Check the decision ledger (决策台账) and list re-draws; read-only, no identity needed.

    \b
    Examples:
      suijian audit verify
      suijian audit redraws
    """


def _say(text: str) -> None:
    """Print as is: reasons and user names are free text, and a "[/]" in them is not rich markup."""
    out.print(text, markup=False)


def _kinds(kinds: dict[str, int]) -> str:
    order = {k: i for i, k in enumerate(("grade", "plan", "commit", "preview", "publish"))}
    return ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))


def _plural(n: int, word: str) -> str:
    many = word[:-1] + "ies" if word.endswith("y") else word + "s"
    return f"{n:,} {word if n == 1 else many}"


@audit.command("verify")
@click.option(
    "--head",
    "head",
    default=None,
    metavar="HASH",
    help="A ledger head hash published earlier (printed by `suijian plan` and `suijian demo`): "
    "fail if the chain no longer contains it.",
)
@db_option
@json_option
def verify(head: str | None, db: str | None, as_json: bool) -> None:
    """Check the whole ledger: chain, entries, every run's outputs, snapshots and rule-pack versions.

    Recomputes every hash the ledger recorded: each entry against its content and the one before it, the
    outputs of every grade run and plan, each input snapshot and rule-pack version (once each); and every
    grade run and plan in the store must have its entry. Prints OK, or every problem on its own line naming
    the run; exits 1 if there is any problem.

    \b
    Examples:
      suijian audit verify
      suijian audit verify --head 3c39b18800408c678d8cb8fcb29f57c43a107a36c8b2207c71cdf66941c09d14
      suijian audit verify --db postgresql://postgres@127.0.0.1/test --json
    """
    expected = engine_audit.check_head_hash(head) if head is not None else None
    started = time.perf_counter()
    with store_connection(db, snapshot=True) as conn, progress_bars() as bars:
        report = engine_audit.verify(conn, expected, progress=bars)
    seconds = time.perf_counter() - started
    document = {**report.as_dict(), "seconds": round(seconds, 2)}
    if report.ok:
        if as_json:
            emit(document)
        else:
            _render(report, seconds)
        return
    failure = fail(
        as_json, document, "ledger_broken", f"the ledger check found {_plural(len(report.problems), 'problem')}"
    )
    if as_json:
        raise failure
    _render(report, seconds)  # its FAILED line is the error line
    raise click.exceptions.Exit(1)


def _render(report: engine_audit.VerifyReport, seconds: float) -> None:
    seq, digest = report.head
    blobs = report.blobs
    checked = (
        f"{_plural(sum(blobs.values()), 'blob')} checked ({_plural(blobs['snapshot'], 'snapshot')}, "
        f"{_plural(blobs['pack'], 'rule-pack version')}) in {seconds:.1f} s"
    )
    entries = _plural(report.entries, "ledger entry")
    kinds = f" ({_kinds(report.kinds)})" if report.kinds else ""
    published = report.published
    if report.ok:
        where = f"chained from genesis to head #{seq} {digest}" if seq else "nothing recorded yet"
        _say(f"OK: {entries}{kinds}, {where}.")
        _say(f"Every grade run and plan matches its entry; {checked}.")
    else:
        for problem in report.problems:
            _say(str(problem))
        _say(
            f"FAILED: {_plural(len(report.problems), 'problem')} in {entries}{kinds}, head #{seq} {digest}; "
            f"{checked}. The ledger or the runs it records were changed outside suijian."
        )
    if published is not None:
        follow = _plural(published["following"], "entry")
        _say(
            f"Published head {published['hash'][:16]}… is #{published['seq']} {published['run_id']}; "
            f"{follow} follow{'s' if published['following'] == 1 else ''} it."
        )


@audit.command("redraws")
@db_option
@json_option
def redraws(db: str | None, as_json: bool) -> None:
    """List every re-draw, replaced seed commitment and preview: when, who, what, why.

    A committed plan is final: a further draw for the same scope needs a supervisor and a reason, and a
    preview shows a draw before it is committed; the ledger records each. This is the list an auditor reads.

    \b
    Examples:
      suijian audit redraws
      suijian audit redraws --json --db postgresql://postgres@127.0.0.1/test
    """
    with store_connection(db) as conn:
        found = engine_audit.redraws(conn)
        scopes = engine_audit.first_draws(conn)
    if as_json:
        emit({"redraws": [r.as_dict() for r in found], "scopes": scopes})
        return
    if not found:
        _say("No re-draws, replaced seed commitments or previews in the ledger.")
    else:
        _say(f"重抽记录 re-draws, replaced seed commitments and previews: {len(found):,}")
        for r in found:
            _render_redraw(r)
    if scopes:
        _say("首次抽取 first draws per scope:")
    for s in scopes:
        first = ", ".join(s["first_draws"]) or "—"
        _say(f"    {s['scope']}: {first}; {_plural(s['redraws'], 're-draw')}")


def _render_redraw(r: engine_audit.Redraw) -> None:
    """One record: a heading line, then one labelled line per field (a nine-column table does not fit 110
    columns without cutting run ids or reasons, and both must be read whole)."""
    seed = f"sha256 {r.seed_sha256[:16]}…" if r.seed_sha256 else "—"
    if r.kind == "plan":
        seed += f"; 揭示承诺 revealed commitment {r.seed_commitment or '—'}"
    fields = [
        ("操作人", r.user),
        ("角色", _role(r.role)),
        ("范围", r.scope),
        ("重抽对象", ", ".join(r.replaces) or "—"),
        ("理由", r.reason or "—"),
        ("种子", seed),
    ]
    _say(f"#{r.seq}  {r.created_at:%Y-%m-%d %H:%M} UTC  {_KIND_LABELS.get(r.kind, r.kind)}  {r.run_id}")
    for label, value in fields:
        _say(f"    {label}{' ' * (9 - cell_len(label))}{value}")


def _role(role: str) -> str:
    try:
        return f"{Role(role).label} {role}"
    except ValueError:
        return role


@audit.command("trace")
@click.argument("plan_id", metavar="PLAN_ID")
@click.option("--subject", "uscc", default=None, metavar="USCC", help="Only this subject's visits.")
@click.option("--limit", default=20, show_default=True, help="Visits shown in the table (all in --json).")
@click.option(
    "--calendar",
    "calendar_files",
    multiple=True,
    metavar="FILE",
    help="A working-day calendar file for a year "
    "the chinesecalendar library does not cover (as `suijian plan --calendar`).",
)
@db_option
@json_option
def trace(
    plan_id: str, uscc: str | None, limit: int, calendar_files: tuple[str, ...], db: str | None, as_json: bool
) -> None:
    """Per visit of a plan: drawn → visited (result recorded) → published on day N, within 20 working days or not;
    and the plan's summary: share visited, share published on time, median working days to publish. Read-only.

    \b
    Examples:
      suijian audit trace P2026-1a2b3c4d5e
      suijian audit trace P2026-1a2b3c4d5e --subject 91445203MACCCH6E4K --json
    """
    calendar = planning.work_calendar(calendar_files)
    with store_connection(db) as conn:
        pid, plan = planning.load_plan(conn, plan_id)
        found = publishing.trace_of(conn, pid, plan, calendar)
    rows = [r for r in found.rows if uscc is None or r.uscc == uscc]
    if uscc is not None and not rows:
        raise InputError(f"subject {uscc} has no visit in plan {pid}")
    summary = found.summary()
    if as_json:
        emit({"plan_id": pid, "summary": summary, "visits": [r.to_dict() for r in rows]})
        return
    s = summary
    median = s["median_working_days_to_publish"]
    out.print(
        f"Plan {pid}: {s['visits_with_result']:,} of {s['visits_planned']:,} visits have a result "
        f"({100 * s['visited_share']:.1f} %; drawn visits {s['drawn_visits_with_result']:,} of {s['drawn_visits']:,}); "
        f"{s['published']:,} published, {s['published_on_time']:,} within {s['deadline_working_days']} working days "
        f"({100 * s['on_time_share']:.1f} %); median {median if median is not None else '—'} working days to publish.",
        markup=False,
    )

    def day(d: object) -> str:
        return "—" if d is None else str(d)

    shown = rows[:limit] if uscc is None else rows
    out.print(
        table(
            "抽中 → 检查 → 结果 → 公示 drawn → visited → result → published",
            ["检查编号", "抽中", "必查", "排期", "完成", "结果", "公示", "工作日", "按期"],
            [
                (
                    r.visit_id,
                    ",".join(r.drawn) or "—",
                    ",".join(r.mandatory) or "—",
                    day(r.scheduled_on),
                    day(r.completed_on),
                    ",".join(r.result_codes) or "—",
                    day(r.published_on),
                    "—" if r.working_days is None else r.working_days,
                    "—" if r.on_time is None else ("是" if r.on_time else "否"),
                )
                for r in shown
            ],
        )
    )
    if len(rows) > len(shown):
        out.print(f"… {len(rows) - len(shown):,} more visits: --limit N, or --json for all.")


def register(cli: click.Group) -> None:
    cli.add_command(audit)
