"""Shared CLI plumbing: the options every command spells the same way, the one way to open the store, the JSON
envelope, one-line errors, rich tables and progress bars.

The JSON envelope (every command, with --json): one object on stdout.
    success:  {"ok": true, …the command's members…}
    failure:  {"ok": false, "error": {"code": CODE, "message": ONE_LINE}, …members the command could still report…}
Exit 0 when ok, 1 on an error, 2 on a usage error (then the code is "usage").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
import sqlalchemy
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from sqlalchemy.engine import Connection, Engine

import rules as bundled_packs
from engine import output_file, publish
from engine.progress import Progress
from engine.rules import Pack, load_pack
from entities import store
from entities.errors import Forbidden, ImportRejected, InputError, StoreError, SuijianError, UsageError

# Human output goes to stdout; progress and warnings to stderr so `--json` stdout stays one document.
# Not a terminal (a pipe, a file, CI): a fixed width, so the same command prints the same bytes everywhere.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 110)
err = Console(stderr=True, highlight=False)

# ── options, defined once ────────────────────────────────────────────────────────────────────────────────────────

DATE = click.DateTime(["%Y-%m-%d"])

db_option = click.option(
    "--db",
    "db",
    envvar="SUIJIAN_DB",
    default=None,
    metavar="URL",
    help="Store URL (default sqlite:///suijian.db, or $SUIJIAN_DB; e.g. postgresql://postgres@127.0.0.1/test).",
)
COMMAND_CONTEXT = "suijian.command"  # ctx.meta key: the context of the command that runs (for usage banners)


def _remember_command(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[COMMAND_CONTEXT] = ctx
    return value


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    callback=_remember_command,
    help='Print one JSON document on stdout: {"ok": true, …}, or {"ok": false, "error": {"code", "message"}}.',
)


def as_of_option(
    *,
    required: bool = True,
    help: str = "The date the data is judged at (never the wall clock).",
    default: str | None = None,
) -> Callable[[Any], Any]:
    # No `default=None` for a required option: click 8.3+ takes an explicit None as a given default.
    extra: dict[str, Any] = {"default": default, "show_default": True} if default is not None else {}
    return click.option(
        "--as-of", "as_of", required=required and default is None, type=DATE, metavar="YYYY-MM-DD", help=help, **extra
    )


pack_option = click.option(
    "--pack",
    "pack_dir",
    default=None,
    show_default="the active published pack, else national",
    metavar="NAME|DIR",
    help=f"Rule pack: a bundled one by name ({', '.join(bundled_packs.bundled_names())}) or a directory "
    "(a provincial pack names its parent in pack.yaml).",
)


def period_option(*, required: bool = False, help: str | None = None) -> Callable[[Any], Any]:
    return click.option(
        "--period",
        "period_text",
        required=required,
        metavar="PERIOD",
        help=help or "2026 (year), 2026Q2 (quarter) or LABEL:START:END (batch, e.g. 第一批:2026-03-01:2026-05-31).",
    )


def seed_option(
    help: str = "The public seed (at least 20 characters, e.g. 20 dice digits announced before the draw).",
) -> Callable[[Any], Any]:
    return click.option("--seed", "seed", default=None, metavar="SEED", help=help)


def region_option(
    help: str = "Jurisdiction: GB/T 2260 county or 街镇 code (repeatable; default: every subject).",
) -> Callable[[Any], Any]:
    return click.option("--region", "regions", multiple=True, metavar="CODE", help=help)


item_option = click.option(
    "--item", "items", multiple=True, metavar="CODE", help="Only these check items (repeatable)."
)


def out_option(help: str, metavar: str = "FILE") -> Callable[[Any], Any]:
    return click.option("--out", "out_path", default=None, metavar=metavar, help=help + " `-` is stdout.")


# ── rule packs by name ───────────────────────────────────────────────────────────────────────────────────────────


def pack_directory(given: str | None) -> str:
    """The directory of a pack named on the command line: a directory as given, or a bundled pack by name; no name
    is the bundled national pack. A bundled pack is shown relative to the working directory when that is the
    checkout (so rule locations read rules/national/credit.yaml:12), else by its absolute path."""
    found = bundled_packs.bundled("national") if given is None else bundled_packs.locate(given)
    if found is None:
        raise InputError(
            f"no rule pack {given!r}: not a directory, nor a bundled pack ({', '.join(bundled_packs.bundled_names())})"
        )
    if given is not None and Path(given).is_dir():
        return given
    rel = os.path.relpath(found)
    return str(found) if rel.startswith("..") else rel


RESTORED_PACK = "suijian-pack-"  # the temporary directory the active published pack is restored to


def pack_member(pack: Pack, *, directory: str | None = None) -> dict[str, Any]:
    """The `pack` member of every JSON document that names a pack: name, version, hash, and the directory it was
    read from (null for the active published pack, restored from the store to a temporary directory)."""
    shown = directory or pack.directory
    return {
        "name": pack.name,
        "version": pack.version,
        "hash": pack.hash,
        "directory": None if RESTORED_PACK in shown else shown,
    }


@contextmanager
def chosen_pack(db: str | None, pack_dir: str | None) -> Iterator[Pack]:
    """--pack, else the store's active pack (`suijian rules publish`, restored from the store), else national."""
    if pack_dir:
        yield load_pack(pack_directory(pack_dir))
        return
    with ExitStack() as stack:
        with store_connection(db) as conn:
            active = stack.enter_context(publish.active_pack(conn))
        yield active if active is not None else load_pack(pack_directory(None))


