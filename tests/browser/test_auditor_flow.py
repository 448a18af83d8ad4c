"""The auditor's flow in a real browser: sign in as an auditor → the ledger → verify (a background job whose page
polls with htmx) → 一致 with the chain head; on a laptop and on a phone. Screenshots in tests/browser/artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.mark.parametrize("phone", [False, True], ids=["laptop", "phone"])
def test_auditor_verifies_the_ledger(
    page_as: Callable[..., Any], shoot: Callable[[Any, str], Path], phone: bool
) -> None:
    page = page_as("aud1", phone=phone)
    page.goto("/audit/ledger")
    assert page.locator("h1").inner_text() == "决策台账"
    rows = page.locator("table.stack tbody tr")
    assert rows.count() >= 2  # the grade run and the plan
    head = page.locator("text=台账链头").inner_text()
    shoot(page, "ledger")
    if phone:  # the table is a stack of cards: nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    rows.first.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("台账条目 #")
    shoot(page, "entry")
    page.goto("/audit/verify")
    shoot(page, "verify-form")
    page.click("text=开始核验")
    page.wait_for_url("**/audit/jobs/J-*")
    verdict = page.locator(".verdict")
    verdict.wait_for(timeout=120_000)  # the progress fragment is polled until the job is done
    assert verdict.inner_text().startswith("一致")
    report = page.locator("#audit-job").inner_text()
    seq = head.split("#", 1)[1].split()[0]
    assert f"#{seq}" in report
    shoot(page, "verified")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
