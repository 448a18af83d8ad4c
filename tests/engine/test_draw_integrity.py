"""Draw integrity (engine.ledger.record, engine.planning.save_plan) on a small demo store, SQLite and PostgreSQL:
a committed plan is final (re-draws need a supervisor and a reason), scopes overlap by region prefix, items and
days, a seed commitment binds the next draw (seed, scope, a grade run after it, the population it froze), and
previews are recorded and bound by the same rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import grading, planning
from engine.catalogue import install_catalogue, load_catalogue
from engine.ledger import chain, record
from engine.plan import Period
from engine.rules import Pack, load_pack
from engine.synth import get_profile, load_demo
from entities import store
from entities.errors import Forbidden, InputError
from entities.identity import Identity, Role
from tests.helpers import TESTER
from tests.helpers import run_cli as run
from tests.store_template import StoreCopies

AS_OF = dt.date(2025, 12, 31)
SEED = "38147205519264810375"
OTHER = "51920374662810395527"
THIRD = "77777777770000000000"
INSPECTOR = Identity("李四 inspector", Role.INSPECTOR)
BOSS = Identity("王五 supervisor", Role.SUPERVISOR)
NATIONAL = Path(__file__).parents[2] / "rules" / "national"


def sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(str(NATIONAL))


class Store:
    """A demo district of 600 subjects with the catalogue, and the draw operations on it, each one transaction."""

    def __init__(self, url: str, pack: Pack) -> None:
        self.url, self.pack = url, pack
        self.engine = store.open_store(url)
        self.clock = dt.datetime(2026, 1, 2, 9, 0)

    def now(self) -> dt.datetime:
        self.clock += dt.timedelta(minutes=1)
        return self.clock

    def grade(self, actor: Identity = TESTER, usccs: list[str] | None = None) -> str:
        with self.engine.begin() as conn:
            return grading.grade_store(conn, self.pack, AS_OF, created_at=self.now(), actor=actor, usccs=usccs).id

    def make(
        self, conn: Any, seed: str, period: str, regions: list[str] | None, items: list[str] | None, run_id: str | None
    ) -> tuple[Any, dict[str, Any], dict[str, Any], Period]:
        p = planning.parse_period(period)
        made, run, tables = planning.plan_from_store(
            conn, self.pack, seed=seed, period=p, as_of=AS_OF, regions=regions, item_codes=items, run_id=run_id
        )
        return made, run, tables, p

    def plan(
        self,
        seed: str = SEED,
        period: str = "2026",
        *,
        regions: list[str] | None = None,
        items: list[str] | None = None,
        actor: Identity = TESTER,
        reason: str | None = None,
        run_id: str | None = None,
    ) -> tuple[str, bool]:
        with self.engine.begin() as conn:
            made, run, tables, p = self.make(conn, seed, period, regions, items, run_id)
            return planning.save_plan(
                conn,
                made,
                run,
                pack=self.pack,
                tables=tables,
                seed=seed,
                regions=regions,
                items=items,
                period=p,
                as_of=AS_OF,
                created_at=self.now(),
                actor=actor,
                redraw_reason=reason,
            )

    def preview(
        self,
        seed: str = SEED,
        period: str = "2026",
        *,
        regions: list[str] | None = None,
        actor: Identity = TESTER,
        reason: str | None = None,
    ) -> tuple[chain.Entry, bool]:
        with self.engine.begin() as conn:
            made, run, tables, p = self.make(conn, seed, period, regions, None, None)
            return record.preview(
                conn,
                plan_digest=planning.plan_id_of(made)[2],
                scope=record.scope_of(regions, None, p),
                seed=seed,
                as_of=AS_OF,
                pack=self.pack,
                grade_run_id=run["id"],
                actor=actor,
                created_at=self.now(),
                reason=reason,
                frozen=record.frozen_tables(tables["subjects"], self.pack),
                pack_files_hash=record.save_pack(conn, self.pack)["files_hash"],
            )

    def commit(
        self,
        seed: str,
        period: str = "2026",
        *,
        regions: list[str] | None = None,
        items: list[str] | None = None,
        actor: Identity = TESTER,
        reason: str | None = None,
    ) -> tuple[chain.Entry, bool]:
        scope = record.scope_of(regions, items, planning.parse_period(period))
        with self.engine.begin() as conn:
            return record.commit_seed(
                conn, digest=sha(seed), scope=scope, actor=actor, created_at=self.now(), reason=reason
            )

    def entries(self, *kinds: str) -> list[chain.Entry]:
        with self.engine.connect() as conn:
            return chain.entries(conn, kinds=kinds or None)

    def entry(self, run_id: str) -> chain.Entry:
        with self.engine.connect() as conn:
            found = chain.find(conn, run_id)
        assert found is not None, run_id
        return found

    def state(self) -> tuple[Any, ...]:
        """Everything a refused draw must leave alone: the ledger head, the plans and the blobs."""
        with self.engine.connect() as conn:
            plans = conn.execute(sa.text("SELECT id, sha256 FROM plan ORDER BY id")).all()
            return chain.head(conn), tuple(plans), store.count_rows(conn, "blob")

    def region_codes(self) -> list[str]:
        """The 街镇 codes of the district's subjects, most populous first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT region, COUNT(*) AS n FROM subject GROUP BY region ORDER BY n DESC, region")
            ).all()
        return [r[0] for r in rows]


