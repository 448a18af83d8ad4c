"""`suijian inspectors list`: the roster (执法检查人员名录库) by unit, with capacities and the account linked to each."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from commands.common import db_option, emit, json_option, out, store_connection
from engine import planning
from entities.enums import Qualification
from entities.errors import InputError

DERIVED = "—"  # no weekly capacity on the roster: the scheduler derives it from the yearly one


@click.group("inspectors")
def inspectors() -> None:
    """The roster of inspectors (执法检查人员名录库).

    \b
    Examples:
      suijian inspectors list
      suijian inspectors list --unit 揭阳市揭东区市场监督管理局曲溪市场监督管理所
    """


def _qualifications(codes: list[Any]) -> str:
    labels = Qualification.labels()
    return "、".join(labels.get(str(q), str(q)) for q in codes)


@inspectors.command("list")
@click.option("--unit", default=None, metavar="NAME", help="Only the inspectors of this unit (所属单位, exact name).")
@db_option
@json_option
def list_cmd(unit: str | None, db: str | None, as_json: bool) -> None:
    """List the inspectors, one table per unit: id, name, qualifications, yearly/weekly capacity, 登录账号.

    The 登录账号 is the account that acts as the inspector (`suijian tasks mine`, the web app). A weekly capacity
    shown as — is not on the roster: the scheduler derives it from the yearly one. Experts (no enforcement
    certificate) are marked 专家; they never count toward a team's two inspectors.

    \b
    Examples:
      suijian inspectors list
      suijian inspectors list --unit 揭阳市揭东区市场监督管理局曲溪市场监督管理所
      suijian inspectors list --json
    """
    with store_connection(db) as conn:
        roster, _ = planning.roster(conn)
    if unit is not None:
        roster = [i for i in roster if i.unit == unit]
        if not roster:
            raise InputError(f"no inspector of unit {unit!r} on the roster; `suijian inspectors list` shows the units")
    by_unit: dict[str, list[Any]] = {}
    for i in sorted(roster, key=lambda i: (i.unit, i.id)):
        by_unit.setdefault(i.unit, []).append(i)
    if as_json:
        emit(
            {
                "unit": unit,
                "inspectors": [
                    {
                        "id": i.id,
                        "name": i.name,
                        "unit": i.unit,
                        "region": i.region,
                        "certified": not i.is_expert,
                        "qualifications": [str(q) for q in i.qualifications],
                        "capacity": i.capacity,
                        "weekly_capacity": i.weekly_capacity,
                        "user_name": i.user_name,
                        "standing_team": i.standing_team,
                    }
                    for people in by_unit.values()
                    for i in people
                ],
            }
        )
        return
    if not roster:
        click.echo("The roster is empty; load it with `suijian import inspectors FILE` (or `suijian demo`).")
        return
    for name, people in by_unit.items():
        rows = [
            [
                i.id,
                i.name + ("（专家）" if i.is_expert else ""),
                _qualifications(list(i.qualifications)) or "—",
                f"{i.capacity:,} / {DERIVED if i.weekly_capacity is None else i.weekly_capacity}",
                i.user_name or "—",
                i.standing_team or "—",
            ]
            for i in people
        ]
        shown = Table(title=f"{name}（{len(people)} 人）", title_justify="left")
        for column in ("编号", "姓名", "资质", "年/周容量", "账号", "固定检查组"):
            shown.add_column(column, justify="right" if column == "年/周容量" else "left", overflow="fold")
        for row in rows:
            shown.add_row(*row)
        out.print(shown)
    units = len(by_unit)
    linked = sum(1 for i in roster if i.user_name)
    click.echo(
        f"{len(roster):,} inspector(s) in {units:,} unit(s); {linked:,} linked to an account (登录账号). "
        f"Weekly capacity {DERIVED}: derived from the yearly one."
    )


def register(cli: click.Group) -> None:
    cli.add_command(inspectors)
