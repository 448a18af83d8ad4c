"""Task lists: one row per visit with subject, items, contents, legal basis, team and due window."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import polars as pl
import pytest
from openpyxl import load_workbook

from engine.plan.export import COLUMNS, export_tasks, task_rows
from engine.plan.model import Plan
from entities.errors import InputError
from entities.models import CheckItemCreate, InspectorCreate
from tests.engine.plan import world
from tests.engine.plan.world import plan


@dataclass
class Setup:
    plan: Plan
    frame: pl.DataFrame
    inspectors: list[InspectorCreate]
    items: list[CheckItemCreate]


@pytest.fixture(scope="module")
def setup() -> Setup:
    frame = world.subjects(200)
    inspectors = world.roster()
    return Setup(plan(frame, inspectors=inspectors), frame, inspectors, world.catalogue())


def _export(setup: Setup, *, format: str, inspector: str | None = None) -> bytes:
    return export_tasks(setup.plan, setup.items, setup.frame, setup.inspectors, format=format, inspector=inspector)


def test_csv_opens_in_excel_with_chinese_headers(setup: Setup) -> None:
    data = _export(setup, format="csv")
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [h for h, _ in COLUMNS.values()]
    p = setup.plan
    assert len(rows) - 1 == len(p.visits)
    first = dict(zip(rows[0], rows[1], strict=True))
    visit = next(v for v in p.visits if v.uscc == first["统一社会信用代码"])
    assert first["主体名称"].startswith("广州某某") and first["住所（经营场所）"].startswith("白云区")
    assert first["检查事项"].count("\n") == len(visit.items) - 1
    assert "内容一" in first["检查内容"] and "《某条例》" in first["法律依据"]
    assert first["组长"].endswith(f"（{visit.lead}）")
    assert (first["开始日期"], first["截止日期"]) == (visit.due_from.isoformat(), visit.due_to.isoformat())


def test_one_inspectors_list(setup: Setup) -> None:
    p = setup.plan
    inspector = p.visits[0].lead
    rows = json.loads(_export(setup, format="json", inspector=inspector))
    assert rows and all(any(m["id"] == inspector for m in r["team"]) for r in rows)
    assert len(rows) == sum(1 for v in p.visits if inspector in v.team)
    assert [r["no"] for r in rows] == list(range(1, len(rows) + 1))
    assert [(r["due_from"], r["priority"]) for r in rows] == sorted((r["due_from"], r["priority"]) for r in rows)
    entry = rows[0]["items"][0]
    assert {"code", "name", "contents", "legal_basis", "drawn", "mandatory", "reason", "stratum"} <= set(entry)


def test_xlsx_is_readable(setup: Setup) -> None:
    data = _export(setup, format="xlsx")
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet.title == "检查任务"
    assert [c.value for c in sheet[1]] == [h for h, _ in COLUMNS.values()]
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["D"].width == COLUMNS["address"][1]
    assert sheet.max_row == len(setup.plan.visits) + 1
    assert sheet["A1"].font.bold


def test_bad_export_requests(setup: Setup) -> None:
    with pytest.raises(InputError, match="unknown export format 'pdf'"):
        _export(setup, format="pdf")
    with pytest.raises(InputError, match="unknown inspector NOBODY"):
        _export(setup, format="csv", inspector="NOBODY")
    with pytest.raises(InputError, match="is not among the items given"):
        export_tasks(setup.plan, [], format="json")


def test_without_subject_details_the_cells_stay_empty(setup: Setup) -> None:
    rows = task_rows(setup.plan, setup.items)
    assert rows and all(r["name"] == "" and r["address"] == "" for r in rows)


def test_csv_and_json_are_deterministic(setup: Setup) -> None:
    assert _export(setup, format="csv") == _export(setup, format="csv")
    assert _export(setup, format="json") == _export(setup, format="json")
