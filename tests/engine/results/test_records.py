"""Results in the store (engine.results.records): what is written reads back as the same versions, its hash is what
the ledger entry holds, corrections are appended next to the first version, and the derived check history follows
the version in force. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import replace

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ledger import chain
from engine.results import records
from engine.results.codes import default_codes
from engine.results.model import ItemResult, Measure, MeasureKind, VisitResult
from engine.results.validate import Recorder
from entities import store
from entities.errors import InputError
from tests.helpers import TESTER

PLAN = "P2026-0000000001"
USCC = "91440101MA5CXXXX1B"
ITEMS = ("DJ-GS-01", "SP-XS-01", "CP-CJ-01")
WHO = Recorder("测试员 tester", "supervisor")
STAMP = dt.datetime(2026, 4, 1, 9, 0)


def planned(conn: sa.Connection) -> None:
    store.bulk_insert(
        conn,
        "plan",
        [
            {
                "id": PLAN,
                "regions": "445203",
                "period": "2026",
                "period_start": dt.date(2026, 1, 1),
                "period_end": dt.date(2026, 12, 31),
                "as_of": dt.date(2025, 12, 31),
                "seed": "s",
                "grade_run_id": "G",
                "pack_hash": "0" * 64,
                "visits": 1,
                "sha256": "0" * 64,
                "document": zlib.compress(b"{}"),
                "created_at": STAMP,
            }
        ],
    )
    store.bulk_insert(
        conn,
        "plan_visit",
        [
            {
                "plan_id": PLAN,
                "visit_id": USCC,
                "uscc": USCC,
                "region": "445203001",
                "items": list(ITEMS),
                "team": ["I1", "I2"],
                "lead": "I1",
                "scheduled_on": None,
                "due_on": dt.date(2026, 12, 31),
                "status": "planned",
            }
        ],
    )


texts = st.text(alphabet=st.sampled_from("后厨未设防鼠设施 abc，；\"'\\\n𠀀"), max_size=20)
code_sets = st.lists(st.sampled_from([c.code for c in default_codes()]), min_size=1, max_size=3, unique=True)
measures = st.lists(
    st.builds(
        Measure,
        st.sampled_from(list(MeasureKind)),
        st.one_of(st.none(), st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31))),
        texts,
    ),
    max_size=2,
)
item_results = st.builds(
    ItemResult,
    st.sampled_from(ITEMS),
    code_sets.map(tuple),
    texts,
    measures.map(tuple),
    st.one_of(st.none(), st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31))),
)
results = st.builds(
    VisitResult,
    plan_id=st.just(PLAN),
    visit_id=st.just(USCC),
    uscc=st.just(USCC),
    completed_on=st.dates(dt.date(2026, 1, 1), dt.date(2026, 6, 30)),
    items=st.lists(item_results, min_size=1, max_size=3, unique_by=lambda i: i.item_code).map(tuple),
    team=st.lists(st.sampled_from(["I1", "I2", "I3", "张三"]), min_size=2, max_size=3, unique=True).map(tuple),
    recorded_on=st.dates(dt.date(2026, 7, 1), dt.date(2026, 12, 31)),
    recorded_by=st.just(WHO.id),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=results)
def test_what_is_written_reads_back_and_hashes_as_its_entry(engine: sa.Engine, result: VisitResult) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        planned(conn)
        written = records.record(
            conn, [result], who=WHO, actor=TESTER, recorded_on=result.recorded_on, created_at=STAMP, source="record"
        )
        (back,) = records.stored_results(conn, batch_id=written.batch_id)
        # The store keeps the canonical form (items, codes and measures sorted): the same version, as data.
        assert back.to_dict() == result.to_dict() and back.fingerprint() == result.fingerprint()
        entry = chain.find(conn, str(written.batch_id))
        assert entry is not None and entry.kind == "results"
        assert entry.get("outputs_hash") == records.batch_hash([back]) == records.batch_hash([result])
        tx.rollback()


def test_a_correction_is_appended_and_the_history_follows_it(engine: sa.Engine) -> None:
    first = VisitResult(
        PLAN,
        USCC,
        USCC,
        dt.date(2026, 3, 2),
        tuple(ItemResult(i, ("3",) if i == "SP-XS-01" else ("1",)) for i in ITEMS),
        ("I1", "I2"),
        dt.date(2026, 3, 3),
        WHO.id,
    )
    second = replace(first, items=first.items[:2], version=2, correction_reason="复核", recorded_on=dt.date(2026, 3, 9))
    with engine.begin() as conn:
        planned(conn)
        records.record(
            conn, [first], who=WHO, actor=TESTER, recorded_on=first.recorded_on, created_at=STAMP, source="record"
        )
        with pytest.raises(InputError, match="version 1 was recorded meanwhile"):
            records.record(
                conn, [first], who=WHO, actor=TESTER, recorded_on=first.recorded_on, created_at=STAMP, source="x"
            )
        records.record(
            conn, [second], who=WHO, actor=TESTER, recorded_on=second.recorded_on, created_at=STAMP, source="record"
        )
        versions = records.stored_results(conn)
        assert [v.version for v in versions] == [1, 2] and versions[0].to_dict() == first.to_dict()
        history = store.table("check_result")
        derived = conn.execute(
            sa.select(history.c.item_code, history.c.result_codes).order_by(history.c.item_code)
        ).all()
    # CP-CJ-01 was dropped by the correction: its derived row is gone; the others follow version 2.
    assert [(i, list(c)) for i, c in derived] == [("DJ-GS-01", ["no_problem"]), ("SP-XS-01", ["other_violation"])]


def test_history_row_maps_codes_to_grading_keys() -> None:
    codes = default_codes()
    r = VisitResult(PLAN, USCC, USCC, dt.date(2026, 3, 2), (), ("I1", "I2"), dt.date(2026, 3, 3), "x")
    row = records.history_row(r, ItemResult("SP-XS-01", ("A", "E")), codes)
    assert row["result_codes"] == ["fixed_after_order", "other_violation"] and row["id"].startswith("R-")
    assert records.history_row(r, ItemResult("SP-XS-01", ("1",)), codes)["result_codes"] == ["no_problem"]
    assert len(row["id"]) == 40 and row["id"] == records.history_id(PLAN, USCC, "SP-XS-01")
