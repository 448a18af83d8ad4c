"""`suijian grade`: grade subjects with a rule pack as of a date and record the run in the ledger."""

from __future__ import annotations

import datetime as dt

import click

from commands.common import (
    as_of_option,
    chosen_pack,
    counting,
    db_option,
    emit,
    json_option,
    out,
    pack_member,
    pack_option,
    progress_bars,
    store_connection,
    table,
    url_of,
    workers_for,
)
from engine import grading
from engine.features.compute import population_size
from engine.rules import Pack
from entities import identity


@click.command("grade")
@as_of_option()
@pack_option
@click.option("--subject", "subjects", multiple=True, metavar="USCC", help="Grade only these subjects (repeatable).")
@db_option
@json_option
def grade(as_of: dt.datetime, pack_dir: str | None, subjects: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """Grade every subject (or --subject) with a rule pack as of a date; store the results and fired rule ids.

    Prints, per decision output, how many subjects got each value (credit class, food grade, frequency,
    task list…). Each distinct rule-relevant input is evaluated once on durable-rules and fanned out.

    \b
    Examples:
      suijian grade --as-of 2025-12-31
      suijian grade --as-of 2025-12-31 --pack guangdong --json
      suijian grade --as-of 2025-12-31 --subject 91445203MA4W8XYP08
    """
    actor = identity.require("grade")
    day = as_of.date()
    with chosen_pack(db, pack_dir) as pack:
        grading.check_pack_date(pack, day)  # refused before the store is read
        run = _grade(pack, day, subjects, db, actor)
        member = pack_member(pack)
    if as_json:
        emit({**run.as_dict(), "pack": member})
        return
    out.print(
        f"Graded {run.subjects:,} subjects as of {day} with {pack.name} {pack.version} "
        f"(hash {pack.hash[:12]}): run {run.id}, recorded in the ledger by {actor}",
        markup=False,
    )
    out.print(
        f"{run.outcomes:,} distinct outcomes from {run.evaluations:,} durable-rules evaluations"
        + (f"; {run.errors:,} subjects hit a rule-pack error" if run.errors else "")
    )
    if run.registered_later:
        out.print(
            f"{run.registered_later:,} subjects registered after {day} were left out (not in the population then)"
        )
    for name, dist in run.distributions.items():
        n = sum(dist.values()) or 1
        rows = [(value, count, f"{100 * count / n:.1f}%") for value, count in dist.items()]
        out.print(table(name, ["value", "subjects", "share"], rows))


def _grade(
    pack: Pack, day: dt.date, subjects: tuple[str, ...], db: str | None, actor: identity.Identity
) -> grading.GradeRun:
    with store_connection(db, write=True) as conn, progress_bars() as report:
        total = len(subjects) or population_size(conn, day)
        return grading.grade_store(
            conn,
            pack,
            day,
            created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            actor=actor,
            usccs=list(subjects) or None,
            on_partition=counting(report, "评级 grading", total),
            url=url_of(conn),
            workers=workers_for(total),
        )


def register(cli: click.Group) -> None:
    cli.add_command(grade)
