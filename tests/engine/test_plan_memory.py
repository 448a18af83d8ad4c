"""The plan's peak memory (issue 15): plan_from_store hands its subjects frame to the planner (kept as Parquet bytes
for the snapshot meanwhile), the planner drops what its later steps do not read. The plan, the snapshot tables and their
hashes are those of the frame passed as it was."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa

from engine import planning
from engine.ledger import canonical, record
from engine.plan import make_plan
from engine.plan.fitted import Handover, plan_cells, taken
from engine.plan.frames import check_history, check_subjects
from engine.plan.select import History, eligibility, mandatory_rows
from engine.rules import load_pack
from tests.engine.test_plan_read import AS_OF, SEED, graded  # noqa: F401  (graded is a fixture)
from tests.engine.test_replay import RULES


def test_handover_gives_its_frame_once() -> None:
    frame = pl.DataFrame({"uscc": ["a"]})
    handed = Handover(frame)
    assert taken(handed) is frame
    with pytest.raises(RuntimeError):
        handed.take()
    assert taken(frame) is frame  # a plain frame is itself


def test_plan_from_store_hands_over_and_keeps_the_snapshot(graded: sa.Engine) -> None:  # noqa: F811  (the fixture imported above)
    """The plan and the snapshot tables (values, types, hashes, stored bytes) are those of the subjects passed as a plain
    frame, as before the hand-over; the frame read back for the snapshot is the one the planner was given."""
    pack = load_pack(RULES / "national")
    period = planning.parse_period("2026")
    with graded.connect() as conn:
        plan, run, tables = planning.plan_from_store(conn, pack, seed=SEED, period=period, as_of=AS_OF, regions=None)
        subjects = planning.subjects_for_plan(conn, run["id"], AS_OF, pack)
        inspectors, conflicts = planning.roster(conn)
        past = planning.history(conn, AS_OF)
        before = make_plan(
            subjects,
            planning.check_items(conn),
            planning.policy_for(pack, None),
            inspectors,
            conflicts,
            past,
            seed=SEED,
            period=period,
            as_of=AS_OF,
            fitted=True,
            units=planning.org_units(conn),
            calendar=planning.work_calendar(),
        )
    assert planning.plan_document(plan).id == planning.plan_document(before).id
    snapshot = tables["subjects"]
    assert isinstance(snapshot, canonical.ParquetFrame)  # kept as Parquet bytes through the plan, not read back
    expected = record.plan_tables(subjects, [], [], [], past)["subjects"]
    assert isinstance(expected, pl.DataFrame)
    assert snapshot.whole().schema == expected.schema
    assert snapshot.whole().equals(expected)
    assert canonical.pack_tables({"s": snapshot}) == canonical.pack_tables({"s": expected})  # the stored blob
    for scheme in (canonical.SNAPSHOT, canonical.SNAPSHOT2):
        assert canonical.content_hash({"s": snapshot}, scheme) == canonical.content_hash({"s": expected}, scheme)
    # What a draw from a committed seed checks against the grade run's freeze: the same from the Parquet bytes
    # (its columns read only when hashed) as from the frame, under every scheme a grade run may have used.
    frozen, frozen_expected = record.frozen_tables(snapshot, pack), record.frozen_tables(expected, pack)
    assert sorted(frozen) == sorted(frozen_expected) == ["features", "regions"]
    for scheme in (canonical.SNAPSHOT, canonical.SNAPSHOT2, canonical.SNAPSHOT3):
        assert canonical.content_hash(frozen, scheme) == canonical.content_hash(frozen_expected, scheme)


def test_cells_keep_the_eligible_counts_not_the_frames(graded: sa.Engine) -> None:  # noqa: F811  (the fixture imported above)
    """plan_cells empties each item's eligible frame once `wide` holds its strata; the counts it keeps are the
    frames' heights (what the plan publishes as `eligible`), and the strata, population and exclusions are kept."""
    pack = load_pack(RULES / "national")
    with graded.connect() as conn:
        run = planning.grade_run(conn, None, AS_OF)
        subjects = planning.subjects_for_plan(conn, run["id"], AS_OF, pack)
        items = planning.check_items(conn)
        past = planning.history(conn, AS_OF)
    policy = planning.policy_for(pack, None)
    frame = check_subjects(
        subjects, need_status=bool(policy.excluded_statuses), need_whitelist=policy.whitelist != "none"
    ).sort("uscc")
    hist_frame = check_history(past, AS_OF)
    by_code = {i.code: i for i in items}
    period = planning.parse_period("2026")
    cells = plan_cells(frame, by_code, policy, hist_frame, mandatory_rows(frame), start=period.start, period=period)
    hist = History.of(hist_frame, period.start.year)
    domains = {c: i.domain for c, i in by_code.items()}
    assert sum(cells.eligible.values()) > 0
    for code, item in by_code.items():
        full = eligibility(item, frame, policy, hist, domains, start=period.start)
        kept = cells.eligibilities[code]
        assert kept.eligible.height == 0 and kept.eligible.schema == full.eligible.schema
        assert cells.eligible[code] == full.eligible.height
        assert (kept.population, kept.exclusions, kept.strata, kept.strata_by) == (
            full.population,
            full.exclusions,
            full.strata,
            full.strata_by,
        )


def test_the_planner_gets_the_columns_it_reads_and_no_others(graded: sa.Engine) -> None:  # noqa: F811  (the fixture imported above)
    """plan_from_store gives make_plan only the subjects' columns it reads (the snapshot keeps them all): the
    planning columns, every item's target features, the strata's sector grades and the frequencies; a feature no
    item reads is left out. The plan is the same as from the whole frame (the test above)."""
    pack = load_pack(RULES / "national")
    with graded.connect() as conn:
        run = planning.grade_run(conn, None, AS_OF)
        subjects = planning.subjects_for_plan(conn, run["id"], AS_OF, pack)
        items = planning.check_items(conn)
    policy = planning.policy_for(pack, None)
    kept = planning.planner_columns(subjects.columns, items, policy)
    assert kept == [c for c in subjects.columns if c in kept]  # the frame's order
    targets = {f for i in items for f in i.target}
    grades = {c for i in items for c in [policy.item(i.code).grade_column, *policy.item(i.code).grade_columns] if c}
    assert targets and grades
    planning_columns = {"uscc", "region", "credit_class", "status", "whitelist", "mandatory", "mandatory_reason"}
    assert planning_columns | {"risk"} <= set(kept)
    assert targets | grades | set(policy.frequencies.values()) <= set(kept)
    left_out = set(subjects.columns) - set(kept)
    assert {"food_static_score", "penalties_3y", "complaints_12m"} <= left_out  # read by the rules, not the planner
    assert not left_out & (targets | grades)
    # One item's draw reads only that item's target (and the planning columns).
    food = next(i for i in items if "food_licence_kind" in i.target)
    only = planning.planner_columns(subjects.columns, [food], planning.policy_for(pack, [food.code]))
    assert "food_licence_kind" in only and "equipment_count" not in only
