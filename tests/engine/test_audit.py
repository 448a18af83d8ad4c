"""`engine.audit.verify` against an attacker with write access to the database, on SQLite and PostgreSQL.

One store per backend is built once (grade, plan, seed commitment, second grade, plan revealing the seed, a
re-draw with a reason, a preview); every test gets its own copy, tampers with it in raw SQL in a committed
transaction of its own, as an attacker would, and requires verify to name exactly what was done.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine import audit, grading, planning
from engine.catalogue import install_catalogue, load_catalogue
from engine.ledger import chain, packs, plan_columns, record
from engine.ledger.canonical import pack_tables, unpack_tables
from engine.rules import load_pack
from engine.synth import get_profile, load_demo
from entities import store
from entities.errors import InputError
from tests import plan_documents
from tests.conftest import PG_URL, require_pg
from tests.helpers import TESTER, read_store

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 5, 9, 30)
SEEDS = {
    "2026Q1": "38147205519264810375",
    "2026Q2": "51920374662810395527",
    "redraw": "77777777778888888888",
    "2026Q3": "12121212123434343434",
}
PACK = Path(__file__).resolve().parents[2] / "rules" / "national"


def build(url: str) -> None:
    """The audited store: #1 grade, #2 plan 2026Q1, #3 commitment 2026Q2, #4 grade, #5 plan 2026Q2 (reveals
    #3), #6 re-draw of 2026Q1 with a reason, #7 preview of 2026Q3."""
    engine = store.make_engine(url)
    try:
        store.initialise(engine)
        load_demo(engine, get_profile("jiedong", 500), 1, AS_OF, now=NOW)
        pack = load_pack(PACK)
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
            grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER)

        def plan(label: str, seed: str, reason: str | None = None) -> None:
            period = planning.parse_period(label)
            with engine.begin() as conn:
                made, run, tables = planning.plan_from_store(
                    conn, pack, seed=seed, period=period, as_of=AS_OF, regions=None
                )
                planning.save_plan(
                    conn,
                    made,
                    run,
                    pack=pack,
                    tables=tables,
                    seed=seed,
                    regions=None,
                    items=None,
                    period=period,
                    as_of=AS_OF,
                    created_at=NOW,
                    actor=TESTER,
                    redraw_reason=reason,
                )

        plan("2026Q1", SEEDS["2026Q1"])
        with engine.begin() as conn:
            record.commit_seed(
                conn,
                digest=record.seed_sha256(SEEDS["2026Q2"]),
                actor=TESTER,
                created_at=NOW,
                scope=record.scope_of(None, None, planning.parse_period("2026Q2")),
            )
            grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER)
        plan("2026Q2", SEEDS["2026Q2"])
        plan("2026Q1", SEEDS["redraw"], reason="名录库更正后重抽")
        period = planning.parse_period("2026Q3")
        with engine.begin() as conn:
            made, run, _ = planning.plan_from_store(
                conn, pack, seed=SEEDS["2026Q3"], period=period, as_of=AS_OF, regions=None
            )
            record.preview(
                conn,
                plan_digest=planning.plan_id_of(made)[2],
                scope=record.scope_of(None, None, period),
                seed=SEEDS["2026Q3"],
                as_of=AS_OF,
                pack=pack,
                grade_run_id=run["id"],
                actor=TESTER,
                created_at=NOW,
            )
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Base:
    url: str
    entries: list[chain.Entry]

    def run(self, seq: int) -> str:
        return self.entries[seq - 1].run_id

    def name(self, seq: int) -> str:
        return f"{self.run(seq)} (#{seq})"

    def hash(self, seq: int) -> str:
        return self.entries[seq - 1].entry_hash

    def body(self, seq: int) -> dict[str, Any]:
        return self.entries[seq - 1].body


def _entries(url: str) -> list[chain.Entry]:
    return read_store(url, chain.entries)


def _pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Base]]:
    """The audited store per backend, built on first use and kept for the module."""
    made: dict[str, Base] = {}
    schemas: list[str] = []

    def get(backend: str) -> Base:
        if backend not in made:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'base.db'}"
            else:
                schema = f"t_audit_{uuid.uuid4().hex[:10]}"
                _admin(f'CREATE SCHEMA "{schema}"')
                schemas.append(schema)
                url = _pg_schema_url(schema)
            build(url)
            made[backend] = Base(url, _entries(url))
        return made[backend]

    yield get
    for schema in schemas:
        _admin(f'DROP SCHEMA "{schema}" CASCADE')