def _load(url: str) -> None:
    engine = store.open_store(url)
    try:
        load_demo(engine, get_profile("jiedong", 600), 3, AS_OF, now=dt.datetime(2026, 1, 1, 8, 0))
        with engine.begin() as conn:
            install_catalogue(conn, load_catalogue())
    finally:
        engine.dispose()


@pytest.fixture
def district(store_url: str, pack: Pack, store_copies: StoreCopies) -> Iterator[Store]:
    store_copies.fill(store_url, "jiedong 600 seed 3 (draw integrity)", lambda: _load(store_url))
    s = Store(store_url, pack)
    try:
        yield s
    finally:
        s.engine.dispose()


@pytest.fixture
def graded(district: Store) -> Store:
    district.grade()
    return district


# -- a committed plan is final ------------------------------------------------------------------------------------


def test_a_second_plan_without_a_reason_is_refused_and_names_the_committed_plan(graded: Store) -> None:
    first, new = graded.plan(SEED)
    assert new and first.startswith("P2026-")
    before = graded.state()
    with pytest.raises(InputError) as refused:
        graded.plan(OTHER)
    message = str(refused.value)
    assert message.startswith(
        f"plan {first} is already committed for 2026 (2026-01-01 – 2026-12-31), all regions, all items (2026-01-02 "
    )
    assert message.endswith(
        'by 测试员 tester); a further draw is a re-draw: add --redraw-reason "…" '
        "(supervisors only); see `suijian audit redraws`"
    )
    assert "\n" not in message
    assert graded.state() == before


def test_a_redraw_by_a_supervisor_with_a_reason_is_recorded_and_the_first_plan_is_untouched(graded: Store) -> None:
    first, _ = graded.plan(SEED)
    first_entry = graded.entry(first)
    with graded.engine.connect() as conn:
        first_row = conn.execute(sa.text("SELECT * FROM plan WHERE id = :id"), {"id": first}).mappings().one()
    second, new = graded.plan(OTHER, actor=BOSS, reason="名录库更正后重抽")
    assert new and second != first
    entry = graded.entry(second)
    assert entry.kind == "plan" and entry.actor == {"user": "王五 supervisor", "role": "supervisor"}
    assert entry.details["redraw"] is True and entry.details["redraw_of"] == [first]
    assert entry.details["reason"] == "名录库更正后重抽"
    assert entry.details["seed_sha256"] == sha(OTHER) and entry.details["seed_commitment"] is None
    assert graded.entry(first) == first_entry
    with graded.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT * FROM plan WHERE id = :id"), {"id": first}).mappings().one() == first_row
        assert record.superseded_by(conn, first) == [second]
    # A third draw re-draws both earlier ones.
    third, _ = graded.plan(THIRD, actor=BOSS, reason="再次更正")
    assert graded.entry(third).details["redraw_of"] == [first, second]


