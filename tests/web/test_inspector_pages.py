"""The inspector's pages and JSON API through the framework's test client, on the web tests' store (a graded and
planned demo district; insp1 is linked to the lead of the plan's first visit): my week, month and overdue visits,
a subject's page and why it is listed, the result form (recorded in the ledger as the signed-in account; every
bad field one Chinese line naming it, nothing written), who may see and record what, escaping."""

from __future__ import annotations

import datetime as dt
import html
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.ledger import chain
from engine.my_visits import week_of
from entities import store
from tests.web.conftest import WebStore

Client = Callable[[str | None], TestClient]


def path_of(visit: dict[str, Any], tail: str = "") -> str:
    quoted = [urllib.parse.quote(str(visit[k]), safe="") for k in ("plan_id", "visit_id")]
    return "/inspector/visits/" + "/".join(quoted) + tail


def mine(web_store: WebStore) -> list[dict[str, Any]]:
    return [v for v in web_store.visits if web_store.inspector in v["team"]]


def ledger(url: str) -> list[chain.Entry]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return list(chain.entries(conn))
    finally:
        engine.dispose()


def subject_names(url: str, usccs: list[str]) -> dict[str, str]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            t = store.table("subject")
            return dict(conn.execute(t.select().with_only_columns(t.c.uscc, t.c.name).where(t.c.uscc.in_(usccs))).all())
    finally:
        engine.dispose()


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_my_week_lists_my_visits_of_that_week_by_township(web_store: WebStore, client_as: Client) -> None:
    client = client_as("inspector")
    first = min(mine(web_store), key=lambda v: v["scheduled_on"])
    week = week_of(first["scheduled_on"])
    page = client.get("/inspector/week", params={"week": week})
    assert page.status_code == 200
    in_week = [v for v in mine(web_store) if week_of(v["scheduled_on"]) == week]
    names = subject_names(web_store, [v["uscc"] for v in in_week])
    body = text_of(page.text)
    for v in in_week:
        assert names[v["uscc"]] in body and path_of(v) in page.text
    assert f"共 {len(in_week)} 次检查" in body and "检查组" in body
    others = [v for v in web_store.visits if web_store.inspector not in v["team"]]
    assert all(path_of(v) not in page.text for v in others)  # nobody else's visits
    month = client.get("/inspector/month", params={"month": first["scheduled_on"].strftime("%Y-%m")})
    assert month.status_code == 200 and all(path_of(v) in month.text for v in in_week)
    # The default week of a past plan is the week of my earliest visit without a result.
    assert client.get("/inspector/week").text.count('class="visit"') == len(in_week)
    bad = client.get("/inspector/week", params={"week": "2026-W99"})
    assert bad.status_code == 400 and "周 '2026-W99' 不是 2026-W02 这样的 ISO 周" in html.unescape(bad.text)


def test_the_subject_page_says_what_to_check_and_why_it_is_listed(web_store: WebStore, client_as: Client) -> None:
    client = client_as("inspector")
    v = mine(web_store)[0]
    page = client.get(path_of(v))
    assert page.status_code == 200
    body = text_of(page.text)
    assert v["uscc"] in body and "法律依据" in body
    assert "登记检查结果" in body and path_of(v, "/why") in page.text
    why = client.get(path_of(v, "/why"), headers={"HX-Request": "true"})
    assert why.status_code == 200
    said = text_of(why.text)
    assert "命中的规则" in said and "依据" in said
    assert "抽签号" in said or "必查" in said  # drawn by ticket against the cut-off, or mandatory work
    assert "<html" not in why.text  # a fragment for htmx; opened directly it is a whole page
    assert "<html" in client.get(path_of(v, "/why")).text


