"""`suijian audit verify` and `suijian audit redraws` through the CLI: exact text, --json shapes, exit codes;
and every path that draws again (plan --redraw-reason, a replaced seed commitment, a preview, a demo reloaded
with other data) is listed by `audit redraws`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.ledger import record
from entities import store
from tests.helpers import run_cli as run
from tests.store_template import StoreCopies

AS_OF = "2025-12-31"
SEEDS = ("51920374662810395527", "12121212123434343434", "56565656567878787878")
CAL_2027 = str(Path(__file__).parent.parent / "fixtures" / "calendar" / "test-2027.csv")  # 2027: not in the library
REASON = "种子泄露 [/] [bold]"  # free text: printed as is, never read as rich markup


def ok(*args: str) -> str:
    code, out, err = run(*args)
    assert code == 0, err
    return out


def timeless(text: str) -> str:
    """The output with its wall-clock parts (run time, timestamps) replaced."""
    text = re.sub(r"in \d+\.\d s\.", "in <s> s.", text)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<time> UTC", text)


@pytest.fixture
def demo_store(
    store_url: str, store_copies: StoreCopies, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A small demo (load, grade, plan 2026) on each backend; its job as `suijian demo --json` reports it."""
    monkeypatch.chdir(tmp_path)
    doc = store_copies.fill(
        store_url,
        "suijian demo 400: loaded, graded, planned",
        lambda: json.loads(ok("demo", "--subjects", "400", "--json", "--db", store_url)),
    )
    return {"url": store_url, **doc["job"]}


def sql(url: str, statement: str, **params: Any) -> None:
    engine = store.make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


# -- verify --------------------------------------------------------------------------------------------------------


def test_verify_ok(demo_store: dict[str, Any]) -> None:
    head = demo_store["ledger_head"]
    assert timeless(ok("audit", "verify", "--db", demo_store["url"])) == (
        f"OK: 2 ledger entries (grade 1, plan 1), chained from genesis to head #2 {head['hash']}.\n"
        "Every grade run and plan matches its entry; 4 blobs checked (3 snapshots, 1 rule-pack version) in <s> s.\n"
    )


def test_verify_reports_one_problem_and_exits_1(demo_store: dict[str, Any]) -> None:
    run_id = demo_store["grade"]["run_id"]
    sql(demo_store["url"], "DELETE FROM grade_run WHERE id = :r", r=run_id)
    code, out, err = run("audit", "verify", "--db", demo_store["url"])
    assert (code, err) == (1, "")
    assert timeless(out) == (
        f"{run_id} (#1): grade run missing: no grade_run row {run_id} in the store (deleted, or the entry was "
        "forged)\n"
        f"FAILED: 1 problem in 2 ledger entries (grade 1, plan 1), head #2 {demo_store['ledger_head']['hash']}; "
        "4 blobs checked (3 snapshots, 1 rule-pack version) in <s> s. The ledger or the runs it records were "
        "changed outside suijian.\n"
    )


def test_verify_json(demo_store: dict[str, Any]) -> None:
    head = demo_store["ledger_head"]
    doc = json.loads(ok("audit", "verify", "--json", "--db", demo_store["url"]))
    assert isinstance(doc.pop("seconds"), float | int)
    assert doc == {
        "ok": True,
        "entries": 2,
        "kinds": {"grade": 1, "plan": 1},
        "head": head,
        "blobs": {"snapshot": 3, "pack": 1, "checked": 4},
        "published_head": None,
        "problems": [],
    }
    plan_id = demo_store["plan_id"]
    sql(demo_store["url"], "UPDATE plan SET seed = 'x' WHERE id = :p", p=plan_id)
    code, out, _ = run("audit", "verify", "--json", "--db", demo_store["url"])
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    assert doc["problems"] == [
        {
            "code": "plan",
            "run_id": plan_id,
            "seq": 2,
            "message": f"{plan_id} (#2): plan row changed: seed x (the ledger says {demo_store['plan_seed']})",
        }
    ]


