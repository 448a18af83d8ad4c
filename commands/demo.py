"""`suijian demo`: generate a real-size synthetic district, load it, and show what the store now holds."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import click

from commands.common import (
    counting,
    db_option,
    emit,
    json_option,
    out,
    pack_directory,
    pack_member,
    pack_option,
    progress_bars,
    store_engine,
    table,
)
from commands.demo_results import demo_calendar, render_year, run_results
from commands.views import render_plan_summary as render_plan
from engine import grading, output_file, planning
from engine.catalogue import install_catalogue, load_catalogue
from engine.ledger import chain, record
from engine.plan.export import export_tasks
from engine.results import records
from engine.rules import load_pack
from engine.summary import summarise
from engine.synth import PROFILES, get_profile, load_demo
from entities import identity, store
from entities.enums import EquipmentCategory, ListName, Qualification, SubjectKind, SubjectStatus
from entities.errors import InputError, UsageError

TABLE_LABELS = {
    "subject": "经营主体",
    "licence": "许可证照",
    "list_entry": "名录记录",
    "penalty": "行政处罚",
    "complaint": "投诉举报",
    "check_result": "检查记录",
    "equipment": "特种设备",
    "accident": "特种设备事故",
    "food_business": "食品生产经营者",
    "device_business": "医疗器械生产经营者",
    "org_unit": "执法单位",
    "inspector": "执法检查人员",
    "conflict": "回避关系",
    "check_item": "抽查事项",
    "region": "行政区划",
}


@click.command("demo")
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(list(PROFILES)),
    default="jiedong",
    show_default=True,
    help="District to imitate: jiedong 揭东区 (53,453 subjects), baiyun 白云区 (≈470,700), guangzhou 广州市 (≈3.3 M).",
)
@click.option(
    "--subjects",
    type=click.IntRange(1, 50_000_000),
    default=None,
    metavar="N",
    help="Scale the profile's mix to N subjects (e.g. 2000 for a quick look).",
)
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Same seed, same district.")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2025-12-31",
    metavar="YYYY-MM-DD",
    show_default=True,
    help="The day the data describes; every date is relative to it.",
)
@click.option("--replace", is_flag=True, help="Overwrite a store that holds imported data.")
@click.option("--load-only", is_flag=True, help="Stop after loading (no grading, plan or export).")
@click.option(
    "--period", "period_text", default=None, metavar="PERIOD", help="Plan period (default: the year after --as-of)."
)
@click.option(
    "--results",
    "with_results",
    is_flag=True,
    help="After the plan, simulate its year of results (marked 【模拟数据】), record, publish and re-grade them, "
    "and show the class migrations.",
)
@click.option(
    "--calendar",
    "calendar_file",
    default=None,
    metavar="FILE",
    help="With --results: a working-day calendar file for years the chinesecalendar library does not cover.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where the inspectors' task list (XLSX) is written, and with --results the year's sheets and 公示 files.",
)
@pack_option
@db_option
@json_option
def demo(
    profile_name: str,
    subjects: int | None,
    seed: int,
    as_of: dt.datetime,
    replace: bool,
    load_only: bool,
    period_text: str | None,
    with_results: bool,
    calendar_file: str | None,
    out_dir: str,
    pack_dir: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Generate a realistic synthetic district from real figures, load it and summarise the store.

    An earlier demo in the store is replaced; a store holding imported data is left alone unless --replace.

    \b
    Examples:
      suijian demo                                   # 揭东区, 53,453 subjects, into ./suijian.db
      suijian demo --profile baiyun --seed 7 --db sqlite:///baiyun.db
      suijian demo --subjects 2000 --json            # small and quick, machine-readable
      suijian demo --db postgresql://postgres@127.0.0.1/test --replace
      suijian demo --results                         # …and a simulated year of results, 公示 and the re-grade
    """
    identity.require("demo", default=DEMO_IDENTITY)  # an auditor is refused before anything is written
    if with_results and load_only:
        raise UsageError("--results simulates the year of the demo's plan; leave out --load-only")
    calendar = demo_calendar(calendar_file) if with_results else None  # a bad calendar file: refused up front
    if calendar is not None:  # …and a period it does not cover, before minutes of loading and planning
        period = planning.parse_period(period_text or str(as_of.date().year + 1))
        calendar.require(period.start, period.end)
    output_file.check_folder(out_dir)  # a task list that cannot be written is found before the minutes of work
    profile = get_profile(profile_name, subjects)
    day = as_of.date()
    pack = (
        None if load_only else load_pack(pack_directory(pack_dir))
    )  # a broken pack is refused before anything is written
    if pack is not None:
        grading.check_pack_date(pack, day)
    with store_engine(db) as engine:
        store.initialise(engine)
        refuse_recorded_results(engine)  # a plain reload, too, would drop the check history results feed
        started = time.perf_counter()
        with progress_bars() as report:
            done: dict[str, int] = {}

            def advance(name: str, rows: int, expected: int) -> None:
                # `expected` is the generator's estimate: the bar grows past it rather than overshoot 100 %.
                done[name] = done.get(name, 0) + rows
                report(TABLE_LABELS.get(name, name), done[name], expected)

            result = load_demo(engine, profile, seed, day, now=dt.datetime.now(), replace=replace, on_progress=advance)
        seconds = time.perf_counter() - started
        summary = summarise(engine, day)
        url = engine.url.render_as_string(hide_password=True)
        job = None if pack is None else run_job(engine, pack, day, seed, period_text, Path(out_dir))
        year = None
        if pack is not None and job is not None and calendar is not None:
            actor = identity.require("demo", default=DEMO_IDENTITY)
            created = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
            year = run_results(engine, pack, job, seed, calendar, Path(out_dir), actor, created)
    if as_json:
        emit(
            {
                "db": url,
                "profile": result.parameters.profile,
                "label": profile.label,
                "subjects": profile.total_subjects,
                "seed": seed,
                "as_of": day.isoformat(),
                "seconds": round(seconds, 2),
                "rows": result.rows,
                "replaced_rows": result.replaced,
                "summary": summary,
                **({"job": {k: v for k, v in job.items() if k != "plan_summary"}} if job else {}),
                **({"results": year} if year else {}),
            }
        )
        return
    out.print(
        f"Loaded a synthetic {profile.label} ({result.parameters.file_name}) into {url}: "
        f"{result.total_rows:,} rows in {seconds:.1f} s."
    )
    render_summary(summary)
    if job:
        render_job(job, db)
    if year:
        render_year(year, db)