def test_a_result_recorded_through_the_form_is_in_the_ledger_as_the_account(
    web_store: WebStore, client_as: Client
) -> None:
    client = client_as("inspector")
    v = mine(web_store)[0]
    before = len(ledger(web_store))
    form = client.get(path_of(v, "/result"))
    assert form.status_code == 200 and "保存结果" in form.text
    data = {"csrf_token": client.csrf_token, "completed": v["scheduled_on"].isoformat()}  # type: ignore[attr-defined]
    data.update({f"code:{item}": "1" for item in v["items"]})
    done = client.post(path_of(v, "/result"), data=data, follow_redirects=False)
    assert done.status_code == 303, text_of(done.text)
    shown = client.get(done.headers["location"])
    assert "检查结果已保存" in shown.text and "已登记" in shown.text and "未发现问题" in shown.text
    entries = ledger(web_store)
    assert len(entries) == before + 1
    assert entries[-1].kind == "results" and entries[-1].actor["role"] == "inspector"
    assert "insp1" in entries[-1].actor["user"]  # the signed-in account, never SUIJIAN_USER
    again = client.post(path_of(v, "/result"), data=data, follow_redirects=False)  # a second, different result…
    assert again.status_code == 303 and "saved=same" in again.headers["location"]  # …the same one changes nothing
    data["code:" + v["items"][0]] = "E"
    data["findings"] = "现场发现问题，当场改正"
    corrected = client.post(path_of(v, "/result"), data=data)
    assert corrected.status_code == 422 and "更正原因" in text_of(corrected.text)  # a correction needs its reason
    assert len(ledger(web_store)) == before + 1
    data["correct"] = "现场已改正，更正结果"
    fixed = client.post(path_of(v, "/result"), data=data, follow_redirects=False)
    assert fixed.status_code == 303 and "saved=1" in fixed.headers["location"]
    page = text_of(client.get(path_of(v)).text)
    assert "第 2 版" in page and "发现问题经责令已改正" in page and "现场发现问题，当场改正" in page
    assert len(ledger(web_store)) == before + 2
    overdue = client.get("/inspector/overdue")
    assert overdue.status_code == 200 and path_of(v) not in overdue.text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"completed": ""}, "完成日期：必须填写"),
        ({"completed": "2026-02-30"}, "完成日期：'2026-02-30' 不是有效日期"),
        ({"completed": "2099-01-05"}, "完成日期：晚于今天，不能登记将来的日期"),
        ({"completed": "2025-06-01"}, "完成日期：早于本计划的检查期限开始日"),
        ({"codes": []}, "结果代码"),
        ({"codes": ["1", "3"]}, "结果代码：“未发现问题”不能与其他结果代码同时选择"),
        ({"codes": ["3"], "measure": ["rectify"]}, "整改期限：选择了责令改正、责令限期公示或监察指令时必须填写"),
        ({"codes": ["3"], "measure": ["bribe"]}, "处置措施：'bribe' 不是有效的处置措施"),
        ({"codes": ["3"], "measure": ["rectify"], "deadline": "2026-01-01"}, "整改期限：不能早于完成日期"),
        ({"codes": ["99"]}, "结果代码：不是有效的结果代码"),
    ],
)
def test_each_bad_field_is_one_chinese_line_and_nothing_is_written(
    web_store: WebStore, client_as: Client, change: dict[str, Any], expected: str
) -> None:
    client = client_as("inspector")
    v = mine(web_store)[0]
    before = len(ledger(web_store))
    data: dict[str, Any] = {"csrf_token": client.csrf_token, "completed": v["scheduled_on"].isoformat()}  # type: ignore[attr-defined]
    change = dict(change)
    codes = change.pop("codes", ["1"])
    data.update({f"code:{item}": codes for item in v["items"]})
    data.update(change)
    response = client.post(path_of(v, "/result"), data=data, follow_redirects=False)
    assert response.status_code == 422
    assert expected in text_of(response.text), text_of(response.text)
    assert "没有保存" in response.text and "Traceback" not in response.text
    assert len(ledger(web_store)) == before


