"""`suijian tasks`: the inspectors' lists from a stored plan — export (XLSX, CSV, JSON), "my list", calendar files."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from typing import Any

import click
import polars as pl
from rich.table import Table

from commands.common import (
    check_output,
    db_option,
    emit,
    json_option,
    out,
    out_option,
    progress_bars,
    store_connection,
    write_output,
)
from engine import output_file, plan_stored, plan_visits, planning
from engine.ledger import runs
from engine.plan.export import export_chunks
from engine.plan.ics import inspector_ics
from engine.plan.visit_rows import in_window, month_window, week_window
from engine.results import recheck_store, records
from entities import identity
from entities.errors import InputError, UsageError
from entities.models import InspectorCreate

Window = tuple[str, str, tuple[dt.date, dt.date]]  # (option, label, first and last day)


@click.group("tasks")
def tasks() -> None:
    """Inspectors' task lists from a stored plan.

    \b
    Examples:
      suijian tasks export --format xlsx --out 2026任务清单.xlsx
      suijian tasks mine --week 2026-W10
      suijian tasks ics --mine --out 我的检查.ics
    """


def week_option(f: Any) -> Any:
    return click.option("--week", default=None, metavar="YYYY-Www", help="Only visits scheduled in this ISO week.")(f)


def month_option(f: Any) -> Any:
    return click.option("--month", default=None, metavar="YYYY-MM", help="Only visits scheduled in this month.")(f)


def _window(week: str | None, month: str | None) -> Window | None:
    if week is not None and month is not None:
        raise UsageError("give --week or --month, not both")
    if week is not None:
        return "week", week, week_window(week)
    if month is not None:
        return "month", month, month_window(month)
    return None


def _window_doc(window: Window | None) -> dict[str, Any] | None:
    return None if window is None else {window[0]: window[1], "from": window[2][0], "to": window[2][1]}


def _who(inspector: InspectorCreate) -> str:
    return f"{inspector.name}（{inspector.id}）"


def _current_user(user: str | None) -> str:
    """--user, else the user suijian runs as (SUIJIAN_USER or [identity] in suijian.toml)."""
    if user:
        return user
    who = identity.current()
    if who is None:
        raise InputError("whose list? pass --user NAME or set SUIJIAN_USER to your 登录账号 on the roster")
    return who.user


def _linked(conn: Any, user: str) -> InspectorCreate:
    found = plan_visits.inspector_by_user(conn, user)
    if found is None:
        raise InputError(
            f"user {user!r} is linked to no inspector: add 登录账号 to the roster "
            f"(a 登录账号 column with {user!r} on your row, `suijian import inspectors FILE`)"
        )
    return found


# ── export ───────────────────────────────────────────────────────────────────────────────────────────────────────────
@tasks.command("export")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Plan id (default: the newest plan).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="xlsx", show_default=True)
@click.option(
    "--inspector", default=None, metavar="ID|ACCOUNT", help="Only the visits this inspector is on (id or 登录账号)."
)
@click.option(
    "--sheets",
    "split",
    type=click.Choice(["inspector", "unit"]),
    default=None,
    help="XLSX: one 检查结果 sheet per inspector (组长) or per 执法单位 instead of one for all.",
)
@week_option
@month_option
@out_option("File to write (default: tasks-PLAN[-INSPECTOR][-WEEK].FORMAT in the working directory).")
@db_option
@json_option
def export(
    plan_id: str | None,
    fmt: str,
    split: str | None,
    inspector: str | None,
    week: str | None,
    month: str | None,
    out_path: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Write a plan's visits — subject, items with check contents and legal basis, team, due window — to a file.

    CSV is UTF-8 with BOM and XLSX has Chinese headers, so both open in Excel. With --json, stdout is one
    document naming the file written (the list itself is in the file). --week and --month keep the visits
    scheduled in that week or month (a plan with a schedule); --inspector takes a roster id or a 登录账号.
    --sheets inspector|unit splits the XLSX's 检查结果 sheet into one sheet per 组长 or per 执法单位 (each visit on
    its lead's sheet); `suijian results import` reads every one of them back. Re-checks (复查) scheduled by
    `suijian followups propose` and not yet done follow the plan's visits when their window overlaps the plan's
    period (or --week/--month), marked 复查 with the visit they follow up, the reason and the basis.

    \b
    Examples:
      suijian tasks export --format xlsx --out 2026任务清单.xlsx
      suijian tasks export --format xlsx --sheets inspector --out 2026任务清单-按人员.xlsx
      suijian tasks export --format xlsx --sheets unit --month 2026-03
      suijian tasks export --plan P2026-1a2b3c4d5e --inspector ZF4452030082 --format csv
      suijian tasks export --inspector zhangsan --week 2026-W10 --format csv
      suijian tasks export --format csv --out - > tasks.csv
    """
    if as_json and out_path == "-":
        raise UsageError("--out - writes the list to stdout, where --json writes its document; drop one of them")
    if split is not None and fmt != "xlsx":
        raise UsageError(f"--sheets {split} splits an XLSX workbook; use --format xlsx (or drop --sheets)")
    window = _window(week, month)
    if out_path is not None:
        check_output(out_path)  # refused before the plan is read
    step = "导出 exporting the lists"  # by stage: reading the plan and its subjects, then writing the file
    with store_connection(db) as conn, progress_bars() as bars:
        bars(step, 0, 3)
        stored = plan_stored.load(conn, plan_id)  # read once, the visits as columns (bounded memory)
        pid = stored.id
        if window is not None and stored.visits.height and not stored.scheduled:
            raise InputError(_unscheduled(pid, window[0]))
        items = planning.check_items(conn)
        inspectors, _ = planning.roster(conn)
        if inspector is not None and inspector not in {i.id for i in inspectors}:
            by_account = plan_visits.inspector_by_user(conn, inspector)
            inspector = by_account.id if by_account is not None else inspector
        bars(step, 1, 3)
        subjects = runs.subject_info(conn, stored.usccs(), columns=("uscc", "name", "address", "region"))
        bars(step, 2, 3)
        days = window[2] if window else None
        period = stored.plan.period
        # Re-checks (复查) not yet done whose window overlaps the export's days (the plan's period by default).
        due = recheck_store.to_do(conn, days or (period.start, period.end), inspector=inspector)
        chunks = export_chunks(
            stored.plan,
            items,
            subjects,
            inspectors,
            format=fmt,
            inspector=inspector,
            window=days,
            plan_id=pid,
            townships=records.township_names(conn),
            sheets=split,
            rechecks=due,
            visits=stored.visits,
        )
        # Written as the rows are made (a city's list is never held whole), after every check above.
        suffix = ("-" + inspector if inspector else "") + ("-" + window[1] if window else "")
        where = out_path or f"tasks-{pid}{suffix}.{fmt}"
        size = _write(where, chunks)
        bars(step, 3, 3)
    where = "stdout" if where == "-" else where
    chosen = stored.visits
    if inspector is not None:
        chosen = chosen.filter(pl.col("team").list.contains(inspector))
    if days is not None:
        chosen = chosen.filter(
            pl.col("scheduled_on").is_between(pl.lit(days[0].isoformat()), pl.lit(days[1].isoformat()))
        )
    visits = chosen.height
    if as_json:
        emit(
            {
                "plan_id": pid,
                "inspector": inspector,
                **({"window": _window_doc(window)} if window else {}),  # the document stays as it was without one
                "format": fmt,
                "visits": visits,
                # Added only when there are some (or a split): the document stays as it was otherwise.
                **({"rechecks": len(due)} if due else {}),
                **({"sheets": split} if split else {}),
                "out": where,
                "bytes": size,
            }
        )
    else:
        also = f" and {len(due):,} re-check(s) (复查)" if due else ""
        click.echo(f"Wrote {visits:,} visits of plan {pid}{also} to {where} ({size:,} bytes).", err=where == "stdout")


