"""Roles through the CLI (entities.identity): who may change the store, where the identity comes from, the one
line each refusal prints, and who did what in the ledger — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.ledger import chain
from entities import store
from entities.errors import InputError
from entities.identity import Identity, Role, current
from tests.helpers import load_demo_store
from tests.helpers import run_cli as run
from tests.store_template import StoreCopies

SEED = "38147205519264810375"
SUBJECTS = Path(__file__).parent.parent / "fixtures" / "import" / "subjects.csv"
CAL_2027 = str(Path(__file__).parent.parent / "fixtures" / "calendar" / "test-2027.csv")  # 2027: not in the library
COUNTED = ("ledger", "blob", "plan", "grade_run", "grade_result", "import_log", "subject", "check_item")
NO_IDENTITY = (
    "changes the store and needs to know who you are: set SUIJIAN_USER and SUIJIAN_ROLE "
    "(inspector, supervisor, auditor, or 检查人员, 监管负责人, 审计人员), or [identity] in suijian.toml"
)


def counts(url: str) -> dict[str, int]:
    engine = store.make_engine(url)
    try:
        with engine.connect() as conn:
            return {name: store.count_rows(conn, name) for name in COUNTED}
    finally:
        engine.dispose()


def actors(url: str) -> list[tuple[str, dict[str, str]]]:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return [(e.kind, e.actor) for e in chain.entries(conn)]
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _scratch_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without suijian.toml (and where the demo's task list may land)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def as_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUIJIAN_USER", raising=False)
    monkeypatch.delenv("SUIJIAN_ROLE", raising=False)


@pytest.fixture
def nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    as_nobody(monkeypatch)


def as_auditor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUIJIAN_USER", "审计员 auditor")
    monkeypatch.setenv("SUIJIAN_ROLE", "auditor")


@pytest.fixture
def district(store_url: str, store_copies: StoreCopies) -> str:
    """A loaded demo district with the catalogue (made as the tests' supervisor)."""
    store_copies.fill(store_url, "demo 400 loaded (roles)", lambda: load_demo_store(store_url, 400))
    return store_url


@pytest.fixture
def planned(district: str) -> dict[str, str]:
    """The district graded and planned (by the tests' supervisor): something to read."""
    code, out, err = run("grade", "--as-of", "2025-12-31", "--json", "--db", district)
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    code, out, err = run(
        "plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--json", "--db", district
    )
    assert code == 0, err
    return {"db": district, "run": run_id, "plan": json.loads(out)["plan_id"]}


def changing(db: str) -> dict[str, list[str]]:
    """Each state-changing command line (by its permission), against `db`."""
    return {
        "init": ["init", "--db", db],
        "import": ["import", "subjects", str(SUBJECTS), "--db", db],
        "grade": ["grade", "--as-of", "2025-12-31", "--db", db],
        "plan": [
            "plan",
            "--as-of",
            "2025-12-31",
            "--period",
            "2027",
            "--seed",
            SEED,
            "--calendar",
            CAL_2027,
            "--db",
            db,
        ],
        "commit-seed": [
            "plan",
            "--period",
            "2027",
            "--commit-seed",
            hashlib.sha256(SEED.encode()).hexdigest(),
            "--db",
            db,
        ],
        "preview": [
            "plan",
            "--as-of",
            "2025-12-31",
            "--period",
            "2027",
            "--seed",
            SEED,
            "--preview",
            "--calendar",
            CAL_2027,
            "--db",
            db,
        ],
        "demo": ["demo", "--subjects", "300", "--db", db],
        "propose": ["rules", "propose", "national", "--reason", "年度规则", "--db", db],
        "approve": ["rules", "approve", "PR0001", "--reason", "已核对", "--db", db],
        "publish": ["rules", "publish", "national", "--db", db],
    }


# -- no identity ----------------------------------------------------------------------------------------------------


def test_without_an_identity_state_changing_commands_are_refused_in_one_line(
    planned: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_nobody(monkeypatch)
    db = planned["db"]
    before = counts(db)
    for action, args in changing(db).items():
        if action == "demo":
            continue  # runs as the demo supervisor: see below
        code, out, err = run(*args)
        assert (code, out, err) == (1, "", f"Error: `{action}` {NO_IDENTITY}\n"), action  # no usage banner
    assert counts(db) == before
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert run("init", "--db", fresh)[0] == 1
    engine = store.make_engine(fresh)
    try:
        assert store.schema_version(engine) is None  # not even created
    finally:
        engine.dispose()


@pytest.mark.usefixtures("nobody")
def test_the_demo_without_an_identity_runs_as_the_demo_supervisor(empty_url: str) -> None:
    code, _, err = run("demo", "--subjects", "300", "--json", "--db", empty_url)
    assert code == 0, err
    assert actors(empty_url) == [
        ("grade", {"user": "demo", "role": "supervisor"}),
        ("plan", {"user": "demo", "role": "supervisor"}),
    ]


# -- auditors -------------------------------------------------------------------------------------------------------


def test_an_auditor_is_refused_every_state_changing_command(
    planned: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    as_auditor(monkeypatch)
    db = planned["db"]
    before, ledger = counts(db), actors(db)
    roles = {"import": "inspector or supervisor", "grade": "inspector or supervisor"}
    for action, args in changing(db).items():
        code, out, err = run(*args)
        assert (code, out) == (1, ""), action
        assert err == (
            f"Error: 审计员 auditor (auditor) may not {action}: needs {roles.get(action, 'supervisor')} "
            "(auditors are read-only)\n"
        ), action
    assert counts(db) == before and actors(db) == ledger


def test_an_auditor_can_read(planned: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    as_auditor(monkeypatch)
    db = planned["db"]
    before = counts(db)
    target = tmp_path / "tasks.csv"
    code, out, err = run("tasks", "export", "--format", "csv", "--out", str(target), "--db", db)
    assert code == 0, err
    assert out.startswith("Wrote ") and f"of plan {planned['plan']} to {target}" in out
    engine = store.open_store(db)
    with engine.connect() as conn:
        uscc = conn.execute(sa.text("SELECT uscc FROM subject ORDER BY uscc")).scalar()
    engine.dispose()
    code, out, err = run("explain", str(uscc), "--as-of", "2025-12-31", "--db", db)
    assert code == 0, err
    assert str(uscc) in out
    code, _, err = run("explain", str(uscc), "--run", planned["plan"], "--db", db)
    assert code == 0, err
    code, _, err = run("rules", "check", str(Path(__file__).parents[2] / "rules" / "national"))
    assert code == 0, err
    assert counts(db) == before


# -- inspectors -----------------------------------------------------------------------------------------------------


def test_an_inspector_imports_and_grades_but_does_not_plan_or_decide_draws(
    district: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUIJIAN_USER", "张三 (ZF4452030001)")
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    commands = changing(district)
    for action in ("init", "demo", "plan", "commit-seed", "preview", "propose", "approve", "publish"):
        before = counts(district)
        code, out, err = run(*commands[action])
        assert (code, out) == (1, "") and err.startswith(
            f"Error: 张三 (ZF4452030001) (inspector) may not {action}: needs supervisor ("
        ), action
        assert err.count("\n") == 1 and counts(district) == before
    assert run(*commands["grade"])[0] == 0
    code, out, err = run(*commands["import"])
    assert code == 0, err
    assert actors(district) == [("grade", {"user": "张三 (ZF4452030001)", "role": "inspector"})]


# -- where the identity comes from -------------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_identity_from_suijian_toml_in_the_working_directory(
    district: str, _scratch_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_nobody(monkeypatch)
    write(_scratch_cwd / "suijian.toml", '[identity]\nuser = "张三 (ZF4452030001)"\nrole = "Inspector"\n')
    code, out, err = run("grade", "--as-of", "2025-12-31", "--db", district)
    assert code == 0, err
    assert "recorded in the ledger by 张三 (ZF4452030001) (inspector)" in out
    assert actors(district) == [("grade", {"user": "张三 (ZF4452030001)", "role": "inspector"})]


def test_identity_from_suijian_config_wins_over_the_working_directory(
    district: str, _scratch_cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_nobody(monkeypatch)
    write(_scratch_cwd / "suijian.toml", '[identity]\nuser = "审计员"\nrole = "auditor"\n')
    config = write(tmp_path / "etc" / "me.toml", '[identity]\nuser = "王五"\nrole = "supervisor"\n')
    monkeypatch.setenv("SUIJIAN_CONFIG", str(config))
    code, _, err = run("plan", "--period", "2026", "--commit-seed", "ab" * 32, "--db", district)
    assert code == 0, err
    assert actors(district) == [("commit", {"user": "王五", "role": "supervisor"})]


def test_the_environment_overrides_the_file(district: str, _scratch_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    as_nobody(monkeypatch)
    write(_scratch_cwd / "suijian.toml", '[identity]\nuser = "审计员"\nrole = "auditor"\n')
    assert run("grade", "--as-of", "2025-12-31", "--db", district)[0] == 1  # the file alone: an auditor
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")  # the role from the environment, the user from the file
    assert run("grade", "--as-of", "2025-12-31", "--db", district)[0] == 0
    monkeypatch.setenv("SUIJIAN_USER", "张三")
    assert run("grade", "--as-of", "2025-12-31", "--db", district)[0] == 0
    assert actors(district) == [
        ("grade", {"user": "审计员", "role": "inspector"}),
        ("grade", {"user": "张三", "role": "inspector"}),
    ]


@pytest.mark.parametrize(
    ("env", "toml", "message"),
    [
        (
            {"SUIJIAN_USER": "张三", "SUIJIAN_ROLE": "boss"},
            None,
            "SUIJIAN_ROLE: role 'boss' is not inspector, supervisor or auditor (or 检查人员, 监管负责人, 审计人员)",
        ),
        (
            {},
            '[identity]\nuser = "张三"\nrole = "admin"\n',
            "{toml}: role 'admin' is not inspector, supervisor or auditor (or 检查人员, 监管负责人, 审计人员)",
        ),
        (
            {},
            '[identity]\nuser = "张三"\nrole = 3\n',
            "{toml}: role 3 is not inspector, supervisor or auditor (or 检查人员, 监管负责人, 审计人员)",
        ),
        (
            {},
            "[identity\nuser = 1\n",
            "{toml}: not valid TOML (Expected ']' at the end of a table declaration (at line 1, "
            "column 10)); fix the file or unset SUIJIAN_CONFIG",
        ),
        ({}, 'identity = "张三"\n', "{toml}: [identity] must be a table with user and role"),
        (
            {"SUIJIAN_ROLE": "supervisor"},
            None,
            "SUIJIAN_ROLE names a role but no user: set SUIJIAN_USER (or user in [identity])",
        ),
        (
            {"SUIJIAN_USER": "张三"},
            None,
            "SUIJIAN_USER names a user but no role: set SUIJIAN_ROLE (or role in "
            "[identity]) to inspector, supervisor or auditor (or 检查人员, 监管负责人, 审计人员)",
        ),
        (
            {},
            '[identity]\nuser = "张三"\n',
            "{toml} names a user but no role: set SUIJIAN_ROLE (or role in "
            "[identity]) to inspector, supervisor or auditor (or 检查人员, 监管负责人, 审计人员)",
        ),
        (
            {"SUIJIAN_USER": "张三\n李四", "SUIJIAN_ROLE": "supervisor"},
            None,
            "SUIJIAN_USER: user '张三\\n李四' must be a name on one line, e.g. \"张三 (ZF4452030001)\"",
        ),
        ({"SUIJIAN_CONFIG": "{missing}"}, None, "{missing}: config file not found (SUIJIAN_CONFIG)"),
    ],
)
@pytest.mark.usefixtures("nobody")
def test_a_bad_identity_is_one_line_and_writes_nothing(
    env: dict[str, str],
    toml: str | None,
    message: str,
    _scratch_cwd: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _scratch_cwd / "suijian.toml"
    missing = tmp_path / "nowhere.toml"
    if toml is not None:
        write(path, toml)
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(missing=missing))
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out, err = run("init", "--db", db)
    assert (code, out) == (1, "")
    assert err == f"Error: {message.format(toml=path, missing=missing)}\n"
    engine = store.make_engine(db)
    try:
        assert store.schema_version(engine) is None
    finally:
        engine.dispose()


def test_current_reads_fields_separately(tmp_path: Path) -> None:
    assert current({}, tmp_path) is None
    write(tmp_path / "suijian.toml", '[identity]\nuser = " 张三 "\nrole = " SUPERVISOR "\n')
    assert current({}, tmp_path) == Identity("张三", Role.SUPERVISOR)
    assert current({"SUIJIAN_ROLE": "auditor"}, tmp_path) == Identity("张三", Role.AUDITOR)
    assert current({"SUIJIAN_USER": "李四", "SUIJIAN_ROLE": ""}, tmp_path) == Identity("李四", Role.SUPERVISOR)
    write(tmp_path / "suijian.toml", "[other]\nx = 1\n")
    assert current({}, tmp_path) is None  # a file without [identity] declares nobody
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(InputError, match="dir.toml: cannot read the config file"):
        current({"SUIJIAN_CONFIG": str(tmp_path / "dir.toml")}, tmp_path)


# -- who did what ---------------------------------------------------------------------------------------------------


def test_the_ledger_records_who_did_what(district: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db = ("--db", district)
    digest = hashlib.sha256(SEED.encode()).hexdigest()
    monkeypatch.setenv("SUIJIAN_USER", "王五 (ZF4452030009)")
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    assert run("plan", "--period", "2026", "--commit-seed", digest, *db)[0] == 0
    monkeypatch.setenv("SUIJIAN_USER", "张三 (ZF4452030001)")
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    assert run("grade", "--as-of", "2025-12-31", *db)[0] == 0
    monkeypatch.setenv("SUIJIAN_USER", "王五 (ZF4452030009)")
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")
    code, _, err = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--preview", *db)
    assert code == 0, err
    monkeypatch.setenv("SUIJIAN_USER", "李四 (ZF4452030002)")
    monkeypatch.setenv("SUIJIAN_ROLE", "supervisor")  # another supervisor commits the plan
    code, _, err = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, *db)
    assert code == 0, err
    engine = store.open_store(district)
    with engine.connect() as conn:
        entries = chain.entries(conn)
    engine.dispose()
    assert [(e.kind, e.actor["user"], e.actor["role"]) for e in entries] == [
        ("commit", "王五 (ZF4452030009)", "supervisor"),
        ("grade", "张三 (ZF4452030001)", "inspector"),
        ("preview", "王五 (ZF4452030009)", "supervisor"),
        ("plan", "李四 (ZF4452030002)", "supervisor"),
    ]
    assert entries[2].get("seed") == SEED and entries[3].details["seed_commitment"] == entries[0].run_id
    assert entries[3].details["previews"] == [entries[2].run_id]
