"""The office's units (执法单位: 市场监管所, the bureau's 科/股) and who may staff a visit in which township.

A unit table (`org_unit`, `suijian import units FILE`) says which townships (街镇) each unit serves; an inspector
belongs to the unit their roster row names (`inspector.unit`). With a unit table, a visit is staffed from the units
serving its township. The rules, decided here once so that the import, the plan and the web app agree:

- No unit table (no rows): nothing changes; staffing pools are what the plan policy says (per county or one pool).
- A unit that lists townships serves exactly those. Every listed code must be a township (街镇) of the region table.
- A unit with an empty township list has no township restriction (as the contract of migration 0006 says): each of
  its inspectors serves every township of their own county (the county of their 所在区域) when the policy pools
  teams per county (`pool_by_county`), else every township of the jurisdiction — as without a unit table. A county
  bureau's 科/股 are such units, and so is a city's expert institute whose experts sit in several counties.
- With a unit table, every inspector's unit must be in it: an inspector of an unlisted unit would serve no township
  ("a roster whose unit serves no township") and is refused with one line naming the inspector and the unit.
- A unit whose item list is not empty carries out only those check items (`serves_item`); empty means all items.

Pools. A visit's staffing pool must be a set of inspectors that no other pool shares (the fitting counts each
inspector's capacity once, engine.plan.fit). Units that serve a common township therefore share a pool: a pool is a
connected group of units, townships and base pools (a union-find over "unit U serves township T" and "an inspector
of an unrestricted unit serves the townships of base pool B"). Where every township is
served by one 市场监管所 the pools are the 所; where a county's 科/股 serve the whole county the pool is the county,
named by its 6-digit code exactly as the per-county pools are named without a unit table. A pool with no
unrestricted unit is named by the first of its units' names (sorted). A township no unit serves has no pool (None):
its visits cannot be staffed, and the plan names that as a shortfall.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from entities.errors import InputError
from entities.models import InspectorCreate, OrgUnitCreate

EVERYWHERE = "*"  # the one base pool when teams are not pooled per county (the name engine.plan.teams uses)
_TOWNSHIP = re.compile(r"\d{9}")


def county_of(region: str) -> str:
    """The 6-digit county code of a region code (a county's own code, or a township's first six digits)."""
    return region[:6]


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, x: str) -> None:
        self.parent.setdefault(x, x)

    def find(self, x: str) -> str:
        self.add(x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


# Union-find nodes: units and base pools live in one namespace, told apart by a prefix no name or code starts with.
def _u(name: str) -> str:
    return "u\x00" + name


def _b(base: str) -> str:
    return "b\x00" + base


@dataclass(frozen=True)
class Units:
    """Township → pool, inspector → unit → pool, from a validated unit table and roster. Build with `build_units`."""

    units: Mapping[str, OrgUnitCreate]  # by name; empty: no unit table
    unit_of: Mapping[str, str]  # inspector id → unit name (as the roster says)
    pool_by_county: bool
    _pool_of_inspector: Mapping[str, str] = field(repr=False)
    _pool_of_township: Mapping[str, str] = field(repr=False)
    _pool_of_base: Mapping[str, str] = field(repr=False)
    _base: Mapping[str, str] = field(repr=False)  # inspector id → base pool of their 所在区域

    @property
    def active(self) -> bool:
        """True when a unit table exists, i.e. units decide the staffing pools."""
        return bool(self.units)

    def base_of(self, region: str) -> str:
        return county_of(region) if self.pool_by_county else EVERYWHERE

    def pool_of_township(self, township: str) -> str | None:
        """The staffing pool of a visit in `township` (None: no unit serves it). Without a unit table: the base pool."""
        if not self.active:
            return self.base_of(township)
        found = self._pool_of_township.get(township)
        return found if found is not None else self._pool_of_base.get(self.base_of(township))

    def pool_of_inspector(self, inspector_id: str) -> str | None:
        """The pool whose visits this inspector staffs (None: not on the roster this was built from)."""
        return self._pool_of_inspector.get(inspector_id)

    def units_of_township(self, township: str) -> tuple[str, ...]:
        """The units (names, sorted) whose people may check a subject in `township`: those listing it, and those
        without a township list that have someone in the township's base pool. Empty without a unit table."""
        base = self.base_of(township)
        found = {
            u.name
            for u in self.units.values()
            if township in u.townships
            or (not u.townships and any(self._base[i] == base for i in self.inspectors_of_unit(u.name)))
        }
        return tuple(sorted(found))

    def inspectors_of_pool(self, pool: str) -> tuple[str, ...]:
        """The inspectors (ids, sorted) who staff the pool's visits."""
        return tuple(sorted(i for i in self.unit_of if self.pool_of_inspector(i) == pool))

    def inspectors_of_unit(self, unit: str) -> tuple[str, ...]:
        return tuple(sorted(i for i, u in self.unit_of.items() if u == unit))

    def serves_item(self, unit: str, item: str) -> bool:
        """Whether the unit carries out check item `item` (any item when there is no unit table or no item list)."""
        found = self.units.get(unit)
        return found is None or not found.items or item in found.items


