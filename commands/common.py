"""Shared CLI plumbing: --db/--json options, one-line errors, JSON output, rich tables and progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
import sqlalchemy
from rich.console import Console
from rich.table import Table

from entities.errors import SuijianError, UsageError

# Human output goes to stdout; progress and warnings to stderr so `--json` stdout stays one document.
# Not a terminal (a pipe, a file, CI): a fixed width, so the same command prints the same bytes everywhere.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 110)
err = Console(stderr=True, highlight=False)

db_option = click.option(
    "--db",
    "db",
    envvar="SUIJIAN_DB",
    default=None,
    metavar="URL",
    help="Store URL (default sqlite:///suijian.db, or $SUIJIAN_DB; e.g. postgresql://postgres@127.0.0.1/test).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one machine-readable JSON document.")


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], **kw: Any) -> Table:
    t = Table(title=title, title_justify="left", **kw)
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in row))
    return t


def progress() -> Any:
    """A rich progress bar on stderr; silent when stderr is not a terminal (CI, pipes)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


class SuijianGroup(click.Group):
    """A click group that turns the project's errors into click's: one `Error: …` line, exit 1 (usage: 2).

    Doing it here (not only in main) makes CliRunner in tests see exactly what a user sees."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise click.UsageError(str(exc), ctx) from None
        except SuijianError as exc:
            raise click.ClickException(str(exc)) from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # A store that cannot answer (server down, schema damaged): one line, never a traceback.
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise click.ClickException(f"the store failed: {detail}; check --db, or run `suijian init`") from None


def run_main(group: click.Group, args: list[str] | None = None) -> int:
    """Run the CLI: our errors become `Error: …` on stderr with exit 1 (usage errors exit 2), never a traceback."""
    try:
        code = group.main(args=args, prog_name="suijian", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except UsageError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2
    except SuijianError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing half-written (each write is one transaction).", err=True)
        return 130
    # standalone_mode=False returns ctx.exit(n)'s code instead of exiting.
    return code if isinstance(code, int) else 0
