"""Units and staffing pools: township → pool, inspector → unit → pool, and the one-line refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan.units import EVERYWHERE, build_units, pool_of_township
from entities.errors import InputError
from entities.models import InspectorCreate, OrgUnitCreate

BUREAU = "揭东区市场监督管理局"
SO_A = f"{BUREAU}曲溪市场监督管理所"
SO_B = f"{BUREAU}玉滘市场监督管理所"
KE = f"{BUREAU}特种设备安全监察股"


def person(pid: str, unit: str, region: str = "445203") -> InspectorCreate:
    return InspectorCreate(id=pid, name=f"检查员{pid}", unit=unit, region=region, certificate_no=f"C{pid}")


def unit(name: str, townships: list[str] | None = None, items: list[str] | None = None) -> OrgUnitCreate:
    return OrgUnitCreate(name=name, townships=townships or [], items=items or [])


def test_no_unit_table_keeps_county_pools() -> None:
    units = build_units([], [person("A", "x", "445203101"), person("B", "y", "445202")])
    assert not units.active
    assert units.pool_of_inspector("A") == "445203" and units.pool_of_inspector("B") == "445202"
    assert pool_of_township(units, "445203102") == "445203"
    flat = build_units([], [person("A", "x", "445203101")], pool_by_county=False)
    assert flat.pool_of_inspector("A") == EVERYWHERE and flat.pool_of_township("445202100") == EVERYWHERE


def test_disjoint_stations_are_their_own_pools() -> None:
    units = build_units(
        [unit(SO_A, ["445203101", "445203102"]), unit(SO_B, ["445203103"])],
        [person("A1", SO_A), person("A2", SO_A), person("B1", SO_B)],
    )
    assert units.active
    assert pool_of_township(units, "445203101") == SO_A == pool_of_township(units, "445203102")
    assert pool_of_township(units, "445203103") == SO_B
    assert pool_of_township(units, "445203104") is None  # nobody serves it
    assert units.inspectors_of_pool(SO_A) == ("A1", "A2") and units.inspectors_of_pool(SO_B) == ("B1",)


def test_a_county_wide_unit_joins_its_county_into_one_pool_named_by_the_county() -> None:
    units = build_units(
        [unit(SO_A, ["445203101"]), unit(SO_B, ["445203103"]), unit(KE), unit("榕城所", ["445202001"])],
        [person("A1", SO_A), person("B1", SO_B), person("K1", KE, "445203"), person("R1", "榕城所", "445202")],
    )
    for township in ("445203101", "445203103", "445203199"):  # 445203199: listed by no 所, served by the 股
        assert units.pool_of_township(township) == "445203"
    assert units.inspectors_of_pool("445203") == ("A1", "B1", "K1")
    assert units.pool_of_township("445202001") == "榕城所"  # the other county's 所 stays on its own
    assert units.pool_of_township("445202002") is None


def test_units_sharing_a_township_share_a_pool() -> None:
    units = build_units(
        [unit(SO_B, ["445203102", "445203103"]), unit(SO_A, ["445203101", "445203102"])],
        [person("A1", SO_A), person("B1", SO_B)],
    )
    assert {units.pool_of_township(t) for t in ("445203101", "445203102", "445203103")} == {min(SO_A, SO_B)}


def test_items_restrict_a_unit() -> None:
    units = build_units([unit(SO_A, ["445203101"], ["SP-CY-01"])], [person("A1", SO_A)])
    assert units.serves_item(SO_A, "SP-CY-01") and not units.serves_item(SO_A, "TS-SY-01")


@pytest.mark.parametrize(
    ("table", "kw", "message"),
    [
        (
            [unit(SO_A, ["445203101"])],
            {},
            f"inspector B1 (检查员B1): unit '{SO_B}' is not in the unit table, so it serves no township;",
        ),
        (
            [unit(SO_A, ["445203101"]), unit(SO_B, ["445203999"])],
            {"townships": {"445203101"}},
            f"unit {SO_B}: 负责街镇 445203999 is not a township (街镇) in the region table",
        ),
        (
            [unit(SO_A, ["4452031"]), unit(SO_B)],
            {},
            f"unit {SO_A}: 负责街镇 '4452031' is not a 9-digit township (街镇) code",
        ),
        (
            [unit(SO_A, [], ["XX-01"]), unit(SO_B)],
            {"item_codes": {"SP-CY-01"}},
            f"unit {SO_A}: 承担抽查事项 XX-01 is not a check item in the catalogue",
        ),
    ],
)
def test_bad_tables_are_one_line(table: list[OrgUnitCreate], kw: dict, message: str) -> None:
    with pytest.raises(InputError) as info:
        build_units(table, [person("A1", SO_A), person("B1", SO_B)], **kw)
    assert message in str(info.value) and "\n" not in str(info.value)


TOWNS = [f"4452{c}{n:03d}" for c in ("02", "03") for n in range(1, 6)]


@st.composite
def offices(draw: st.DrawFn) -> tuple[list[OrgUnitCreate], list[InspectorCreate]]:
    n = draw(st.integers(1, 5))
    table = [unit(f"U{k}", draw(st.lists(st.sampled_from(TOWNS), max_size=3, unique=True))) for k in range(n)]
    staff = [
        person(f"P{k}", f"U{draw(st.integers(0, n - 1))}", draw(st.sampled_from(["445202", "445203", *TOWNS])))
        for k in range(draw(st.integers(0, 8)))
    ]
    return table, staff


@settings(max_examples=200)
@given(offices(), st.booleans())
def test_whoever_may_serve_a_township_is_in_its_pool(world: tuple, by_county: bool) -> None:
    """The pools partition the inspectors, and every inspector allowed in a township staffs that township's pool."""
    table, staff = world
    units = build_units(table, staff, pool_by_county=by_county)
    by_name = {u.name: u for u in table}
    for township in TOWNS:
        pool = units.pool_of_township(township)
        allowed = [
            p
            for p in staff
            if township in by_name[p.unit].townships
            or (not by_name[p.unit].townships and (not by_county or p.region[:6] == township[:6]))
        ]
        listed = any(township in u.townships for u in table)
        if pool is None:
            assert not allowed and not listed
        for p in allowed:
            assert units.pool_of_inspector(p.id) == pool
        for u in table:  # a unit listing the township shares its pool, staffed or not
            if township in u.townships:
                assert pool is not None
                assert all(units.pool_of_inspector(p.id) == pool for p in staff if p.unit == u.name)


