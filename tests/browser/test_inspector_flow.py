"""An inspector on a phone (390×844) in a real browser: sign in → my week → open a subject (why it is listed comes
in by htmx) → record a result → see it recorded; and the form's Chinese message when a field is wrong."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.my_visits import week_of
from tests.web.conftest import WebStore

Shoot = Callable[[Any, str], Path]


def _first_visit(web_store: WebStore) -> dict[str, Any]:
    mine = [v for v in web_store.visits if web_store.inspector in v["team"]]
    return min(mine, key=lambda v: (v["scheduled_on"], v["visit_id"]))


def test_an_inspector_records_a_result_on_a_phone(
    web_store: WebStore, page_as: Callable[..., Any], shoot: Shoot
) -> None:
    page = page_as("insp1")
    page.goto("/inspector/week")  # a past plan: opens on the week of my earliest visit still to do
    visit = _first_visit(web_store)
    href = urllib.parse.quote(visit["visit_id"], safe="")  # as the page links it (a visit id may hold "#")
    assert page.locator(f'a.visit[href$="/{href}"]').count() == 1  # the week of my first visit, nothing done yet
    shoot(page, "week")
    # Nothing wider than the phone: no sideways scrolling of the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    cards = page.locator("a.visit")
    assert cards.count() >= 1
    page.locator(f'a.visit[href$="/{href}"]').first.click()
    page.wait_for_selector("#why .rule")  # htmx replaced the placeholder with explain --run
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    why = page.locator("#why").inner_text()
    assert "命中的规则" in why and ("抽签号" in why or "必查" in why)
    shoot(page, "subject")
    page.get_by_role("link", name="登记检查结果").click()
    page.wait_for_selector("form.form")
    shoot(page, "form")
    # First without a result code: the form comes back with a Chinese line naming the field; nothing saved.
    page.fill("#completed", visit["scheduled_on"].isoformat())
    page.get_by_role("button", name="保存结果").click()
    page.wait_for_selector("#errors")
    assert "结果代码" in page.locator("#errors").inner_text()
    shoot(page, "form-error")
    for item in visit["items"]:
        page.check(f'input[name="code:{item}"][value="1"]')
    page.get_by_role("button", name="保存结果").click()
    page.wait_for_selector(".notice")
    assert "检查结果已保存" in page.locator(".notice").inner_text()
    assert "未发现问题" in page.locator("main").inner_text()
    shoot(page, "recorded")
    page.goto("/inspector/week?week=" + week_of(visit["scheduled_on"]))
    card = page.locator(f'a.visit[href$="/{href}"]').first
    assert "已登记" in card.inner_text()
    shoot(page, "week-after")
    page.goto("/inspector/overdue")
    assert re.search(visit["visit_id"], page.content()) is None
    shoot(page, "overdue")