def test_an_inspector_may_not_plan_or_redraw(graded: Store) -> None:
    before = graded.state()
    with pytest.raises(Forbidden, match=r"^李四 inspector \(inspector\) may not plan: needs supervisor "):
        graded.plan(SEED, actor=INSPECTOR)  # committing a plan is a supervisor's act
    assert graded.state() == before
    graded.plan(SEED)
    before = graded.state()
    with pytest.raises(Forbidden, match=r"^李四 inspector \(inspector\) may not plan: needs supervisor "):
        graded.plan(OTHER, actor=INSPECTOR, reason="我想重抽")
    assert graded.state() == before


def test_a_reason_without_a_committed_plan_is_refused(graded: Store) -> None:
    with pytest.raises(
        InputError, match="^nothing to re-draw: no plan is committed for 2026 .*; drop --redraw-reason$"
    ):
        graded.plan(SEED, reason="为什么")
    assert graded.entries("plan") == []


def test_the_identical_plan_again_is_not_a_new_entry(graded: Store) -> None:
    first, new = graded.plan(SEED)
    head = graded.state()
    again, new_again = graded.plan(SEED, actor=BOSS)  # even by someone else, even with a fresh grade run
    assert (again, new, new_again) == (first, True, False)
    assert graded.state() == head
    graded.grade()
    assert graded.plan(SEED) == (first, False)
    assert [e.run_id for e in graded.entries("plan")] == [first]


def test_a_plan_id_taken_by_a_different_plan_is_refused(graded: Store) -> None:
    first, _ = graded.plan(SEED)
    with graded.engine.begin() as conn:  # what a 40-bit id collision would look like
        conn.execute(sa.text("UPDATE plan SET sha256 = :h WHERE id = :id"), {"h": "f" * 64, "id": first})
    with pytest.raises(InputError, match=f"^plan id {first} is taken by a different plan"):
        graded.plan(SEED)


# -- scopes ---------------------------------------------------------------------------------------------------------


def scope(regions: list[str] | None = None, items: list[str] | None = None, period: str = "2026") -> dict[str, Any]:
    return record.scope_of(regions, items, planning.parse_period(period))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (scope(["445203"]), scope(["445203101"]), True),  # a county and one of its 街镇
        (scope(["445200"]), scope(["445203"]), True),  # a city and one of its counties
        (scope(["440000"]), scope(["445203101"]), True),  # the province covers everything in it
        (scope(["445203101"]), scope(["445203102"]), False),  # two 街镇
        (scope(["445203"]), scope(["445202"]), False),  # two counties
        (scope(["445202", "445203101"]), scope(["445203"]), True),  # any pair overlapping is enough
        (scope(None), scope(["445203101"]), True),  # "*" covers every region
        (scope(), scope(period="2026Q3"), True),  # a year and a quarter of it
        (scope(period="2026Q1"), scope(period="2026Q2"), False),  # 03-31 and 04-01: no common day
        (scope(period="第一批:2026-03-01:2026-05-31"), scope(period="2026Q2"), True),  # a batch across quarters
        (scope(period="第一批:2026-03-01:2026-05-31"), scope(period="第二批:2026-06-01:2026-08-31"), False),
        (scope(period="2025"), scope(period="2026"), False),
        (scope(period="跨年:2025-12-01:2026-01-31"), scope(period="2026Q1"), True),
        (scope(items=["SP-XS-01"]), scope(items=["TS-SY-01"]), False),  # disjoint item sets
        (scope(items=["SP-XS-01", "TS-SY-01"]), scope(items=["TS-SY-01", "YL-SC-01"]), True),
        (scope(items=None), scope(items=["YL-SC-01"]), True),  # "*" covers every item
        (scope(["445203101"], ["SP-XS-01"], "2026Q1"), scope(None, None, "2026"), True),
        (scope(["445203"], ["SP-XS-01"], "2026"), scope(["445202"], ["SP-XS-01"], "2026"), False),
    ],
)
def test_overlap(a: dict[str, Any], b: dict[str, Any], expected: bool) -> None:
    assert record.overlaps(a, b) is expected and record.overlaps(b, a) is expected