def refuse_recorded_results(engine: Any) -> None:
    """Recorded results are legal records: a reload empties check_result, which holds the check history derived
    from them (the next grade would silently ignore them), and a simulated year would find its visits recorded
    already. So no demo is loaded into a store that holds results."""
    with engine.connect() as conn:
        batches = store.count_rows(conn, "result_batch")
    if batches:
        raise InputError(
            f"the store already holds recorded results ({batches:,} batches); a demo reload would drop the check "
            "history they feed: load the demo into a new store (e.g. --db sqlite:///demo-results.db)"
        )


DEMO_PLAN_SEED = "suijian-demo-seed-{seed:04d}"  # public, fixed: the demo plan is reproducible
DEMO_IDENTITY = identity.Identity("demo", identity.Role.SUPERVISOR)  # when no SUIJIAN_USER/ROLE is configured


def run_job(engine: Any, pack: Any, day: dt.date, seed: int, period_text: str | None, out_dir: Path) -> dict[str, Any]:
    """The main job after loading: install the pack's check items, grade, plan the next period, export the lists."""
    period = planning.parse_period(period_text or str(day.year + 1))
    plan_seed = DEMO_PLAN_SEED.format(seed=seed)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    actor = identity.require("demo", default=DEMO_IDENTITY)
    scope = record.scope_of(None, None, period)
    started = time.perf_counter()
    with engine.begin() as conn:
        install_catalogue(
            conn,
            load_catalogue(Path(pack.directory) / "catalogue.yaml")
            if (Path(pack.directory) / "catalogue.yaml").exists()
            else load_catalogue(),
        )
        with progress_bars() as report:
            run = grading.grade_store(
                conn,
                pack,
                day,
                created_at=now,
                actor=actor,
                on_partition=counting(report, "评级 grading", store.count_rows(conn, "subject")),
            )
    graded = time.perf_counter()
    with engine.begin() as conn, progress_bars() as bars:
        plan, run_row, tables = planning.plan_from_store(
            conn, pack, seed=plan_seed, period=period, as_of=day, regions=None, progress=bars
        )
        # A demo reloaded with other data draws again for the same year: that is a re-draw, recorded as one.
        redraw = None
        if record.committed_for(conn, scope) and planning.plan_id_of(plan)[0] not in record.committed_for(conn, scope):
            redraw = "演示数据重新生成 demo data regenerated"
        plan_id, _ = planning.save_plan(
            conn,
            plan,
            run_row,
            pack=pack,
            tables=tables,
            seed=plan_seed,
            regions=None,
            items=None,
            period=period,
            as_of=day,
            created_at=now,
            actor=actor,
            redraw_reason=redraw,
            scope=scope,
            progress=bars,
        )
        head = chain.head(conn)
        items = planning.check_items(conn)
        inspectors, _ = planning.roster(conn)
        details = planning.plan_subject_details(conn, plan)
        townships = records.township_names(conn)
    planned = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"tasks-{plan_id}.xlsx"
    # The same workbook as `suijian tasks export`: with the 检查结果 sheet to fill in and what the plan left out.
    data = export_tasks(plan, items, details, inspectors, format="xlsx", plan_id=plan_id, townships=townships)
    output_file.write_bytes(path, data)
    sample = next(
        (v.uscc for v in plan.visits if any(i.mandatory for i in v.items)), plan.visits[0].uscc if plan.visits else None
    )
    return {
        "grade": {**run.as_dict(), "pack": pack_member(pack)},
        "plan_id": plan_id,
        "plan_seed": plan_seed,
        "period": period.label,
        "export": str(path),
        "sample_subject": sample,
        "as_of": day.isoformat(),
        "pack_dir": pack.directory,
        "seconds": {"grade": round(graded - started, 2), "plan": round(planned - graded, 2)},
        "ledger_head": {"seq": head[0], "hash": head[1]},
        "redraw_reason": redraw,
        "plan_summary": plan.summary(),
    }


