"""`suijian import KIND FILE`: load a CSV, XLSX, JSONL or Parquet file of one kind into the store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from commands.common import db_option, emit_json, json_option, progress
from engine import ingest, readers
from entities import identity, kinds, store
from entities.errors import ImportRejected, RowProblem, SuijianError, UsageError

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
    try:
        _run(kind, file, encoding.lower(), sheet, skip_invalid, db, as_json)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    except SuijianError as exc:
        raise click.ClickException(str(exc)) from None


def _run(kind: str, file: str, encoding: str, sheet: str | None, skip_invalid: bool, db: str | None, as_json: bool) -> None:
    identity.require("import")
    engine = store.open_store(db)
    try:
        with progress() as bar:
            task = bar.add_task(f"importing {kind}", total=None)

            def advance(step: str, done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            result = ingest.import_file(
                engine,
                kind,
                file,
                encoding=encoding,
                sheet=sheet,
                skip_invalid=skip_invalid,
                imported_at=dt.datetime.now(),  # the log's wall-clock time; it decides nothing
                progress=advance,
            )
    except ImportRejected as exc:
        raise _rejected(kind, file, exc, as_json) from None
    finally:
        engine.dispose()
    if as_json:
        emit_json({"ok": result.written, **result.as_dict()})
    else:
        _show_problems(result.problems, result.problems_total)
        click.echo(summary(result))
    if not result.written:
        raise click.ClickException(f"every row of {file} was rejected; nothing was written (see {result.rejects_file})")


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
    if as_json:
        document: dict[str, Any] = {
            "ok": False,
            "kind": kind,
            "file": file,
            "rows": exc.rows_read,
            "written": False,
            "problems_total": len(problems),
            "problems": [ingest.problem_dict(p) for p in problems],
        }
        emit_json(document)
    else:
        _show_problems(problems, len(problems))
    rows = {p.row for p in problems}
    if exc.rows_read and any(p.row > 1 for p in problems):
        what = f"{len(problems):,} problem(s) in {len(rows):,} row(s) of {file}; nothing was written"
        return click.ClickException(f"{what} (fix them, or pass --skip-invalid to import the good rows)")
    return click.ClickException(f"{file} cannot be imported as {kind}; nothing was written")


COMMANDS = [import_cmd]
