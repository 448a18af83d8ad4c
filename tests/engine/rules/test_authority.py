"""One authoritative catalogue: the pack's; the store's check_item table must be an import of it, and every item
code the pack's decisions output must be in it (`rules check`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

import rules
from engine.catalogue import install_catalogue, load_catalogue
from engine.ledger import canonical, record
from engine.planning import check_items
from engine.rules import check_pack, load_pack
from engine.rules.authority import catalogue_drift, catalogue_hash, pack_items, require_same_catalogue
from entities import store
from entities.errors import InputError

NATIONAL = rules.bundled("national")


def test_the_pack_catalogue_is_the_file_the_nearest_layer_holds() -> None:
    national, guangdong = load_pack(NATIONAL), load_pack(rules.bundled("guangdong"))
    items = pack_items(national)
    assert items is not None and items == load_catalogue(Path(NATIONAL) / "catalogue.yaml")
    assert pack_items(guangdong) == items  # a provincial pack uses the national catalogue


def test_a_pack_without_a_catalogue_leaves_the_store_alone() -> None:
    pack = load_pack("tests/packs/base")
    assert pack_items(pack) is None
    require_same_catalogue(pack, [])  # nothing to compare with: no refusal


def test_catalogue_hash_is_the_plan_snapshots_items_table() -> None:
    """A plan's snapshot keeps its items as table `items`; the hash an entry records for the catalogue is that
    table's hash when the plan used the whole catalogue, so an auditor can compare the two."""
    items = pack_items(load_pack(NATIONAL)) or []
    tables = record.plan_tables(pl.DataFrame({"uscc": ["x"]}), items, [], [], pl.DataFrame())
    assert catalogue_hash(items) == canonical.content_hash({"items": tables["items"]})
    assert catalogue_hash(list(reversed(items))) == catalogue_hash(items)  # order is not a fact
    assert catalogue_hash(items[1:]) != catalogue_hash(items)


def test_the_store_must_hold_the_packs_catalogue(store_url: str) -> None:
    pack = load_pack(NATIONAL)
    items = pack_items(pack) or []
    engine = store.open_store(store_url)
    try:
        with engine.begin() as conn:
            install_catalogue(conn, items)
        with engine.connect() as conn:
            stored = check_items(conn)
        assert catalogue_drift(items, stored) == []
        require_same_catalogue(pack, stored)
        t = store.table("check_item")
        with engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.code == "TS-SY-01").values(method="documents", name="特种设备"))
            conn.execute(sa.delete(t).where(t.c.code == "GG-FB-01"))
        with engine.connect() as conn:
            stored = check_items(conn)
    finally:
        engine.dispose()
    stored.append(stored[0].model_copy(update={"code": "XX-01"}))
    assert catalogue_drift(items, stored) == [
        "GG-FB-01 is missing from the store",
        "TS-SY-01 differs in method, name",
        "XX-01 is in the store but not in the pack's catalogue",
    ]
    with pytest.raises(InputError) as caught:
        require_same_catalogue(pack, stored)
    assert str(caught.value) == (
        f"the store's check items differ from the catalogue of pack national {pack.version} (GG-FB-01 is missing "
        "from the store; TS-SY-01 differs in method, name; XX-01 is in the store but not in the pack's catalogue); "
        "the pack's catalogue is the authority: load its catalogue.yaml into the store, or plan with the pack "
        "whose catalogue the store holds"
    )


def _national_copy(tmp_path: Path) -> Path:
    root = tmp_path / "rules" / "national"
    shutil.copytree(NATIONAL, root)
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_an_item_code_outside_the_catalogue_is_one_finding_at_its_line(tmp_path: Path) -> None:
    d = _national_copy(tmp_path)
    plan = d / "plan.yaml"
    text = plan.read_text(encoding="utf-8")
    start = text.index("      mandatory_items:")  # the output's declaration, then its first rule's output
    text = text[:start] + text[start:].replace("TS-SY-01, CP-ZL-01", "TS-SY-01, TS-SY-02, CP-ZL-01", 1)
    start = text.index("- id: must_equipment_overdue")
    plan.write_text(text[:start] + text[start:].replace("[TS-SY-01]", "[TS-SY-02]", 1), encoding="utf-8")
    catalogue = f"{d}/catalogue.yaml"
    found = [str(f) for f in check_pack(d)]
    assert found == [
        f"{plan}:{_line(plan, '      mandatory_items:')}: unknown_item: output 'mandatory_items' of decision 'mandatory': "
        f"unknown item TS-SY-02 (not in {catalogue}) (did you mean 'TS-SY-01'?)",
        f"{plan}:{_line(plan, '- id: must_equipment_overdue')}: unknown_item: rule 'must_equipment_overdue': "
        f"mandatory_items: unknown item TS-SY-02 (not in {catalogue}) (did you mean 'TS-SY-01'?)",
    ]
    with pytest.raises(Exception, match="unknown_item"):
        load_pack(d)


def test_a_task_code_outside_the_catalogue_is_found_too(tmp_path: Path) -> None:
    d = _national_copy(tmp_path)
    catalogue = d / "catalogue.yaml"
    _replace(catalogue, "code: GG-FB-01", "code: GG-FB-02")
    # The policy names GG-FB-01 nowhere; plan.yaml's tasks and mandatory outputs both list it.
    found = [str(f) for f in check_pack(d)]
    plan = d / "plan.yaml"
    assert [f.split(": ", 2)[1] for f in found] == ["unknown_item"] * len(found)
    assert (
        f"{plan}:{_line(plan, 'tasks:')}: unknown_item: output 'tasks' of decision 'task_list': unknown item "
        f"GG-FB-01 (not in {catalogue}) (did you mean 'GG-FB-02'?)" in found
    )
    assert any("rule 'task_advertising': tasks: unknown item GG-FB-01" in f for f in found)


def test_rules_check_prints_the_unknown_item_and_refuses(tmp_path: Path) -> None:
    """A catalogue item renamed under the decisions that name it: every place is one line, exit 1."""
    from click.testing import CliRunner

    from cli import suijian

    d = _national_copy(tmp_path)
    _replace(d / "catalogue.yaml", "code: SP-XS-01", "code: SP-XS-02")
    result = CliRunner().invoke(suijian, ["rules", "check", str(d)])
    plan, why = d / "plan.yaml", f"unknown item SP-XS-01 (not in {d}/catalogue.yaml) (did you mean 'SP-XS-02'?)"
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{plan}:{_line(plan, '      tasks:')}: unknown_item: output 'tasks' of decision 'task_list': {why}",
        f"{plan}:{_line(plan, '- id: task_food_trade')}: unknown_item: rule 'task_food_trade': tasks: {why}",
        f"{plan}:{_line(plan, '      mandatory_items:')}: unknown_item: output 'mandatory_items' of decision "
        f"'mandatory': {why}",
        f"{plan}:{_line(plan, '- id: must_food_key_trade')}: unknown_item: rule 'must_food_key_trade': "
        f"mandatory_items: {why}",
        f"{plan}:{_line(plan, '- id: must_food_biennial_trade')}: unknown_item: rule 'must_food_biennial_trade': "
        f"mandatory_items: {why}",
        f"{d}/policy.yaml:{_line(d / 'policy.yaml', '  SP-XS-01:')}: unknown_item: items: unknown item SP-XS-01 (not "
        "in the catalogue) (did you mean 'SP-XS-02'?)",
    ]
    assert result.stderr == f"Error: {d}: 6 errors, 0 warnings; the pack cannot be used\n"
