"""Publishing rule packs (engine.publish) on SQLite and PostgreSQL: a checked, tested pack becomes the active version;
a failing one is refused and the active version stays; older versions stay retrievable and can be re-published."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import pack_approvals
from engine import publish as pub
from engine.ledger import blobs, chain, packs
from engine.rules import load_pack, run_cases
from engine.rules.authority import catalogue_hash, pack_items
from entities import store
from entities.errors import Forbidden, InputError
from entities.identity import Identity, Role
from tests.helpers import APPROVER, TESTER, publish_approved, read_store

REPO = Path(__file__).resolve().parents[2]
NATIONAL = REPO / "rules" / "national"
WHEN = dt.datetime(2026, 3, 1, 9, 30)


@pytest.fixture
def url(store_url: str) -> str:
    return store_url


def _publish(
    url: str, directory: Path | str, *, actor: Identity = TESTER, minutes: int = 0
) -> tuple[chain.Entry, bool]:
    """Proposed by `actor`, approved by a second supervisor and published (the active version: published again)."""
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            when = WHEN + dt.timedelta(minutes=minutes)
            return publish_approved(conn, str(directory), created_at=when, proposer=actor)
    finally:
        engine.dispose()


_read = read_store


def _state(url: str) -> tuple[list[str], int]:
    """The ledger's run ids and the number of stored blobs: what a refused publication must leave alone."""

    def read(conn: sa.Connection) -> tuple[list[str], int]:
        return [e.run_id for e in chain.entries(conn)], store.count_rows(conn, "blob")

    return _read(url, read)


def _files_hash(directory: Path | str) -> str:
    return packs.version_of(load_pack(directory)).files_hash