def test_an_unrestricted_unit_in_two_counties_does_not_merge_them() -> None:
    """A city's expert institute has experts in several counties; each serves their own county's pool."""
    institute = "揭阳市特种设备检测研究院（外聘专家）"
    units = build_units(
        [unit(institute), unit(KE), unit("榕城所", ["445202001"])],
        [
            person("E1", institute, "445203"),
            person("E2", institute, "445202"),
            person("K1", KE),
            person("R1", "榕城所", "445202"),
        ],
    )
    assert units.pool_of_inspector("E1") == "445203" == units.pool_of_township("445203101")
    assert units.pool_of_inspector("E2") == "445202" == units.pool_of_township("445202001")
    assert units.inspectors_of_pool("445202") == ("E2", "R1") and units.inspectors_of_pool("445203") == ("E1", "K1")


def test_units_of_a_township() -> None:
    units = build_units(
        [unit(SO_A, ["445203101"]), unit(SO_B, ["445203103"]), unit(KE), unit("榕城所", ["445202001"])],
        [person("A1", SO_A), person("B1", SO_B), person("K1", KE, "445203"), person("R1", "榕城所", "445202")],
    )
    assert units.units_of_township("445203101") == tuple(sorted((KE, SO_A)))
    assert units.units_of_township("445203199") == (KE,)
    assert units.units_of_township("445202001") == ("榕城所",)
    assert build_units([], [person("A1", SO_A)]).units_of_township("445203101") == ()