def test_a_scope_does_not_depend_on_spelling_order_or_repetition() -> None:
    assert scope([" 445203101", "445202", "445203101 "]) == scope(["445202", "445203101"])
    assert scope(items=["TS-SY-01", "SP-XS-01", "TS-SY-01"]) == scope(items=["SP-XS-01", "TS-SY-01"])
    assert scope(["", " "]) == scope(None)
    year, batch = scope(period="2026"), scope(period="全年:2026-01-01:2026-12-31")
    assert record.same_scope(year, batch) and year != batch  # the label is only a name
    with pytest.raises(InputError, match="^period label '.{29}' is too long \\(29 characters\\): use at most 28$"):
        scope(period="a" * 29 + ":2026-01-01:2026-01-31")


def test_overlapping_scopes_in_the_store(graded: Store) -> None:
    township = graded.region_codes()[0]
    county = township[:6]
    graded.plan(SEED, "2026Q1", regions=[county])
    with pytest.raises(InputError, match=f"^plan P2026Q1-\\w+ is already committed for 2026Q1 .*regions {county}"):
        graded.plan(SEED, "2026Q1", regions=[township])  # a 街镇 of the county: the same subjects
    with pytest.raises(InputError, match="already committed"):
        graded.plan(SEED, "2026")  # the year contains the quarter
    with pytest.raises(InputError, match="already committed"):
        graded.plan(SEED, "第一批:2026-03-01:2026-05-31", regions=[county])  # shares March
    q2, new = graded.plan(SEED, "2026Q2", regions=[county])  # no common day
    assert new and q2.startswith("P2026Q2-")
    # Disjoint item sets in the same scope and days are separate draws.
    q3a, _ = graded.plan(SEED, "2026Q3", items=["SP-XS-01"])
    q3b, new = graded.plan(SEED, "2026Q3", items=["TS-SY-01"])
    assert new and q3a != q3b
    with pytest.raises(InputError, match=f"^plan {q3b} is already committed"):
        graded.plan(OTHER, "2026Q3", items=["TS-SY-01", "YL-SC-01"])  # shares TS-SY-01


# -- seed commitment ------------------------------------------------------------------------------------------------


def test_commit_grade_plan_with_the_committed_seed(district: Store) -> None:
    commitment, new = district.commit(SEED)
    assert new and commitment.kind == "commit" and commitment.run_id.startswith(f"C2026-{sha(SEED)[:10]}-")
    assert commitment.details == {"scope": scope(), "seed_sha256": sha(SEED)}
    assert commitment.actor == {"user": "测试员 tester", "role": "supervisor"}
    assert district.commit(SEED) == (commitment, False)  # the same commitment again: nothing new
    run = district.grade()
    plan_id, new = district.plan(SEED)
    assert new
    details = district.entry(plan_id).details
    assert details["seed_commitment"] == commitment.run_id and details["grade_run"] == run
    # Revealed: the scope is free of commitments again, and committed.
    with pytest.raises(InputError, match="already committed"):
        district.plan(OTHER)


def test_a_wrong_seed_is_refused(district: Store) -> None:
    commitment, _ = district.commit(SEED)
    district.grade()
    before = district.state()
    with pytest.raises(InputError) as refused:
        district.plan(OTHER)
    assert str(refused.value) == (
        f"the seed does not match seed commitment {commitment.run_id} (sha256 {sha(SEED)[:16]}…, made "
        f"{commitment.created_at:%Y-%m-%d %H:%M} by 测试员 tester); give the committed seed"
    )
    assert district.state() == before


def test_a_grade_run_made_before_the_commitment_is_refused(district: Store) -> None:
    early = district.grade()
    commitment, _ = district.commit(SEED)
    before = district.state()
    message = (
        f"grade run {early} was made before seed commitment {commitment.run_id}: the population must be "
        "frozen after the seed is committed; run `suijian grade` again and plan from the new run"
    )
    with pytest.raises(InputError) as refused:
        district.plan(SEED)  # the newest run is the early one
    assert str(refused.value) == message
    late = district.grade()
    with pytest.raises(InputError) as refused:
        district.plan(SEED, run_id=early)  # pointing back at the early run
    assert str(refused.value) == message
    assert district.state()[1:] == before[1:]
    plan_id, _ = district.plan(SEED, run_id=late)
    assert district.entry(plan_id).details["grade_run"] == late


