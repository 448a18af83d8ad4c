"""The CLI as a new user meets it (issue 11): bundled packs by name from any folder, one JSON envelope for every
command (errors too), `--out -`, Chinese role names, an unsupported --db in one line, progress that never
overshoots, and `plan` refusing at once what it cannot do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import rules as bundled_packs
from commands.common import progress_bars
from engine import audit, planning, replay
from engine.catalogue import install_catalogue, load_catalogue
from entities import store
from entities.identity import Role, current
from tests.helpers import load_demo_store
from tests.helpers import run_cli as run

AS_OF = "2025-12-31"
SEED = "38147205519264810375"
NATIONAL = bundled_packs.BUNDLED / "national"
GUANGDONG = bundled_packs.BUNDLED / "guangdong"
UNKNOWN_PACK = "no rule pack 'nowhere': not a directory, nor a bundled pack (guangdong, national)"
NOT_MYSQL = (
    "cannot use --db mysql://root:***@db.example/suijian: suijian stores data in SQLite or PostgreSQL; "
    "give sqlite:///FILE or postgresql://USER@HOST/DB"
)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory outside the repository, as a user who installed suijian has."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small demo store (SQLite), graded and planned for 2026."""
    url = f"sqlite:///{tmp_path_factory.mktemp('skin') / 'demo.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUIJIAN_USER", "测试员 tester")
        mp.setenv("SUIJIAN_ROLE", "supervisor")
        load_demo_store(url, 300)
        assert run("grade", "--as-of", AS_OF, "--db", url)[0] == 0
        code, _, err = run("plan", "--as-of", AS_OF, "--period", "2026", "--seed", SEED, "--db", url)
        assert code == 0, err
    yield url


# -- bundled packs by name ------------------------------------------------------------------------------------------


def test_bundled_packs_are_named_from_any_folder(elsewhere: Path) -> None:
    assert bundled_packs.bundled_names() == ["guangdong", "national"]
    code, out, err = run("rules", "check", "national")
    assert (code, err) == (0, "")
    assert out.startswith(f"{NATIONAL}: ok — ")
    code, out, err = run("rules", "test", "guangdong", "--json")
    doc = json.loads(out)
    assert (code, err, doc["ok"]) == (0, "", True)
    assert doc["pack"]["name"] == "guangdong" and doc["pack"]["directory"] == str(GUANGDONG)


def test_a_directory_wins_over_a_bundled_name(elsewhere: Path) -> None:
    (elsewhere / "national").mkdir()
    code, out, _ = run("rules", "check", "national", "--json")
    assert code == 1 and json.loads(out)["pack"]["directory"] == "national"  # the user's empty folder, not ours


def test_the_default_pack_is_the_bundled_national_even_beside_a_folder_so_named(planned: str, elsewhere: Path) -> None:
    (elsewhere / "national").mkdir()
    code, out, err = run("grade", "--as-of", AS_OF, "--json", "--db", planned)
    assert (code, err) == (0, "")
    assert json.loads(out)["pack"]["directory"] == str(NATIONAL)


def test_an_unknown_pack_is_one_line_naming_the_bundled_ones(elsewhere: Path) -> None:
    assert run("rules", "check", "nowhere") == (1, "", f"Error: {UNKNOWN_PACK}\n")
    assert run("rules", "test", "nowhere") == (1, "", f"Error: {UNKNOWN_PACK}\n")
    assert run("grade", "--as-of", AS_OF, "--pack", "nowhere") == (1, "", f"Error: {UNKNOWN_PACK}\n")


def test_grade_with_a_bundled_pack_by_name(planned: str, elsewhere: Path) -> None:
    code, out, err = run("grade", "--as-of", AS_OF, "--pack", "guangdong", "--json", "--db", planned)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["ok"] is True
    assert doc["pack"] == {
        "name": "guangdong",
        "version": doc["pack"]["version"],
        "hash": doc["pack"]["hash"],
        "directory": str(GUANGDONG),
    }


# -- the JSON envelope ----------------------------------------------------------------------------------------------


def test_errors_under_json_are_the_failure_envelope(elsewhere: Path) -> None:
    code, out, err = run("rules", "check", "nowhere", "--json")
    assert (code, err) == (1, "")
    assert json.loads(out) == {"ok": False, "error": {"code": "input", "message": UNKNOWN_PACK}}
    code, out, err = run("audit", "verify", "--json", "--db", f"sqlite:///{elsewhere / 'none.db'}")
    assert (code, err) == (1, "")
    assert json.loads(out) == {
        "ok": False,
        "error": {
            "code": "store",
            "message": (f"no store at {elsewhere / 'none.db'}; create it with `suijian init` (or pass --db URL)"),
        },
    }


