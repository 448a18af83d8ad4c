"""`engine.replay`: a grade run and a plan recompute identically from the ledger alone — after the live data
changed and after other packs were used — and an edited output is named exactly (subject and output, or the place
in the plan). `item_fates` (explain --run) agrees with make_plan on every subject and item."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from engine import grading, planning
from engine import replay as replaying
from engine.ledger import chain, outputs, plan_columns, record
from engine.plan import PlanPolicy
from engine.replay import recompute
from engine.rules import load_pack
from engine.sampling import derive_seed, ticket
from entities import store
from entities.errors import InputError
from entities.models import CheckItemCreate
from tests import plan_documents
from tests.engine.plan import world
from tests.helpers import TESTER, load_jiedong
from tests.store_template import StoreCopies

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 5, 9, 30)
SEED = "38147205519264810375"
RULES = Path(__file__).resolve().parents[2] / "rules"


def grade(engine: sa.Engine, pack_dir: Path) -> str:
    pack = load_pack(pack_dir)
    with engine.begin() as conn:
        return grading.grade_store(conn, pack, AS_OF, created_at=NOW, actor=TESTER).id


def plan(engine: sa.Engine, pack_dir: Path, label: str = "2026Q1", seed: str = SEED) -> str:
    pack = load_pack(pack_dir)
    period = planning.parse_period(label)
    with engine.begin() as conn:
        made, run, tables = planning.plan_from_store(conn, pack, seed=seed, period=period, as_of=AS_OF, regions=None)
        plan_id, _ = planning.save_plan(
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
        )
    return plan_id


@pytest.fixture
def demo(store_url: str, store_copies: StoreCopies) -> Iterator[sa.Engine]:
    store_copies.fill(store_url, "jiedong 400 with the catalogue", lambda: load_jiedong(store_url, 400, AS_OF, NOW))
    engine = store.open_store(store_url)
    yield engine
    engine.dispose()


def replay(engine: sa.Engine, run_id: str) -> replaying.ReplayReport:
    with engine.connect() as conn:
        return replaying.replay(conn, run_id)


def test_a_plan_of_some_items_replays_with_the_policy_for_those_items(demo: sa.Engine) -> None:
    # Regression: replay applied the whole pack policy, which names items the --item plan did not draw.
    grade(demo, RULES / "national")
    pack = load_pack(RULES / "national")
    period = planning.parse_period("2026Q2")
    with demo.begin() as conn:
        made, run, tables = planning.plan_from_store(
            conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None, item_codes=["SP-XS-01"]
        )
        plan_id, _ = planning.save_plan(
            conn,
            made,
            run,
            pack=pack,
            tables=tables,
            seed=SEED,
            regions=None,
            items=["SP-XS-01"],
            period=period,
            as_of=AS_OF,
            created_at=NOW,
            actor=TESTER,
        )
    report = replay(demo, plan_id)
    assert report.identical, report.differences
    assert [i.code for i in made.items] == ["SP-XS-01"]


def test_grade_run_and_plan_replay_identically(demo: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = grade(demo, RULES / "national")
    plan_id = plan(demo, RULES / "national")
    g, p = replay(demo, run_id), replay(demo, plan_id)
    assert g.identical and p.identical
    assert g.replayed_hash == g.ledger_hash == g.stored_hash
    assert g.counts["subjects"] == 400 and g.differing == 0 and not g.differences
    assert p.counts["subjects"] == 400 and p.counts["visits"] > 0 and p.seed == SEED
    assert g.pack["name"] == p.pack["name"] == "national" and len(g.pack["files_hash"]) == 64
    doc = p.as_dict()
    assert doc["identical"] and doc["outputs_hash"]["replayed"] == doc["outputs_hash"]["ledger"]
    assert set(doc) >= {"run_id", "kind", "pack", "snapshot_hash", "recomputed", "differences", "notes", "versions"}
    assert g.versions == ()  # the same suijian and dependencies
    # Another polars later: still identical, and said (for information).
    now = {**chain.versions(), "polars": "99.0"}
    monkeypatch.setattr(chain, "versions", lambda: now)
    later = replay(demo, run_id)
    assert later.identical and [(n, c) for n, _, c in later.versions] == [("polars", "99.0")]


def test_replay_ignores_live_data_and_other_packs(demo: sa.Engine, tmp_path: Path) -> None:
    edited = tmp_path / "rules" / "national"
    shutil.copytree(RULES / "national", edited)
    run_id = grade(demo, edited)
    plan_id = plan(demo, edited)
    # The pack directory changes on disk after the run (comments in the manifest and the policy).
    manifest = edited / "pack.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("effective_from:", "# edited after the run\neffective_from:"), encoding="utf-8")
    (edited / "policy.yaml").write_text(
        (edited / "policy.yaml").read_text(encoding="utf-8").replace("team_size:", "# edited\nteam_size:"),
        encoding="utf-8",
    )
    # The live data changes: subjects deleted and edited, check results added.
    s, r = store.table("subject"), store.table("check_result")
    with demo.begin() as conn:
        usccs = [u for (u,) in conn.execute(sa.select(s.c.uscc).order_by(s.c.uscc))]
        conn.execute(s.delete().where(s.c.uscc.in_(usccs[:25])))
        conn.execute(s.update().where(s.c.uscc.in_(usccs[25:60])).values(status="revoked", region="445203101"))
        store.bulk_insert(
            conn,
            "check_result",
            [
                {
                    "id": f"R-REPLAY-{i}",
                    "uscc": u,
                    "checked_on": dt.date(2025, 12, 1),
                    "item_code": "DJ-GT-01",
                    "kind": "random",
                    "result_codes": ["serious_violation"],
                    "lead_inspector": None,
                }
                for i, u in enumerate(usccs[60:120])
            ],
        )
        assert conn.execute(sa.select(sa.func.count()).select_from(r)).scalar_one() >= 60
    # Other packs graded afterwards, one of them the provincial layer.
    newer = grade(demo, RULES / "guangdong")
    assert newer != run_id
    for rid in (run_id, plan_id, newer):
        report = replay(demo, rid)
        assert report.identical, (rid, report.notes, report.differences[:3])
    assert replay(demo, run_id).counts["subjects"] == 400  # the deleted subjects are still in the snapshot
    # And the edited pack, graded and planned again, is another pack version: its run replays with its own files.
    rerun = grade(demo, edited)
    assert replay(demo, rerun).pack["files_hash"] != replay(demo, run_id).pack["files_hash"]


def test_an_edited_grade_output_is_named(demo: sa.Engine) -> None:
    run_id = grade(demo, RULES / "national")
    o, r = store.table("grade_outcome"), store.table("grade_result")
    with demo.begin() as conn:
        victim = conn.execute(
            sa.select(r.c.uscc, r.c.outcome).where(r.c.run_id == run_id).order_by(r.c.uscc).limit(1)
        ).first()
        assert victim is not None
        outputs = conn.execute(
            sa.select(o.c.outputs).where(o.c.run_id == run_id, o.c.outcome == victim.outcome)
        ).scalar_one()
        was = outputs["credit_class"]
        forged = "D" if was != "D" else "A"
        # A new outcome row for one subject only, as an attacker would add it.
        store.bulk_insert(
            conn,
            "grade_outcome",
            [
                {
                    "run_id": run_id,
                    "outcome": 9999,
                    "outputs": {**outputs, "credit_class": forged},
                    "fired": [],
                    "errors": [],
                }
            ],
        )
        conn.execute(r.update().where(r.c.run_id == run_id, r.c.uscc == victim.uscc).values(outcome=9999))
        gone = conn.execute(
            sa.select(r.c.uscc).where(r.c.run_id == run_id).order_by(r.c.uscc.desc()).limit(1)
        ).scalar_one()
        conn.execute(r.delete().where(r.c.run_id == run_id, r.c.uscc == gone))
    report = replay(demo, run_id)
    assert not report.identical
    assert report.replayed_hash == report.ledger_hash != report.stored_hash
    assert any("the store was edited after the run" in n for n in report.notes)
    mine = [d for d in report.differences if d.where == victim.uscc]
    assert replaying.Difference(victim.uscc, "credit_class", forged, was) in mine
    assert any(d.what == "fired" for d in mine)  # the forged outcome fired nothing
    assert report.only_replayed == (gone,) and report.only_recorded == ()
    assert report.differing == 2
    assert "NOT identical" in report.summary() and "stored outputs no longer match" in report.summary()


@pytest.mark.parametrize("damage", ["visits", "container"])
def test_a_damaged_plan_document_is_named(demo: sa.Engine, damage: str) -> None:
    """A plan/3 document whose visits no longer read (its head intact), or that is no container at all, does not
    stop the replay: the plan is drawn again from the ledger's inputs to the ledger's hash, and the document is
    named as unreadable."""
    grade(demo, RULES / "national")
    plan_id = plan(demo, RULES / "national")
    t = store.table("plan")
    with demo.begin() as conn:
        blob = conn.execute(sa.select(t.c.document).where(t.c.id == plan_id)).scalar_one()
        assert plan_columns.is_columnar(blob)
        if damage == "visits":
            out = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(blob)) as old, zipfile.ZipFile(out, "w") as new:
                for info in old.infolist():
                    data = old.read(info.filename)
                    new.writestr(info, data if info.filename == "head.json" else data[: len(data) // 2])
            data = out.getvalue()
            assert json.loads(zipfile.ZipFile(io.BytesIO(data)).read("head.json"))["period"]
        else:
            data = b"not a plan document"
        conn.execute(t.update().where(t.c.id == plan_id).values(document=data))
    report = replay(demo, plan_id)
    assert not report.identical
    assert report.replayed_hash == report.ledger_hash and report.stored_hash is None
    assert f"the store holds no readable plan document {plan_id} any more" in report.notes


def test_an_edited_plan_document_is_named(demo: sa.Engine) -> None:
    grade(demo, RULES / "national")
    plan_id = plan(demo, RULES / "national")
    t = store.table("plan")
    with demo.begin() as conn:
        blob = conn.execute(sa.select(t.c.document).where(t.c.id == plan_id)).scalar_one()
        doc = json.loads(plan_documents.text_of(blob))
        item, stratum = doc["items"][0]["code"], doc["items"][0]["strata"][0]
        stratum["quota"] += 1
        removed = doc["visit_list"].pop(0)
        moved = doc["visit_list"][0]
        moved["due_to"] = "2026-01-02"
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        data, _ = plan_documents.rewrite(blob, lambda _: text)
        conn.execute(t.update().where(t.c.id == plan_id).values(document=data))
    report = replay(demo, plan_id)
    assert not report.identical and report.replayed_hash == report.ledger_hash != report.stored_hash
    where = {(d.where, d.what): (d.recorded, d.replayed) for d in report.differences}
    assert where[(f"items[{item}].strata[{stratum['stratum']}]", "quota")] == (stratum["quota"], stratum["quota"] - 1)
    assert where[(f"visit_list[{moved['id']}]", "due_to")][0] == "2026-01-02"
    assert report.only_replayed == (removed["id"],) and report.only_replayed_count == 1
    assert report.differing == 2


def test_a_batch_named_like_a_quarter_replays(demo: sa.Engine) -> None:
    # The ledger scope has the label and days only; the kind (batch, not quarter) is the plan document's.
    grade(demo, RULES / "national")
    plan_id = plan(demo, RULES / "national", "2026Q3:2026-07-01:2026-09-30")
    report = replay(demo, plan_id)
    assert report.identical, report.differences[:3]


def test_only_grade_runs_and_plans_replay(demo: sa.Engine) -> None:
    period = planning.parse_period("2026Q2")
    with demo.begin() as conn:
        entry, _ = record.commit_seed(
            conn,
            digest=record.seed_sha256(SEED),
            scope=record.scope_of(None, None, period),
            actor=TESTER,
            created_at=NOW,
        )
    with demo.connect() as conn:
        with pytest.raises(InputError, match=r"is a commit entry of the ledger; only grade runs \(G…\) and plans"):
            replaying.replay(conn, entry.run_id)
        with pytest.raises(InputError, match=r"^no run G2025-nope in the ledger"):
            replaying.replay(conn, "G2025-nope")


# -- explain --run, without a store ------------------------------------------------------------------------------


def _inputs(
    frame: pl.DataFrame, past: pl.DataFrame, items: list[CheckItemCreate], regions: list[str] | None = None
) -> replaying.PlanInputs:
    inspectors = world.roster()
    return replaying.PlanInputs(
        subjects=frame,
        items=items,
        inspectors=inspectors,
        conflicts=[],
        history=past,
        seed=world.SEED,
        period=world.PERIOD,
        as_of=world.AS_OF,
        regions=regions,
    )


@pytest.mark.parametrize(
    "policy",
    [
        PlanPolicy(),
        PlanPolicy(
            item_seeds="per_item", whitelist="exempt", annual_random_cap=1, no_repeat_days={"registration": 400}
        ),
        PlanPolicy.parse({"class_a_leads_only": True, "whitelist": "lower_ratio", "stratify_by_county": False}),
    ],
    ids=["shared", "per-item-exclusions", "lower-ratio"],
)
def test_item_fates_agree_with_the_plan(policy: PlanPolicy) -> None:
    frame = world.subjects(160, seed=3)
    past = world.history(frame, world.roster(), n=120, seed=3)
    inputs = _inputs(frame, past, world.catalogue(), regions=["440111001", "440111002"])
    made = replaying.remake_plan(inputs, policy)
    statuses: Counter[tuple[str, str]] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    for uscc in frame["uscc"].to_list():
        fates, notes = replaying.item_fates(inputs, policy, made, uscc)
        assert notes == []
        for f in fates:
            statuses[(f.code, f.status)] += 1
            if f.exclusion:
                reasons[(f.code, f.exclusion)] += 1
            item = made.item(f.code)
            drawn = {t.id for s in item.strata for t in s.draw.drawn}
            assert (f.status == "drawn") == (uscc in drawn) == f.drawn_in_plan
            assert f.consistent
            if f.ticket is not None:
                assert f.ticket == ticket(item.seed, uscc) and f.seed == item.seed
                assert (f.cutoff is not None and f.ticket <= f.cutoff) == (f.status == "drawn")
            visit = next((v for v in made.visits if v.uscc == uscc and f.code in v.item_codes), None)
            assert (f.visit or {}).get("id") == (visit.id if visit else None)
    inside = frame.filter(pl.col("region").is_in(["440111001", "440111002"])).height
    for item in made.items:
        assert statuses[(item.code, "drawn")] == item.drawn_count
        assert statuses[(item.code, "excluded")] == sum(item.exclusions.values())
        assert {k: n for k, n in item.exclusions.items() if n} == {
            r: n for (c, r), n in reasons.items() if c == item.code
        }
        assert statuses[(item.code, "not_in_population")] == inside - item.population
        assert statuses[(item.code, "outside_jurisdiction")] == frame.height - inside
    assert sum(n for (_, s), n in statuses.items() if s == "not_drawn") > 0


def test_ticket_recipe_prints_the_ticket() -> None:
    cs = pytest.importorskip("consistent_sampler")
    uscc = world.uscc(7)
    for per_item in (False, True):
        recipe = replaying.ticket_recipe(uscc, world.SEED, "FOOD-01", per_item)
        assert recipe.startswith("python -c ")
        done = subprocess.run(
            sys.executable + recipe[len("python") :], shell=True, capture_output=True, text=True, check=True
        )
        seed = derive_seed(world.SEED, "item/FOOD-01") if per_item else world.SEED
        assert done.stdout.strip() == cs.first_ticket(uscc, seed).ticket_number == ticket(seed, uscc).ticket_number


def test_plan_differences_by_key() -> None:
    a = {
        "items": [{"code": "X", "strata": [{"stratum": "A", "quota": 2}]}],
        "visit_list": [{"id": "u1", "team": ["a"]}],
        "visits": {"planned": 1},
    }
    b = {
        "items": [{"code": "X", "strata": [{"stratum": "A", "quota": 3}]}],
        "visit_list": [{"id": "u1", "team": ["b"]}, {"id": "u2", "team": ["a"]}],
        "visits": {"planned": 2},
    }
    found = replaying.plan_differences(a, b)
    assert found["differences"] == (
        replaying.Difference("items[X].strata[A]", "quota", 2, 3),
        replaying.Difference("visit_list[u1]", "team", ["a"], ["b"]),
        replaying.Difference("visits", "planned", 1, 2),
    )
    assert found["only_replayed"] == ("u2",) and found["only_recorded"] == () and found["differing"] == 3


def _plan_of_edited_outcomes(demo: sa.Engine) -> tuple[str, str]:
    """A grade run and a plan drawn while one of its outcomes was edited (restored since)."""
    run_id = grade(demo, RULES / "national")
    with demo.begin() as conn:
        outcome, outputs = conn.execute(
            sa.text("SELECT outcome, outputs FROM grade_outcome WHERE run_id = :r ORDER BY outcome"), {"r": run_id}
        ).first()
        original = outputs if isinstance(outputs, str) else json.dumps(outputs, ensure_ascii=False)
        edited = json.loads(original) | {"credit_class": "D"}
        conn.execute(
            sa.text("UPDATE grade_outcome SET outputs = :o WHERE run_id = :r AND outcome = :n"),
            {"o": json.dumps(edited, ensure_ascii=False), "r": run_id, "n": outcome},
        )
    plan_id = plan(demo, RULES / "national")
    with demo.begin() as conn:
        conn.execute(
            sa.text("UPDATE grade_outcome SET outputs = :o WHERE run_id = :r AND outcome = :n"),
            {"o": original, "r": run_id, "n": outcome},
        )
    return run_id, plan_id


def test_a_plan_drawn_from_edited_then_restored_outcomes_is_not_identical(demo: sa.Engine) -> None:
    # Regression (review): the plan snapshot copies the grade columns; edit an outcome, plan, restore it, and
    # the chain and every hash stay valid — replay must tie the copy back to the grade run.
    run_id, plan_id = _plan_of_edited_outcomes(demo)
    assert replay(demo, run_id).identical
    report = replay(demo, plan_id)
    assert not report.identical and report.graded_mismatch > 0
    assert "the plan drew with other grade outputs than its grade run's" in report.summary()


@pytest.mark.parametrize("in_child", [False, True])
def test_the_grade_reference_read_beside_the_snapshot_counts_as_read_after_it(
    demo: sa.Engine, monkeypatch: pytest.MonkeyPatch, in_child: bool
) -> None:
    # A replay reads its grade run's results (a city's in a child process) and hashes them on a thread while it
    # loads the snapshot: the subjects that differ are the ones counted when they are read after it.
    _, plan_id = _plan_of_edited_outcomes(demo)
    if in_child:
        monkeypatch.setattr(outputs, "_CHILD_ROWS", 1)
    with demo.connect() as conn:
        entry = recompute.entry_of(conn, plan_id)
        inputs = recompute.plan_inputs(conn, entry)
        with recompute.recorded_pack(conn, entry) as pack, ThreadPoolExecutor(max_workers=2) as pool:
            ahead = recompute.graded_mismatch(
                conn, entry, pack, inputs.subjects, recompute.grade_reference(conn, entry, pool)
            )
            after = recompute.graded_mismatch(conn, entry, pack, inputs.subjects)
    assert ahead == after and ahead[0] > 0