def test_data_changed_after_the_freezing_grade_run_is_refused(district: Store) -> None:
    district.commit(SEED)
    run = district.grade()
    with district.engine.begin() as conn:  # e.g. a favoured subject "cancelled" once the seed is known
        uscc = conn.execute(sa.text("SELECT uscc FROM subject WHERE status = 'active' ORDER BY uscc")).scalar()
        conn.execute(sa.text("UPDATE subject SET status = 'cancelled' WHERE uscc = :u"), {"u": uscc})
    with pytest.raises(
        InputError,
        match=f"^the store changed after grade run {run} froze the population for seed "
        r"commitment C2026-.* \(features, status, whitelist or regions\): restore it",
    ):
        district.plan(SEED)
    # Regression: grading again until the favoured subject is out was allowed; the first run after the
    # commitment is the frozen population.
    district.grade()
    with pytest.raises(
        InputError,
        match=f"^seed commitment C2026-.* froze the population with grade run {run}, "
        "the first made after it: draw from that run",
    ):
        district.plan(SEED)


def test_a_region_moved_after_the_freezing_grade_run_is_refused(district: Store) -> None:
    # Regression: the freeze compared only the pack's features; a drawn subject moved to another township
    # left the jurisdiction unnoticed.
    district.commit(SEED)
    run = district.grade()
    with district.engine.begin() as conn:
        uscc, region = conn.execute(sa.text("SELECT uscc, region FROM subject ORDER BY uscc")).first()
        other = conn.execute(
            sa.text("SELECT code FROM region WHERE code <> :r AND length(code) = length(:r) ORDER BY code"),
            {"r": region},
        ).scalar()
        conn.execute(sa.text("UPDATE subject SET region = :o WHERE uscc = :u"), {"o": other, "u": uscc})
    with pytest.raises(InputError, match=f"^the store changed after grade run {run} froze the population"):
        district.plan(SEED)


def test_a_policy_changed_after_the_commitment_is_refused(district: Store, tmp_path: Path) -> None:
    # Regression: plan_from_store matched the grade run by the semantic pack hash, which left policy.yaml out.
    # Under suijian-pack-2 that hash covers the policy, so a changed policy is refused by it; a change to the
    # pack's files that the hash leaves out (a comment) is still refused by the commitment's files check.
    district.commit(SEED)
    run = district.grade()
    graded = district.pack
    changed = tmp_path / "national"
    shutil.copytree(Path(district.pack.directory), changed)
    policy = changed / "policy.yaml"
    original = policy.read_text(encoding="utf-8")
    policy.write_text(original.replace("general_cap: 5%", "general_cap: 4%"), encoding="utf-8")
    district.pack = load_pack(changed)
    with pytest.raises(InputError, match=rf"^grade run {run} used pack national .* \({graded.hash[:12]}\), not "):
        district.plan(SEED)
    policy.write_text("# 只改注释\n" + original, encoding="utf-8")
    district.pack = load_pack(changed)
    assert district.pack.hash == graded.hash
    with pytest.raises(InputError, match=f"^the rule pack's files are not those grade run {run} used"):
        district.plan(SEED)


def test_a_commitment_binds_exactly_its_scope(district: Store) -> None:
    commitment, _ = district.commit(SEED)
    district.grade()
    with pytest.raises(InputError) as refused:
        district.plan(SEED, "2026Q1")  # inside the committed year: would leave the rest of the year unbound
    assert str(refused.value) == (
        f"seed commitment {commitment.run_id} binds 2026 (2026-01-01 – 2026-12-31), all regions, all items: draw "
        "exactly that scope (--period 2026), or replace the commitment with --commit-seed"
    )
    # A commitment for other days does not bind this draw.
    district.commit(OTHER, "2027")
    assert district.plan(SEED)[1]