def test_usage_errors_under_json_exit_2(elsewhere: Path) -> None:
    code, out, err = run("grade", "--json")
    assert (code, err) == (2, "")
    assert json.loads(out) == {"ok": False, "error": {"code": "usage", "message": "Missing option '--as-of'."}}
    code, out, err = run("nonsense", "--json")
    assert (code, err, json.loads(out)["error"]["code"]) == (2, "", "usage")
    code, out, err = run("plan", "--period", "2026", "--json")
    assert (code, err) == (2, "")
    assert json.loads(out)["error"] == {
        "code": "usage",
        "message": "missing --seed (or --commit-seed SHA256 to commit to one first)",
    }


def test_a_project_usage_error_shows_the_commands_usage(elsewhere: Path) -> None:
    code, out, err = run("plan", "--period", "2026")
    assert (code, out) == (2, "")
    assert err == (
        "Usage: suijian plan [OPTIONS]\nTry 'suijian plan --help' for help.\n\n"
        "Error: missing --seed (or --commit-seed SHA256 to commit to one first)\n"
    )


def test_success_documents_say_ok(planned: str, elsewhere: Path) -> None:
    for args in (["audit", "verify"], ["audit", "redraws"], ["rules", "active"], ["replay", "P2026-" + "x"]):
        code, out, _ = run(*args, "--json", "--db", planned)
        doc = json.loads(out)
        assert doc["ok"] is (code == 0), args
    code, out, _ = run("replay", _plan_id(planned), "--json", "--db", planned)
    doc = json.loads(out)
    assert (code, doc["ok"], doc["identical"]) == (0, True, True)


def _plan_id(url: str) -> str:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.select(store.table("plan").c.id)).scalar_one())
    finally:
        engine.dispose()


# -- tasks export: --json and --out - --------------------------------------------------------------------------------


def test_tasks_export_to_stdout(planned: str, elsewhere: Path) -> None:
    code, out, err = run("tasks", "export", "--format", "csv", "--out", "-", "--db", planned)
    assert code == 0
    assert out.startswith("\ufeff序号,统一社会信用代码")
    assert err.startswith("Wrote ") and err.endswith(" to stdout (" + f"{len(out.encode()):,} bytes).\n")
    assert not (elsewhere / "-").exists()


def test_tasks_export_json(planned: str, elsewhere: Path) -> None:
    code, out, err = run("tasks", "export", "--format", "csv", "--out", "t.csv", "--json", "--db", planned)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    data = (elsewhere / "t.csv").read_bytes()
    assert doc == {
        "ok": True,
        "plan_id": _plan_id(planned),
        "inspector": None,
        "format": "csv",
        "visits": doc["visits"],
        "out": "t.csv",
        "bytes": len(data),
    }
    assert run("tasks", "export", "--out", "-", "--json", "--db", planned)[0] == 2


def test_a_report_to_stdout(planned: str, elsewhere: Path) -> None:
    code, out, err = run("rules", "diff", "national", "guangdong", "--as-of", AS_OF, "--out", "-", "--db", planned)
    assert (code, err) == (0, "")
    assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")  # the page alone, no tables
    assert not (elsewhere / "-").exists()


def test_a_report_to_stdout_cannot_share_it_with_json(elsewhere: Path) -> None:
    code, out, err = run("rules", "diff", "national", "guangdong", "--as-of", AS_OF, "--out", "-", "--json")
    assert (code, err) == (2, "")
    assert json.loads(out) == {
        "ok": False,
        "error": {
            "code": "usage",
            "message": ("--out - writes the report to stdout, where --json writes its document; drop one of them"),
        },
    }


def test_tasks_export_to_a_missing_directory_is_one_line(planned: str, elsewhere: Path) -> None:
    assert run("tasks", "export", "--out", "/missing/dir/x.csv", "--db", planned) == (
        1,
        "",
        "Error: cannot write /missing/dir/x.csv: folder /missing/dir does not exist; choose another path\n",
    )


# -- identity and --db ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "role"),
    [
        ("检查人员", Role.INSPECTOR),
        ("监管负责人", Role.SUPERVISOR),
        ("审计人员", Role.AUDITOR),
        ("Inspector", Role.INSPECTOR),
        (" supervisor ", Role.SUPERVISOR),
    ],
)
def test_chinese_and_english_role_names(written: str, role: Role, tmp_path: Path) -> None:
    who = current({"SUIJIAN_USER": "张三", "SUIJIAN_ROLE": written}, tmp_path)
    assert who is not None and who.role is role