def pool_of_township(units: Units, township: str) -> str | None:
    """The staffing pool of a visit in `township` (see the module docstring); None when no unit serves it."""
    return units.pool_of_township(township)


def build_units(
    units: Iterable[OrgUnitCreate],
    inspectors: Sequence[InspectorCreate],
    *,
    pool_by_county: bool = True,
    townships: Collection[str] | None = None,
    item_codes: Collection[str] | None = None,
) -> Units:
    """Validate the unit table against the roster (and the region table's `townships`, the catalogue's `item_codes`
    when given) and work out the pools. Each problem is one InputError line naming the unit or inspector and the fix.
    """
    table = {u.name: u for u in sorted(units, key=lambda u: u.name)}
    for unit in table.values():
        for code in unit.townships:
            if not _TOWNSHIP.fullmatch(code):
                raise InputError(f"unit {unit.name}: 负责街镇 {code!r} is not a 9-digit township (街镇) code")
            if townships is not None and code not in townships:
                raise InputError(
                    f"unit {unit.name}: 负责街镇 {code} is not a township (街镇) in the region table; "
                    "check the code or import the regions first"
                )
        if item_codes is not None:
            unknown = [c for c in unit.items if c not in item_codes]
            if unknown:
                raise InputError(f"unit {unit.name}: 承担抽查事项 {unknown[0]} is not a check item in the catalogue")
    unit_of = {i.id: i.unit for i in inspectors}

    def base_of(region: str) -> str:
        return county_of(region) if pool_by_county else EVERYWHERE

    if not table:
        base = {i.id: base_of(i.region) for i in inspectors}
        return Units(
            {}, unit_of, pool_by_county, _pool_of_inspector=base, _pool_of_township={}, _pool_of_base={}, _base=base
        )
    for i in sorted(inspectors, key=lambda i: i.id):
        if i.unit not in table:
            raise InputError(
                f"inspector {i.id} ({i.name}): unit {i.unit!r} is not in the unit table, so it serves no township; "
                "add the unit to the units file (an empty 负责街镇 means no township restriction) or correct 所属单位"
            )
    uf = _UnionFind()
    restricted = [name for name, u in table.items() if u.townships]
    for name in restricted:
        uf.add(_u(name))
    # An inspector of an unrestricted unit serves their base pool (own county, or everywhere): the base, not the unit,
    # is what joins the union, so a unit whose people sit in several counties does not merge those counties.
    attached = {_b(base_of(i.region)) for i in inspectors if not table[i.unit].townships}
    for node in attached:
        uf.add(node)
    for name in restricted:
        for code in table[name].townships:
            uf.union(_u(name), "t\x00" + code)
            if _b(base_of(code)) in attached:
                uf.union("t\x00" + code, _b(base_of(code)))
    members: dict[str, list[str]] = {}
    for node in list(uf.parent):
        members.setdefault(uf.find(node), []).append(node)
    label: dict[str, str] = {}
    for root, nodes in members.items():
        bases = sorted(n[2:] for n in nodes if n.startswith("b\x00"))
        names = sorted(n[2:] for n in nodes if n.startswith("u\x00"))
        label[root] = bases[0] if bases else names[0]

    def pool_of(i: InspectorCreate) -> str:
        return label[uf.find(_u(i.unit) if table[i.unit].townships else _b(base_of(i.region)))]

    return Units(
        units=table,
        unit_of=unit_of,
        pool_by_county=pool_by_county,
        _pool_of_inspector={i.id: pool_of(i) for i in inspectors},
        _pool_of_township={
            n[2:]: label[uf.find(n)] for n in list(uf.parent) if n.startswith("t\x00") and uf.find(n) in label
        },
        _pool_of_base={n[2:]: label[uf.find(n)] for n in attached},
        _base={i.id: base_of(i.region) for i in inspectors},
    )