def test_a_second_pending_commitment_needs_a_reason_and_replaces_the_first(district: Store) -> None:
    first, _ = district.commit(SEED)
    before = district.state()
    with pytest.raises(InputError) as refused:
        district.commit(OTHER, "2026Q2")  # overlapping: the year's commitment is still unrevealed
    assert str(refused.value) == (
        f"seed commitment {first.run_id} for 2026 (2026-01-01 – 2026-12-31), all regions, all items is not revealed "
        'yet; replacing it is recorded as a re-draw: add --redraw-reason "…"'
    )
    assert district.state() == before
    with pytest.raises(Forbidden, match="may not commit-seed: needs supervisor"):
        district.commit(OTHER, actor=INSPECTOR, reason="换种子")
    second, new = district.commit(OTHER, actor=BOSS, reason="种子泄露，更换")
    assert new and second.details == {
        "scope": scope(),
        "seed_sha256": sha(OTHER),
        "replaces": first.run_id,
        "reason": "种子泄露，更换",
        "redraw": True,
    }
    assert second.actor == {"user": "王五 supervisor", "role": "supervisor"}
    district.grade()
    with pytest.raises(InputError, match=f"does not match seed commitment {second.run_id}"):
        district.plan(SEED)  # the replaced seed no longer opens the draw
    plan_id, _ = district.plan(OTHER)
    assert district.entry(plan_id).details["seed_commitment"] == second.run_id
    with pytest.raises(InputError, match="^no unrevealed seed commitment for 2027 .* to replace; drop --redraw-reason"):
        district.commit(THIRD, "2027", reason="无")


def test_disjoint_pending_commitments_cannot_be_spanned(district: Store) -> None:
    q1, _ = district.commit(SEED, "2026Q1")
    q2, _ = district.commit(OTHER, "2026Q2")
    with pytest.raises(InputError, match=f"overlaps 2 unrevealed seed commitments \\({q1.run_id}, {q2.run_id}\\)"):
        district.commit(THIRD, "2026", reason="合并")
    district.grade()
    with pytest.raises(InputError, match=f"^seed commitment {q1.run_id} binds 2026Q1"):
        district.plan(SEED, "2026")


def test_a_redraw_of_a_committed_seed_plan_needs_a_new_commitment(district: Store) -> None:
    district.commit(SEED)
    district.grade()
    first, _ = district.plan(SEED)
    with pytest.raises(InputError) as refused:
        district.plan(OTHER, reason="更正")
    assert str(refused.value) == (
        f"plan {first} was drawn from a committed seed, so a re-draw must be too: commit the new seed first "
        "(suijian plan --period 2026 --commit-seed SHA256), grade again, then draw"
    )
    second_commitment, _ = district.commit(OTHER)  # nothing pending: a plain commitment
    district.grade()
    second, _ = district.plan(OTHER, reason="更正")
    details = district.entry(second).details
    assert details["redraw_of"] == [first] and details["seed_commitment"] == second_commitment.run_id


# -- partial grade runs ------------------------------------------------------------------------------------------------


def test_a_partial_grade_run_is_no_population(district: Store) -> None:
    full = district.grade()
    with district.engine.connect() as conn:
        one = conn.execute(sa.text("SELECT uscc FROM subject ORDER BY uscc")).scalar()
    partial = district.grade(usccs=[one])
    plan_id, _ = district.plan(SEED)  # the newest run is partial: the newest full one is used
    assert district.entry(plan_id).details["grade_run"] == full
    with pytest.raises(InputError) as refused:
        district.plan(OTHER, "2027", run_id=partial)
    assert str(refused.value) == (
        f"grade run {partial} graded only 1 selected subject(s), not the population; grade every subject "
        "(`suijian grade --as-of 2025-12-31`) and plan from that run"
    )


# -- previews ---------------------------------------------------------------------------------------------------------


