"""`suijian plan`: draw the period's checks, add mandatory work, merge visits, staff them, commit to the ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from commands.common import (
    as_of_option,
    chosen_pack,
    db_option,
    emit,
    item_option,
    json_option,
    now,
    out,
    pack_option,
    period_option,
    progress_bars,
    region_option,
    seed_option,
    store_connection,
)
from commands.views import render_plan_summary
from engine import plan_commit, planning
from engine.ledger import chain, record
from engine.plan import check_seed
from engine.plan.calendar import CalendarFile
from engine.sampling import TicketKeys
from entities import identity
from entities.errors import InputError, UsageError


@click.command("plan")
@as_of_option(
    required=False, help="The date the data is judged at (never the wall clock); needed to draw, not to commit a seed."
)
@period_option(required=True)
@seed_option()
@click.option(
    "--commit-seed",
    "commit_hash",
    default=None,
    metavar="SHA256",
    help="Commit to a seed by its SHA-256 before the population is frozen (supervisors); the plan must "
    "later reveal a matching --seed and use a grade run made after the commitment.",
)
@click.option(
    "--redraw-reason",
    default=None,
    metavar="TEXT",
    help="Draw again for a scope and period that already has a committed plan (supervisors; recorded "
    "and listed by `suijian audit redraws`).",
)
@click.option(
    "--preview",
    is_flag=True,
    help="Show the draw without committing it (supervisors; recorded in the ledger with the seed and "
    "the viewer, and bound by the same rules as the draw).",
)
@region_option()
@item_option
@click.option(
    "--run", "run_id", default=None, metavar="RUN_ID", help="Grade run to plan from (default: newest as of --as-of)."
)
@click.option(
    "--calendar",
    "calendar_paths",
    multiple=True,
    metavar="FILE",
    help="A working-day calendar file for a year the chinesecalendar library does not cover (repeatable): CSV "
    "date,kind[,name] with kind holiday|workday and a `# source:` line naming the State Council notice.",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="Where the subjects' tickets are computed: this process, or Apache Spark (pip install 'suijian[spark]'; "
    "the session's master from $SUIJIAN_SPARK_MASTER or spark-submit, else local[2]). Same plan either way.",
)
@click.option(
    "--spark-master", metavar="URL", help="With --engine spark: the master (default local[2], or spark-submit's)."
)
@click.option(
    "--spark-partitions",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="With --engine spark: how many partitions the subjects are split into (default: Spark's parallelism).",
)
@pack_option
@db_option
@json_option
def plan(
    as_of: dt.datetime | None,
    period_text: str,
    seed: str | None,
    commit_hash: str | None,
    redraw_reason: str | None,
    preview: bool,
    regions: tuple[str, ...],
    items: tuple[str, ...],
    run_id: str | None,
    calendar_paths: tuple[str, ...],
    engine_name: str,
    spark_master: str | None,
    spark_partitions: int | None,
    pack_dir: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Draw the period's random checks (consistent sampling), add mandatory work, merge visits, staff teams.

    Reproducible by anyone: each subject's ticket is consistent-sampler's first ticket for the seed and its
    USCC, and the smallest tickets in each stratum are drawn. The plan is committed to the ledger; same inputs,
    same plan. A committed plan for a scope and period is final: drawing again needs --redraw-reason.
    With a seed committed first (--commit-seed), the draw must reveal that seed, for that scope, from a grade
    run made after the commitment. Needs a supervisor's identity (SUIJIAN_USER, SUIJIAN_ROLE=supervisor): drawing
    a plan, committing a seed, re-drawing and previewing are supervisors' acts.

    \b
    Examples:
      # before grading: commit to the seed's SHA-256 (printf %s SEED | sha256sum)
      suijian plan --period 2026 --commit-seed aa973d001413ef0578ce0e466a895490ffa1e3839748b3be4b8dbfbe208c9b10
      suijian plan --as-of 2025-12-31 --period 2026 --seed 38147205519264810375
      suijian plan --as-of 2025-12-31 --period 2026Q1 --seed 38147205519264810375 --region 445203
      suijian plan --as-of 2025-12-31 --period 2026 --seed 51920374662810395527 --redraw-reason "名录库更正后重抽"
      # a year the holiday library does not cover: the State Council's notice as a calendar file
      suijian plan --as-of 2026-12-31 --period 2027 --seed 38147205519264810375 --calendar 2027.csv
      # the tickets computed on Spark (the same plan, id and hash)
      suijian plan --as-of 2025-12-31 --period 2026 --seed 38147205519264810375 --engine spark
    """
    if commit_hash is not None:
        if seed is not None or preview or run_id is not None:
            raise UsageError("--commit-seed records a commitment only; give --seed (and --run) later, when you draw")
        actor = identity.require("commit-seed")
        digest = record.check_seed_hash(commit_hash)  # refused before the store is opened
        scope = record.scope_of(list(regions) or None, list(items) or None, planning.parse_period(period_text))
        _commit(db, actor, digest, scope, redraw_reason, as_json)
        return
    if seed is None:
        raise UsageError("missing --seed (or --commit-seed SHA256 to commit to one first)")
    if as_of is None:
        raise UsageError("missing --as-of YYYY-MM-DD: the date the data is judged at")
    actor = identity.require("preview" if preview else "plan")
    if redraw_reason is not None and not preview:
        identity.require("redraw", actor)  # an inspector is refused before anything is computed
    day = as_of.date()
    period = planning.parse_period(period_text)
    scope = record.scope_of(list(regions) or None, list(items) or None, period)
    check_seed(seed)  # refused before any data is read
    calendar_files = [CalendarFile.read(p) for p in calendar_paths]  # so is a bad calendar file,
    planning.work_calendar(calendar_files).require(period.start, period.end)  # or a period without one
    if (spark_partitions is not None or spark_master) and engine_name != "spark":
        raise UsageError("--spark-master and --spark-partitions need --engine spark")
    keys_of = _ticket_keys(
        engine_name, spark_master, spark_partitions
    )  # Spark missing: refused before any data is read
    if not preview:
        with chosen_pack(db, pack_dir) as pack, store_connection(db, write=True) as conn, progress_bars() as bars:
            drawn = plan_commit.draw(
                conn,
                pack,
                seed=seed,
                period=period,
                as_of=day,
                actor=actor,
                created_at=now(),
                regions=regions,
                items=items,
                run_id=run_id,
                redraw_reason=redraw_reason,
                calendar_files=calendar_files,
                progress=bars,
                ticket_keys_of=keys_of,
            )
        _render_drawn(drawn, as_json)  # after the commit: a command reports only what was stored
        return
    with chosen_pack(db, pack_dir) as pack, store_connection(db, write=True) as conn, progress_bars() as bars:
        result, run, tables = plan_commit.compute(
            conn,
            pack,
            seed=seed,
            period=period,
            as_of=day,
            regions=regions,
            items=items,
            run_id=run_id,
            calendar_files=calendar_files,
            progress=bars,
            ticket_keys_of=keys_of,
        )
        document = planning.plan_document(result)  # hashed as it is written, not held whole
        plan_id, digest = document.id, document.sha256
        entry, _ = record.preview(
            conn,
            plan_digest=digest,
            scope=scope,
            seed=seed,
            as_of=day,
            pack=pack,
            grade_run_id=run["id"],
            actor=actor,
            created_at=now(),
            reason=redraw_reason,
            frozen=record.frozen_tables(tables["subjects"], pack),
            pack_files_hash=record.save_pack(conn, pack)["files_hash"],
            outputs_scheme=document.scheme,
        )
        head = chain.head(conn)
    summary = planning.as_stored(result).summary()
    if as_json:
        emit(
            {
                "plan_id": None,
                "preview": entry.run_id,
                "new": False,
                "superseded_by": [],
                "grade_run": run["id"],
                "ledger_head": {"seq": head[0], "hash": head[1]},
                **summary,
            }
        )
        return
    out.print(f"PREVIEW {entry.run_id} — not committed; recorded in the ledger as seen by {actor}.", markup=False)
    render_plan_summary(plan_id, summary, created=False, preview=True)


