"""`suijian demo`: generate a real-size synthetic district, load it, and show what the store now holds."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import click

from commands.common import db_option, emit_json, json_option, out, progress, table
from engine.summary import summarise
from engine.synth import PROFILES, get_profile, load_demo
from entities import store
from entities.enums import EquipmentCategory, ListName, Qualification, SubjectKind, SubjectStatus

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
@click.option(
    "--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Same seed, same district."
)
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
@db_option
@json_option
def demo(
    profile_name: str,
    subjects: int | None,
    seed: int,
    as_of: dt.datetime,
    replace: bool,
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
    """
    profile = get_profile(profile_name, subjects)
    day = as_of.date()
    engine = store.make_engine(db)
    try:
        store.initialise(engine)
        started = time.perf_counter()
        with progress() as bar:
            tasks: dict[str, Any] = {}

            def advance(name: str, rows: int, expected: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(TABLE_LABELS.get(name, name), total=max(expected, 1))
                bar.advance(tasks[name], rows)

            result = load_demo(
                engine, profile, seed, day, now=dt.datetime.now(), replace=replace, on_progress=advance
            )
        seconds = time.perf_counter() - started
        summary = summarise(engine, day)
        url = engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
    if as_json:
        emit_json(
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
            }
        )
        return
    out.print(
        f"Loaded a synthetic {profile.label} ({result.parameters.file_name}) into {url}: "
        f"{result.total_rows:,} rows in {seconds:.1f} s."
    )
    render_summary(summary)


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
    eq_rows.append(
        ["合计", eq["total"], eq["overdue"], sum(r[3] for r in eq_rows), sum(r[4] for r in eq_rows)]
    )
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


COMMANDS = [demo]
