"""The supervisor's flow in a real browser (headless Chromium against `suijian serve`): a recorded result shows on the
dashboard → sup1 uploads a changed rule pack and proposes it → sup2 approves → sup1 publishes. Screenshots of each
page land in tests/browser/artifacts/."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rules as bundled_packs
from tests.helpers import run_cli
from tests.web.conftest import WebStore

AS_OF = "2026-04-20"


def changed_national(target: Path) -> Path:
    """The bundled national pack as a zip, version 2099.1 and one comment line added to its manifest."""
    base = bundled_packs.bundled("national")
    assert base is not None
    with zipfile.ZipFile(target, "w") as z:
        for p in sorted(base.rglob("*")):
            if p.is_file():
                data = p.read_bytes()
                if p.name == "pack.yaml":
                    data = re.sub(rb"(?m)^version: .*$", b'version: "2099.1"', data, count=1) + b"\n# web\n"
                z.writestr(f"national/{p.relative_to(base).as_posix()}", data)
    return target


def test_supervisor_sees_a_result_then_four_eyes_publish(
    web_store: WebStore,
    page_as: Callable[..., Any],
    shoot: Callable[[Any, str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUIJIAN_USER", "检查员一 (insp1)")
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    visit = web_store.visits[0]
    code, _, err = run_cli(
        "results", "record", "--plan", web_store.plan_id, "--visit", visit["visit_id"], "--code", "1",
        "--completed", "2026-03-02", "--recorded-on", "2026-03-03", "--db", str(web_store),
    )  # fmt: skip
    assert code == 0, err

    sup1 = page_as("sup1", phone=False)
    sup1.goto(f"/supervisor?as_of={AS_OF}")
    assert sup1.locator('[data-figure="visits_with_result"]').inner_text().startswith("1")
    assert sup1.locator('[data-figure="due_pending"]').inner_text() == "1"
    assert visit["visit_id"] in sup1.locator("#due").inner_text()
    shoot(sup1, "dashboard")

    phone = page_as("sup1", phone=True)
    phone.goto(f"/supervisor?as_of={AS_OF}")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the dashboard is {width} px wide on a 390 px phone"
    shoot(phone, "dashboard-phone")

    sup1.goto("/supervisor/packs")
    sup1.set_input_files("input[name=files]", str(changed_national(tmp_path / "national.zip")))
    sup1.click('button:has-text("上传并检查")')
    sup1.wait_for_url(re.compile(r"/supervisor/packs/uploads/[0-9a-f]{16}$"))
    assert sup1.locator("#check-result").inner_text().startswith("没有错误")
    assert ", 0 个失败" in sup1.locator("#test-result").inner_text().replace("，", ", ")
    shoot(sup1, "upload-checked")
    sup1.fill("input[name=reason]", "调整版本号（浏览器测试）")
    sup1.click('button:has-text("提议发布")')
    sup1.wait_for_url(re.compile(r"/supervisor/packs\?notice="))
    row = sup1.locator("tr[data-proposal]").first
    assert "待审核" in row.inner_text() and "等待另一位监管负责人审核" in row.inner_text()
    shoot(sup1, "proposed")

    sup2 = page_as("sup2", phone=False)
    sup2.goto("/supervisor/packs")
    row2 = sup2.locator("tr[data-proposal]").first
    row2.locator("input[name=reason]").fill("已核对影响")
    row2.locator("button[value=approve]").click()
    sup2.wait_for_url(re.compile(r"/supervisor/packs\?notice="))
    assert "已批准" in sup2.locator("tr[data-proposal]").first.inner_text()
    shoot(sup2, "approved")

    sup1.goto("/supervisor/packs")
    sup1.locator("tr[data-proposal]").first.locator("button", has_text="发布").click()
    sup1.wait_for_url(re.compile(r"/supervisor/packs\?notice="))
    assert "2099.1" in sup1.locator("#active-pack").inner_text()
    assert "已发布" in sup1.locator("tr[data-proposal]").first.inner_text()
    shoot(sup1, "published")
