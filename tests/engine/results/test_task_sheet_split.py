"""The task list's result sheets split per inspector (组长) or per 执法单位: sheet names Excel accepts, every visit on
exactly one sheet, and each sheet a complete 检查结果 sheet (columns, dropdowns, date cells, autofilter)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from openpyxl import load_workbook

from engine.plan.export import export_tasks
from engine.results import task_sheet
from entities.errors import InputError
from tests.engine.plan import world


@pytest.fixture(scope="module")
def setup() -> tuple:
    frame = world.subjects(200)
    roster = world.roster()
    # Two leads with the same name, one name Excel would refuse as is, units of different sizes.
    renamed = []
    for n, person in enumerate(roster):
        name = {0: "张伟", 1: "张伟", 2: "李/四[组]:*?"}.get(n, person.name)
        unit = "白云区市场监管局/嘉禾所" if n % 2 else "白云区市场监管局 石井所"
        renamed.append(person.model_copy(update={"name": name, "unit": unit}))
    plan = world.plan(frame, inspectors=roster)
    return plan, frame, renamed, world.catalogue()


def _workbook(setup: tuple, split: str | None):
    plan, frame, roster, items = setup
    data = export_tasks(plan, items, frame, roster, format="xlsx", plan_id="P2025-test", townships={}, sheets=split)
    return load_workbook(io.BytesIO(data))


def test_sheet_titles_follow_excels_rules() -> None:
    titles = task_sheet.sheet_titles(
        [
            ("a", "张伟"),
            ("b", "张伟"),
            ("c", "a/b\\c?d*e[f]g:h"),
            ("d", "x" * 40),
            ("e", "x" * 40),
            ("f", "'引号'"),
            ("g", "检查任务"),
            ("h", "HISTORY"),
            ("i", "Abc"),
            ("j", "aBC"),
            ("k", "   "),
        ]
    )
    assert titles["a"] == "张伟" and titles["b"] == "张伟~2"
    assert titles["c"] == "a_b_c_d_e_f_g_h"
    assert titles["d"] == "x" * 31 and titles["e"] == "x" * 29 + "~2"
    assert titles["f"] == "引号"
    assert titles["g"] == "检查任务~2" and titles["h"] == "HISTORY~2"  # reserved, whatever the case
    assert titles["i"] == "Abc" and titles["j"] == "aBC~2"  # Excel compares names without case
    assert titles["k"] == "k"
    assert all(len(t) <= 31 for t in titles.values())
    assert len({t.casefold() for t in titles.values()}) == len(titles)


@pytest.mark.parametrize("split", ["inspector", "unit"])
def test_one_complete_results_sheet_per_lead_or_unit(setup: tuple, split: str) -> None:
    plan, _, roster, _ = setup
    whole = _workbook(setup, None)
    book = _workbook(setup, split)
    people = {i.id: i for i in roster}
    result_sheets = [n for n in book.sheetnames if n not in task_sheet.NOT_RESULTS]
    assert book.sheetnames[0] == "检查任务" and book.sheetnames[-2:] == ["结果代码", "未能覆盖"]
    assert "检查结果" not in book.sheetnames
    leads = {v.lead for v in plan.visits}
    expected = len(leads) if split == "inspector" else len({people[lead].unit for lead in leads})
    assert len(result_sheets) == expected > 1
    headers = [c.value for c in whole["检查结果"][1]]
    seen: list[tuple[str, str]] = []
    for name in result_sheets:
        sheet = book[name]
        assert [c.value for c in sheet[1]] == headers
        assert sheet.auto_filter.ref == f"A1:{chr(ord('A') + len(headers) - 1)}{sheet.max_row}"
        kinds = {dv.type for dv in sheet.data_validations.dataValidation}
        assert kinds == {"list", "date"}
        col = {h: n for n, h in enumerate(headers)}
        sheet_leads = set()
        for row in sheet.iter_rows(min_row=2, values_only=True):
            seen.append((row[col["检查编号"]], row[col["抽查事项代码"]]))
            assert isinstance(row[col["开始日期"]], dt.datetime)
            visit = next(v for v in plan.visits if v.id == row[col["检查编号"]])
            sheet_leads.add(visit.lead)
        if split == "inspector":
            (lead,) = sheet_leads  # one lead's visits per sheet
            assert name.startswith(people[lead].name.replace("/", "_").replace("[", "_")[:5])
        else:
            assert len({people[lead].unit for lead in sheet_leads}) == 1
    # Every visit item exactly once over the sheets, as many as the single sheet has.
    single = [(r[1], r[5]) for r in whole["检查结果"].iter_rows(min_row=2, values_only=True)]
    assert sorted(seen) == sorted(single) and len(set(seen)) == len(seen)
    if split == "inspector":
        twins = [n for n in result_sheets if n.startswith("张伟")]
        assert all("（" in n for n in twins)  # two leads named 张伟: the id tells them apart
        assert any(n.startswith("李_四_组___") for n in result_sheets) or not any(
            people[v.lead].name.startswith("李") for v in plan.visits
        )


def test_split_is_an_xlsx_option(setup: tuple) -> None:
    plan, frame, roster, items = setup
    with pytest.raises(InputError, match="XLSX task list"):
        export_tasks(plan, items, frame, roster, format="csv", plan_id="P", sheets="inspector")
    with pytest.raises(InputError, match="unknown sheet split 'team'"):
        export_tasks(plan, items, frame, roster, format="xlsx", plan_id="P", sheets="team")


def test_same_inputs_same_bytes(setup: tuple) -> None:
    plan, frame, roster, items = setup
    one = export_tasks(plan, items, frame, roster, format="xlsx", plan_id="P", sheets="unit")
    two = export_tasks(plan, items, frame, roster, format="xlsx", plan_id="P", sheets="unit")
    assert one == two
    # No wall clock anywhere in the bytes (regression: Workbook.save stamped the current time into the document's
    # modified date and every zip entry, so two exports a second apart differed).
    with zipfile.ZipFile(io.BytesIO(one)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert f">{plan.as_of.isoformat()}T00:00:00Z</dcterms:modified>" in core  # the plan's as-of, not today


def _recheck(plan, lead: str, member: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    v = plan.visits[0]
    return {
        "plan_id": "P2025-test",
        "visit_id": f"{v.id}/RC-{v.items[0].code}",
        "uscc": v.uscc,
        "region": v.region,
        "items": [v.items[0].code],
        "team": [lead, member],
        "team_names": ["甲", "乙"],
        "lead": lead,
        "scheduled_on": dt.date(2025, 3, 17),
        "earliest": dt.date(2025, 3, 14),
        "latest": dt.date(2025, 3, 27),
        "proposal_id": f"recheck:P2025-test:{v.id}:{v.items[0].code}",
        "of_visit_id": v.id,
        "reason": "责令改正 by 2025-03-13: re-check after the deadline",
        "basis": "令第49号",
        "team_rule": "original",
        "subject": "广州某某有限公司",
        "address": "白云区某路1号",
    }


def test_rechecks_follow_the_plan_visits_marked_and_on_their_leads_sheet(setup: tuple) -> None:
    plan, frame, roster, items = setup
    lead, member = plan.visits[0].team[0], plan.visits[0].team[1]
    recheck = _recheck(plan, lead, member)
    data = export_tasks(plan, items, frame, roster, format="csv", rechecks=[recheck])
    lines = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(lines) == len(plan.visits) + 1
    last = lines[-1]
    assert last["序号"] == str(len(plan.visits) + 1) and last["检查编号"] == recheck["visit_id"]
    assert last["抽取方式"] == (
        f"复查：原检查 {plan.visits[0].id}（计划 P2025-test）；责令改正 by 2025-03-13: re-check after the deadline；"
        "依据 令第49号；安排于 2025-03-17"
    )
    assert (last["开始日期"], last["截止日期"]) == ("2025-03-14", "2025-03-27")
    book = load_workbook(
        io.BytesIO(
            export_tasks(
                plan, items, frame, roster, format="xlsx", plan_id="P2025-test", sheets="inspector", rechecks=[recheck]
            )
        )
    )
    hits = [
        (name, row)
        for name in book.sheetnames
        if name not in task_sheet.NOT_RESULTS
        for row in book[name].iter_rows(min_row=2, values_only=True)
        if row[1] == recheck["visit_id"]
    ]
    ((name, row),) = hits
    assert row[-1] == "复查" and row[0] == "P2025-test"
    # On the sheet of its lead: the one holding the original visit, which the same inspector leads.
    (original,) = {
        n
        for n in book.sheetnames
        if n not in task_sheet.NOT_RESULTS
        for r in book[n].iter_rows(min_row=2, values_only=True)
        if r[1] == plan.visits[0].id
    }
    assert name == original
    # An inspector who joined after the plan (not on its roster) gets their re-checks alone.
    newcomer = _recheck(plan, "NEW001", lead)
    rows = json.loads(export_tasks(plan, items, frame, roster, format="json", inspector="NEW001", rechecks=[newcomer]))
    assert [r["visit"] for r in rows] == [newcomer["visit_id"]] and rows[0]["recheck"]["of_visit"] == plan.visits[0].id
    with pytest.raises(InputError, match="unknown inspector NEW001"):
        export_tasks(plan, items, frame, roster, format="json", inspector="NEW001")


def test_unit_tabs_drop_the_bureau_name_every_unit_shares() -> None:
    bureau = "揭阳市揭东区市场监督管理局"
    units = [f"{bureau}云路镇市场监督管理所", f"{bureau}产品质量安全监督管理股", f"{bureau}登记注册股"]
    assert task_sheet.unit_tab_names(units) == {
        units[0]: "云路镇市场监督管理所",
        units[1]: "产品质量安全监督管理股",
        units[2]: "登记注册股",
    }
    # Nothing shared up to a 局, one unit only, or a unit that is the bureau itself: names stay whole.
    assert task_sheet.unit_tab_names(["云路所", "玉湖所"]) == {"云路所": "云路所", "玉湖所": "玉湖所"}
    assert task_sheet.unit_tab_names([units[0]]) == {units[0]: units[0]}
    assert task_sheet.unit_tab_names([bureau, units[0]]) == {bureau: bureau, units[0]: units[0]}