def test_who_may_see_and_record(web_store: WebStore, client_as: Client) -> None:
    v = mine(web_store)[0]
    others = [x for x in web_store.visits if web_store.inspector not in x["team"]]
    inspector = client_as("inspector")
    if others:  # a visit of another team: not mine to open or record
        assert inspector.get(path_of(others[0])).status_code == 403
    supervisor = client_as("supervisor")
    seen = supervisor.get(path_of(v))
    assert seen.status_code == 200 and "登记检查结果" not in seen.text  # a supervisor looks, does not record here
    data = {"csrf_token": supervisor.csrf_token, "completed": v["scheduled_on"].isoformat()}  # type: ignore[attr-defined]
    assert supervisor.post(path_of(v, "/result"), data=data).status_code == 403
    assert client_as("auditor").get("/inspector/week").status_code == 403
    anonymous = client_as(None).get("/inspector/week", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    inspector.headers.pop("X-CSRF-Token")
    no_token = inspector.post(path_of(v, "/result"), data={"completed": "2026-01-05"})
    assert no_token.status_code == 403  # CSRF: no token, no change
    missing = inspector.get("/inspector/visits/no-such-plan/no-such-visit")
    assert missing.status_code == 400 and "no-such-plan" in html.unescape(missing.text)


def test_subject_names_are_escaped(web_store: WebStore, client_as: Client) -> None:
    v = mine(web_store)[0]
    engine = store.open_store(web_store)
    try:
        with engine.begin() as conn:
            t = store.table("subject")
            conn.execute(t.update().where(t.c.uscc == v["uscc"]).values(name='<script>alert("x")</script>\'s 店'))
    finally:
        engine.dispose()
    client = client_as("inspector")
    for url in (path_of(v), "/inspector/week?week=" + week_of(v["scheduled_on"])):
        page = client.get(url)
        assert (
            "<script>alert" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;s 店" in page.text
        )


def test_the_json_api_lists_and_records(web_store: WebStore, client_as: Client) -> None:
    client = client_as("inspector")
    v = mine(web_store)[0]
    listed = client.get("/api/inspector/visits", params={"week": week_of(v["scheduled_on"])}).json()
    assert listed["ok"] and listed["plan_id"] == web_store.plan_id
    ids = [x["visit"] for t in listed["townships"] for x in t["visits"]]
    assert v["visit_id"] in ids
    target = "/api/inspector/visits/" + "/".join(urllib.parse.quote(v[k], safe="") for k in ("plan_id", "visit_id"))
    one = client.get(target, params={"why": "true"}).json()
    assert one["ok"] and one["mine"] and one["result"] is None and one["visit"]["uscc"] == v["uscc"]
    assert one["why"]["subject"] == v["uscc"] and one["why"]["run_id"] == web_store.plan_id
    bad = client.post(target + "/result", json={"completed": "2026-13-01", "codes": ["1"]})
    assert bad.status_code == 400 and bad.json()["ok"] is False
    assert bad.json()["error"]["message"].startswith("完成日期：'2026-13-01' 不是有效日期")
    good = client.post(target + "/result", json={"completed": v["scheduled_on"].isoformat(), "codes": ["1"]}).json()
    assert good["ok"] and good["unchanged"] is False and good["ledger_seq"] == ledger(web_store)[-1].seq
    late = client.get("/api/inspector/overdue").json()
    assert late["ok"] and v["visit_id"] not in [x["visit"] for x in late["visits"]]
    assert dt.date.fromisoformat(late["as_of"])


def test_why_says_what_went_wrong_when_the_plan_cannot_be_replayed(web_store: WebStore, client_as: Client) -> None:
    """A plan whose recorded inputs cannot be read (here: its snapshot blob gone) gives the section one line, as a
    2xx answer htmx swaps in, instead of a placeholder that waits for ever."""
    v = mine(web_store)[1]
    engine = store.open_store(web_store)
    try:
        with engine.begin() as conn:
            conn.execute(store.table("blob").delete())
    finally:
        engine.dispose()
    client = client_as("inspector")
    why = client.get(path_of(v, "/why"), headers={"HX-Request": "true"})
    assert why.status_code == 200 and "无法按计划记录重算这个主体为什么在清单上" in why.text
    assert client.get(path_of(v)).status_code == 200  # the page itself does not need the replay