def test_verify_published_head(demo_store: dict[str, Any]) -> None:
    url, head = demo_store["url"], demo_store["ledger_head"]["hash"]
    out = ok("audit", "verify", "--head", head, "--db", url)
    assert out.endswith(f"Published head {head[:16]}… is #2 {demo_store['plan_id']}; 0 entries follow it.\n")
    doc = json.loads(ok("audit", "verify", "--head", head, "--json", "--db", url))
    assert doc["published_head"] == {"hash": head, "seq": 2, "run_id": demo_store["plan_id"], "following": 0}
    code, out, _ = run("audit", "verify", "--head", "0" * 64, "--db", url)
    assert code == 1
    assert out.splitlines()[0] == (
        f"published head {'0' * 16}… is not in the ledger: the chain was rewritten since "
        "it was published (or the hash is mistyped)"
    )


def test_verify_refuses_a_malformed_head(demo_store: dict[str, Any]) -> None:
    assert run("audit", "verify", "--head", "abc", "--db", demo_store["url"]) == (
        1,
        "",
        "Error: --head 'abc' is not a ledger hash (64 hex digits, as `suijian plan` prints it)\n",
    )


def test_verify_an_empty_ledger(store_url: str) -> None:
    assert timeless(ok("audit", "verify", "--db", store_url)) == (
        "OK: 0 ledger entries, nothing recorded yet.\n"
        "Every grade run and plan matches its entry; 0 blobs checked (0 snapshots, 0 rule-pack versions) in <s> s.\n"
    )


