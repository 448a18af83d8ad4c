"""`suijian users add|list|disable|token`: exact output, every refusal one line with nothing written — on SQLite and
PostgreSQL (the roster link on the demo-like store)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from cli import suijian
from commands.common import run_main
from engine.access import accounts
from entities import store
from tests.web.conftest import WebStore


def cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation(input=stdin) as (out, err, _):
        code = run_main(suijian, list(args))
    return code, out.getvalue().decode(), err.getvalue().decode()


def names(url: str) -> list[str]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return [r.name for r in accounts.listing(conn)]
    finally:
        engine.dispose()


def test_add_list_disable_token(store_url: str) -> None:
    code, out, err = cli(
        "users",
        "add",
        "admin",
        "--role",
        "监管负责人",
        "--display",
        "张科长",
        "--password-stdin",
        "--db",
        store_url,
        stdin="pw-admin-123456\n",
    )
    assert (code, out, err) == (0, "Added account admin (supervisor, shown as 张科长).\n", "")
    # The password prompt: asked twice, on stderr.
    code, out, err = cli(
        "users", "add", "aud1", "--role", "auditor", "--db", store_url, stdin="pw-aud1-123456\npw-aud1-123456\n"
    )
    assert (code, out) == (0, "Added account aud1 (auditor, shown as aud1).\n")
    assert err.startswith("Password: \nRepeat for confirmation: ")
    code, out, err = cli(
        "users",
        "add",
        "field",
        "--role",
        "inspector",
        "--unlinked",
        "--password-stdin",
        "--db",
        store_url,
        stdin="pw-field-123456\n",
    )
    assert out == (
        "Added account field (inspector, shown as field); not linked to the roster: it sees no list until an "
        "inspector's 登录账号 is field.\n"
    )

    code, out, err = cli("users", "list", "--json", "--db", store_url)
    listed = json.loads(out)
    assert code == 0 and [
        (a["name"], a["role"], a["display"], a["enabled"], a["inspector"]) for a in listed["accounts"]
    ] == [
        ("admin", "supervisor", "张科长", True, None),
        ("aud1", "auditor", "aud1", True, None),
        ("field", "inspector", "field", True, None),
    ]
    code, out, _ = cli("users", "list", "--db", store_url)
    assert code == 0 and out.endswith("3 account(s), 3 enabled.\n") and "张科长" in out and "未关联" in out

    code, out, err = cli("users", "token", "aud1", "--label", "省级平台", "--db", store_url)
    token = out.strip()
    assert code == 0 and token.startswith("sj_") and len(token) > 40
    assert err == "Keep this token now: only its hash is stored, it cannot be shown again.\n"
    engine = store.open_store(store_url)
    with engine.connect() as conn:
        assert accounts.by_token(conn, token).name == "aud1"  # type: ignore[union-attr]
        stored = conn.execute(sa.text("SELECT label, token_hash FROM api_token")).all()
    engine.dispose()
    assert [tuple(r) for r in stored] == [("省级平台", accounts.token_hash(token))]

    assert cli("users", "disable", "field", "--db", store_url)[:2] == (
        0,
        "Disabled account field: its sessions are ended and its API tokens refused.\n",
    )
    assert cli("users", "disable", "field", "--db", store_url)[1] == "Account field was disabled already.\n"
    code, out, _ = cli("users", "disable", "field", "--json", "--db", store_url)
    assert json.loads(out) == {"ok": True, "name": "field", "disabled": True, "changed": False}


def test_refusals_are_one_line_and_write_nothing(store_url: str) -> None:
    assert (
        cli(
            "users",
            "add",
            "admin",
            "--role",
            "supervisor",
            "--password-stdin",
            "--db",
            store_url,
            stdin="pw-admin-123456\n",
        )[0]
        == 0
    )
    cases = [
        (
            ("add", "admin", "--role", "auditor", "--password-stdin"),
            "pw-other-123456\n",
            "Error: an account named 'admin' exists already; `suijian users list` shows the accounts\n",
        ),
        (
            ("add", "x", "--role", "boss", "--password-stdin"),
            "pw-x-1234567890\n",
            "Error: --role 'boss' is not inspector, supervisor or auditor (or 检查人员, 监管负责人, 审计人员)\n",
        ),
        (
            ("add", "short", "--role", "auditor", "--password-stdin"),
            "pw-1\n",
            "Error: the password must have at least 10 characters\n",
        ),
        (
            ("add", "empty", "--role", "auditor", "--password-stdin"),
            "",
            "Error: --password-stdin: nothing on stdin; give the password as one line\n",
        ),
        (
            ("add", "two words", "--role", "auditor", "--password-stdin"),
            "pw-x-1234567890\n",
            "Error: account name 'two words' must be 1 to 64 characters without spaces, e.g. ZF4452030001\n",
        ),
        (
            ("add", "ZF9999", "--role", "inspector", "--password-stdin"),
            "pw-x-1234567890\n",
            "Error: no inspector on the roster has the 登录账号 'ZF9999': import the roster with it "
            "(`suijian import inspectors FILE`), or add --unlinked for an account that sees no list\n",
        ),
        (("disable", "nobody"), "", "Error: no account named 'nobody'; `suijian users list` shows the accounts\n"),
        (
            ("token", "nobody", "--label", "x"),
            "",
            "Error: no account named 'nobody'; `suijian users list` shows the accounts\n",
        ),
        (
            ("token", "admin", "--label", " "),
            "",
            "Error: --label '' must say on one line what the token is for, e.g. 省级平台\n",
        ),
    ]
    for args, stdin, message in cases:
        assert cli("users", *args, "--db", store_url, stdin=stdin) == (1, "", message), args
    assert names(store_url) == ["admin"]
    code, out, _ = cli(
        "users",
        "add",
        "admin",
        "--role",
        "auditor",
        "--password-stdin",
        "--json",
        "--db",
        store_url,
        stdin="pw-other-123456\n",
    )
    assert (code, json.loads(out)["error"]["code"]) == (1, "input")
    cli("users", "disable", "admin", "--db", store_url)
    assert cli("users", "token", "admin", "--label", "x", "--db", store_url)[2] == (
        "Error: the account 'admin' is disabled; a disabled account gets no token\n"
    )


def test_an_inspector_account_is_linked_through_the_roster(web_store: WebStore) -> None:
    # The demo roster's 登录账号 is the inspector's id; insp1 took over the first visit's lead.
    roster_account = next(v["lead"] for v in web_store.visits if v["lead"] != web_store.inspector)
    code, out, err = cli(
        "users",
        "add",
        roster_account,
        "--role",
        "inspector",
        "--display",
        "罗强",
        "--password-stdin",
        "--db",
        web_store,
        stdin="pw-luoqiang-123\n",
    )
    assert (code, out, err) == (
        0,
        f"Added account {roster_account} (inspector, shown as 罗强), linked to roster inspector {roster_account}.\n",
        "",
    )
    code, out, _ = cli("users", "list", "--json", "--db", web_store)
    linked = {a["name"]: a["inspector"] for a in json.loads(out)["accounts"]}
    assert linked == {
        "aud1": None,
        "insp1": web_store.inspector,
        roster_account: roster_account,
        "sup1": None,
        "sup2": None,
    }


def test_users_on_a_missing_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("users", "list", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert (code, out) == (1, "") and err.startswith("Error: no store at ") and err.count("\n") == 1