# ── the store ────────────────────────────────────────────────────────────────────────────────────────────────────


@contextmanager
def store_connection(db: str | None, *, write: bool = False, snapshot: bool = False) -> Iterator[Connection]:
    """A connection to the initialised store at --db: one transaction committed at the end when `write`, else
    read-only use. `snapshot`: every read sees one state of the store (REPEATABLE READ on PostgreSQL; SQLite's
    read transaction already does). The engine is disposed whatever happens."""
    engine = store.open_store(db)
    try:
        if write:
            with engine.begin() as conn:
                yield conn
        else:
            options: dict[str, Any] = (
                {"isolation_level": "REPEATABLE READ"} if snapshot and engine.dialect.name == "postgresql" else {}
            )
            with engine.connect().execution_options(**options) as conn:
                yield conn
    finally:
        engine.dispose()


@contextmanager
def store_engine(db: str | None, *, checked: bool = False) -> Iterator[Engine]:
    """The engine for --db, disposed at the end: for work that manages its own transactions (import, demo) or the
    schema (init). `checked`: the store must exist at the current schema (init and demo create or upgrade it)."""
    engine = store.open_store(db) if checked else store.make_engine(db)
    try:
        yield engine
    finally:
        engine.dispose()


def url_of(conn: Connection) -> str:
    """The store's URL with its password, for feature workers that open their own connections."""
    return conn.engine.url.render_as_string(hide_password=False)


def workers_for(subjects: int) -> int:
    """Feature batches in two processes once there are enough subjects to pay for starting them (2 cores)."""
    return min(2, os.cpu_count() or 1) if subjects > 400_000 else 1


def now() -> dt.datetime:
    """The wall-clock time a ledger entry records as when it was made (UTC, whole seconds); it decides nothing."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# ── output ───────────────────────────────────────────────────────────────────────────────────────────────────────


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str))


def emit(document: dict[str, Any]) -> None:
    """The success envelope: {"ok": true, …document}."""
    emit_json({**document, "ok": True})


class Failed(click.ClickException):
    """A command that ran and found a failure (a check with errors, a replay that differs): exit 1. With --json the
    document was printed already, with the error in it."""

    def __init__(self, message: str, code: str, *, reported: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.reported = reported

    def show(self, file: Any = None) -> None:
        if not self.reported:  # with --json the document on stdout says it all
            super().show(file)


def fail(as_json: bool, document: dict[str, Any], code: str, message: str) -> Failed:
    """Report a failure: with --json the failure envelope (the document plus the error) on stdout. Returns the
    error to raise (exit 1; without --json its message is the one `Error:` line)."""
    if as_json:
        emit_json({**document, "ok": False, "error": {"code": code, "message": message}})
    return Failed(message, code, reported=as_json)


def check_output(out_path: str) -> None:
    """Refuse an --out that cannot be written (a missing folder, a folder, read-only) before any work is done."""
    if out_path != "-":
        output_file.check(out_path)


def write_output(out_path: str, data: bytes) -> str:
    """Write `data` to --out (all or nothing): `-` is stdout. Returns how the destination is named to the user."""
    if out_path == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return "stdout"
    output_file.write_bytes(output_file.check(out_path), data)
    return out_path


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], **kw: Any) -> Table:
    t = Table(title=title, title_justify="left", **kw)
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v) for v in row))
    return t


# ── progress ─────────────────────────────────────────────────────────────────────────────────────────────────────


class Bars:
    """The engine's progress callback (step, done, total) drawn as one rich bar per step on stderr."""

    def __init__(self) -> None:
        self.progress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, step: str, done: int, total: int | None) -> None:
        # A total that turns out low (an estimate, such as the demo's rows per table) grows to what was done:
        # a bar never shows more than 100 %.
        shown = max(total, done) if total is not None else None
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(step, total=shown)
        self.progress.update(self.tasks[step], completed=done, total=shown)