def _copy_rules(tmp_path: Path) -> Path:
    """rules/ copied whole (guangdong's parent is ../national)."""
    target = tmp_path / "rules"
    shutil.copytree(REPO / "rules", target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in the file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _changed_national(tmp_path: Path) -> Path:
    rules = _copy_rules(tmp_path)
    _edit(
        rules / "national" / "pack.yaml",
        "  food_a_max:\n    type: float\n    default: 30\n",
        "  food_a_max:\n    type: float\n    default: 35\n",
    )
    _edit(rules / "national" / "pack.yaml", 'version: "2026.3"', 'version: "2026.4"')  # a new version, a new label
    return rules / "national"


def test_publish_makes_the_pack_active(url: str) -> None:
    assert _read(url, pub.active) is None
    entry, new = _publish(url, NATIONAL)
    assert new and entry.kind == "publish" and entry.seq == 3  # after its proposal and approval
    pack = load_pack(NATIONAL)
    files_hash = _files_hash(NATIONAL)
    assert re.fullmatch(rf"Rnational-{re.escape(pack.version)}-{files_hash[:10]}-0003", entry.run_id)
    assert entry.get("pack") == {
        "name": "national",
        "version": pack.version,
        "hash": pack.hash,
        "files_hash": files_hash,
        "catalogue": catalogue_hash(pack_items(pack) or []),
    }
    assert entry.actor == {"user": TESTER.user, "role": "supervisor"}
    d = entry.details
    assert d["previous"] is None and d["diff"] is None and d["earlier"] == []
    assert (d["proposal"], d["proposal_kind"], d["proposed_by"]) == ("PR0001", "publish", TESTER.user)
    assert (d["approval"], d["approved_by"]) == ("PR0001-approve", "审核员 approver")
    assert d["cases"] == len(run_cases(pack).outcomes) > 0
    assert d["decisions"] == len(pack.decisions) and d["rows"] == sum(len(x.rules) for x in pack.decisions)
    assert _read(url, pub.active).run_id == entry.run_id
    assert [e.run_id for e in _read(url, pub.history)] == [entry.run_id]

    def restored_hash(conn: sa.Connection) -> str | None:
        with pub.active_pack(conn) as active:
            return None if active is None else active.hash

    assert _read(url, restored_hash) == pack.hash


def test_active_pack_is_none_before_any_publication(url: str) -> None:
    def read(conn: sa.Connection) -> object:
        with pub.active_pack(conn) as pack:
            return pack

    assert _read(url, read) is None


def test_publishing_the_active_version_again_records_nothing(url: str, tmp_path: Path) -> None:
    first, _ = _publish(url, NATIONAL)
    before = _state(url)
    again, new = _publish(url, NATIONAL, minutes=5)
    assert not new and again == first
    # The same files elsewhere on disk are the same version.
    copy = _copy_rules(tmp_path) / "national"
    again, new = _publish(url, copy, minutes=6)
    assert not new and again.run_id == first.run_id
    assert _state(url) == before


def test_a_changed_parameter_is_a_new_version_and_the_old_one_stays_retrievable(url: str, tmp_path: Path) -> None:
    first, _ = _publish(url, NATIONAL)
    changed = _changed_national(tmp_path)
    second, new = _publish(url, changed, minutes=1)
    assert new and second.seq == 6 and second.run_id != first.run_id
    assert _read(url, pub.active).run_id == second.run_id
    d = second.details
    assert d["previous"] == {"run_id": first.run_id, "pack": first.get("pack")}
    diff = d["diff"]
    assert diff["parameters"] == [{"name": "food_a_max", "change": "modified", "old": 30, "new": 35}]
    assert diff["files"] == {"added": [], "removed": [], "modified": ["pack.yaml"]}
    assert diff["decisions"] == {"added": [], "removed": [], "modified": []}
    assert diff["policy"] == [] and not diff["rules"]["added"] and not diff["rules"]["removed"]
    assert diff["rules"]["modified"]  # the rows that read $param.food_a_max
    assert not pub.diff_is_empty(diff)

    # The previous version, by run id and by a hash prefix: written out, it hashes to what was published.
    old_hash = first.get("pack")["files_hash"]
    for ref, name in ((first.run_id, "by-run"), (old_hash[:8], "by-hash")):
        out = tmp_path / name
        result = _read(url, pub.export_version, ref, out)
        assert (
            result.files_hash == old_hash and result.pack_dir == out / "national"
        )  # each layer under its directory name
        assert result.pack == first.get("pack")
        assert _files_hash(out / "national") == old_hash
        assert (out / "national" / "pack.yaml").read_bytes() == (NATIONAL / "pack.yaml").read_bytes()


@pytest.mark.parametrize("broken", ["gap", "missing_fields", "unknown_feature", "malformed_yaml"])
def test_a_pack_that_fails_check_is_refused_and_the_active_one_stays(url: str, broken: str) -> None:
    first, _ = _publish(url, NATIONAL)
    before = _state(url)
    directory = f"tests/packs/broken/{broken}"
    from engine.rules import read_pack

    _, findings = read_pack(REPO / directory)
    errors = [f for f in findings if f.severity == "error"]
    with pytest.raises(InputError) as caught:
        _publish(url, REPO / directory, minutes=1)
    message = str(caught.value)
    assert "\n" not in message
    n = len(errors)
    assert message.startswith(f"cannot propose {REPO / directory}: ")  # refused at the proposal
    assert message.endswith(f"({n} error{'' if n == 1 else 's'}; `suijian rules check {REPO / directory}` lists them)")
    assert errors[0].code in message
    assert _read(url, pub.active).run_id == first.run_id
    assert _state(url) == before


def test_a_pack_whose_cases_fail_is_refused_and_the_active_one_stays(url: str, tmp_path: Path) -> None:
    first, _ = _publish(url, NATIONAL)
    before = _state(url)
    national = _copy_rules(tmp_path) / "national"
    _edit(
        national / "tests" / "cases.yaml",
        "    credit_score: 15\n    credit_class: B\n",
        "    credit_score: 15\n    credit_class: C\n",
    )
    with pytest.raises(InputError) as caught:
        _publish(url, national, minutes=1)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot propose {national}: case '")
    assert "credit_class" in message and "1 of " in message and f"`suijian rules test {national}`" in message
    assert _read(url, pub.active).run_id == first.run_id
    assert _state(url) == before


def test_a_pack_without_cases_or_with_a_bad_policy_is_refused(url: str, tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    shutil.rmtree(rules / "national" / "tests")
    with pytest.raises(InputError, match=r"^cannot propose .*: it has no given/expect cases; add them under"):
        _publish(url, rules / "national")
    shutil.copytree(NATIONAL / "tests", rules / "national" / "tests")
    (rules / "national" / "policy.yaml").write_text("credit_ratios: {A: 2}\n", encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"^cannot propose .*/national: .*/national/policy\.yaml:1: bad_policy: "
        r"credit_ratios\.A: sampling ratio 2 is outside 0\.\.1",
    ):
        _publish(url, rules / "national")
    (rules / "national" / "policy.yaml").write_bytes((NATIONAL / "policy.yaml").read_bytes())
    (rules / "national" / "catalogue.yaml").write_text("items: 5\n", encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"^cannot propose .*/national: .*/national/catalogue\.yaml:1: bad_catalogue: expected a mapping",
    ):
        _publish(url, rules / "national")
    with pytest.raises(InputError, match=r"^cannot propose .*/nowhere: no rule pack there \(not a directory\)$"):
        _publish(url, tmp_path / "nowhere")
    assert _state(url) == ([], 0)


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.AUDITOR])
def test_only_a_supervisor_proposes_or_publishes(url: str, role: Role) -> None:
    with pytest.raises(Forbidden, match="may not propose: needs supervisor"):
        _publish(url, NATIONAL, actor=Identity("李四", role))
    engine = store.open_store(url)
    try:
        with engine.begin() as conn, pytest.raises(Forbidden, match="may not publish: needs supervisor"):
            pub.publish(conn, str(NATIONAL), actor=Identity("李四", role), created_at=WHEN)
    finally:
        engine.dispose()
    assert _state(url) == ([], 0)


