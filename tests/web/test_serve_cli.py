"""`suijian serve`: refuses a store nobody could sign in to, binds to 127.0.0.1 by default, serves the app."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from engine.access import accounts
from entities import store
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
CREATED = dt.datetime(2026, 1, 5, 8, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_addresses(port: int) -> list[str]:
    """The IPv4 addresses with a socket listening on `port` (from /proc/net/tcp: no tool needed)."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_serve_refuses_a_store_without_an_enabled_account(store_url: str) -> None:
    message = (
        "Error: no enabled account in the store: nobody could sign in; create one first with "
        "`suijian users add NAME --role supervisor`\n"
    )
    assert run_cli("serve", "--db", store_url) == (1, "", message)
    engine = store.open_store(store_url)
    with engine.begin() as conn:
        accounts.add(conn, "gone", accounts.role_of("auditor"), "pw-gone-123456", display=None, now=CREATED)
        accounts.disable(conn, "gone", now=CREATED)
    engine.dispose()
    assert run_cli("serve", "--db", store_url) == (1, "", message)
    code, out, _ = run_cli("serve", "--json", "--db", store_url)
    assert code == 1 and json.loads(out)["error"]["code"] == "input"


def test_serve_refusals_of_its_options(tmp_path: Path) -> None:
    code, _, err = run_cli("serve", "--port", "70000", "--db", f"sqlite:///{tmp_path / 's.db'}")
    assert code == 2 and "70000 is not in the range 1<=x<=65535" in err
    code, out, err = run_cli("serve", "--db", f"sqlite:///{tmp_path / 'missing.db'}")
    assert (code, out) == (1, "") and err.startswith("Error: no store at ") and err.count("\n") == 1


def test_serve_runs_the_app_on_loopback(access_store: str) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--json", "--db", access_store],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = None
        for _ in range(300):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        assert page is not None and page.status == 200
        assert "登录随检" in page.read().decode()
        assert listening_addresses(port) == ["127.0.0.1"]
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert json.loads(out) == {"ok": True, "url": f"http://127.0.0.1:{port}/", "host": "127.0.0.1", "port": port}