def _write(out_path: str, chunks: Iterable[bytes]) -> int:
    """Write the pieces to --out (`-`: stdout) as they come; returns how many bytes."""
    if out_path != "-":
        return output_file.write_chunks(out_path, chunks)
    sys.stdout.flush()
    size = 0
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
        size += len(chunk)
    sys.stdout.buffer.flush()
    return size


def _unscheduled(plan_id: str, what: str) -> str:
    return (
        f"plan {plan_id} has no schedule (a suijian.plan/1 plan: its visits have no scheduled date), so it cannot be "
        f"listed by {what}; drop --{what}, or use a scheduled plan"
    )


# ── my list ──────────────────────────────────────────────────────────────────────────────────────────────────────────
def _team(row: dict[str, Any]) -> str:
    return "、".join(
        f"{name}（组长）" if pid == row["lead"] else name
        for pid, name in zip(row["team"], row["team_names"], strict=True)
    )


@tasks.command("mine")
@week_option
@month_option
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Plan id (default: the newest plan).")
@click.option("--user", default=None, metavar="NAME", help="Whose list (a 登录账号; default: SUIJIAN_USER).")
@db_option
@json_option
def mine(
    week: str | None, month: str | None, plan_id: str | None, user: str | None, db: str | None, as_json: bool
) -> None:
    """My visits: date, township, subject, items, team and due date, in date order.

    "My" is the inspector whose 登录账号 on the roster is the user (--user, else SUIJIAN_USER): the one link between
    a person and a roster id, the web app's accounts use the same. A plan without a schedule (made before
    scheduling) lists its visits by due date and cannot be cut by week or month.

    \b
    Examples:
      suijian tasks mine --week 2026-W10
      suijian tasks mine --month 2026-03 --user zhangsan
      suijian tasks mine --plan P2026-1a2b3c4d5e --json
    """
    window = _window(week, month)
    account = _current_user(user)
    with store_connection(db, write=True) as conn:  # writes only derived visit rows, for plans made before 0006
        inspector = _linked(conn, account)
        pid, _ = plan_visits.plan_row(conn, plan_id)
        plan_visits.ensure_visit_rows(conn, pid)
        rows = plan_visits.read_visit_rows(conn, pid, team_member=inspector.id)
        rows = in_window(rows, window[2] if window else None, what=window[0] if window else "", plan_id=pid)
        rows = plan_visits.with_names(conn, rows)
    span = f" · {window[1]}（{window[2][0]} 至 {window[2][1]}）" if window else ""
    if as_json:
        emit(
            {
                "plan_id": pid,
                "user": account,
                "inspector": {"id": inspector.id, "name": inspector.name, "unit": inspector.unit},
                "window": _window_doc(window),
                "visits": [
                    {
                        "visit": r["visit_id"],
                        "scheduled_on": r["scheduled_on"],
                        "due_on": r["due_on"],
                        "township": r["township"],
                        "region": r["region"],
                        "uscc": r["uscc"],
                        "subject": r["subject"],
                        "items": [{"code": c, "name": n} for c, n in zip(r["items"], r["item_names"], strict=True)],
                        "team": [{"id": p, "name": n} for p, n in zip(r["team"], r["team_names"], strict=True)],
                        "lead": r["lead"],
                        "status": r["status"],
                    }
                    for r in rows
                ],
            }
        )
        return
    head = f"{_who(inspector)} · 计划 {pid}{span}：{len(rows):,} 次检查"
    if not rows:
        click.echo(head + "。")
        return
    # Long Chinese names are folded onto the next line, never cut: the list is what the inspector goes out with.
    shown = Table(title=head, title_justify="left")
    for column in ("日期", "街镇", "主体", "检查事项", "检查组", "截止"):
        shown.add_column(column, overflow="fold")
    for r in rows:
        shown.add_row(
            str(r["scheduled_on"]) if r["scheduled_on"] else "未排期",
            r["township"],
            r["subject"],
            "\n".join(r["item_names"]),
            _team(r),
            str(r["due_on"]),
        )
    out.print(shown)