def test_rollback_republishes_the_older_version(url: str, tmp_path: Path) -> None:
    first, _ = _publish(url, NATIONAL)
    second, _ = _publish(url, _changed_national(tmp_path), minutes=1)
    out = tmp_path / "old"
    _read(url, pub.export_version, first.run_id, out)
    with pytest.raises(InputError, match=r"these files were published before \(Rnational-.*rollback"):
        _publish(url, out / "national", minutes=2)  # going back is an explicit rollback, not a new proposal
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            when = WHEN + dt.timedelta(minutes=2)
            p = pack_approvals.propose_rollback(conn, first.run_id, reason="回退", actor=TESTER, created_at=when)
            pack_approvals.approve(conn, p.id, reason="同意", actor=APPROVER, created_at=when)
            third, new = pub.publish(conn, p.id, actor=TESTER, created_at=when)
    finally:
        engine.dispose()
    assert new and third.seq == 9 and len({first.run_id, second.run_id, third.run_id}) == 3
    assert third.details["proposal_kind"] == "rollback" and third.details["source"] == f"proposal {p.id}"
    assert third.get("pack") == first.get("pack")
    assert third.details["earlier"] == [first.run_id]
    assert third.details["previous"]["run_id"] == second.run_id
    assert third.details["diff"]["parameters"] == [{"name": "food_a_max", "change": "modified", "old": 35, "new": 30}]
    assert _read(url, pub.active).run_id == third.run_id
    assert [e.run_id for e in _read(url, pub.history)] == [first.run_id, second.run_id, third.run_id]
    # Back to the published version a second time: nothing new.
    assert not _publish(url, NATIONAL, minutes=3)[1]


