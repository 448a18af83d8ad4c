"""Round trip model → store → model, on SQLite and PostgreSQL alike (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entities import codes, store
from entities.enums import (
    EquipmentCategory,
    LocationType,
    Qualification,
    ResultCode,
    SubjectKind,
    SubjectStatus,
)
from entities.models import (
    CheckResultCreate,
    CheckResultRead,
    EquipmentCreate,
    EquipmentRead,
    InspectorCreate,
    InspectorRead,
    SubjectCreate,
    SubjectRead,
)

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Any printable text a user might type, except NUL (refused by validation, tested elsewhere) and surrogates.
text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)
dates = st.dates(dt.date(1980, 1, 1), dt.date(2030, 12, 31))


@st.composite
def usccs(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["91", "92", "93"])) + draw(st.sampled_from(["445203", "440111", "440106"]))
    body = "".join(draw(st.lists(st.sampled_from(_ALPHABET), min_size=9, max_size=9)))
    return head + body + codes.uscc_check_digit(head + body)


subjects = st.builds(
    SubjectCreate,
    uscc=usccs(),
    name=text,
    kind=st.sampled_from(list(SubjectKind)),
    industry=st.sampled_from(["F5211", "H6210", "C3389", "O8010", "A01"]),
    region=st.sampled_from(["445203001", "440111", "440106012"]),
    address=st.text(max_size=60).filter(lambda s: "\x00" not in s).map(str.strip),
    registered_on=dates,
    status=st.sampled_from(list(SubjectStatus)),
    whitelist=st.booleans(),
    lenient=st.booleans(),
)


@st.composite
def equipments(draw: st.DrawFn) -> EquipmentCreate:
    category = draw(st.sampled_from(list(EquipmentCategory)))
    installed = draw(dates)
    inspected = draw(st.none() | st.dates(installed, dt.date(2031, 1, 1)))
    open_d = draw(st.integers(0, 9))
    return EquipmentCreate(
        reg_code=draw(st.from_regex(r"[0-9A-Z]{10,20}", fullmatch=True)),
        category=category,
        sub_type=draw(st.sampled_from(["", "曳引驱动乘客电梯", "固定式压力容器", "桥式起重机"])),
        user_uscc=draw(usccs()),
        location_type=draw(st.sampled_from(list(LocationType))),
        installed_on=installed,
        design_life_years=draw(st.none() | st.integers(1, 50)),
        last_inspected_on=inspected,
        last_conclusion=draw(st.none() | st.sampled_from(["pass", "fail", "conditional"])),
        next_due_on=draw(st.none() | dates),
        safety_grade=draw(st.none() | st.integers(1, 5))
        if category in ("pressure_vessel", "pressure_piping")
        else None,
        open_hidden_dangers=open_d,
        serious_hidden_dangers=draw(st.integers(0, open_d)),
    )


inspectors = st.builds(
    InspectorCreate,
    id=st.from_regex(r"[A-Z]{2}[0-9]{4}", fullmatch=True),
    name=text,
    unit=text,
    region=st.sampled_from(["445203", "440111"]),
    certificate_no=st.none() | st.from_regex(r"[0-9]{11}", fullmatch=True),
    qualifications=st.lists(st.sampled_from(list(Qualification)), unique=True),
    capacity=st.integers(0, 1000),
)

results = st.builds(
    CheckResultCreate,
    id=st.from_regex(r"R[0-9]{6}", fullmatch=True),
    uscc=usccs(),
    checked_on=dates,
    item_code=st.none() | st.sampled_from(["SJ-DT-01", "DJ-GS-01"]),
    result_codes=st.one_of(
        st.just(["no_problem"]),
        st.lists(st.sampled_from([c for c in ResultCode if c != "no_problem"]), min_size=1, max_size=4, unique=True),
    ),
)

CASES: list[tuple[str, Any, Any]] = [
    ("subject", subjects, SubjectRead),
    ("equipment", equipments(), EquipmentRead),
    ("inspector", inspectors, InspectorRead),
    ("check_result", results, CheckResultRead),
]


def _roundtrip(engine: sa.Engine, table: str, model: Any, read_cls: Any) -> None:
    row = model.model_dump(mode="python")
    with engine.begin() as conn:
        conn.execute(store.table(table).delete())
        store.bulk_insert(conn, table, [row])
        back = conn.execute(sa.select(store.table(table))).mappings().one()
    assert read_cls.model_validate(dict(back)).model_dump() == read_cls.model_validate(row).model_dump()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_entity_round_trips(engine: sa.Engine, data: st.DataObject) -> None:
    for table, strategy, read_cls in CASES:
        _roundtrip(engine, table, data.draw(strategy, label=table), read_cls)


def test_upsert_replaces_by_natural_key(engine: sa.Engine) -> None:
    s = SubjectCreate(
        uscc="91445203MA4UABCD9" + codes.uscc_check_digit("91445203MA4UABCD9"),
        name="甲",
        kind="enterprise",
        industry="C3389",
        region="445203001",
        registered_on="2019-01-01",
    )
    with engine.begin() as conn:
        store.upsert(conn, "subject", [s.model_dump()])
        store.upsert(conn, "subject", [{**s.model_dump(), "name": "乙"}])
        assert store.count_rows(conn, "subject") == 1
        assert conn.execute(sa.select(store.table("subject").c.name)).scalar() == "乙"
