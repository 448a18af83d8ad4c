"""`suijian import KIND FILE`: load a CSV, XLSX, JSONL or Parquet file of one kind into the store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from commands.common import db_option, emit, fail, json_option, progress_bars, store_engine
from engine import ingest, readers
from entities import identity, kinds
from entities.errors import ImportRejected, RowProblem

SHOWN_PROBLEMS = 20
_KIND_LINES = "\n".join(f"  {k.name:<11} {k.label}" for k in kinds.KINDS.values())


@click.command(
    "import",
    help=f"""Load FILE (CSV, XLSX, JSONL or Parquet) of one KIND into the store, all or nothing.

Headers may be the English field names or the Chinese column titles (e.g. uscc or 统一社会信用代码).
Every row is checked (USCC check digit, codes, dates, duplicate keys, references) and any bad row stops
the whole import, with each problem reported as file:row [column]: reason (the header is row 1; JSONL
counts lines, Parquet records). With --skip-invalid the good rows are written and the bad ones go to
<name>.rejects.csv beside FILE (with 行号 and 原因 columns). Rows are matched on their natural key:
importing the same file again changes nothing, and columns the file leaves out keep their stored values.
Import regions (only if you use your own), subjects and inspectors before the kinds that refer to them.
The roster (inspectors) may carry 每周可承担检查户次, 登录账号 (the account that acts as the inspector: one
account, one inspector) and 固定检查组. The unit table (units: 单位名称, 负责街镇 as 9-digit codes a;b, 承担抽查事项)
is optional; once it has rows, every inspector's unit must be in it (an empty 负责街镇 means no restriction).
Past checks (results) may carry 检查层级 (level: 国家级, 省级, 市级, 县级; 区级 is 县级): the plan's 3-month
no-repeat rule (令49号 第42条) counts only checks by a level above its own, and an empty 检查层级 as a higher one.

\b
Kinds:
{_KIND_LINES}

\b
Examples:
  suijian import subjects 经营主体.csv
  suijian import subjects 经营主体-gbk.csv --encoding gbk
  suijian import equipment 特种设备台账.xlsx --sheet 电梯
  suijian import penalties penalties.jsonl --json
  suijian import results results.parquet --skip-invalid
  suijian import results 检查记录（含检查层级）.xlsx
  suijian import annual_reports 年度报告.csv
  suijian import units 执法单位.csv
""",
)
@click.argument("kind", type=click.Choice(list(kinds.KINDS)), metavar="KIND")
@click.argument("file", type=click.Path(dir_okay=True, path_type=str), metavar="FILE")
@click.option(
    "--encoding",
    type=click.Choice(readers.ENCODINGS, case_sensitive=False),
    default="utf-8",
    show_default=True,
    help="Text encoding of a CSV or JSONL file (a UTF-8 byte-order mark is always accepted).",
)
@click.option("--sheet", metavar="NAME", default=None, help="XLSX sheet to read (default: the first).")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Write the good rows; put the bad ones in <name>.rejects.csv beside FILE.",
)
@db_option
@json_option
def import_cmd(
    kind: str, file: str, encoding: str, sheet: str | None, skip_invalid: bool, db: str | None, as_json: bool
) -> None:
    identity.require("import")
    try:
        with store_engine(db, checked=True) as engine, progress_bars() as report:
            result = ingest.import_file(
                engine,
                kind,
                file,
                encoding=encoding.lower(),
                sheet=sheet,
                skip_invalid=skip_invalid,
                imported_at=dt.datetime.now(),  # the log's wall-clock time; it decides nothing
                progress=lambda step, done, total: report(f"导入 importing {kind}", done, total),
            )
    except ImportRejected as exc:
        raise _rejected(kind, file, exc, as_json) from None
    document = result.as_dict()
    if result.written:
        if as_json:
            emit(document)
        else:
            _show_problems(result.problems, result.problems_total)
            click.echo(summary(result))
        return
    failure = fail(
        as_json,
        document,
        "import_rejected",
        f"every row of {file} was rejected; nothing was written (see {result.rejects_file})",
    )
    if not as_json:
        _show_problems(result.problems, result.problems_total)
        click.echo(summary(result))
    raise failure


def summary(result: ingest.ImportResult) -> str:
    """The one line that says what an import changed."""
    counts = f"{result.inserted:,} new, {result.updated:,} updated, {result.unchanged:,} unchanged"
    line = f"Imported {result.kind} from {result.file}: {result.rows:,} row(s) read; {counts}"
    if result.rejected:
        where = f", written to {result.rejects_file}" if result.rejects_file else ""
        line += f"; {result.rejected:,} rejected{where}"
    if result.inserted == result.updated == 0 and result.accepted:
        line += "; nothing changed"
    if result.previously_imported_at is not None:
        line += f" (the same file was imported on {result.previously_imported_at:%Y-%m-%d %H:%M})"
    return line + "."


def _show_problems(problems: list[RowProblem], total: int) -> None:
    # Plain echo, not rich: one problem per line, never wrapped, brackets never read as markup.
    for problem in problems[:SHOWN_PROBLEMS]:
        click.echo(str(problem), err=True)
    if total > SHOWN_PROBLEMS:
        click.echo(f"… and {total - SHOWN_PROBLEMS:,} more", err=True)


def _rejected(kind: str, file: str, exc: ImportRejected, as_json: bool) -> click.ClickException:
    """Report a rejected import (every problem, then one summary line) and return the error to exit with."""
    problems = exc.problems
    rows = {p.row for p in problems}
    if exc.rows_read and any(p.row > 1 for p in problems):
        what = f"{len(problems):,} problem(s) in {len(rows):,} row(s) of {file}; nothing was written"
        message = f"{what} (fix them, or pass --skip-invalid to import the good rows)"
    else:
        message = f"{file} cannot be imported as {kind}; nothing was written"
    if as_json:
        document: dict[str, Any] = {
            "kind": kind,
            "file": file,
            "rows": exc.rows_read,
            "written": False,
            "problems_total": len(problems),
            "problems": [ingest.problem_dict(p) for p in problems],
        }
        return fail(True, document, "import_rejected", message)
    _show_problems(problems, len(problems))
    return click.ClickException(message)


def register(cli: click.Group) -> None:
    cli.add_command(import_cmd)