def test_a_preview_is_recorded_and_inspectors_cannot_preview(graded: Store) -> None:
    before = graded.state()
    with pytest.raises(Forbidden, match=r"^李四 inspector \(inspector\) may not preview: needs supervisor"):
        graded.preview(SEED, actor=INSPECTOR)
    assert graded.state() == before
    seen, new = graded.preview(SEED)
    assert new and seen.kind == "preview" and seen.get("seed") == SEED
    assert seen.actor == {"user": "测试员 tester", "role": "supervisor"}
    assert seen.details["seed_sha256"] == sha(SEED) and seen.details["scope"] == scope()
    assert graded.preview(SEED) == (seen, False)  # the same viewer, the same draw
    other_viewer, new = graded.preview(SEED, actor=BOSS)
    assert new and other_viewer.run_id != seen.run_id  # every viewer is on record
    graded.preview(OTHER)
    assert graded.entries("plan") == []  # previews commit nothing
    plan_id, _ = graded.plan(SEED)
    entry = graded.entry(plan_id)
    assert entry.get("outputs_hash") == seen.get("outputs_hash")  # the preview showed exactly this plan
    assert len(entry.details["previews"]) == 3 and entry.details["other_seeds_previewed"] == 1
    with pytest.raises(InputError, match=f"^this draw is plan {plan_id}, already committed: nothing to preview"):
        graded.preview(SEED)
    with pytest.raises(InputError, match="previewing a new draw prepares a re-draw: add --redraw-reason"):
        graded.preview(THIRD)
    shown, _ = graded.preview(THIRD, reason="核对重抽")
    assert shown.details["redraw_of"] == [plan_id] and shown.details["reason"] == "核对重抽"


def test_a_preview_cannot_try_seeds_against_a_commitment(district: Store) -> None:
    early = district.grade()
    commitment, _ = district.commit(SEED)
    with pytest.raises(InputError, match=f"^grade run {early} was made before seed commitment"):
        district.preview(SEED)
    district.grade()
    with pytest.raises(InputError, match=f"^the seed does not match seed commitment {commitment.run_id}"):
        district.preview(OTHER)
    seen, _ = district.preview(SEED)
    assert seen.details["seed_commitment"] == commitment.run_id
    assert [e.kind for e in district.entries()] == ["grade", "commit", "grade", "preview"]


# -- through the CLI ----------------------------------------------------------------------------------------------------


def test_bad_commit_seed_is_one_line_and_writes_nothing(district: Store) -> None:
    before = district.state()
    for bad in ("abc", "g" * 64, sha(SEED)[:63], sha(SEED) + "0"):
        code, out, err = run("plan", "--period", "2026", "--commit-seed", bad, "--db", district.url)
        assert (code, out) == (1, "")
        assert err == (
            f"Error: --commit-seed {bad!r} is not a SHA-256 (64 hex digits); compute it with "
            "`printf %s SEED | sha256sum`\n"
        )
    code, _, err = run(
        "plan", "--period", "2026", "--commit-seed", sha(SEED), "--region", "445299", "--db", district.url
    )
    assert (code, err) == (1, "Error: unknown region 445299 (not in the region table); check the GB/T 2260 code\n")
    code, _, err = run("plan", "--period", "2026", "--commit-seed", sha(SEED), "--seed", SEED, "--db", district.url)
    assert code == 2 and err.splitlines()[-1] == (
        "Error: --commit-seed records a commitment only; give --seed (and --run) later, when you draw"
    )
    assert district.state() == before


def test_commit_grade_plan_through_the_cli(district: Store) -> None:
    db = ("--db", district.url)
    code, out, err = run("plan", "--period", "2026Q1", "--commit-seed", sha(SEED).upper(), "--json", *db)
    assert code == 0, err
    commitment = json.loads(out)
    assert commitment["new"] and commitment["seed_sha256"] == sha(SEED)
    early = district.entries("grade")
    assert early == []
    code, out, _ = run("grade", "--as-of", "2025-12-31", "--json", *db)
    assert code == 0
    run_id = json.loads(out)["run_id"]
    # A wrong seed, and an old run: refused with one line; with --json stdout holds only the failure envelope (no
    # draw is shown before it is committed).
    code, out, err = run("plan", "--as-of", "2025-12-31", "--period", "2026Q1", "--seed", OTHER, "--json", *db)
    failure = json.loads(out)
    assert (code, err, set(failure), failure["error"]["code"]) == (1, "", {"ok", "error"}, "input")
    assert failure["error"]["message"].startswith(f"the seed does not match seed commitment {commitment['commitment']}")
    code, out, err = run("plan", "--as-of", "2025-12-31", "--period", "2026Q1", "--seed", SEED, "--json", *db)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["new"] and doc["grade_run"] == run_id
    assert district.entry(doc["plan_id"]).details["seed_commitment"] == commitment["commitment"]