def test_a_chinese_role_acts(planned: str, elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUIJIAN_ROLE", "审计人员")
    assert run("grade", "--as-of", AS_OF, "--db", planned) == (
        1,
        "",
        "Error: 测试员 tester (auditor) may not grade: needs inspector or supervisor (auditors are read-only)\n",
    )


@pytest.mark.parametrize("args", [["audit", "verify"], ["grade", "--as-of", AS_OF], ["init"]])
def test_an_unsupported_database_is_one_line(args: list[str], elsewhere: Path) -> None:
    url = "mysql://root:secret@db.example/suijian"
    assert run(*args, "--db", url) == (1, "", f"Error: {NOT_MYSQL}\n")
    code, out, err = run(*args, "--db", url, "--json")
    assert (code, err, json.loads(out)) == (1, "", {"ok": False, "error": {"code": "store", "message": NOT_MYSQL}})


# -- progress -------------------------------------------------------------------------------------------------------


def test_a_bar_never_overshoots() -> None:
    """The demo's rows per table are estimates (投诉举报 206 rows of 189 expected): the total grows instead."""
    with progress_bars() as bars:
        bars("投诉举报", 100, 189)
        bars("投诉举报", 206, 189)
        task = bars.progress.tasks[0]
        assert (task.completed, task.total) == (206, 206)
        bars("importing", 5, None)
        assert bars.progress.tasks[1].total is None


# -- plan preconditions ---------------------------------------------------------------------------------------------


@pytest.fixture
def loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A loaded store (no catalogue), with plan_from_store booby-trapped: a precondition must stop plan first."""
    url = f"sqlite:///{tmp_path / 'loaded.db'}"
    code, _, err = run("demo", "--subjects", "200", "--load-only", "--db", url)
    assert code == 0, err

    def heavy(*_: object, **__: object) -> None:
        raise AssertionError("plan computed features before checking its preconditions")

    monkeypatch.setattr(planning, "plan_from_store", heavy)
    return url


def _plan(url: str) -> tuple[int, str, str]:
    return run("plan", "--as-of", AS_OF, "--period", "2026", "--seed", SEED, "--db", url)


def test_plan_without_a_grade_run_fails_at_once(loaded: str) -> None:
    assert _plan(loaded) == (1, "", f"Error: no grade run as of {AS_OF}; run `suijian grade --as-of {AS_OF}` first\n")


def test_plan_without_check_items_fails_at_once(loaded: str) -> None:
    assert run("grade", "--as-of", AS_OF, "--db", loaded)[0] == 0
    assert _plan(loaded) == (
        1,
        "",
        "Error: the store has no check items; load the catalogue with `suijian demo` or `suijian import items FILE`\n",
    )


def test_plan_without_inspectors_fails_at_once(loaded: str) -> None:
    assert run("grade", "--as-of", AS_OF, "--db", loaded)[0] == 0
    engine = store.open_store(loaded)
    try:
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
            conn.execute(store.table("conflict").delete())
            conn.execute(store.table("inspector").delete())
    finally:
        engine.dispose()
    assert _plan(loaded) == (
        1,
        "",
        "Error: the store has no inspectors to staff the visits; import them first: suijian import inspectors FILE\n",
    )


def test_long_engine_work_reports_progress_up_to_its_total(planned: str) -> None:
    """audit.verify and replay.replay (the engine side of the bars) report each step up to its total, never past."""
    calls: list[tuple[str, int, int | None]] = []

    def record(step: str, done: int, total: int | None) -> None:
        calls.append((step, done, total))

    engine = store.open_store(planned)
    try:
        with engine.connect() as conn:
            assert audit.verify(conn, progress=record).ok
            assert replay.replay(conn, _plan_id(planned), progress=record).identical
    finally:
        engine.dispose()
    steps = {step for step, _, _ in calls}
    assert {"核对台账 verifying entries", "核对快照与规则包 verifying blobs", "回放 replaying"} <= steps
    for step in steps:
        mine = [(done, total) for s, done, total in calls if s == step]
        assert all(total is not None and 0 <= done <= total for done, total in mine), step
        assert mine[-1][0] == mine[-1][1], step  # it ends at 100 %


def test_a_damaged_store_under_json_is_the_store_code(elsewhere: Path) -> None:
    """SQLAlchemy's errors carry a `code` of their own (a documentation link): the envelope's code is ours."""
    url = f"sqlite:///{elsewhere / 'damaged.db'}"
    assert run("init", "--db", url)[0] == 0
    engine = store.open_store(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE ledger"))
    finally:
        engine.dispose()
    code, out, err = run("audit", "verify", "--json", "--db", url)
    assert (code, err) == (1, "")
    assert json.loads(out) == {
        "ok": False,
        "error": {
            "code": "store",
            "message": ("the store failed: no such table: ledger; check --db, or run `suijian init`"),
        },
    }
