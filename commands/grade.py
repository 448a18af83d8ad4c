"""`suijian grade`: grade subjects with a rule pack as of a date and record the run in the ledger."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import click

from commands.common import (
    as_of_option,
    chosen_pack,
    counting,
    db_option,
    emit,
    err,
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
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="local: this machine (worker processes); spark: Apache Spark (pip install 'suijian[spark]', Java 17+).",
)
@click.option(
    "--input",
    "input_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Spark: a folder of <table>.parquet files to grade (default: the store's tables, written to Parquet first).",
)
@click.option("--spark-master", metavar="URL", help="Spark: the master (default local[2], or spark-submit's).")
@click.option(
    "--spark-partitions",
    "partitions",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    metavar="N",
    help="Spark: how many USCC ranges the subjects are split into.",
)
@click.option(
    "--blobs",
    type=click.Path(file_okay=False, path_type=Path),
    help="Spark: the folder for the snapshot's Parquet files (default $SUIJIAN_BLOBS, or <db file>-blobs for SQLite).",
)
@db_option
@json_option
def grade(
    as_of: dt.datetime,
    pack_dir: str | None,
    subjects: tuple[str, ...],
    engine: str,
    input_dir: Path | None,
    spark_master: str | None,
    partitions: int,
    blobs: Path | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Grade every subject (or --subject) with a rule pack as of a date; store the results and fired rule ids.

    Prints, per decision output, how many subjects got each value (credit class, food grade, frequency,
    task list…). Each distinct rule-relevant input is evaluated once on durable-rules and fanned out.

    \b
    Examples:
      suijian grade --as-of 2025-12-31
      suijian grade --as-of 2025-12-31 --pack guangdong --json
      suijian grade --as-of 2025-12-31 --subject 91445203MA4W8XYP08
      suijian grade --as-of 2025-12-31 --engine spark --spark-partitions 8 --blobs /data/suijian-blobs
    """
    actor = identity.require("grade")
    day = as_of.date()
    if engine == "local" and (input_dir or spark_master or blobs or partitions != 4):
        raise click.UsageError("--input, --spark-master, --spark-partitions and --blobs are for --engine spark")
    if engine == "spark" and subjects:
        raise click.UsageError("--subject grades a few subjects on this machine: drop --engine spark")
    with chosen_pack(db, pack_dir) as pack:
        grading.check_pack_date(pack, day)  # refused before the store is read
        if engine == "spark":
            run = _grade_on_spark(pack, day, db, actor, input_dir, spark_master, partitions, blobs)
        else:
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


def _grade_on_spark(
    pack: Pack,
    day: dt.date,
    db: str | None,
    actor: identity.Identity,
    input_dir: Path | None,
    master: str | None,
    partitions: int,
    blobs: Path | None,
) -> grading.GradeRun:
    from engine.spark import grade as spark_grade
    from engine.spark import inputs
    from engine.spark.session import spark_session

    spark_grade.require_spark()
    if input_dir is not None:
        inputs.check_folder(input_dir)
    with store_connection(db, write=True) as conn:
        folder = blobs or spark_grade.default_blobs(url_of(conn))
        with tempfile.TemporaryDirectory(prefix="suijian-inputs-") as scratch:
            if input_dir is None:
                input_dir = Path(scratch)
                err.print(
                    f"writing the store's tables to Parquet in {input_dir} first (pass --input to grade a folder)",
                    markup=False,
                )
                inputs.export(conn, input_dir)
            spark = spark_session(master, partitions=partitions)
            return spark_grade.grade_and_store(
                conn,
                spark,
                input_dir,
                pack,
                day,
                blobs=folder,
                partitions=partitions,
                created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                actor=actor,
            )


def register(cli: click.Group) -> None:
    cli.add_command(grade)
