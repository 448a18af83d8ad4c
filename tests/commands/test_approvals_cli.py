"""`suijian rules propose|rollback|approve|reject|proposals` through the CLI on both stores: exact output, the
--json shapes, and each refusal (one line, exit 1, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.ledger import chain, packs
from engine.rules import load_pack
from entities import store
from tests.commands.test_publish_cli import approved, raise_food_a_max, url  # noqa: F401  (url is a fixture)
from tests.helpers import read_store
from tests.helpers import run_cli as run

APPROVER = "审核员 approver"


def state(url: str) -> tuple[list[str], int, int]:  # noqa: F811
    def read(conn: object) -> tuple[list[str], int, int]:
        return (
            [e.run_id for e in chain.entries(conn)],  # type: ignore[arg-type]
            store.count_rows(conn, "pack_proposal"),  # type: ignore[arg-type]
            store.count_rows(conn, "pack_review"),  # type: ignore[arg-type]
        )

    return read_store(url, read)


def as_approver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUIJIAN_USER", APPROVER)


def test_propose_approve_and_list_print_exactly(url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    base = load_pack("packs/base")
    files = packs.version_of(base).files_hash
    code, out, err = run("rules", "propose", "packs/base", "--reason", "首次发布 [2026]", "--db", url)
    assert code == 0, err
    e1 = read_store(url, chain.entries)[-1]
    assert out == (
        "Proposed test-base 1.0 for publication as PR0001 (pending approval)\n"
        "  from packs/base: 13 cases passed; 10 decisions, 48 rules\n"
        f"  files hash {files}\n"
        f"  pack hash  {base.hash}\n"
        "  reason: 首次发布 [2026]\n"
        "Active now: none (this would be the first publication)\n"
        "Next: a second supervisor (not 测试员 tester) approves it: suijian rules approve PR0001 --reason …; then: "
        "suijian rules publish PR0001\n"
        f"Ledger entry #1 PR0001 by 测试员 tester (supervisor) at 2026-03-01 09:30:00, entry hash {e1.entry_hash}\n"
    )
    as_approver(monkeypatch)
    code, out, err = run("rules", "approve", "pr0001", "--reason", "已核对差异", "--db", url)
    assert code == 0, err
    e2 = read_store(url, chain.entries)[-1]
    assert out == (
        "Approved PR0001 (publish test-base 1.0, proposed by 测试员 tester); publish it: suijian rules publish PR0001\n"
        f"Ledger entry #2 PR0001-approve by {APPROVER} (supervisor) at 2026-03-01 09:31:00, entry hash "
        f"{e2.entry_hash}\n"
    )
    code, out, err = run("rules", "proposals", "--db", url)
    assert code == 0, err
    assert out == (
        "发布提案 rule-pack proposals\n"
        "┏━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━┓\n"
        "┃ 提案   ┃    类型 ┃        规则包 ┃     状态 ┃              提出人 ┃              审核人 ┃ 发布 ┃\n"
        "┡━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━┩\n"
        "│ PR0001 │ publish │ test-base 1.0 │ approved │       测试员 tester │     审核员 approver │      │\n"
        "│        │         │               │          │ 2026-03-01 09:30:00 │ 2026-03-01 09:31:00 │      │\n"
        "└────────┴─────────┴───────────────┴──────────┴─────────────────────┴─────────────────────┴──────┘\n"
        "Reasons and diffs: suijian rules proposals --json\n"
    )
    assert run("rules", "proposals", "--status", "pending", "--db", url) == (
        0,
        "No pending rule-pack proposals.\n",
        "",
    )
    code, out, err = run("rules", "proposals", "--json", "--db", url)
    [doc] = json.loads(out)["proposals"]
    assert set(doc) == {
        "id",
        "kind",
        "status",
        "pack",
        "previous",
        "proposed_by",
        "reason",
        "created_at",
        "review",
        "published_as",
        "source",
        "target",
        "cases",
        "decisions",
        "rows",
        "diff",
        "seq",
        "entry_hash",
    }
    assert (doc["status"], doc["review"]["by"], doc["review"]["reason"]) == ("approved", APPROVER, "已核对差异")
    assert doc["pack"] == {"name": "test-base", "version": "1.0", "files_hash": files, "hash": base.hash}
    code, out, err = run("rules", "publish", "PR0001", "--db", url)
    assert code == 0, err
    code, out, _ = run("audit", "verify", "--db", url)
    assert code == 0 and out.startswith("OK: 3 ledger entries (publish 1, pack-proposal 1, pack-review 1)"), out


def test_the_proposal_json_shows_the_diff_against_the_active_version(
    url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    approved(url, monkeypatch, "packs/base")
    assert run("rules", "publish", "packs/base", "--db", url)[0] == 0
    raise_food_a_max(Path("packs/base/pack.yaml"))
    code, out, err = run("rules", "propose", "packs/base", "--reason", "阈值", "--json", "--db", url)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"ok", "proposal", "ledger_head"}
    p = doc["proposal"]
    assert (p["id"], p["status"], p["pack"]["version"], p["previous"]) == ("PR0004", "pending", "1.1", p["previous"])
    assert p["previous"].startswith("Rtest-base-1.0-")
    assert p["diff"]["parameters"] == [{"name": "food_a_max", "change": "modified", "old": 30, "new": 35}]
    assert doc["ledger_head"] == {"seq": 4, "hash": p["entry_hash"]}


def test_refusals_are_one_line_and_write_nothing(url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    approved(url, monkeypatch, "packs/base")
    assert run("rules", "publish", "packs/base", "--db", url)[0] == 0
    active = read_store(url, chain.entries)[-1].run_id
    files = packs.version_of(load_pack("packs/base")).files_hash
    raise_food_a_max(Path("packs/base/pack.yaml"))  # 1.1
    code, _, err = run("rules", "propose", "packs/base", "--reason", "新版", "--db", url)
    assert code == 0, err
    new_files = packs.version_of(load_pack("packs/base")).files_hash
    lower = Path("packs/base/pack.yaml")
    lower_text = lower.read_text(encoding="utf-8")
    before = state(url)
    refused = [
        (
            ["rules", "approve", "PR0004", "--reason", "我自己批"],
            "Error: 测试员 tester (supervisor) may not approve PR0004: they proposed it; a second supervisor must "
            "approve it (four eyes)\n",
        ),
        (
            ["rules", "publish", "PR0004"],
            "Error: cannot publish PR0004: proposal PR0004 by 测试员 tester is not approved yet; a second supervisor "
            "(not 测试员 tester) approves it: suijian rules approve PR0004 --reason …\n",
        ),
        (
            ["rules", "publish", "packs/base"],
            f"Error: cannot publish packs/base: proposal PR0004 of test-base 1.1 (files {new_files[:12]}) by 测试员 "
            "tester is not approved yet; a second supervisor (not 测试员 tester) approves it: suijian rules approve "
            "PR0004 --reason …\n",
        ),
        (
            ["rules", "approve", "PR0099", "--reason", "x"],
            "Error: no rule-pack proposal 'PR0099'; `suijian rules proposals` lists them\n",
        ),
        (
            ["rules", "publish", "PR0099"],
            "Error: no rule-pack proposal 'PR0099'; `suijian rules proposals` lists them\n",
        ),
        (
            ["rules", "propose", "packs/base", "--reason", "again"],
            "Error: cannot propose packs/base: it is already proposed as PR0004 by 测试员 tester (pending); "
            "`suijian rules proposals` shows it\n",
        ),
        (
            ["rules", "propose", "packs/child"],
            "Error: a proposal needs a reason: give --reason TEXT (why, in a sentence; it is recorded)\n",
        ),
        (
            ["rules", "rollback", "1.0"],
            "Error: a rollback needs a reason: give --reason TEXT (why, in a sentence; it is recorded)\n",
        ),
        (
            ["rules", "rollback", "1.0", "--reason", "回退"],
            f"Error: cannot roll back to 1.0: it is the active rule pack already ({active})\n",
        ),
        (
            ["rules", "rollback", "0.9", "--reason", "回退"],
            "Error: '0.9' names no published rule-pack version: give a version label, a files hash (at least 8 hex "
            "digits) or a publication's run id; `suijian rules active` lists them\n",
        ),
        (
            ["rules", "approve", "PR0004"],
            "Error: to approve a proposal needs a reason: give --reason TEXT (why, in a sentence; it is recorded)\n",
        ),
    ]
    for args, message in refused:
        assert run(*args, "--db", url) == (1, "", message), args
    # A lower version label than the active one (1.0 → 0.9, new content): refused; going back is a rollback.
    lower.write_text(lower_text.replace('version: "1.1"', 'version: "0.9"'), encoding="utf-8")
    assert run("rules", "propose", "packs/base", "--reason", "降级", "--db", url) == (
        1,
        "",
        "Error: cannot propose packs/base: version 0.9 is lower than the active test-base 1.0; raise `version` in "
        "pack.yaml, or go back explicitly: suijian rules rollback VERSION --reason …\n",
    )
    assert state(url) == before
    # The second supervisor rejects; a rejected proposal is final and cannot be published or approved.
    as_approver(monkeypatch)
    code, out, err = run("rules", "reject", "PR0004", "--reason", "缺少说明", "--db", url)
    assert code == 0 and out.startswith(
        "Rejected PR0004 (publish test-base 1.1, proposed by 测试员 tester): 缺少说明\n"
    ), err
    after = state(url)
    for args, message in (
        (["approve", "PR0004", "--reason", "x"], f"Error: cannot approve PR0004: it was rejected by {APPROVER}\n"),
        (["reject", "PR0004", "--reason", "x"], f"Error: cannot reject PR0004: it was rejected by {APPROVER}\n"),
        (
            ["publish", "PR0004"],
            f"Error: cannot publish PR0004: proposal PR0004 was rejected by {APPROVER} (缺少说明); a rejected "
            "proposal is final: propose again\n",
        ),
    ):
        assert run("rules", *args, "--db", url) == (1, "", message), args
    assert state(url) == after
    assert files != new_files


def test_a_rollback_is_proposed_approved_and_published(url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    approved(url, monkeypatch, "packs/base")
    assert run("rules", "publish", "packs/base", "--db", url)[0] == 0
    first = read_store(url, chain.entries)[-1]
    raise_food_a_max(Path("packs/base/pack.yaml"))
    approved(url, monkeypatch, "packs/base")
    assert run("rules", "publish", "packs/base", "--db", url)[0] == 0
    second = read_store(url, chain.entries)[-1]
    code, out, err = run("rules", "rollback", "1.0", "--reason", "1.1 误判", "--db", url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Proposed going back to test-base 1.0 as PR0007 (rollback, pending approval)"
    assert lines[1] == f"  from rollback to {first.run_id}: 13 cases passed; 10 decisions, 48 rules"
    assert lines[4:8] == [
        "  reason: 1.1 误判",
        f"Active now: test-base 1.1 (files {second.get('pack')['files_hash'][:12]}), {second.run_id}",
        "Changes against the active version:",
        "  rules modified: food_a, food_b",
    ]
    as_approver(monkeypatch)
    assert run("rules", "approve", "PR0007", "--reason", "同意回退", "--db", url)[0] == 0
    code, out, err = run("rules", "publish", "PR0007", "--db", url)
    assert code == 0, err
    assert "  rollback proposal PR0007 by 测试员 tester, approved by 审核员 approver (PR0007-approve)\n" in out
    assert f"This version was published before as {first.run_id}: a rollback.\n" in out
    code, out, _ = run("rules", "proposals", "--json", "--db", url)
    assert [(p["id"], p["kind"], p["status"]) for p in json.loads(out)["proposals"]] == [
        ("PR0001", "publish", "published"),
        ("PR0004", "publish", "published"),
        ("PR0007", "rollback", "published"),
    ]
    assert run("audit", "verify", "--db", url)[0] == 0