@contextmanager
def progress_bars() -> Iterator[Bars]:
    """Progress bars on stderr fed by the engine's progress callback; silent when stderr is not a terminal (CI,
    pipes)."""
    bars = Bars()
    with bars.progress:
        yield bars


def counting(report: Progress, step: str, total: int | None) -> Callable[[int], None]:
    """An on_partition(n) callback (work done in increments) turned into progress(step, done so far, total)."""
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        report(step, done, total)

    report(step, 0, total)
    return advance


# ── errors ───────────────────────────────────────────────────────────────────────────────────────────────────────

JSON_REQUESTED = "suijian.json"  # ctx.meta key: --json was on the command line


def wants_json(args: Sequence[str]) -> bool:
    """--json among the arguments (before a `--`): then even an error that stops parsing is answered in JSON."""
    args = list(args)
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def error_code(exc: BaseException) -> str:
    """The stable code of an error in the JSON envelope."""
    code = getattr(exc, "code", None) if isinstance(exc, SuijianError | Failed) else None  # not SQLAlchemy's links
    if isinstance(code, str) and code:
        return code
    for kind, name in (
        (click.UsageError, "usage"),
        (UsageError, "usage"),
        (Forbidden, "forbidden"),
        (ImportRejected, "import_rejected"),
        (StoreError, "store"),
        (sqlalchemy.exc.SQLAlchemyError, "store"),
        (InputError, "input"),
    ):
        if isinstance(exc, kind):
            return name
    return "error"


def as_click_error(exc: BaseException, ctx: click.Context | None) -> click.ClickException | None:
    """The project's and the store's errors as click's (one `Error:` line; usage errors exit 2); None: not ours."""
    if isinstance(exc, click.ClickException):
        return exc
    if isinstance(exc, UsageError):
        return click.UsageError(str(exc), ctx)
    if isinstance(exc, SuijianError):
        return click.ClickException(str(exc))
    if isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
        # A store that cannot answer (server down, schema damaged): one line, never a traceback.
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return click.ClickException(f"the store failed: {detail}; check --db, or run `suijian init`")
    return None


def json_error(exc: BaseException, error: click.ClickException) -> int:
    """Print the failure envelope for an error and return the exit code (2 for usage errors, else 1)."""
    emit_json({"ok": False, "error": {"code": error_code(exc), "message": error.format_message()}})
    return 2 if isinstance(error, click.UsageError) else 1


class SuijianGroup(click.Group):
    """A click group that turns the project's errors into click's: one `Error: …` line, exit 1 (usage: 2); with
    --json, the failure envelope on stdout instead.

    Doing it here (not only in main) makes CliRunner in tests see exactly what a user sees."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_REQUESTED] = wants_json(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Failed:
            raise  # already reported (in JSON too)
        except Exception as exc:
            error = as_click_error(exc, ctx.meta.get(COMMAND_CONTEXT, ctx))
            if error is None:
                raise
            if ctx.meta.get(JSON_REQUESTED):
                raise click.exceptions.Exit(json_error(exc, error)) from None
            raise error from None


def run_main(group: click.Group, args: list[str] | None = None) -> int:
    """Run the CLI: our errors become `Error: …` on stderr with exit 1 (usage errors exit 2), never a traceback."""
    argv = sys.argv[1:] if args is None else args
    try:
        code = group.main(args=argv, prog_name="suijian", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing half-written (each write is one transaction).", err=True)
        return 130
    except Exception as exc:
        # Errors before a command runs (the group's own options) land here.
        error = as_click_error(exc, None)
        if error is None:
            raise
        if wants_json(argv) and not isinstance(exc, Failed):
            return json_error(exc, error)
        error.show()
        return error.exit_code
    # standalone_mode=False returns ctx.exit(n)'s code instead of exiting.
    return code if isinstance(code, int) else 0