def test_verify_without_a_store(tmp_path: Path) -> None:
    code, out, err = run("audit", "verify", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert (code, out) == (1, "") and err.startswith("Error: no store at ") and len(err.splitlines()) == 1


def test_audit_needs_no_identity(demo_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUIJIAN_USER")
    monkeypatch.delenv("SUIJIAN_ROLE")
    assert ok("audit", "verify", "--db", demo_store["url"]).startswith("OK: 2 ledger entries")
    monkeypatch.setenv("SUIJIAN_USER", "审计员 auditor")
    monkeypatch.setenv("SUIJIAN_ROLE", "auditor")
    assert ok("audit", "redraws", "--db", demo_store["url"]).startswith("No re-draws")


# -- redraws -------------------------------------------------------------------------------------------------------


def test_no_redraws(demo_store: dict[str, Any]) -> None:
    assert ok("audit", "redraws", "--db", demo_store["url"]) == (
        "No re-draws, replaced seed commitments or previews in the ledger.\n"
        "首次抽取 first draws per scope:\n"
        f"    2026 (2026-01-01 – 2026-12-31), all regions, all items: {demo_store['plan_id']}; 0 re-draws\n"
    )
    assert json.loads(ok("audit", "redraws", "--json", "--db", demo_store["url"])) == {
        "ok": True,
        "redraws": [],
        "scopes": [
            {
                "scope": "2026 (2026-01-01 – 2026-12-31), all regions, all items",
                "first_draws": [demo_store["plan_id"]],
                "redraws": 0,
            }
        ],
    }


def test_every_redraw_path_is_listed(demo_store: dict[str, Any]) -> None:
    """Re-draw by reason, replaced seed commitment, preview: each is in `audit redraws`, and the chain holds."""
    url, first = demo_store["url"], demo_store["plan_id"]
    plan = ("plan", "--as-of", AS_OF, "--json", "--db", url)
    code, out, err = run(*plan, "--period", "2026", "--seed", SEEDS[0])
    error = json.loads(out)  # with --json the refusal is the failure envelope on stdout
    assert (code, err, error["ok"], error["error"]["code"]) == (1, "", False, "input")
    assert f"plan {first} is already committed" in error["error"]["message"] and "--redraw-reason" in out
    redrawn = json.loads(ok(*plan, "--period", "2026", "--seed", SEEDS[0], "--redraw-reason", "名录库更正后重抽"))
    commit = ("plan", "--period", "2027", "--json", "--db", url, "--commit-seed")
    c1 = json.loads(ok(*commit, record.seed_sha256(SEEDS[1])))
    code, out, _ = run(*commit, record.seed_sha256(SEEDS[2]))
    assert code == 1 and f"seed commitment {c1['commitment']}" in json.loads(out)["error"]["message"]
    c2 = json.loads(ok(*commit, record.seed_sha256(SEEDS[2]), "--redraw-reason", REASON))
    ok("grade", "--as-of", AS_OF, "--db", url)
    preview = json.loads(ok(*plan, "--period", "2027", "--seed", SEEDS[2], "--preview", "--calendar", CAL_2027))
    revealed = json.loads(ok(*plan, "--period", "2027", "--seed", SEEDS[2], "--calendar", CAL_2027))

    assert (
        timeless(ok("audit", "redraws", "--db", url))
        == f"""\
重抽记录 re-draws, replaced seed commitments and previews: 3
#3  <time> UTC  重抽 re-draw  {redrawn["plan_id"]}
    操作人   测试员 tester
    角色     监管负责人 supervisor
    范围     2026 (2026-01-01 – 2026-12-31), all regions, all items
    重抽对象 {first}
    理由     名录库更正后重抽
    种子     sha256 {record.seed_sha256(SEEDS[0])[:16]}…; 揭示承诺 revealed commitment —
#5  <time> UTC  更换种子承诺 replaced seed commitment  {c2["commitment"]}
    操作人   测试员 tester
    角色     监管负责人 supervisor
    范围     2027 (2027-01-01 – 2027-12-31), all regions, all items
    重抽对象 {c1["commitment"]}
    理由     {REASON}
    种子     sha256 {record.seed_sha256(SEEDS[2])[:16]}…
#7  <time> UTC  预览 preview  {preview["preview"]}
    操作人   测试员 tester
    角色     监管负责人 supervisor
    范围     2027 (2027-01-01 – 2027-12-31), all regions, all items
    重抽对象 —
    理由     —
    种子     sha256 {record.seed_sha256(SEEDS[2])[:16]}…
首次抽取 first draws per scope:
    2026 (2026-01-01 – 2026-12-31), all regions, all items: {first}; 1 re-draw
    2027 (2027-01-01 – 2027-12-31), all regions, all items: {revealed["plan_id"]}; 0 re-draws
"""
    )
    listed = json.loads(ok("audit", "redraws", "--json", "--db", url))["redraws"]
    assert [(r["seq"], r["kind"], r["run_id"], r["replaces"], r["reason"]) for r in listed] == [
        (3, "plan", redrawn["plan_id"], [first], "名录库更正后重抽"),
        (5, "commit", c2["commitment"], [c1["commitment"]], REASON),
        (7, "preview", preview["preview"], [], None),
    ]
    assert listed[0]["user"] == "测试员 tester" and listed[0]["role"] == "supervisor"
    scope = listed[0]["scope_detail"]
    assert (scope["regions"], scope["items"]) == (["*"], ["*"])
    assert {k: scope["period"][k] for k in ("label", "start", "end")} == {
        "label": "2026",
        "start": "2026-01-01",
        "end": "2026-12-31",
    }
    assert set(listed[0]) == {
        "seq",
        "created_at",
        "user",
        "role",
        "kind",
        "run_id",
        "scope",
        "scope_detail",
        "replaces",
        "reason",
        "seed_sha256",
        "seed_commitment",
    }
    verified = json.loads(run("audit", "verify", "--json", "--db", url)[1])
    assert verified["problems"] == [] and verified["kinds"] == {"grade": 2, "plan": 3, "commit": 2, "preview": 1}


def test_a_demo_reloaded_with_other_data_is_listed_as_a_redraw(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = json.loads(ok("demo", "--subjects", "300", "--json", "--db", sqlite_url))["job"]
    second = json.loads(ok("demo", "--subjects", "300", "--seed", "2", "--replace", "--json", "--db", sqlite_url))[
        "job"
    ]
    assert second["redraw_reason"] and second["plan_id"] != first["plan_id"]
    [listed] = json.loads(ok("audit", "redraws", "--json", "--db", sqlite_url))["redraws"]
    assert (listed["run_id"], listed["replaces"], listed["reason"]) == (
        second["plan_id"],
        [first["plan_id"]],
        second["redraw_reason"],
    )
    assert ok("audit", "verify", "--db", sqlite_url).startswith("OK: 4 ledger entries (grade 2, plan 2)")
