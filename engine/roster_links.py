"""What an import of the roster (`inspectors`) or the unit table (`units`) must keep true beyond each row's model.

- One person, one inspector: a 登录账号 (user_name) names at most one inspector — in the file and in the store. It is
  THE link between a person (`tasks mine`, the web app's accounts) and a roster id, so two rows claiming the same
  account are refused rather than guessed between.
- A unit's 负责街镇 are townships (街镇) of the region table, and its 承担抽查事项 check items of the catalogue (when
  one is installed).
- Once the unit table has rows, every inspector's unit is in it, checked on the store as the import leaves it (so
  importing a unit table that leaves out a unit of the roster is refused, naming the inspector): the rules are
  engine.plan.units', the same the plan applies.

Called by engine.ingest inside the import's transaction; every problem is one line naming the row and column, and
any problem means nothing is written (or, with --skip-invalid, that row is not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.plan.units import build_units
from entities import store
from entities.errors import InputError
from entities.models import InspectorCreate, OrgUnitCreate

KINDS = ("inspectors", "units")


@dataclass
class LinkState:
    """What one import run has seen so far: account → (row, inspector id) of the rows accepted."""

    accounts: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RowValues:
    row: int
    values: Mapping[str, Any]
    present: frozenset[str]


def check_rows(
    conn: Connection, kind: str, rows: Sequence[RowValues], state: LinkState
) -> dict[int, list[tuple[str, str]]]:
    """Problems (field, reason) per row number for one batch of valid rows, in file order."""
    if kind == "inspectors":
        return _accounts(conn, rows, state)
    if kind == "units":
        return _unit_rows(conn, rows)
    return {}


def _accounts(conn: Connection, rows: Sequence[RowValues], state: LinkState) -> dict[int, list[tuple[str, str]]]:
    problems: dict[int, list[tuple[str, str]]] = {}
    named = [r for r in rows if "user_name" in r.present and r.values.get("user_name")]
    t = store.table("inspector")
    wanted = sorted({str(r.values["user_name"]) for r in named})
    holders: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        for account, pid, name in conn.execute(
            sa.select(t.c.user_name, t.c.id, t.c.name).where(t.c.user_name.in_(chunk))
        ):
            holders[account] = (pid, name)
    # Inspectors of this batch whose row gives them another account (or none): their stored one is released first.
    released = {
        str(r.values["id"]): r.row for r in rows if "user_name" in r.present and r.values.get("user_name") is None
    }
    for r in rows:
        if "user_name" in r.present and r.values.get("user_name"):
            released.setdefault(str(r.values["id"]), r.row)
    for r in named:
        account, pid = str(r.values["user_name"]), str(r.values["id"])
        earlier = state.accounts.get(account)
        if earlier is not None and earlier[1] != pid:
            problems.setdefault(r.row, []).append(
                (
                    "user_name",
                    f"登录账号 {account!r} is also on row {earlier[0]} (inspector {earlier[1]}): a person is linked to "
                    "one inspector; keep it on one row",
                )
            )
            continue
        holder = holders.get(account)
        if holder is not None and holder[0] != pid and released.get(holder[0], r.row) >= r.row:
            problems.setdefault(r.row, []).append(
                (
                    "user_name",
                    f"登录账号 {account!r} already links inspector {holder[0]} ({holder[1]}) in the store: a person is "
                    f"linked to one inspector; give {holder[0]} another 登录账号 (on an earlier row) or use another one",
                )
            )
            continue
        state.accounts[account] = (r.row, pid)
    return problems


def _unit_rows(conn: Connection, rows: Sequence[RowValues]) -> dict[int, list[tuple[str, str]]]:
    problems: dict[int, list[tuple[str, str]]] = {}
    codes = {c for r in rows for c in r.values.get("townships") or ()}
    region = store.table("region")
    townships = (
        set(
            conn.execute(
                sa.select(region.c.code).where(region.c.code.in_(sorted(codes)), region.c.level == "township")
            ).scalars()
        )
        if codes
        else set()
    )
    items = _item_codes(conn)
    for r in rows:
        bad = [c for c in r.values.get("townships") or () if c not in townships]
        if bad:
            problems.setdefault(r.row, []).append(
                (
                    "townships",
                    f"{bad[0]} is not a township (街镇) in the region table; list 9-digit 街镇 codes separated by ';' "
                    "(import your regions first if they are not the built-in ones)",
                )
            )
        unknown = [c for c in r.values.get("items") or () if items is not None and c not in items]
        if unknown:
            problems.setdefault(r.row, []).append(
                ("items", f"{unknown[0]} is not a check item in the catalogue (`suijian import items FILE`)")
            )
    return problems


def _item_codes(conn: Connection) -> set[str] | None:
    """The catalogue's item codes, or None when no catalogue is installed yet (then any code is taken)."""
    codes = set(conn.execute(sa.select(store.table("check_item").c.code)).scalars())
    return codes or None


def org_units(conn: Connection) -> list[OrgUnitCreate]:
    """The unit table as stored, by name (empty: the office has none; see engine.plan.units)."""
    t = store.table("org_unit")
    return [OrgUnitCreate.model_validate(dict(m)) for m in conn.execute(sa.select(t).order_by(t.c.name)).mappings()]


def check_store(conn: Connection, kind: str) -> str | None:
    """After the import's rows are written (same transaction): the unit table and the roster as they now stand must
    agree (engine.plan.units' rules). One line naming the inspector and the unit, or None."""
    if kind not in KINDS:
        return None
    units = org_units(conn)
    if not units:
        return None
    i = store.table("inspector")
    inspectors = [
        InspectorCreate.model_validate(dict(m)) for m in conn.execute(sa.select(i).order_by(i.c.id)).mappings()
    ]
    try:
        build_units(units, inspectors)
    except InputError as exc:
        return f"{exc} (the unit table must name every inspector's unit once it has rows)"
    return None