def _ticket_keys(engine_name: str, master: str | None, partitions: int | None) -> TicketKeys | None:
    """Where the subjects' tickets are computed: None for this process (engine.sampling.ticket_keys), or Spark."""
    if engine_name == "local":
        return None
    try:
        from engine.spark.plan import spark_ticket_keys  # the optional extra: imported only when asked for
    except ImportError:
        raise InputError("Spark is not installed: pip install 'suijian[spark]' (needs Java 17 or newer)") from None
    return spark_ticket_keys(master, partitions=partitions)


def _render_drawn(drawn: plan_commit.Drawn, as_json: bool) -> None:
    head = drawn.head
    if as_json:
        emit(
            {
                "plan_id": drawn.plan_id,
                "preview": None,
                "new": drawn.created,
                "superseded_by": drawn.superseded_by,
                "grade_run": drawn.grade_run,
                "ledger_head": {"seq": head[0], "hash": head[1]},
                **drawn.summary,
            }
        )
        return
    plan_id = drawn.plan_id
    render_plan_summary(plan_id, drawn.summary, created=drawn.created)
    if drawn.superseded_by:
        out.print(f"Plan {plan_id} was re-drawn as {', '.join(drawn.superseded_by)}; see `suijian audit redraws`.")
    out.print(f"Ledger head #{head[0]} {head[1]} (publish it with the plan; `suijian audit verify --head` checks it).")
    out.print(f"Export the lists: suijian tasks export --plan {plan_id} --format xlsx --out tasks.xlsx")
    out.print(f"Replay it: suijian replay {plan_id}")


def _commit(
    db: str | None, actor: identity.Identity, digest: str, scope: dict[str, Any], reason: str | None, as_json: bool
) -> None:
    with store_connection(db, write=True) as conn:
        entry, created = plan_commit.commit_seed(
            conn, digest=digest, scope=scope, actor=actor, created_at=now(), reason=reason
        )
    if as_json:
        emit(
            {
                "commitment": entry.run_id,
                "new": created,
                "seed_sha256": digest,
                "scope": scope,
                "entry_hash": entry.entry_hash,
            }
        )
        return
    verb = "Committed" if created else "Already committed as"
    out.print(
        f"{verb} {entry.run_id}: seed sha256 {digest} for {record.describe(scope)}, by {entry.actor.get('user')}.",
        markup=False,
    )
    out.print("Now freeze the population (`suijian grade`), then draw with the seed: suijian plan --seed SEED …")


def register(cli: click.Group) -> None:
    cli.add_command(plan)
