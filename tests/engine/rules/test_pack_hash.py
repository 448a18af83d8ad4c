"""The semantic hash of the bundled packs is a recorded fact (the ledger stores it): refactoring the loader must
not move it. A deliberate change to the packs' content (rules/national, rules/guangdong) moves these: update them
then, and only then.

Two schemes: `suijian-pack-1` (decisions and parameters; what entries up to this release recorded, pinned from the
code before engine/rules/load.py was split by stage and last moved by the 2026.1 packs) and `suijian-pack-2`
(also the plan policy and the check-item catalogue; what new entries record and `rules check` shows)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rules
from engine.ledger import canonical
from engine.rules import load_pack

PINNED = {
    "national": {
        canonical.PACK_1: "fb0e467f999a647e7ac8f949f6d7d6c5c28766059f749a1417d3511635776c49",
        canonical.PACK_2: "e524d3d08f514e6b5cd83d2a87363e699ca33a949bfff047be15f3de96b302c1",
    },
    "guangdong": {
        canonical.PACK_1: "e5a08952d98927003a9a5f797f9c2c171b053d84d944734ee5522d9b7de895a0",
        canonical.PACK_2: "e8e9fad34bb336cd0e201c73c6cd11d603b3c5b76e786126c24166601d577bfb",
    },
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_bundled_pack_hash_is_unchanged(name: str) -> None:
    pack = load_pack(rules.bundled(name))
    assert dict(pack.hashes) == PINNED[name]
    assert pack.hash == pack.hash_under(canonical.PACK) == PINNED[name][canonical.PACK_2]
    assert pack.hash_under("suijian-pack-9") is None


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(rules.bundled("national"), root / "national")
    shutil.copytree(rules.bundled("guangdong"), root / "guangdong")
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("policy.yaml", "general_cap: 5%", "general_cap: 4%"),
        ("policy.yaml", "team_size: 2", "team_size: 3"),
        ("catalogue.yaml", "name: 食品生产者生产活动的监督检查", "name: 食品生产者的监督检查"),
        ("catalogue.yaml", "required_qualifications: [food]", "required_qualifications: [food, registration]"),
    ],
)
def test_a_data_only_change_moves_pack_2_and_not_pack_1(tmp_path: Path, file: str, old: str, new: str) -> None:
    """The hash users see covers policy.yaml and catalogue.yaml; pack-1 (old entries) does not, as recorded."""
    root = _copy(tmp_path)
    before = load_pack(root / "national")
    _edit(root / "national" / file, old, new)
    after = load_pack(root / "national")
    assert after.hash_under(canonical.PACK_1) == before.hash_under(canonical.PACK_1)
    assert after.hash != before.hash


def test_the_child_pack_hash_covers_the_parents_catalogue_and_its_own_policy(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = load_pack(root / "guangdong").hash
    _edit(root / "national" / "catalogue.yaml", "name: 食品生产者生产活动的监督检查", "name: 食品生产者的监督检查")
    with_catalogue = load_pack(root / "guangdong").hash
    assert with_catalogue != before
    # The national policy is not the child's (planning reads the child's own policy.yaml): it moves only national.
    _edit(root / "national" / "policy.yaml", "team_size: 2", "team_size: 3")
    assert load_pack(root / "guangdong").hash == with_catalogue
    _edit(root / "guangdong" / "policy.yaml", "annual_random_cap: 2", "annual_random_cap: 3")
    assert load_pack(root / "guangdong").hash != with_catalogue


def test_comments_and_layout_do_not_move_the_hash(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = load_pack(root / "national").hashes
    for name in ("policy.yaml", "catalogue.yaml"):
        path = root / "national" / name
        path.write_text(
            "# 注释：不改变含义\n\n" + path.read_text(encoding="utf-8").replace(": ", ":  "), encoding="utf-8"
        )
    assert load_pack(root / "national").hashes == before


def test_a_pack_without_data_files_hashes_them_as_absent(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = load_pack(root / "national")
    (root / "national" / "policy.yaml").unlink()
    _edit(root / "national" / "pack.yaml", "data: [catalogue.yaml, policy.yaml]", "data: [catalogue.yaml]")
    after = load_pack(root / "national")
    assert after.data["policy.yaml"] is None and after.data["catalogue.yaml"] == before.data["catalogue.yaml"]
    assert after.hash != before.hash


def test_a_stored_version_is_checked_against_the_hash_of_the_scheme_its_entry_recorded(store_url: str) -> None:
    """Replay restores a pack version and compares its hash with the entry's, under the entry's scheme: an entry
    recorded under pack-1 (any release before pack-2) still matches; a hash under the wrong scheme does not."""
    from engine.ledger import packs
    from entities import store
    from entities.errors import InputError, UnknownScheme

    pack = load_pack(rules.bundled("guangdong"))
    version = packs.version_of(pack)
    engine = store.open_store(store_url)
    try:
        with engine.begin() as conn:
            packs.save(conn, version)
        with engine.connect() as conn:
            for scheme in (canonical.PACK_1, canonical.PACK_2):
                with packs.restored(conn, version.files_hash, PINNED["guangdong"][scheme], scheme) as restored:
                    assert restored.hashes == pack.hashes
            wrong = PINNED["guangdong"][canonical.PACK_1]
            with pytest.raises(
                InputError, match=r"as pack hash e8e9fad34bb3 \(suijian-pack-2\), not the recorded e5a089"
            ):
                _restore(conn, version.files_hash, wrong, canonical.PACK_2)
            with pytest.raises(UnknownScheme, match="'suijian-pack-files-1' is not a pack hashing scheme"):
                _restore(conn, version.files_hash, None, canonical.PACK_FILES)
    finally:
        engine.dispose()


def _restore(conn: object, digest: str, recorded: str | None, scheme: str) -> None:
    from engine.ledger import packs

    with packs.restored(conn, digest, recorded, scheme):  # type: ignore[arg-type]
        pass