# ── calendar file ────────────────────────────────────────────────────────────────────────────────────────────────────
@tasks.command("ics")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Plan id (default: the newest plan).")
@click.option("--inspector", default=None, metavar="ID|ACCOUNT", help="The inspector (roster id or 登录账号).")
@click.option("--user", default=None, metavar="NAME", help="The inspector linked to this 登录账号.")
@click.option("--mine", is_flag=True, help="The inspector linked to the user suijian runs as (SUIJIAN_USER).")
@out_option("File to write (default: calendar-PLAN-INSPECTOR.ics in the working directory).")
@db_option
@json_option
def ics(
    plan_id: str | None,
    inspector: str | None,
    user: str | None,
    mine: bool,
    out_path: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Write one inspector's scheduled visits as an iCalendar (.ics) file that phone calendars open.

    One all-day event per visit on its scheduled day: the subject and items as the title, the township as the
    place, the due date and the team in the notes. Importing a newer file updates the same events (stable UIDs).
    Needs a plan with a schedule.

    \b
    Examples:
      suijian tasks ics --mine --out 我的检查.ics
      suijian tasks ics --inspector ZF4452030082 --plan P2026-1a2b3c4d5e
      suijian tasks ics --user zhangsan --out - > zhangsan.ics
    """
    if sum(x is not None and x is not False for x in (inspector, user, mine or None)) != 1:
        raise UsageError("say whose calendar: give exactly one of --inspector ID, --user NAME or --mine")
    if as_json and out_path == "-":
        raise UsageError("--out - writes the calendar to stdout, where --json writes its document; drop one of them")
    if out_path is not None:
        check_output(out_path)
    with store_connection(db, write=True) as conn:  # writes only derived visit rows, for plans made before 0006
        if inspector is not None:
            person = plan_visits.find_inspector(conn, inspector)
            if person is None:
                raise InputError(f"unknown inspector {inspector}: neither a roster id nor a 登录账号")
        else:
            person = _linked(conn, user if user is not None else _current_user(None))
        pid, created_at = plan_visits.plan_row(conn, plan_id)
        plan_visits.ensure_visit_rows(conn, pid)
        rows = plan_visits.read_visit_rows(conn, pid, team_member=person.id)
        if rows and all(r["scheduled_on"] is None for r in rows):
            raise InputError(
                f"plan {pid} has no schedule (a suijian.plan/1 plan: its visits have no scheduled date), so there is "
                "nothing to put in a calendar; use a scheduled plan"
            )
        rows = plan_visits.with_names(conn, [r for r in rows if r["scheduled_on"] is not None])
    frame = pl.DataFrame(
        {
            "id": [r["visit_id"] for r in rows],
            "subject": [r["uscc"] for r in rows],
            # The event's title is "检查 <name>": the subject and its items, so the day view says what to check.
            "name": [f"{r['subject']}：{'、'.join(r['item_names'])}" for r in rows],
            "township": [r["township"] for r in rows],
            "team": [list(r["team"]) for r in rows],
            "lead": [r["lead"] for r in rows],
            "items": [[f"{c} {n}" for c, n in zip(r["items"], r["item_names"], strict=True)] for r in rows],
            "date": [r["scheduled_on"] for r in rows],
            "due": [r["due_on"] for r in rows],
        },
        schema={
            "id": pl.String,
            "subject": pl.String,
            "name": pl.String,
            "township": pl.String,
            "team": pl.List(pl.String),
            "lead": pl.String,
            "items": pl.List(pl.String),
            "date": pl.Date,
            "due": pl.Date,
        },
    )
    # DTSTAMP is when the plan was committed (UTC), never the clock: the same plan gives the same bytes.
    data = inspector_ics(
        person.id,
        frame,
        plan_id=pid,
        stamp=created_at.replace(tzinfo=dt.UTC),
        calendar_name=f"随检 {person.name} · {pid}",
    )
    where = write_output(out_path or f"calendar-{pid}-{person.id}.ics", data)
    if as_json:
        emit({"plan_id": pid, "inspector": person.id, "visits": len(rows), "out": where, "bytes": len(data)})
        return
    click.echo(
        f"Wrote {len(rows):,} visits of {_who(person)} in plan {pid} to {where} ({len(data):,} bytes).",
        err=where == "stdout",
    )


def register(cli: click.Group) -> None:
    cli.add_command(tasks)