def render_job(job: dict[str, Any], db: str | None) -> None:
    g = job["grade"]
    out.print(
        f"\nGraded {g['subjects']:,} subjects as of {g['as_of']} with {g['pack']['name']} {g['pack']['version']}: "
        f"run {g['run_id']} ({g['evaluations']:,} durable-rules evaluations, {job['seconds']['grade']} s)."
    )
    for name in ("credit_class", "food_grade", "hazard_level"):
        dist = g["distributions"].get(name)
        if dist:
            n = sum(dist.values()) or 1
            out.print(
                table(name, ["value", "subjects", "share"], [(k, v, f"{100 * v / n:.1f}%") for k, v in dist.items()])
            )
    out.print(f"\nPlan for {job['period']} ({job['seconds']['plan']} s):")
    render_plan(job["plan_id"], job["plan_summary"], created=True)
    db_arg = f" --db {db}" if db else ""
    out.print(f"\nInspectors' task list: {job['export']}")
    if job["sample_subject"]:
        out.print(f"Why this subject: suijian explain {job['sample_subject']} --as-of {job['as_of']} --why-not{db_arg}")
        out.print(f"  as decided in the plan: suijian explain {job['sample_subject']} --run {job['plan_id']}{db_arg}")
    head = job["ledger_head"]
    out.print(
        f"\nLedger (决策台账): grade run {g['run_id']}, plan {job['plan_id']}; head #{head['seq']} {head['hash']}"
    )
    out.print(f"Replay them: suijian replay {g['run_id']}{db_arg} && suijian replay {job['plan_id']}{db_arg}")
    out.print(f"Check the chain: suijian audit verify{db_arg}")


def render_summary(summary: dict[str, Any]) -> None:
    """Print a store summary (engine.summary.summarise) as tables with Chinese labels."""
    counts = summary["counts"]
    out.print(table("数据量", ["数据", "行数"], [(TABLE_LABELS.get(k, k), v) for k, v in counts.items()]))

    subjects = summary["subjects"]["by_kind_status"]
    statuses = [s for s in SubjectStatus.labels() if any(s in v for v in subjects.values())]
    rows = [
        [SubjectKind.labels().get(kind, kind), *(by.get(s, 0) for s in statuses), sum(by.values())]
        for kind, by in subjects.items()
    ]
    totals = [
        "合计",
        *(sum(by.get(s, 0) for by in subjects.values()) for s in statuses),
        sum(r[-1] for r in rows),
    ]
    status_labels = [SubjectStatus.labels()[s] for s in statuses]
    out.print(table("经营主体（类型 × 登记状态）", ["主体类型", *status_labels, "合计"], [*rows, totals]))

    eq = summary["equipment"]
    eq_rows = [
        [EquipmentCategory.labels().get(c, c), v["total"], v["overdue"], v["public"], v["hidden_dangers"]]
        for c, v in eq["by_category"].items()
    ]
    eq_rows.append(["合计", eq["total"], eq["overdue"], sum(r[3] for r in eq_rows), sum(r[4] for r in eq_rows)])
    out.print(
        table(
            f"特种设备（{eq['user_units']:,} 家使用单位，截至 {summary['as_of']}）",
            ["设备类别", "台（套）", "超期未检", "公众聚集场所", "有未整改隐患"],
            eq_rows,
        )
    )

    lists = summary["lists"]
    out.print(
        table(
            "名录",
            ["名录", "累计列入", "当前在列"],
            [[ListName.labels().get(n, n), v["entries"], v["current"]] for n, v in lists.items()],
        )
    )

    ins = summary["inspectors"]
    quals = ", ".join(f"{Qualification.labels().get(q, q)} {n:,}" for q, n in ins["by_qualification"].items())
    out.print(
        table(
            "执法检查人员名录库",
            ["项目", "人数"],
            [
                ["执法检查人员", ins["total"]],
                ["持执法证", ins["certified"]],
                ["专家（不计入检查人数）", ins["experts"]],
                ["回避关系", ins["conflicts"]],
            ],
        )
    )
    if quals:
        out.print(f"资质专长: {quals}")


def register(cli: click.Group) -> None:
    cli.add_command(demo)
