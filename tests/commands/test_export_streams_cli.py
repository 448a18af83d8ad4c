"""`suijian tasks export` streams the plan from the store (issue 15) and writes what the export before it wrote:
the same CSV and JSON bytes and XLSX cells as tests/engine/plan/legacy_export given the whole plan, on SQLite and
PostgreSQL; a write that fails half-way leaves no file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import output_file, planning
from engine.results import recheck_store, records
from entities import store
from entities.errors import InputError
from tests import plan_documents
from tests.engine.plan import legacy_export
from tests.engine.plan.xlsx_cells import workbook_cells
from tests.helpers import run_cli
from tests.results_store import build
from tests.store_template import StoreCopies


def legacy(url: str, fmt: str, inspector: str | None = None) -> bytes:
    """What the export wrote before it streamed, from the whole plan as planning.load_plan reads it."""
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            pid, plan = planning.load_plan(conn, None)
            inspectors, _ = planning.roster(conn)
            due = recheck_store.to_do(conn, (plan.period.start, plan.period.end), inspector=inspector)
            return legacy_export.export_tasks(
                plan,
                planning.check_items(conn),
                planning.plan_subject_details(conn, plan),
                inspectors,
                format=fmt,
                inspector=inspector,
                plan_id=pid,
                townships=records.township_names(conn),
                rechecks=due,
            )
    finally:
        engine.dispose()


@pytest.fixture
def planned(store_url: str, store_copies: StoreCopies, monkeypatch: pytest.MonkeyPatch) -> str:
    store_copies.fill(store_url, "results store 400 (export streams)", lambda: build(store_url, 400))
    return store_url


def test_the_streamed_export_is_the_old_one(planned: str, tmp_path: Path) -> None:
    for fmt in ("csv", "json", "xlsx"):
        target = tmp_path / f"tasks.{fmt}"
        code, out, err = run_cli("tasks", "export", "--format", fmt, "--out", str(target), "--json", "--db", planned)
        assert code == 0, err
        data = target.read_bytes()
        doc = json.loads(out)
        assert doc["bytes"] == len(data) and doc["visits"] > 10
        wanted = legacy(planned, fmt)
        if fmt == "xlsx":
            assert workbook_cells(data) == workbook_cells(wanted)
        else:
            assert data == wanted
    rows = json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))
    lead = rows[0]["lead"]
    code, out, err = run_cli("tasks", "export", "--format", "csv", "--inspector", lead, "--out", "-", "--db", planned)
    assert code == 0, err
    assert out.encode("utf-8") == legacy(planned, "csv", inspector=lead)
    assert err.startswith("Wrote ") and "to stdout" in err


def test_a_write_that_fails_half_way_leaves_no_file(tmp_path: Path) -> None:
    def pieces() -> Iterator[bytes]:
        yield b"first rows\n"
        raise InputError("bad input found late")

    target = tmp_path / "tasks.csv"
    with pytest.raises(InputError, match="bad input found late"):
        output_file.write_chunks(target, pieces())
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"the old list")
    with pytest.raises(InputError):
        output_file.write_chunks(target, pieces())
    assert target.read_bytes() == b"the old list" and list(tmp_path.iterdir()) == [target]
    assert output_file.write_chunks(target, iter([b"a", b"bc"])) == 3 and target.read_bytes() == b"abc"


def test_an_altered_document_is_refused_in_one_line_and_nothing_is_written(planned: str, tmp_path: Path) -> None:
    engine = store.open_store(planned)
    try:
        with engine.begin() as conn:
            pid, blob = conn.execute(sa.text("SELECT id, document FROM plan")).one()
            data, _ = plan_documents.rewrite(
                bytes(blob), lambda t: t.replace('"lead_repeats":false', '"lead_repeats":true', 1)
            )
            conn.execute(sa.text("UPDATE plan SET document = :d"), {"d": data})
    finally:
        engine.dispose()
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "tasks.csv"
    code, out, err = run_cli("tasks", "export", "--format", "csv", "--out", str(target), "--db", planned)
    assert (code, out) == (1, "")
    assert err == f"Error: plan {pid}: its stored document does not match its hash; run `suijian audit verify`\n"
    assert list(folder.iterdir()) == []
