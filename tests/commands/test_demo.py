"""`suijian demo` through the real CLI (cli.suijian + run_main) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cli import suijian
from commands.common import run_main
from engine.synth import TABLES
from entities import store
from tests.helpers import import_one_subject


def run(*args: str) -> tuple[int, str, str]:
    """Run the CLI as the console script does: exit code, stdout, stderr (in a scratch working directory, so
    the demo's task list never lands in the repository)."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        code = run_main(suijian, list(args))
    return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.fixture(autouse=True)
def _scratch_cwd(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo writes its task list to the working directory: keep it out of the repository."""
    monkeypatch.chdir(tmp_path)


def counts(url: str) -> dict[str, int]:
    engine = store.make_engine(url)
    try:
        with engine.connect() as conn:
            return {name: store.count_rows(conn, name) for name in (*TABLES, "import_log", "region")}
    finally:
        engine.dispose()


def test_demo_creates_loads_and_summarises(empty_url: str) -> None:
    code, out, err = run("demo", "--subjects", "2000", "--seed", "4", "--db", empty_url)
    assert code == 0, err
    assert out.startswith("Loaded a synthetic 揭阳市揭东区 (demo:jiedong:subjects=2000:seed=4:as_of=2025-12-31) into ")
    for heading in (
        "数据量",
        "经营主体（类型 × 登记状态）",
        "特种设备（",
        "名录",
        "执法检查人员名录库",
        "超期未检",
        "个体工商户",
    ):
        assert heading in out
    assert counts(empty_url)["subject"] == 2000


def test_demo_json_is_one_document_with_the_summary(store_url: str) -> None:
    # The national pack is in force from 2025; a demo of an earlier date can still load (--load-only).
    code, out, err = run(
        "demo", "--subjects", "2000", "--as-of", "2024-06-30", "--load-only", "--json", "--db", store_url
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["profile"] == "jiedong" and doc["subjects"] == 2000 and doc["seed"] == 1
    assert doc["as_of"] == "2024-06-30" and doc["summary"]["as_of"] == "2024-06-30"
    assert doc["rows"]["subject"] == doc["summary"]["counts"]["subject"] == 2000
    assert sum(doc["summary"]["subjects"]["by_kind_status"]["individual"].values()) == round(2000 * 45_730 / 53_453)
    assert doc["summary"]["equipment"]["by_category"]["elevator"]["total"] == round(2460 * 2000 / 53_453)
    assert doc["summary"]["equipment"]["overdue"] > 0
    assert doc["summary"]["inspectors"]["total"] == 6
    assert doc["summary"]["lists"]["abnormal"]["entries"] > 0


def test_a_second_demo_replaces_the_first(store_url: str) -> None:
    assert run("demo", "--subjects", "1200", "--db", store_url)[0] == 0
    code, out, _ = run("demo", "--subjects", "700", "--seed", "2", "--json", "--db", store_url)
    assert code == 0
    assert json.loads(out)["replaced_rows"] > 1200
    assert counts(store_url)["subject"] == 700


def test_imported_data_is_refused_and_nothing_is_written(store_url: str) -> None:
    engine = store.open_store(store_url)
    with engine.begin() as conn:
        store.upsert(conn, "region", store.builtin_regions())
        import_one_subject(conn, "a.csv", dt.datetime(2026, 1, 5, 10, 0))
    url = engine.url.render_as_string(hide_password=True)
    engine.dispose()
    before = counts(store_url)

    code, out, err = run("demo", "--subjects", "500", "--db", store_url)
    assert (code, out) == (1, "")
    assert err == (
        f"Error: the store {url} holds imported data (1 import run(s), last: subjects a.csv); "
        "rerun with --replace to overwrite it, or use another --db\n"
    )
    assert counts(store_url) == before

    code, _, err = run("demo", "--subjects", "500", "--replace", "--db", store_url)
    assert code == 0, err
    after = counts(store_url)
    assert after["subject"] == 500 and after["import_log"] == 2


def test_help_has_examples_and_bad_options_are_usage_errors() -> None:
    code, out, _ = run("demo", "--help")
    assert code == 0
    assert "Examples:" in out and "suijian demo --profile baiyun" in out
    code, _, err = run("demo", "--profile", "shenzhen")
    assert code == 2 and "'shenzhen' is not one of 'jiedong', 'baiyun', 'guangzhou'" in err
    code, _, err = run("demo", "--subjects", "0")
    assert code == 2 and "--subjects" in err
    code, _, err = run("demo", "--as-of", "2025/12/31")
    assert code == 2 and "--as-of" in err


def test_store_url_from_the_environment(tmp_path: Any, monkeypatch: Any) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("SUIJIAN_DB", url)
    code, _, err = run("demo", "--subjects", "300")
    assert code == 0, err
    assert counts(url)["subject"] == 300
    engine = store.open_store(url)
    with engine.connect() as conn:
        kinds = conn.execute(sa.text("SELECT kind, file_name FROM import_log")).all()
    engine.dispose()
    assert kinds == [("demo", "demo:jiedong:subjects=300:seed=1:as_of=2025-12-31")]


def test_demo_runs_the_whole_job(store_url: str, tmp_path: Any) -> None:
    code, out, err = run("demo", "--subjects", "1500", "--json", "--out-dir", str(tmp_path), "--db", store_url)
    assert code == 0, err
    job = json.loads(out)["job"]
    dist = job["grade"]["distributions"]["credit_class"]
    assert set(dist) <= {"A", "B", "C", "D"} and sum(dist.values()) == 1500
    assert job["period"] == "2026" and job["plan_id"].startswith("P2026-")
    export = tmp_path / f"tasks-{job['plan_id']}.xlsx"
    assert job["export"] == str(export) and export.read_bytes()[:2] == b"PK"  # a real XLSX (zip) file
    # Same inputs, same plan: a second demo with the same seed reproduces the plan id (a hash of the plan).
    code2, out2, _ = run("demo", "--subjects", "1500", "--json", "--out-dir", str(tmp_path), "--db", store_url)
    assert code2 == 0 and json.loads(out2)["job"]["plan_id"] == job["plan_id"]


def test_demo_before_the_pack_is_in_force_is_refused_and_writes_nothing(empty_url: str, tmp_path: Any) -> None:
    code, _, err = run("demo", "--subjects", "300", "--as-of", "2024-06-30", "--db", empty_url)
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("Error: rule pack national 2026.3 is in force 2025-01-01")
    engine = store.make_engine(empty_url)
    try:
        assert store.schema_version(engine) is None  # refused before the store was even created
    finally:
        engine.dispose()
