"""The real-browser harness (issue 16): headless Chromium (Debian's, driven by Playwright for Python) against a real
`suijian serve` on a free 127.0.0.1 port over a copy of the web tests' store.

- `server`: the app's base URL; the server process runs for one test and is stopped after it.
- `page_as(name, phone=True)`: a signed-in browser page (through the real login form) as an account of the store —
  insp1, sup1, sup2, aud1 (tests.web.conftest) — at 390×844 (a phone) or 1280×900.
- `shoot(page, label)`: a full-page screenshot in tests/browser/artifacts/ (git-ignored) named after the test, to look
  at after the run.

Chromium missing: the tests are skipped on a developer's machine, and fail under CI (CI=true), where `.ci/run`
installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import WebStore, password, web_store, web_template  # noqa: F401  (fixtures used here)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium() -> str | None:
    """Debian's chromium (Playwright's own browser download is not available on the office network)."""
    found = next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)
    return found or shutil.which("chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium fonts-noto-cjk)")
        pytest.skip("chromium is not installed (the browser tests run where it is, and always under CI)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def server(web_store: WebStore, tmp_path: Path) -> Iterator[str]:  # noqa: F811  (the fixture imported above)
    """`suijian serve` on the test's copy of the store, on a free loopback port; its base URL."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from cli import main; main()", "serve", "--port", str(port), "--db", str(web_store)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"suijian serve exited: {(tmp_path / 'serve.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("suijian serve did not listen within 60 s") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def page_as(browser: Any, server: str) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def open_as(name: str, *, phone: bool = True) -> Any:
        context = browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            device_scale_factor=2 if phone else 1,
            is_mobile=phone,
            has_touch=phone,
            locale="zh-CN",
            base_url=server,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto("/login")
        page.fill("#name", name)
        page.fill("#password", password(name))
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/login" not in page.url, page.content()
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    ARTIFACTS.mkdir(exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    shots = iter(range(1, 100))

    def take(page: Any, label: str) -> Path:
        path = ARTIFACTS / f"{test}-{next(shots):02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
