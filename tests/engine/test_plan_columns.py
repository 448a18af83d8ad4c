"""The columnar plan document (suijian.plan/3, engine.ledger.plan_columns): the hash is the content's, not the
container's; it reads back to the same plan, a row group at a time; its task lists are the plan/2 document's
byte for byte; damaged bytes are one error, never a traceback."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import planning
from engine.ledger import canonical, plan_columns, plan_reader
from engine.plan import export
from engine.plan.model import PLAN_FORMAT_COLUMNAR, PLAN_FORMAT_FITTED, Plan, visit_frame
from engine.plan_stored import list_columns
from entities.errors import DocumentUnreadable
from tests.engine.plan import world
from tests.plan_documents import naive_visit_frame

ITEMS = world.catalogue()


@pytest.fixture(scope="module")
def fitted() -> tuple[Plan, pl.DataFrame, list]:
    frame = world.subjects(300)
    inspectors = world.roster()
    plan = world.plan(frame, inspectors=inspectors, fitted=True)
    assert plan.format == PLAN_FORMAT_FITTED and len(plan.visits) > 20
    return plan, frame, inspectors


def _members(data: bytes) -> tuple[bytes, list[bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = sorted(n for n in zf.namelist() if n != plan_columns.HEAD)
        return zf.read(plan_columns.HEAD), [zf.read(n) for n in parts]


def _container(head: bytes, visits: list[bytes], *, head_last: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if not head_last:
            zf.writestr(plan_columns.HEAD, head, compress_type=zipfile.ZIP_DEFLATED)
        for n, data in enumerate(visits):
            zf.writestr(f"visits/{n:05d}.parquet", data, compress_type=zipfile.ZIP_DEFLATED)
        if head_last:
            zf.writestr(plan_columns.HEAD, head)
    return buf.getvalue()


def test_new_fitted_plans_are_written_as_plan3(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    plan = fitted[0]
    document = planning.plan_document(plan)
    assert document.scheme == canonical.PLAN3 and plan_columns.is_columnar(document.compressed)
    assert document.id.startswith("P2025-") and document.id == planning.plan_id_of(plan)[0]
    assert planning.plan_document(plan).compressed == document.compressed  # same plan, same bytes
    old = planning.plan_document(plan, canonical.PLAN2)  # as a plan/2 entry is replayed
    assert old.scheme == canonical.PLAN2 and old.sha256 == hashlib.sha256(plan.to_json().encode()).hexdigest()


def test_the_hash_is_the_contents_not_the_containers(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    document = planning.plan_document(fitted[0])
    head, visits = _members(document.compressed)
    table = pl.concat([pl.read_parquet(io.BytesIO(v)) for v in visits]).to_arrow()
    rewritten = []
    for compression, group in (("snappy", 7), ("gzip", 1000), ("none", 1)):  # another writer: pyarrow's
        out = io.BytesIO()
        pq.write_table(table, out, compression=compression, row_group_size=group, use_dictionary=False)
        rewritten.append([out.getvalue()])
    split = []
    for start in range(0, table.num_rows, 5):  # the visits in files of 5 rows, lz4, by polars
        out = io.BytesIO()
        pl.from_arrow(table.slice(start, 5)).write_parquet(out, compression="lz4")  # type: ignore[union-attr]
        split.append(out.getvalue())
    rewritten.append(split)
    for data in rewritten:
        assert data != visits
        again = plan_columns.read(_container(head, data, head_last=True))
        assert again.digest == document.sha256 and again.visits == len(fitted[0].visits)


def test_every_value_is_in_the_hash(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    plan = fitted[0]
    base = planning.plan_document(plan).sha256
    first = plan.visits[0]
    changed = [
        dataclasses.replace(first, lead=first.team[-1]),
        dataclasses.replace(first, items=(dataclasses.replace(first.items[0], reason="另一理由"),)),
        dataclasses.replace(first, items=(*first.items, first.items[0])),
        dataclasses.replace(first, scheduled_on=None),
        dataclasses.replace(first, risk=None if first.risk is not None else 1.5),
    ]
    digests = {planning.plan_document(dataclasses.replace(plan, visits=(v, *plan.visits[1:]))).sha256 for v in changed}
    swapped = dataclasses.replace(plan, visits=(plan.visits[1], plan.visits[0], *plan.visits[2:]))  # order is a fact
    digests.add(planning.plan_document(swapped).sha256)
    digests.add(planning.plan_document(dataclasses.replace(plan, seed=plan.seed + "0")).sha256)  # the head
    assert base not in digests and len(digests) == len(changed) + 2


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.integers(1, 60))
def test_read_in_any_batch_size_gives_the_same_hash_and_visits(
    fitted: tuple[Plan, pl.DataFrame, list], batch: int
) -> None:
    plan = fitted[0]
    document = planning.plan_document(plan)
    frames: list[pl.DataFrame] = []
    read = plan_columns.read(document.compressed, frames.append, batch=batch)
    assert read.digest == document.sha256 and max(f.height for f in frames) <= batch
    assert Plan.from_columns(read.header or {}, frames) == dataclasses.replace(plan, format=PLAN_FORMAT_COLUMNAR)
    plan3 = dataclasses.replace(plan, format=PLAN_FORMAT_COLUMNAR)
    written = plan_columns.write(plan3.head(), plan3.visit_frames(batch))  # row groups of `batch` visits
    assert written.sha256 == document.sha256


def test_plan_reader_reads_both_kinds(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    plan = dataclasses.replace(fitted[0], format=PLAN_FORMAT_COLUMNAR)
    document = planning.plan_document(plan)
    batches: list[list[dict]] = []
    read = plan_reader.read(document.compressed, batches.append, batch=9)
    assert read.digest == document.sha256 and read.visits == len(plan.visits)
    whole = plan.to_dict()
    visits = whole.pop("visit_list")
    assert read.header == whole
    assert [v for b in batches for v in b] == visits  # the visits as plan/2's document writes them
    text, digest = plan_columns.document_text(document.compressed)
    assert text == plan.to_json() and digest == document.sha256


def test_export_of_plan3_is_the_export_of_plan2(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    plan2, frame, inspectors = fitted
    frames: list[pl.DataFrame] = []
    read = plan_columns.read(planning.plan_document(plan2).compressed, lambda f: frames.append(list_columns(f)))
    stored = Plan.from_dict({**(read.header or {}), "visit_list": []})
    visits = pl.concat(frames)
    for fmt in ("csv", "json"):
        new = export.export_tasks(stored, ITEMS, frame, inspectors, format=fmt, visits=visits)
        old = export.export_tasks(plan2, ITEMS, frame, inspectors, format=fmt)
        assert new == old and len(new) > 5_000
    lead = plan2.visits[0].lead
    new = export.export_tasks(stored, ITEMS, frame, inspectors, format="csv", visits=visits, inspector=lead)
    assert new == export.export_tasks(plan2, ITEMS, frame, inspectors, format="csv", inspector=lead)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[: len(d) // 2],  # truncated
        lambda d: _container(b"{}", [b"not parquet"]),
        lambda d: _container(b"{}", [_members(d)[1][0][:-40]]),
        lambda d: b"PK\x03\x04" + b"\0" * 100,
    ],
)
def test_damaged_documents_are_unreadable_not_a_crash(fitted: tuple[Plan, pl.DataFrame, list], damage: object) -> None:
    data = planning.plan_document(fitted[0]).compressed
    with pytest.raises(DocumentUnreadable):
        plan_columns.read(damage(data))  # type: ignore[operator]


def test_a_table_of_other_types_is_unreadable(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    head, _ = _members(planning.plan_document(fitted[0]).compressed)
    out = io.BytesIO()
    pl.DataFrame({"id": ["x"], "uscc": [1]}).write_parquet(out)
    with pytest.raises(DocumentUnreadable, match="no column"):
        plan_columns.read(_container(head, [out.getvalue()]))


def test_visits_in_many_files_hash_as_one(
    fitted: tuple[Plan, pl.DataFrame, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = planning.plan_document(fitted[0])
    monkeypatch.setattr(plan_columns, "ROW_GROUP", 7)
    small = planning.plan_document(fitted[0])
    assert len(_members(small.compressed)[1]) == -(-len(fitted[0].visits) // 7) > len(_members(document.compressed)[1])
    assert small.sha256 == document.sha256 and small.compressed != document.compressed


def test_a_stray_member_is_unreadable(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    data = planning.plan_document(fitted[0]).compressed
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("visits/extra.json", b"[]")
    with pytest.raises(DocumentUnreadable, match="visits/extra.json"):
        plan_columns.read(buf.getvalue())


def test_visits_frame_is_the_frame_of_the_visits_python_values(fitted: tuple[Plan, pl.DataFrame, list]) -> None:
    """The visits' frames are built from flat columns (plan_columns.visits_frame): they must be the frames polars
    makes of the visits' Python values, for scheduled and unscheduled visits, empty and full lists alike."""
    visits = list(fitted[0].visits)
    first = visits[0]
    odd = [
        dataclasses.replace(first, scheduled_on=None, due_on=first.due_to, index=3, count=4),  # unscheduled
        dataclasses.replace(first, experts=("E1", "E2"), previous_leads=(), team=(first.lead,), risk=None),
        dataclasses.replace(first, items=(), team=(), experts=()),
        dataclasses.replace(first, items=tuple(dataclasses.replace(i, stratum="s", reason=None) for i in first.items)),
    ]
    for chosen in (visits, odd, odd[:1], []):
        expected = naive_visit_frame(chosen)
        got = visit_frame(chosen)
        assert got.schema == expected.schema
        assert got.equals(expected)
    assert [f.height for f in fitted[0].visit_frames(7)] == [7] * (len(visits) // 7) + (
        [len(visits) % 7] if len(visits) % 7 else []
    )
