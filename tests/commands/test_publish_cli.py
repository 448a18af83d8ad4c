"""`suijian rules publish|active|export` through the CLI on both stores: exact output, --json shapes, refusals
(one line, exit 1, nothing written) and the roles. Every publication is proposed and approved first (four eyes;
tests/commands/test_approvals_cli.py tests those commands)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

import commands.approvals
import commands.publish
from engine.ledger import chain, packs
from engine.rules import load_pack
from tests.helpers import read_store
from tests.helpers import run_cli as run

REPO = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 3, 1, 9, 30)


@pytest.fixture
def url(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test packs copied to ./packs, and a clock that ticks one minute per publication."""
    shutil.copytree(REPO / "tests" / "packs", tmp_path / "packs", ignore=shutil.ignore_patterns("broken"))
    monkeypatch.chdir(tmp_path)
    ticks = iter(range(100))
    for module in (commands.publish, commands.approvals):
        monkeypatch.setattr(module, "now", lambda: START + dt.timedelta(minutes=next(ticks)))
    return store_url


def approved(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """`rules propose ARGS` (or `rules rollback ARGS`) by the tester, approved by a second supervisor: its id."""
    command = "rollback" if args[0] == "--rollback" else "propose"
    code, out, err = run("rules", command, *args[command == "rollback" :], "--reason", "测试", "--json", "--db", url)
    assert code == 0, err
    pid = str(json.loads(out)["proposal"]["id"])
    with monkeypatch.context() as m:
        m.setenv("SUIJIAN_USER", "审核员 approver")
        code, _, err = run("rules", "approve", pid, "--reason", "已核对", "--db", url)
    assert code == 0, err
    return pid


def entries(url: str) -> list[chain.Entry]:
    return read_store(url, chain.entries)


def raise_food_a_max(pack_yaml: Path) -> None:
    text = pack_yaml.read_text(encoding="utf-8")
    old = "  food_a_max:\n    type: float\n    default: 30\n"
    assert old in text
    text = text.replace(old, "  food_a_max:\n    type: float\n    default: 35\n")
    label = next(line for line in text.splitlines() if line.startswith("version:"))
    major, minor = label.split('"')[1].split(".")
    pack_yaml.write_text(text.replace(label, f'version: "{major}.{int(minor) + 1}"'), encoding="utf-8")


def test_publish_and_active_print_exactly(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    base = load_pack("packs/base")
    first_files = packs.version_of(base).files_hash
    approved(url, monkeypatch, "packs/base")  # 09:30 proposed, 09:31 approved
    code, out, err = run("rules", "publish", "packs/base", "--db", url)
    assert code == 0, err
    e1 = entries(url)[-1]
    assert out == (
        f"Published test-base 1.0 as the active rule pack: Rtest-base-1.0-{first_files[:10]}-0003\n"
        "  from packs/base: 13 cases passed; 10 decisions, 48 rules\n"
        f"  files hash {first_files}\n"
        f"  pack hash  {base.hash}\n"
        "  publish proposal PR0001 by 测试员 tester, approved by 审核员 approver (PR0001-approve)\n"
        "Previous: none (the first publication)\n"
        f"Ledger entry #3 {e1.run_id} by 测试员 tester (supervisor) at 2026-03-01 09:32:00, entry hash {e1.entry_hash}\n"
    )

    code, out, err = run("rules", "publish", "packs/base", "--db", url)
    assert code == 0, err
    assert out == (
        f"test-base 1.0 (files {first_files[:12]}) is already the active rule pack: {e1.run_id}, published "
        "2026-03-01 09:32:00 by 测试员 tester; nothing recorded.\n"
    )
    assert len(entries(url)) == 3

    raise_food_a_max(Path("packs/base/pack.yaml"))
    changed = load_pack("packs/base")
    second_files = packs.version_of(changed).files_hash
    pid = approved(url, monkeypatch, "packs/base")  # 09:34, 09:35
    code, out, err = run("rules", "publish", pid, "--db", url)
    assert code == 0, err
    e2 = entries(url)[-1]
    assert out == (
        f"Published test-base 1.1 as the active rule pack: Rtest-base-1.1-{second_files[:10]}-0006\n"
        f"  from proposal {pid}: 13 cases passed; 10 decisions, 48 rules\n"
        f"  files hash {second_files}\n"
        f"  pack hash  {changed.hash}\n"
        f"  publish proposal {pid} by 测试员 tester, approved by 审核员 approver ({pid}-approve)\n"
        f"Previous: test-base 1.0 (files {first_files[:12]}), {e1.run_id} (still retrievable: suijian rules export "
        f"{e1.run_id} DIR)\n"
        "Changes against the previous version:\n"
        "  rules modified: food_a, food_b\n"
        "  parameter food_a_max (modified): 30 → 35\n"
        "  files modified: pack.yaml\n"
        f"Ledger entry #6 {e2.run_id} by 测试员 tester (supervisor) at 2026-03-01 09:36:00, entry hash {e2.entry_hash}\n"
    )

    code, out, err = run("rules", "active", "--db", url)
    assert code == 0, err
    assert out == (
        f"Active rule pack: test-base 1.1 — {e2.run_id}, published 2026-03-01 09:36:00 by 测试员 tester (supervisor)\n"
        f"  files hash {second_files}\n"
        f"  pack hash  {changed.hash}\n"
        "发布记录 publications\n"
        "┏━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━━━━━┓\n"
        "┃ 序号 ┃                时间 ┃        发布人 ┃    规则包 ┃ 版本 ┃     文件哈希 ┃\n"
        "┡━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━━━┩\n"
        f"│ 3    │ 2026-03-01 09:32:00 │ 测试员 tester │ test-base │  1.0 │ {first_files[:12]} │\n"
        f"│ 6    │ 2026-03-01 09:36:00 │ 测试员 tester │ test-base │  1.1 │ {second_files[:12]} │\n"
        "└──────┴─────────────────────┴───────────────┴───────────┴──────┴──────────────┘\n"
        "Get a version's files: suijian rules export FILES_HASH DIR\n"
    )

    code, out, err = run("rules", "export", first_files[:8], "old", "--db", url)
    assert code == 0, err
    assert out == (
        f"Wrote 6 files of rule-pack version {first_files} (test-base 1.0) to old; they match their hash.\n"
        "The pack is old/base: suijian rules check old/base\n"
    )
    assert packs.version_of(load_pack("old/base")).files_hash == first_files


def test_active_before_any_publication(url: str) -> None:
    assert run("rules", "active", "--db", url) == (
        0,
        "No rule pack is published yet; publish one: suijian rules publish national\n",
        "",
    )
    code, out, _ = run("rules", "active", "--json", "--db", url)
    assert code == 0 and json.loads(out) == {"ok": True, "active": None, "history": []}


def test_json_shapes_and_rollback(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    approved(url, monkeypatch, "packs/base")
    code, out, err = run("rules", "publish", "packs/base", "--json", "--db", url)
    assert code == 0, err
    first = json.loads(out)
    assert set(first) == {"ok", "new", "directory", "ledger_head", "publication"}
    assert first["new"] and first["directory"] == "packs/base"
    doc = first["publication"]
    assert set(doc) == {
        "seq",
        "run_id",
        "created_at",
        "actor",
        "pack",
        "source",
        "previous",
        "earlier",
        "cases",
        "decisions",
        "rows",
        "diff",
        "proposal",
        "proposal_kind",
        "proposed_by",
        "approval",
        "approved_by",
        "entry_hash",
    }
    assert doc["created_at"] == "2026-03-01 09:32:00" and doc["previous"] is None and doc["diff"] is None
    assert (doc["proposal"], doc["proposal_kind"], doc["approval"]) == ("PR0001", "publish", "PR0001-approve")
    assert (doc["proposed_by"], doc["approved_by"]) == ("测试员 tester", "审核员 approver")
    assert set(doc["pack"]) == {"name", "version", "hash", "files_hash", "catalogue"}
    assert first["ledger_head"] == {"seq": 3, "hash": doc["entry_hash"]}

    code, out, _ = run("rules", "export", doc["run_id"], "old", "--json", "--db", url)
    assert code == 0
    exported = json.loads(out)
    assert exported["files_hash"] == doc["pack"]["files_hash"] and exported["pack_dir"] == "old/base"
    assert exported["pack"] == doc["pack"] and "base/pack.yaml" in exported["files"]

    raise_food_a_max(Path("packs/base/pack.yaml"))
    approved(url, monkeypatch, "packs/base")
    code, out, _ = run("rules", "publish", "packs/base", "--json", "--db", url)
    second = json.loads(out)["publication"]
    assert second["previous"] == {"run_id": doc["run_id"], "pack": doc["pack"]}
    assert set(second["diff"]) == {"decisions", "rules", "parameters", "policy", "files"}
    assert second["diff"]["parameters"] == [{"name": "food_a_max", "change": "modified", "old": 30, "new": 35}]

    code, out, err = run("rules", "publish", "old/base", "--json", "--db", url)  # an earlier version: not this way
    assert code == 1 and "was published before" in json.loads(out)["error"]["message"], err
    pid = approved(url, monkeypatch, "--rollback", doc["run_id"])  # the rollback, approved like any proposal
    code, out, _ = run("rules", "publish", pid, "--json", "--db", url)
    third = json.loads(out)
    assert third["new"] and third["publication"]["earlier"] == [doc["run_id"]]
    assert third["publication"]["proposal_kind"] == "rollback" and third["directory"] == pid
    assert third["publication"]["pack"] == doc["pack"]
    code, out, _ = run("rules", "active", "--json", "--db", url)
    listing = json.loads(out)
    assert listing["active"] == third["publication"]
    assert [p["run_id"] for p in listing["history"]] == [
        doc["run_id"],
        second["run_id"],
        third["publication"]["run_id"],
    ]


def test_a_child_pack_exports_with_its_parent(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    approved(url, monkeypatch, "packs/child")
    code, out, err = run("rules", "publish", "packs/child", "--json", "--db", url)
    assert code == 0, err
    run_id = json.loads(out)["publication"]["run_id"]
    code, out, err = run("rules", "export", run_id, "gd", "--db", url)
    assert code == 0, err
    assert out.endswith("The pack is gd/child: suijian rules check gd/child\n")
    code, out, _ = run("rules", "publish", "gd/child", "--db", url)
    assert code == 0 and "is already the active rule pack" in out


@pytest.mark.parametrize("role", ["inspector", "auditor"])
def test_only_supervisors_propose_approve_and_publish(url: str, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUIJIAN_ROLE", role)
    for args, action in (
        (["publish", "packs/base"], "publish"),
        (["propose", "packs/base", "--reason", "x"], "propose"),
        (["rollback", "1.0", "--reason", "x"], "propose"),
        (["approve", "PR0001", "--reason", "x"], "approve"),
        (["reject", "PR0001", "--reason", "x"], "approve"),
    ):
        code, out, err = run("rules", *args, "--db", url)
        assert (code, out) == (1, "") and err.count("\n") == 1
        assert err.startswith(f"Error: 测试员 tester ({role}) may not {action}: needs supervisor"), args
    assert entries(url) == []
    # Reading is for everyone.
    assert run("rules", "active", "--db", url)[0] == 0


def test_without_an_identity_publish_is_refused_in_one_line(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUIJIAN_USER")
    monkeypatch.delenv("SUIJIAN_ROLE")
    code, _, err = run("rules", "publish", "packs/base", "--db", url)
    assert code == 1 and err.startswith("Error: `publish` changes the store and needs to know who you are")
    assert len(err.splitlines()) == 1


def test_refusals_leave_the_active_pack(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    approved(url, monkeypatch, "packs/base")
    code, _, err = run("rules", "publish", "packs/base", "--db", url)
    assert code == 0, err
    before = entries(url)
    shutil.copytree(REPO / "tests" / "packs" / "broken" / "gap", "gap")
    cases = tmp_path / "packs" / "base" / "tests" / "cases.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("      credit_class: A\n", "      credit_class: B\n", 1), encoding="utf-8")
    refused = [
        (
            ["rules", "publish", "gap"],
            "Error: cannot publish gap: gap/rules.yaml:2: gap: decision 'food_grade': no rule covers food_risk_score in "
            "(45..60] (e.g. food_risk_score=52.5); add a rule for it or an else rule (1 error; `suijian rules check gap` "
            "lists them)\n",
        ),
        (
            ["rules", "propose", "gap", "--reason", "x"],
            "Error: cannot propose gap: gap/rules.yaml:2: gap: decision 'food_grade': no rule covers food_risk_score in "
            "(45..60] (e.g. food_risk_score=52.5); add a rule for it or an else rule (1 error; `suijian rules check gap` "
            "lists them)\n",
        ),
        (
            ["rules", "propose", "packs/base", "--reason", "x"],
            "Error: cannot propose packs/base: case '守法食品销售企业：A 类、食品 A 级、无事不扰' (packs/base/tests/cases.yaml:3) "
            "fails: credit_class: expected B, got A (1 of 13 cases failed; `suijian rules test packs/base` shows them)\n",
        ),
        (
            ["rules", "publish", "nowhere"],
            "Error: no rule pack 'nowhere': not a directory, nor a bundled pack (guangdong, national)\n",
        ),
        (
            ["rules", "export", "deadbeef", "out"],
            "Error: no rule-pack version with files hash deadbeef… in the store; `suijian rules active` lists the "
            "published versions\n",
        ),
        (
            ["rules", "export", "Rnope", "out"],
            "Error: 'Rnope' is neither a ledger run id nor a files hash (at least 8 hex digits); `suijian rules active` "
            "lists the published versions\n",
        ),
        (
            ["rules", "export", before[0].run_id, "packs"],
            "Error: packs is not empty; give a new or empty directory (nothing is overwritten)\n",
        ),
    ]
    for args, message in refused:
        assert run(*args, "--db", url) == (1, "", message), args
    assert entries(url) == before
    assert not Path("out").exists()


@pytest.mark.parametrize(
    "command", ["publish", "active", "export", "propose", "rollback", "approve", "reject", "proposals"]
)
def test_help_has_examples(command: str) -> None:
    code, out, _ = run("rules", command, "--help")
    assert code == 0 and "Examples:" in out and f"suijian rules {command}" in out
