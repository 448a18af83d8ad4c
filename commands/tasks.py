"""`suijian tasks export`: the inspectors' lists from a stored plan, as XLSX, CSV or JSON."""

from __future__ import annotations

import click

from commands.common import (
    check_output,
    db_option,
    emit,
    json_option,
    out_option,
    progress_bars,
    store_connection,
    write_output,
)
from engine import planning
from engine.plan.export import export_tasks
from engine.results import records
from entities.errors import UsageError


@click.group("tasks")
def tasks() -> None:
    """Inspectors' task lists from a stored plan.

    \b
    Examples:
      suijian tasks export --format xlsx --out 2026任务清单.xlsx
    """


@tasks.command("export")
@click.option("--plan", "plan_id", default=None, metavar="PLAN_ID", help="Plan id (default: the newest plan).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="xlsx", show_default=True)
@click.option("--inspector", default=None, metavar="ID", help="Only the visits this inspector is on.")
@out_option("File to write (default: tasks-PLAN[-INSPECTOR].FORMAT in the working directory).")
@db_option
@json_option
def export(
    plan_id: str | None, fmt: str, inspector: str | None, out_path: str | None, db: str | None, as_json: bool
) -> None:
    """Write a plan's visits — subject, items with check contents and legal basis, team, due window — to a file.

    CSV is UTF-8 with BOM and XLSX has Chinese headers, so both open in Excel. With --json, stdout is one
    document naming the file written (the list itself is in the file).

    \b
    Examples:
      suijian tasks export --format xlsx --out 2026任务清单.xlsx
      suijian tasks export --plan P2026-1a2b3c4d5e --inspector ZF4452030082 --format csv
      suijian tasks export --format csv --out - > tasks.csv
    """
    if as_json and out_path == "-":
        raise UsageError("--out - writes the list to stdout, where --json writes its document; drop one of them")
    if out_path is not None:
        check_output(out_path)  # refused before the plan is read
    step = "导出 exporting the lists"  # by stage: reading the plan and its subjects, then writing the file
    with store_connection(db) as conn, progress_bars() as bars:
        bars(step, 0, 3)
        pid, stored = planning.load_plan(conn, plan_id)
        items = planning.check_items(conn)
        inspectors, _ = planning.roster(conn)
        bars(step, 1, 3)
        subjects = planning.plan_subject_details(conn, stored)
        bars(step, 2, 3)
        data = export_tasks(
            stored,
            items,
            subjects,
            inspectors,
            format=fmt,
            inspector=inspector,
            plan_id=pid,
            townships=records.township_names(conn),
        )
        bars(step, 3, 3)
    where = write_output(out_path or f"tasks-{pid}{'-' + inspector if inspector else ''}.{fmt}", data)
    visits = sum(1 for v in stored.visits if inspector is None or inspector in v.team)
    if as_json:
        emit(
            {"plan_id": pid, "inspector": inspector, "format": fmt, "visits": visits, "out": where, "bytes": len(data)}
        )
    elif where == "stdout":
        click.echo(f"Wrote {visits:,} visits of plan {pid} to stdout ({len(data):,} bytes).", err=True)
    else:
        click.echo(f"Wrote {visits:,} visits of plan {pid} to {where} ({len(data):,} bytes).")


def register(cli: click.Group) -> None:
    cli.add_command(tasks)
