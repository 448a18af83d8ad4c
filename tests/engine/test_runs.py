"""`engine.ledger.runs`, the reader of stored runs, and the plan path that reads a grade run instead of redoing it:
a plan takes the features its grade run recorded (computing them only for a run recorded without them), reads
status and whitelist as they are now, commits under one ledger lock, and a stored plan document is unzipped and
checked in one place."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from engine import grading, planning
from engine import replay as replaying
from engine.catalogue import install_catalogue, load_catalogue
from engine.features.compute import feature_partitions
from engine.ledger import chain, runs
from engine.rules import Pack, load_pack
from engine.synth import get_profile, load_demo
from entities import store
from tests import plan_documents
from tests.helpers import TESTER
from tests.store_template import StoreCopies

AS_OF = dt.date(2025, 12, 31)
SEED = "38147205519264810375"
LEGACY = Path(__file__).parent.parent / "fixtures" / "stores" / "ledger-0.1.0.db"
LEGACY_RUN = "G20251231-cee06f88-0001"  # recorded by 0.1.0: its snapshot holds only the pack's features


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(str(Path(__file__).parent.parent.parent / "rules" / "national"))


@pytest.fixture
def graded(store_url: str, pack: Pack, store_copies: StoreCopies) -> Iterator[tuple[sa.Engine, str]]:
    def build() -> str:
        engine = store.open_store(store_url)
        try:
            load_demo(engine, get_profile("jiedong", 400), 5, AS_OF, now=dt.datetime(2026, 1, 1, 8, 0))
            with engine.begin() as conn:
                install_catalogue(conn, load_catalogue())
                run = grading.grade_store(conn, pack, AS_OF, created_at=dt.datetime(2026, 1, 2, 9, 0), actor=TESTER)
            return run.id
        finally:
            engine.dispose()

    run_id = store_copies.fill(store_url, "jiedong 400 seed 5 graded (runs)", build)
    engine = store.open_store(store_url)
    try:
        yield engine, run_id
    finally:
        engine.dispose()


def computed(conn: Any) -> pl.DataFrame:
    return pl.concat(list(feature_partitions(conn, AS_OF)), how="vertical")


def test_a_plan_reads_the_features_its_grade_run_recorded(
    graded: tuple[sa.Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, run_id = graded
    with engine.connect() as conn:
        fresh = computed(conn)
        entry = chain.find(conn, run_id)
        assert entry is not None and entry.details[runs.PLAN_FEATURES]

        def no_recompute(*_: Any, **__: Any) -> Any:
            raise AssertionError("the plan computed the features again")

        monkeypatch.setattr(planning, "feature_partitions", no_recompute)
        assert_frame_equal(planning.plan_features(conn, run_id, AS_OF), fresh)


def test_status_and_whitelist_are_read_as_they_are_now(graded: tuple[sa.Engine, str]) -> None:
    engine, run_id = graded
    with engine.begin() as conn:
        uscc = conn.execute(sa.text("SELECT uscc FROM subject WHERE status = 'active' ORDER BY uscc")).scalar()
        conn.execute(
            sa.text("UPDATE subject SET status = 'cancelled', whitelist = :t WHERE uscc = :u"), {"u": uscc, "t": True}
        )
    with engine.connect() as conn:
        row = planning.plan_features(conn, run_id, AS_OF).filter(pl.col("uscc") == uscc).row(0, named=True)
    assert (row["status"], row["whitelist"]) == ("cancelled", True)


def test_a_run_recorded_without_the_features_computes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "legacy.db"
    shutil.copy(LEGACY, copy)
    engine = store.make_engine(f"sqlite:///{copy}")
    store.upgrade(engine)  # as `suijian init` does for a store written by an earlier release
    engine.dispose()
    engine = store.open_store(f"sqlite:///{copy}")
    calls: list[int] = []
    real = planning.feature_partitions

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(planning, "feature_partitions", counted)
    try:
        with engine.connect() as conn:
            entry = chain.find(conn, LEGACY_RUN)
            assert entry is not None and runs.PLAN_FEATURES not in entry.details
            assert_frame_equal(planning.plan_features(conn, LEGACY_RUN, AS_OF), computed(conn))
    finally:
        engine.dispose()
    assert calls == [1]


def test_a_plan_commit_takes_the_ledger_lock_once(graded: tuple[sa.Engine, str], pack: Pack) -> None:
    engine, _ = graded
    locks: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "LOCK TABLE ledger" in statement or "UPDATE ledger SET seq = seq" in statement:
            locks.append(statement)

    period = planning.parse_period("2026")
    with engine.begin() as conn:
        made, run, tables = planning.plan_from_store(conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None)
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            plan_id, new = planning.save_plan(
                conn,
                made,
                run,
                pack=pack,
                tables=tables,
                seed=SEED,
                regions=None,
                items=None,
                period=period,
                as_of=AS_OF,
                created_at=dt.datetime(2026, 1, 3, 9, 0),
                actor=TESTER,
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
    assert new and len(locks) == 1
    with engine.connect() as conn:
        entry = chain.find(conn, plan_id)
        assert entry is not None and entry.get("pack")["files_hash"]
        document = runs.plan_document(conn, plan_id)
        # stored as plan/3: its text is the plan as plan/2's rules write it, its format plan/3's
        assert document is not None and document.intact and document.text == planning.as_stored(made).to_json()
        assert document.content_hash == document.sha256 == planning.plan_document(made).sha256
        assert runs.plan_document(conn) == document  # the newest plan
        assert runs.plan_document(conn, "P2026-0000000000") is None


def test_an_edited_plan_document_reads_as_not_intact(graded: tuple[sa.Engine, str], pack: Pack) -> None:
    engine, _ = graded
    period = planning.parse_period("2026")
    with engine.begin() as conn:
        made, run, tables = planning.plan_from_store(conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None)
        plan_id, _ = planning.save_plan(
            conn,
            made,
            run,
            pack=pack,
            tables=tables,
            seed=SEED,
            regions=None,
            items=None,
            period=period,
            as_of=AS_OF,
            created_at=dt.datetime(2026, 1, 3, 9, 0),
            actor=TESTER,
        )
    edited = planning.as_stored(made).to_json().replace('"lead_repeats":false', '"lead_repeats":true', 1)
    data, _ = plan_documents.rewrite(planning.plan_document(made).compressed, lambda _: edited)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE plan SET document = :d WHERE id = :i"), {"d": data, "i": plan_id})
    with engine.connect() as conn:
        document = runs.plan_document(conn, plan_id)
        assert document is not None and document.text == edited and not document.intact
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE plan SET document = :d WHERE id = :i"), {"d": b"not zlib", "i": plan_id})
    with engine.connect() as conn:
        document = runs.plan_document(conn, plan_id)
        assert document is not None and document.text is None and not document.intact


def test_subject_info_reads_every_subject_or_the_ones_asked(graded: tuple[sa.Engine, str]) -> None:
    engine, run_id = graded
    with engine.connect() as conn:
        everyone = runs.subject_info(conn)
        some = runs.subject_info(conn, reversed(everyone.get_column("uscc").head(3).to_list()))
        results = runs.grade_results(conn, run_id)
        outcomes = runs.grade_outcomes(conn, run_id)
        first = everyone.get_column("uscc")[0]
        assert (
            runs.subject_outcome(conn, run_id, first)
            == outcomes[results.filter(pl.col("uscc") == first).get_column("outcome")[0]]
        )
    assert everyone.columns == list(runs.SUBJECT_INFO) and everyone.height == 400
    assert_frame_equal(some, everyone.head(3))
    assert results.height == 400 and set(results.get_column("outcome").to_list()) == set(outcomes)


def test_plan_and_replay_report_their_progress(graded: tuple[sa.Engine, str], pack: Pack) -> None:
    engine, run_id = graded
    heard: list[tuple[str, int, int | None]] = []

    def progress(step: str, done: int, total: int | None) -> None:
        heard.append((step, done, total))

    period = planning.parse_period("2026")
    with engine.begin() as conn:
        made, run, tables = planning.plan_from_store(
            conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None, progress=progress
        )
        # The recorded features are read a USCC range at a time: progress counts subjects, ending at all of them.
        read = [h for h in heard if h[0] == "features (as graded)"]
        assert read[-1] == ("features (as graded)", 400, 400) and heard[-1] == ("draw and teams", 1, 1)
        heard.clear()
        plan_id, _ = planning.save_plan(
            conn,
            made,
            run,
            pack=pack,
            tables=tables,
            seed=SEED,
            regions=None,
            items=None,
            period=period,
            as_of=AS_OF,
            created_at=dt.datetime(2026, 1, 3, 9, 0),
            actor=TESTER,
            progress=progress,
        )
        assert heard[-1] == ("commit", 3, 3)
    with engine.connect() as conn:
        heard.clear()
        assert replaying.replay(conn, plan_id, progress=progress).identical
        assert heard[-1] == ("回放 replaying", 3, 3)
        heard.clear()
        assert replaying.replay(conn, run_id, progress=progress).identical
        assert heard[-1] == ("grading", 400, 400)