def _admin(*statements: str) -> None:
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            for s in statements:
                conn.execute(sa.text(s))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def audited(request: pytest.FixtureRequest, bases: Callable[[str], Base], tmp_path: Path) -> Iterator[Base]:
    """A private copy of the audited store on each backend."""
    if request.param == "postgres":
        require_pg()
    base = bases(request.param)
    if request.param == "sqlite":
        target = tmp_path / "copy.db"
        src = sqlite3.connect(base.url.removeprefix("sqlite:///"))
        dst = sqlite3.connect(target)
        src.backup(dst)
        src.close()
        dst.close()
        yield Base(f"sqlite:///{target}", base.entries)
        return
    source = base.url.rsplit("%3D", 1)[1]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": source}).scalars()
        copy = [f'CREATE SCHEMA "{schema}"']
        for name in tables:
            copy += [
                f'CREATE TABLE "{schema}"."{name}" (LIKE "{source}"."{name}" INCLUDING ALL)',
                f'INSERT INTO "{schema}"."{name}" SELECT * FROM "{source}"."{name}"',
            ]
        for s in copy:
            conn.execute(sa.text(s))
    engine.dispose()
    try:
        yield Base(_pg_schema_url(schema), base.entries)
    finally:
        _admin(f'DROP SCHEMA "{schema}" CASCADE')


def verify(url: str, expect_head: str | None = None) -> audit.VerifyReport:
    engine = store.open_store(url)
    try:
        with engine.connect() as conn:
            return audit.verify(conn, expect_head)
    finally:
        engine.dispose()


def tamper(url: str, action: Callable[[Connection], None]) -> None:
    """The attacker's own committed transaction, outside suijian."""
    engine = store.make_engine(url)
    try:
        with engine.begin() as conn:
            action(conn)
    finally:
        engine.dispose()


def sql(conn: Connection, statement: str, **params: Any) -> Any:
    return conn.execute(sa.text(statement), params)


def as_json(conn: Connection, param: str) -> str:
    return f"CAST(:{param} AS JSON)" if conn.dialect.name == "postgresql" else f":{param}"


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def messages(report: audit.VerifyReport) -> list[str]:
    return [p.message for p in report.problems]


# -- the untampered store ------------------------------------------------------------------------------------------


def test_untampered_store_verifies(audited: Base) -> None:
    report = verify(audited.url)
    assert report.problems == []
    assert report.ok and report.entries == 7
    assert report.kinds == {"grade": 2, "plan": 3, "commit": 1, "preview": 1}
    assert report.head == (7, audited.hash(7))
    # the two grade runs share a features snapshot and the features they kept for plans, the three plans a plan
    # snapshot; one pack version
    assert report.blobs == {"snapshot": 3, "pack": 1}
    assert [e.kind for e in audited.entries] == ["grade", "plan", "commit", "grade", "plan", "plan", "preview"]


def test_published_head(audited: Base) -> None:
    report = verify(audited.url, audited.hash(2).upper())
    assert report.ok and report.published == {
        "hash": audited.hash(2),
        "seq": 2,
        "run_id": audited.run(2),
        "following": 5,
    }
    assert verify(audited.url, audited.hash(7)).published["following"] == 0  # type: ignore[index]


def test_a_malformed_published_head_is_refused(audited: Base) -> None:
    with pytest.raises(InputError, match="--head 'abc' is not a ledger hash"):
        verify(audited.url, "abc")


# -- outputs -------------------------------------------------------------------------------------------------------


def test_edited_grade_outcome(audited: Base) -> None:
    def act(conn: Connection) -> None:
        outcome, outputs = sql(
            conn,
            "SELECT outcome, outputs FROM grade_outcome WHERE run_id = :r ORDER BY outcome LIMIT 1",
            r=audited.run(1),
        ).one()
        outputs = json.loads(outputs) if isinstance(outputs, str) else outputs
        outputs["credit_class"] = "A" if outputs.get("credit_class") != "A" else "B"
        sql(
            conn,
            f"UPDATE grade_outcome SET outputs = {as_json(conn, 'v')} WHERE run_id = :r AND outcome = :o",
            v=json.dumps(outputs),
            r=audited.run(1),
            o=outcome,
        )

    tamper(audited.url, act)
    assert messages(verify(audited.url)) == [
        f"{audited.name(1)}: outputs changed: grade_outcome/grade_result no longer hash to the recorded outputs"
    ]


def test_subject_moved_to_another_outcome(audited: Base) -> None:
    def act(conn: Connection) -> None:
        uscc, outcome = sql(
            conn, "SELECT uscc, outcome FROM grade_result WHERE run_id = :r ORDER BY uscc LIMIT 1", r=audited.run(4)
        ).one()
        other = sql(
            conn,
            "SELECT min(outcome) FROM grade_outcome WHERE run_id = :r AND outcome <> :o",
            r=audited.run(4),
            o=outcome,
        ).scalar_one()
        sql(
            conn,
            "UPDATE grade_result SET outcome = :o WHERE run_id = :r AND uscc = :u",
            o=other,
            r=audited.run(4),
            u=uscc,
        )

    tamper(audited.url, act)
    assert messages(verify(audited.url)) == [
        f"{audited.name(4)}: outputs changed: grade_outcome/grade_result no longer hash to the recorded outputs"
    ]