def test_a_child_pack_is_published_and_exported_with_its_parent(url: str, tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    _publish(url, rules / "national")
    entry, new = _publish(url, rules / "guangdong", minutes=1)
    assert new and entry.get("pack")["name"] == "guangdong"
    diff = entry.details["diff"]
    assert "../national/pack.yaml" in diff["files"]["added"] and "policy.yaml" in diff["files"]["modified"]
    assert any(p["name"] == "device_low_share" for p in diff["parameters"])
    out = tmp_path / "exported"
    result = _read(url, pub.export_version, entry.run_id, out)
    assert result.pack_dir == out / "guangdong" and (out / "national" / "pack.yaml").exists()
    assert _files_hash(result.pack_dir) == entry.get("pack")["files_hash"]
    assert not _publish(url, result.pack_dir, minutes=2)[1]  # the exported files are the active version


def test_export_refuses_bad_references_and_non_empty_directories(url: str, tmp_path: Path) -> None:
    entry, _ = _publish(url, NATIONAL)
    cases = [
        ("zz", "'zz' is neither a ledger run id nor a files hash (at least 8 hex digits)"),
        ("abc123", "'abc123' is neither a ledger run id nor a files hash"),
        ("00000000", "no rule-pack version with files hash 00000000… in the store"),
    ]
    for ref, message in cases:
        with pytest.raises(InputError, match=re.escape(message)):
            _read(url, pub.export_version, ref, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="is not empty; give a new or empty directory"):
        _read(url, pub.export_version, entry.run_id, full)
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    with pytest.raises(InputError, match="is a file; give a new or empty directory"):
        _read(url, pub.export_version, entry.run_id, full / "keep.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _read(url, pub.export_version, entry.get("pack")["files_hash"].upper(), empty).files  # an empty one is fine


def test_export_needs_a_unique_prefix_and_an_unaltered_version(url: str, tmp_path: Path) -> None:
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            blobs.put(conn, "pack", "abcdef12" + "0" * 56, b"not a zip")
            blobs.put(conn, "pack", "abcdef12" + "1" * 56, b"not a zip")
    finally:
        engine.dispose()
    with pytest.raises(InputError, match="names more than one stored rule-pack version; give more digits"):
        _read(url, pub.export_version, "ABCDEF12", tmp_path / "x")
    with pytest.raises(InputError, match=r"rule-pack version abcdef120000 is unreadable"):
        _read(url, pub.export_version, "abcdef120", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_an_unreadable_previous_version_does_not_block_publishing(url: str, tmp_path: Path) -> None:
    first, _ = _publish(url, NATIONAL)
    old_hash = first.get("pack")["files_hash"]
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            t = store.table("blob")
            conn.execute(t.update().where(t.c.hash == old_hash).values(data=b"junk"))
    finally:
        engine.dispose()
    second, new = _publish(url, _changed_national(tmp_path), minutes=1)
    assert new and second.details["diff"] == {
        "unavailable": f"rule-pack version {old_hash[:12]} is unreadable "
        "(File is not a zip file); run `suijian audit verify` "
        "to see what it affects"
    }
    assert pub.diff_is_empty(second.details["diff"])
    with pytest.raises(InputError, match=f"rule-pack version {old_hash[:12]} is unreadable"):
        _read(url, pub.export_version, first.run_id, tmp_path / "x")


def test_a_published_version_label_never_names_other_files(url: str, tmp_path: Path) -> None:
    first, _ = _publish(url, NATIONAL)
    rules = _copy_rules(tmp_path)
    _edit(rules / "national" / "credit.yaml", 'days_since_registration: "< 365"', 'days_since_registration: "< 730"')
    before = _state(url)
    with pytest.raises(
        InputError,
        match=r"national 2026\.3 was published with other content \(Rnational-2026\.3-"
        r".*raise `version` in pack\.yaml",
    ):
        _publish(url, rules / "national", minutes=1)
    assert _state(url) == before and _read(url, pub.active).run_id == first.run_id