def test_an_old_run_given_with_run_is_refused_through_the_cli(district: Store) -> None:
    db = ("--db", district.url)
    old = district.grade()
    code, _, err = run("plan", "--period", "2026", "--commit-seed", sha(SEED), *db)
    assert code == 0, err
    district.grade()
    code, out, err = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--run", old, *db)
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: grade run {old} was made before seed commitment C2026-") and err.count("\n") == 1
    assert district.entries("plan") == []


def test_the_cli_names_the_redraw_of_an_identical_superseded_plan(graded: Store) -> None:
    db = ("--db", graded.url)
    base = ("plan", "--as-of", "2025-12-31", "--period", "2026", "--json", *db)
    first = json.loads(run(*base, "--seed", SEED)[1])["plan_id"]
    code, out, err = run(*base, "--seed", OTHER)
    failure = json.loads(out)  # --json: the refusal is the failure envelope, nothing of the draw
    assert (code, err, set(failure)) == (1, "", {"ok", "error"})
    assert failure["error"]["message"].startswith(f"plan {first} is already committed")
    code, out, err = run(*base, "--seed", OTHER, "--redraw-reason", "更正")
    assert code == 0, err
    second = json.loads(out)["plan_id"]
    doc = json.loads(run(*base, "--seed", SEED)[1])
    assert (doc["plan_id"], doc["new"], doc["superseded_by"]) == (first, False, [second])
    code, out, _ = run("plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, *db)
    assert code == 0 and f"Plan {first} was re-drawn as {second}; see `suijian audit redraws`." in out


def test_a_redraw_without_a_reason_is_refused_before_anything_is_computed(
    graded: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At city scale the plan takes minutes to compute: the refusal check_draw would give at the commit comes first.
    from engine import plan_commit

    base = ("plan", "--as-of", "2025-12-31", "--period", "2026", "--db", graded.url)
    first = json.loads(run(*base, "--seed", SEED, "--json")[1])["plan_id"]
    before = graded.state()
    computed: list[str] = []
    real = plan_commit.compute
    monkeypatch.setattr(plan_commit, "compute", lambda *a, **k: computed.append(k["seed"]) or real(*a, **k))
    code, out, err = run(*base, "--seed", OTHER)
    assert (code, out, computed) == (1, "", [])
    assert err.startswith(f"Error: plan {first} is already committed for 2026 (2026-01-01 – 2026-12-31), all regions")
    assert err.endswith(
        'a further draw is a re-draw: add --redraw-reason "…" (supervisors only); see `suijian audit redraws`\n'
    )
    assert graded.state() == before
    # The same seed again may be the same plan (not a re-draw): it is computed, and found committed already.
    code, out, err = run(*base, "--seed", SEED, "--json")
    assert code == 0, err
    assert (json.loads(out)["plan_id"], json.loads(out)["new"], computed) == (first, False, [SEED])
    assert graded.state() == before


def test_an_inspector_is_refused_a_redraw_before_anything_is_computed(
    graded: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUIJIAN_ROLE", "inspector")
    before = graded.state()
    code, out, err = run(
        "plan",
        "--as-of",
        "2025-12-31",
        "--period",
        "2026",
        "--seed",
        SEED,
        "--redraw-reason",
        "想换",
        "--db",
        graded.url,
    )
    assert (code, out) == (1, "")
    assert err == (
        "Error: 测试员 tester (inspector) may not plan: needs supervisor (drawing a plan binds the year's "
        "inspections; it is a supervisor's act)\n"
    )
    code, out, err = run(
        "plan", "--as-of", "2025-12-31", "--period", "2026", "--seed", SEED, "--preview", "--db", graded.url
    )
    assert (code, out) == (1, "") and "may not preview: needs supervisor" in err
    assert graded.state() == before