def _edit_plan_document(conn: Connection, plan_id: str, *, fix_sha: bool) -> None:
    document = sql(conn, "SELECT document FROM plan WHERE id = :p", p=plan_id).scalar_one()

    def forged(text: str) -> str:
        doc = json.loads(text)
        doc["seed"] = "forged-seed-0000000000000"
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    data, sha = plan_documents.rewrite(bytes(document), forged)
    sql(
        conn,
        "UPDATE plan SET document = :d" + (", sha256 = :s" if fix_sha else "") + " WHERE id = :p",
        d=data,
        s=sha,
        p=plan_id,
    )


@pytest.mark.parametrize("fix_sha", [False, True], ids=["document", "document-and-sha256"])
def test_edited_plan_document(audited: Base, fix_sha: bool) -> None:
    tamper(audited.url, lambda conn: _edit_plan_document(conn, audited.run(2), fix_sha=fix_sha))
    assert messages(verify(audited.url)) == [
        f"{audited.name(2)}: plan document changed: it no longer hashes to the recorded outputs"
    ]


def test_damaged_columnar_plan_document_is_named_as_such(audited: Base) -> None:
    """A plan/3 document cut short is reported as a damaged columnar document (a regression: the message said
    "not compressed UTF-8 text", which only plan/1 and /2 documents are)."""

    def cut(conn: Connection) -> None:
        document = bytes(sql(conn, "SELECT document FROM plan WHERE id = :p", p=audited.run(2)).scalar_one())
        assert plan_columns.is_columnar(document)
        sql(conn, "UPDATE plan SET document = :d WHERE id = :p", d=document[: len(document) // 2], p=audited.run(2))

    tamper(audited.url, cut)
    (message,) = messages(verify(audited.url))
    assert message.startswith(f"{audited.name(2)}: plan document unreadable: a damaged columnar document ("), message


def test_edited_plan_seed_column(audited: Base) -> None:
    tamper(audited.url, lambda conn: sql(conn, "UPDATE plan SET seed = 'x' WHERE id = :p", p=audited.run(5)))
    assert messages(verify(audited.url)) == [
        f"{audited.name(5)}: plan row changed: seed x (the ledger says {SEEDS['2026Q2']})"
    ]


# -- the chain -----------------------------------------------------------------------------------------------------


def test_altered_entry_hash(audited: Base) -> None:
    tamper(audited.url, lambda conn: sql(conn, "UPDATE ledger SET entry_hash = :h WHERE seq = 3", h="f" * 64))
    assert messages(verify(audited.url)) == [
        f"{audited.name(3)}: entry edited: its hash does not match its content",
        f"{audited.name(4)}: chain broken: previous hash does not match #3 {audited.run(3)} — an entry was "
        "deleted, inserted or reordered here",
    ]


def test_altered_snapshot_hash_in_a_body(audited: Base) -> None:
    body = dict(audited.body(1))
    forged = "ab" * 32
    body["snapshot_hash"] = forged
    tamper(audited.url, lambda conn: sql(conn, "UPDATE ledger SET body = :b WHERE seq = 1", b=canonical(body)))
    assert messages(verify(audited.url)) == [
        f"{audited.name(1)}: entry edited: its hash does not match its content",
        f"snapshot {forged[:12]} (used by {audited.name(1)}): is missing from the store",
    ]


def test_altered_prev_hash(audited: Base) -> None:
    tamper(audited.url, lambda conn: sql(conn, "UPDATE ledger SET prev_hash = :h WHERE seq = 5", h="0" * 63 + "1"))
    assert messages(verify(audited.url)) == [
        f"{audited.name(5)}: chain broken: previous hash does not match #4 {audited.run(4)} — an entry was "
        "deleted, inserted or reordered here",
        f"{audited.name(5)}: entry edited: its hash does not match its content",
    ]


def test_edited_reason_and_rechained_tail_is_caught_by_the_published_head(audited: Base) -> None:
    """An attacker who edits the re-draw's reason and recomputes every hash after it leaves a consistent
    chain: only the head published with the plan gives them away."""

    def act(conn: Connection) -> None:
        prev = audited.hash(5)
        for entry in audited.entries[5:]:
            body = dict(entry.body)
            if entry.seq == 6:
                body["details"] = {**body["details"], "reason": "例行抽查"}
            text = canonical(body)
            digest = chain.entry_hash(prev, text)
            sql(
                conn,
                "UPDATE ledger SET body = :b, prev_hash = :p, entry_hash = :h WHERE seq = :s",
                b=text,
                p=prev,
                h=digest,
                s=entry.seq,
            )
            prev = digest

    tamper(audited.url, act)
    assert verify(audited.url).ok
    report = verify(audited.url, audited.hash(7))
    assert messages(report) == [
        f"published head {audited.hash(7)[:16]}… is not in the ledger: the chain was rewritten since it was "
        "published (or the hash is mistyped)"
    ]
    assert verify(audited.url, audited.hash(5)).published == {
        "hash": audited.hash(5),
        "seq": 5,
        "run_id": audited.run(5),
        "following": 2,
    }


def test_deleted_commitment(audited: Base) -> None:
    tamper(audited.url, lambda conn: sql(conn, "DELETE FROM ledger WHERE seq = 3"))
    assert messages(verify(audited.url)) == [
        f"#3 missing: seq jumps from 2 to 4 (an entry was deleted before {audited.run(4)})",
        f"{audited.name(4)}: chain broken: previous hash does not match #2 {audited.run(2)} — an entry was "
        "deleted, inserted or reordered here",
    ]


def test_deleted_grade_entry_leaves_its_run_unrecorded(audited: Base) -> None:
    tamper(audited.url, lambda conn: sql(conn, "DELETE FROM ledger WHERE seq = 4"))
    assert messages(verify(audited.url)) == [
        f"#4 missing: seq jumps from 3 to 5 (an entry was deleted before {audited.run(5)})",
        f"{audited.name(5)}: chain broken: previous hash does not match #3 {audited.run(3)} — an entry was "
        "deleted, inserted or reordered here",
        f"{audited.run(4)}: grade run without a ledger entry (inserted outside suijian, or its entry was deleted)",
    ]


def test_deleted_and_renumbered(audited: Base) -> None:
    """Deleting #6 and moving #7 down to close the gap: the moved entry's content still says #7."""

    def act(conn: Connection) -> None:
        sql(conn, "DELETE FROM ledger WHERE seq = 6")
        sql(conn, "UPDATE ledger SET seq = 6 WHERE seq = 7")

    tamper(audited.url, act)
    assert messages(verify(audited.url)) == [
        f"{audited.run(7)} (#6): chain broken: previous hash does not match #5 {audited.run(5)} — an entry was "
        "deleted, inserted or reordered here",
        f"{audited.run(7)} (#6): stored seq 6 (its content says 7) — entries were renumbered or reordered",
        f"{audited.run(6)}: plan without a ledger entry (inserted outside suijian, or its entry was deleted)",
    ]


def _shift_from(conn: Connection, seq: int) -> None:
    """seq + 1 for every entry from `seq` on, through negative values (the primary key is checked per row)."""
    sql(conn, "UPDATE ledger SET seq = -seq - 1 WHERE seq >= :s", s=seq)
    sql(conn, "UPDATE ledger SET seq = -seq WHERE seq < 0")


def test_forged_entry_inserted_in_the_middle(audited: Base) -> None:
    """A forged commitment slipped in as #4, later entries moved up, and the next link re-pointed at it."""
    body = {
        **audited.body(3),
        "seq": 4,
        "run_id": "C2026Q2-forged0000-0004",
        "details": {**audited.body(3)["details"], "seed_sha256": "cd" * 32},
    }
    text = canonical(body)
    forged_hash = chain.entry_hash(audited.hash(3), text)

    def act(conn: Connection) -> None:
        _shift_from(conn, 4)
        sql(conn, "UPDATE ledger SET prev_hash = :h WHERE seq = 5", h=forged_hash)
        sql(
            conn,
            "INSERT INTO ledger (seq, run_id, kind, created_at, body, prev_hash, entry_hash) VALUES "
            "(4, :r, 'commit', :t, :b, :p, :h)",
            r=body["run_id"],
            t=NOW,
            b=text,
            p=audited.hash(3),
            h=forged_hash,
        )

    tamper(audited.url, act)
    shifted = [f"{audited.run(s)} (#{s + 1})" for s in range(4, 8)]
    assert messages(verify(audited.url)) == [
        f"{shifted[0]}: entry edited: its hash does not match its content",
        f"{shifted[0]}: stored seq 5 (its content says 4) — entries were renumbered or reordered",
        f"{shifted[1]}: stored seq 6 (its content says 5) — entries were renumbered or reordered",
        f"{shifted[2]}: stored seq 7 (its content says 6) — entries were renumbered or reordered",
        f"{shifted[3]}: stored seq 8 (its content says 7) — entries were renumbered or reordered",
    ]


def test_forged_entry_with_its_own_link(audited: Base) -> None:
    """A forged entry in the middle that does not bother to re-point the chain breaks it on both sides."""
    body = {**audited.body(1), "seq": 2, "run_id": "G20251231-forged00-0002"}
    text = canonical(body)

    def act(conn: Connection) -> None:
        _shift_from(conn, 2)
        sql(
            conn,
            "INSERT INTO ledger (seq, run_id, kind, created_at, body, prev_hash, entry_hash) VALUES "
            "(2, :r, 'grade', :t, :b, :p, :h)",
            r=body["run_id"],
            t=NOW,
            b=text,
            p="e" * 64,
            h=chain.entry_hash("e" * 64, text),
        )

    tamper(audited.url, act)
    found = messages(verify(audited.url))
    assert found[:3] == [
        "G20251231-forged00-0002 (#2): chain broken: previous hash does not match #1 "
        f"{audited.run(1)} — an entry was deleted, inserted or reordered here",
        "G20251231-forged00-0002 (#2): grade run missing: no grade_run row G20251231-forged00-0002 in the store "
        "(deleted, or the entry was forged)",
        f"{audited.run(2)} (#3): chain broken: previous hash is that of #1 {audited.run(1)}, not of #2 "
        "G20251231-forged00-0002 — entries were reordered here",
    ]
    assert found[3:] == [
        f"{audited.run(s)} (#{s + 1}): stored seq {s + 1} (its content says {s}) — entries were renumbered or reordered"
        for s in range(2, 8)
    ]


def _append_forged(conn: Connection, base: Base, *, kind: str, run_id: str) -> None:
    """Properly chained, with suijian's own code, but outside suijian and for a run that does not exist."""
    model = base.body(1 if kind == "grade" else 2)
    chain.append(
        conn,
        run_id=run_id,
        kind=kind,
        actor=TESTER,
        created_at=NOW,
        as_of=AS_OF,
        seed=model["seed"],
        pack=model["pack"],
        snapshot_hash=model["snapshot_hash"],
        outputs_hash=model["outputs_hash"],
        details=model["details"],
    )


@pytest.mark.parametrize("kind", ["grade", "plan"])
def test_forged_entry_at_the_end_for_a_run_that_does_not_exist(audited: Base, kind: str) -> None:
    run_id = "G20251231-forged00-0008" if kind == "grade" else "P2026Q4-f0f0f0f0f0"
    tamper(audited.url, lambda conn: _append_forged(conn, audited, kind=kind, run_id=run_id))
    what = "grade run missing: no grade_run row" if kind == "grade" else "plan missing: no plan row"
    assert messages(verify(audited.url)) == [
        f"{run_id} (#8): {what} {run_id} in the store (deleted, or the entry was forged)"
    ]


def test_two_entries_reordered(audited: Base) -> None:
    def act(conn: Connection) -> None:
        sql(conn, "UPDATE ledger SET seq = -1 WHERE seq = 2")
        sql(conn, "UPDATE ledger SET seq = 2 WHERE seq = 3")
        sql(conn, "UPDATE ledger SET seq = 3 WHERE seq = -1")

    tamper(audited.url, act)
    assert messages(verify(audited.url)) == [
        f"{audited.run(3)} (#2): chain broken: previous hash is that of #3 {audited.run(2)}, not of #1 "
        f"{audited.run(1)} — entries were reordered here",
        f"{audited.run(3)} (#2): stored seq 2 (its content says 3) — entries were renumbered or reordered",
        f"{audited.run(2)} (#3): chain broken: previous hash is that of #1 {audited.run(1)}, not of #2 "
        f"{audited.run(3)} — entries were reordered here",
        f"{audited.run(2)} (#3): stored seq 3 (its content says 2) — entries were renumbered or reordered",
        f"{audited.name(4)}: chain broken: previous hash is that of #2 {audited.run(3)}, not of #3 "
        f"{audited.run(2)} — entries were reordered here",
    ]


def test_two_bodies_swapped(audited: Base) -> None:
    def act(conn: Connection) -> None:
        two, three = (sql(conn, "SELECT body FROM ledger WHERE seq = :s", s=s).scalar_one() for s in (2, 3))
        sql(conn, "UPDATE ledger SET body = :b WHERE seq = 2", b=three)
        sql(conn, "UPDATE ledger SET body = :b WHERE seq = 3", b=two)

    tamper(audited.url, act)
    report = verify(audited.url)
    assert messages(report) == [
        f"{audited.name(2)}: entry edited: its hash does not match its content",
        f"{audited.name(2)}: holds the content of #3 {audited.run(3)} (now stored as #3) — entries were swapped or "
        "reordered",
        f"{audited.name(3)}: entry edited: its hash does not match its content",
        f"{audited.name(3)}: holds the content of #2 {audited.run(2)} (now stored as #2) — entries were swapped or "
        "reordered",
    ]


def test_edited_kind_column(audited: Base) -> None:
    tamper(audited.url, lambda conn: sql(conn, "UPDATE ledger SET kind = 'commit' WHERE seq = 4"))
    assert messages(verify(audited.url)) == [
        f"{audited.name(4)}: stored kind commit (its content says grade) — a column was edited",
        f"{audited.run(4)}: grade run without a ledger entry (inserted outside suijian, or its entry was deleted)",
    ]


# -- blobs ---------------------------------------------------------------------------------------------------------


def _blob_users(base: Base, key: str, value: str) -> str:
    return ", ".join(e_name for e_name in (base.name(e.seq) for e in base.entries if _blob_of(e, key) == value))


def _blob_of(entry: chain.Entry, key: str) -> str | None:
    return entry.body.get("snapshot_hash") if key == "snapshot" else (entry.body.get("pack") or {}).get("files_hash")


def test_snapshot_altered(audited: Base) -> None:
    digest = audited.body(1)["snapshot_hash"]

    def act(conn: Connection) -> None:
        data = sql(conn, "SELECT data FROM blob WHERE hash = :h", h=digest).scalar_one()
        tables = unpack_tables(bytes(data))
        features = tables["features"]
        assert isinstance(features, pl.DataFrame)
        tables["features"] = features.with_columns(pl.col("uscc").shift(1).fill_null("91445203MA4W3TGX5Q"))
        sql(conn, "UPDATE blob SET data = :d WHERE hash = :h", d=pack_tables(tables), h=digest)

    tamper(audited.url, act)
    [message] = messages(verify(audited.url))
    assert message.startswith(
        f"snapshot {digest[:12]} (used by {audited.name(1)}, {audited.name(4)}): has been "
        "altered: its content hashes to "
    )


def test_snapshot_bytes_overwritten(audited: Base) -> None:
    digest = audited.body(2)["snapshot_hash"]
    tamper(audited.url, lambda conn: sql(conn, "UPDATE blob SET data = :d WHERE hash = :h", d=b"\x00" * 64, h=digest))
    [message] = messages(verify(audited.url))
    assert message.startswith(
        f"snapshot {digest[:12]} (used by {audited.name(2)}, {audited.name(5)}, {audited.name(6)}): is unreadable ("
    )


def test_a_snapshot_with_a_crafted_records_member_is_reported_not_a_crash(audited: Base) -> None:
    # Regression: a records member that is JSON but not a list of objects made verify end in a traceback.
    digest = audited.body(2)["snapshot_hash"]

    def act(conn: Connection) -> None:
        data = bytes(sql(conn, "SELECT data FROM blob WHERE hash = :h", h=digest).scalar_one())
        buf = io.BytesIO(data)
        with zipfile.ZipFile(buf, "a") as zf:
            zf.writestr("records/extra.json", "5")
        sql(conn, "UPDATE blob SET data = :d WHERE hash = :h", d=buf.getvalue(), h=digest)

    tamper(audited.url, act)
    [message] = messages(verify(audited.url))
    assert (
        message.startswith(f"snapshot {digest[:12]} (used by ")
        and "is unreadable (records/extra.json is not" in message
    )


def test_snapshot_deleted(audited: Base) -> None:
    digest = audited.body(2)["snapshot_hash"]
    tamper(audited.url, lambda conn: sql(conn, "DELETE FROM blob WHERE hash = :h", h=digest))
    assert messages(verify(audited.url)) == [
        f"snapshot {digest[:12]} (used by {_blob_users(audited, 'snapshot', digest)}): is missing from the store"
    ]


def test_features_kept_for_plans_deleted(audited: Base) -> None:
    """A grade run's further features (read by plans instead of computing them again) are a blob verify checks."""
    digest = audited.body(1)["details"]["plan_features"]
    tamper(audited.url, lambda conn: sql(conn, "DELETE FROM blob WHERE hash = :h", h=digest))
    assert messages(verify(audited.url)) == [
        f"snapshot {digest[:12]} (used by {audited.name(1)}, {audited.name(4)}): is missing from the store"
    ]


def test_pack_version_deleted(audited: Base) -> None:
    digest = audited.body(1)["pack"]["files_hash"]
    tamper(audited.url, lambda conn: sql(conn, "DELETE FROM blob WHERE hash = :h", h=digest))
    assert messages(verify(audited.url)) == [
        f"rule-pack version {digest[:12]} (used by {audited.name(1)}, {audited.name(2)}, {audited.name(4)} and "
        "3 more): is missing from the store"
    ]


# -- runs and the entries that vouch for them ----------------------------------------------------------------------


def test_deleted_grade_run_row(audited: Base) -> None:
    tamper(audited.url, lambda conn: sql(conn, "DELETE FROM grade_run WHERE id = :r", r=audited.run(4)))
    assert messages(verify(audited.url)) == [
        f"{audited.name(4)}: grade run missing: no grade_run row {audited.run(4)} in the store (deleted, or the "
        "entry was forged)"
    ]


def test_grade_run_inserted_without_an_entry(audited: Base) -> None:
    forged = "G20251231-cee06f88-0099"

    def act(conn: Connection) -> None:
        sql(
            conn,
            "INSERT INTO grade_run (id, as_of, pack_name, pack_version, pack_hash, engine_version, subjects, "
            "outcomes, created_at) SELECT :f, as_of, pack_name, pack_version, pack_hash, engine_version, "
            "subjects, outcomes, created_at FROM grade_run WHERE id = :r",
            f=forged,
            r=audited.run(1),
        )
        sql(
            conn,
            "INSERT INTO grade_result (run_id, uscc, outcome) SELECT :f, uscc, outcome FROM grade_result "
            "WHERE run_id = :r",
            f=forged,
            r=audited.run(1),
        )

    tamper(audited.url, act)
    assert messages(verify(audited.url)) == [
        f"{forged}: grade run without a ledger entry (inserted outside suijian, or its entry was deleted)"
    ]


def test_plan_inserted_without_an_entry(audited: Base) -> None:
    forged = "P2026Q4-0000000000"
    tamper(
        audited.url,
        lambda conn: sql(
            conn,
            "INSERT INTO plan (id, regions, period, period_start, period_end, as_of, seed, grade_run_id, pack_hash, "
            "visits, sha256, document, created_at) SELECT :f, regions, period, period_start, period_end, as_of, "
            "seed, grade_run_id, pack_hash, visits, sha256, document, created_at FROM plan WHERE id = :p",
            f=forged,
            p=audited.run(2),
        ),
    )
    assert messages(verify(audited.url)) == [
        f"{forged}: plan without a ledger entry (inserted outside suijian, or its entry was deleted)"
    ]


def test_every_problem_names_a_run_or_a_place(audited: Base) -> None:
    """Several tamperings at once: each is still reported, each line names what it is about."""

    def act(conn: Connection) -> None:
        sql(conn, "DELETE FROM grade_run WHERE id = :r", r=audited.run(1))
        _edit_plan_document(conn, audited.run(6), fix_sha=False)
        sql(conn, "UPDATE ledger SET entry_hash = :h WHERE seq = 7", h="d" * 64)

    tamper(audited.url, act)
    report = verify(audited.url)
    assert [(p.code, p.run_id, p.seq) for p in report.problems] == [
        ("grade_run", audited.run(1), 1),
        ("outputs", audited.run(6), 6),
        ("edited", audited.run(7), 7),
    ]
    assert all(p.message.startswith(f"{p.run_id} (#{p.seq}): ") for p in report.problems)


# -- every column of the run tables against its entry ------------------------------------------------------------

_PLAN_COLUMNS: list[tuple[str, Any]] = [
    ("visits", 9999),
    ("period_end", dt.date(2026, 3, 30)),
    ("period_start", dt.date(2026, 1, 2)),
    ("period", "2026Q4"),
    ("regions", "445202"),
    ("seed", "forged-seed"),
    ("as_of", dt.date(2025, 12, 30)),
    ("grade_run_id", "G20251231-forged00-0004"),
    ("pack_hash", "f" * 64),
    ("created_at", dt.datetime(2026, 1, 6, 8)),
]
_GRADE_COLUMNS: list[tuple[str, Any]] = [
    ("subjects", 499),
    ("outcomes", 1),
    ("pack_version", "2099.9"),
    ("pack_name", "guangdong"),
    ("pack_hash", "e" * 64),
    ("engine_version", "suijian-9.9.9"),
    ("as_of", dt.date(2025, 12, 30)),
    ("created_at", dt.datetime(2026, 1, 6, 8)),
]


@pytest.mark.parametrize(("column", "value"), _PLAN_COLUMNS, ids=[c for c, _ in _PLAN_COLUMNS])
def test_every_plan_column_is_checked_against_its_entry(audited: Base, column: str, value: Any) -> None:
    tamper(
        audited.url, lambda conn: sql(conn, f"UPDATE plan SET {column} = :v WHERE id = :p", v=value, p=audited.run(2))
    )
    [problem] = verify(audited.url).problems
    assert (problem.code, problem.run_id, problem.seq) == ("plan", audited.run(2), 2)
    shown = value.isoformat() if isinstance(value, dt.datetime) else value
    assert problem.message.startswith(f"{audited.name(2)}: plan row changed: {column} {shown} (the ledger says ")


@pytest.mark.parametrize(("column", "value"), _GRADE_COLUMNS, ids=[c for c, _ in _GRADE_COLUMNS])
def test_every_grade_run_column_is_checked_against_its_entry(audited: Base, column: str, value: Any) -> None:
    tamper(
        audited.url,
        lambda conn: sql(conn, f"UPDATE grade_run SET {column} = :v WHERE id = :r", v=value, r=audited.run(4)),
    )
    [problem] = verify(audited.url).problems
    assert (problem.code, problem.run_id, problem.seq) == ("grade_run", audited.run(4), 4)
    shown = value.isoformat() if isinstance(value, dt.datetime) else value
    assert problem.message.startswith(f"{audited.name(4)}: grade_run row changed: {column} {shown} (the ledger says ")


def _rechain_from(conn: Connection, base: Base, seq: int, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite entry `seq`'s body with `edit` and re-chain every entry after it (an entry as an older suijian
    could have written it, still a consistent chain)."""
    prev = base.hash(seq - 1) if seq > 1 else chain.GENESIS
    for entry in base.entries[seq - 1 :]:
        body = json.loads(json.dumps(entry.body))
        if entry.seq == seq:
            edit(body)
        text = canonical(body)
        digest = chain.entry_hash(prev, text)
        sql(
            conn,
            "UPDATE ledger SET body = :b, prev_hash = :p, entry_hash = :h WHERE seq = :s",
            b=text,
            p=prev,
            h=digest,
            s=entry.seq,
        )
        prev = digest


@pytest.mark.parametrize(
    ("column", "value"), [("visits", 9999), ("regions", "445202"), ("period_end", dt.date(2026, 3, 30))]
)
def test_an_entry_without_a_value_is_checked_by_the_document_it_pins(audited: Base, column: str, value: Any) -> None:
    """An entry that does not hold the visits or the scope: the plan document whose hash it pins says them."""

    def strip(body: dict[str, Any]) -> None:
        body["details"].pop("visits")
        body["details"].pop("scope")

    def act(conn: Connection) -> None:
        _rechain_from(conn, audited, 2, strip)
        sql(conn, f"UPDATE plan SET {column} = :v WHERE id = :p", v=value, p=audited.run(2))

    tamper(audited.url, act)
    [problem] = verify(audited.url).problems
    assert problem.message.startswith(f"{audited.name(2)}: plan row changed: {column} {value} (the ledger says ")


def test_an_untampered_entry_without_those_values_verifies(audited: Base) -> None:
    tamper(
        audited.url,
        lambda conn: _rechain_from(conn, audited, 2, lambda b: (b["details"].pop("visits"), b["details"].pop("scope"))),
    )
    assert verify(audited.url).problems == []


# -- hashing schemes -------------------------------------------------------------------------------------------------


def test_new_entries_name_their_schemes(audited: Base) -> None:
    assert audited.body(1)["schemes"] == {
        "chain": "suijian-chain-1",
        "outcome": "suijian-outcome-1",
        "outputs": "suijian-grade-outputs-1",
        "snapshot": "suijian-snapshot-2",  # grade runs since issue 15; entries made before keep snapshot-1
        "pack": "suijian-pack-2",
        "pack_files": "suijian-pack-files-1",
    }
    # a fitted plan, columnar, its input snapshot as typed columns; plan/1 and /2 entries keep theirs
    assert audited.body(2)["schemes"]["outputs"] == "suijian.plan/3"
    assert audited.body(2)["schemes"]["snapshot"] == "suijian-snapshot-2"
    assert audited.body(3)["schemes"] == {"chain": "suijian-chain-1"}


def test_an_entry_without_schemes_is_read_as_the_legacy_ones(audited: Base) -> None:
    tamper(audited.url, lambda conn: _rechain_from(conn, audited, 3, lambda b: b.pop("schemes")))
    assert verify(audited.url).problems == []


def test_a_grade_entry_stripped_of_its_schemes_is_checked_with_the_legacy_snapshot_scheme(audited: Base) -> None:
    """A grade run's snapshot is hashed with snapshot-2 now; read as a 0.1.0 entry (snapshot-1) it does not match."""
    tamper(audited.url, lambda conn: _rechain_from(conn, audited, 1, lambda b: b.pop("schemes")))
    problems = verify(audited.url).problems
    assert problems and all("snapshot" in p.message for p in problems)


@pytest.mark.parametrize(
    ("role", "name"),
    [("pack_files", "suijian-pack-files-2"), ("chain", "suijian-chain-2"), ("outputs", "suijian-outcome-1")],
)
def test_an_unknown_scheme_is_one_clear_problem(audited: Base, role: str, name: str) -> None:
    """An entry written by a newer suijian (a consistent chain) names a scheme this one cannot compute."""
    tamper(audited.url, lambda conn: _rechain_from(conn, audited, 4, lambda b: b["schemes"].update({role: name})))
    [problem] = verify(audited.url).problems
    assert (problem.code, problem.run_id, problem.seq) == ("scheme", audited.run(4), 4)
    assert problem.message.startswith(f"{audited.name(4)}: cannot be checked: it names ")
    assert repr(name) in problem.message


# -- a damaged rule-pack version -------------------------------------------------------------------------------------


def test_a_pack_blob_with_a_flipped_byte_is_one_problem(audited: Base) -> None:
    digest = audited.body(1)["pack"]["files_hash"]
    original = bytes(
        read_store(audited.url, lambda conn: sql(conn, "SELECT data FROM blob WHERE hash = :h", h=digest).scalar_one())
    )
    found: list[str] = []
    for offset in range(0, len(original), max(1, len(original) // 15)):
        damaged = bytearray(original)
        damaged[offset] ^= 0xFF
        tamper(
            audited.url,
            lambda conn, d=bytes(damaged): sql(conn, "UPDATE blob SET data = :d WHERE hash = :h", d=d, h=digest),
        )
        problems = verify(audited.url).problems
        if not problems:  # a byte the zip does not read (a time stamp, a version field): the files are intact
            assert read_store(audited.url, lambda conn: packs.fetch(conn, digest)).files_hash == digest, offset
            continue
        [problem] = problems
        assert problem.code == "pack", offset
        assert problem.message.startswith(f"rule-pack version {digest[:12]} (used by {audited.name(1)}, "), offset
        assert "run `suijian audit verify`" not in problem.message
        found.append(problem.message)
    assert len(found) >= 10 and any("is unreadable (Error -3 while decompressing" in m for m in found), found
