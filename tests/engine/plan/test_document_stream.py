"""The plan document written a batch of visits at a time (`Plan.json_pieces`, `planning.plan_document`) is the very
text `Plan.to_json()` gives, so plan ids, outputs hashes and stored bytes are what they were (suijian.plan/1 and /2)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import planning
from engine.ledger import canonical
from engine.plan.model import PLAN_FORMAT, PLAN_FORMAT_FITTED
from entities.errors import UnknownScheme
from tests.engine.plan import world


@pytest.mark.parametrize("fitted", [False, True])
def test_the_streamed_document_is_the_whole_text(fitted: bool) -> None:
    plan = world.plan(world.subjects(600), fitted=fitted)
    assert plan.format == (PLAN_FORMAT_FITTED if fitted else PLAN_FORMAT)
    assert len(plan.visits) > 10
    text = plan.to_json()
    assert "".join(plan.json_pieces()) == text
    document = planning.plan_document(plan, plan.document_scheme)  # plan/1 or /2, as such a plan is replayed
    plan_id, _, digest = planning.plan_id_of(plan)
    stored = planning.plan_document(plan)  # how a new plan is stored: a fitted one as plan/3
    assert (stored.id, stored.sha256) == (plan_id, digest)
    assert stored.scheme == (canonical.PLAN3 if fitted else canonical.PLAN)
    assert (stored == document) is not fitted
    assert document.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert document.compressed == zlib.compress(text.encode("utf-8"), 6)  # the stored bytes too


def test_a_plan_without_visits_streams_an_empty_list() -> None:
    plan = dataclasses.replace(world.plan(world.subjects(60)), visits=())
    assert "".join(plan.json_pieces()) == plan.to_json()
    assert json.loads(plan.to_json())["visit_list"] == []


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    head=st.dictionaries(st.text(max_size=4).filter(lambda k: k != "visit_list"), values, max_size=5),
    listed=st.lists(values, max_size=7),
    batch=st.integers(1, 4),
)
def test_pieces_join_to_plan_text(head: dict[str, object], listed: list[object], batch: int) -> None:
    pieces = canonical.plan_text_pieces(head, "visit_list", iter(listed), canonical.PLAN2, batch=batch)
    assert "".join(pieces) == canonical.plan_text({**head, "visit_list": listed}, canonical.PLAN2)


def test_pieces_refuse_what_plan_text_refuses() -> None:
    with pytest.raises(UnknownScheme):
        list(canonical.plan_text_pieces({}, "visit_list", [], canonical.SNAPSHOT))
    with pytest.raises(ValueError, match="both in the head"):
        list(canonical.plan_text_pieces({"visit_list": 1}, "visit_list", [], canonical.PLAN))
    with pytest.raises(ValueError):  # NaN is no JSON, in a streamed value as in the whole text
        list(canonical.plan_text_pieces({}, "visit_list", [float("nan")], canonical.PLAN))


def test_a_plans_stored_copy_and_its_figures_are_made_once_and_never_shared_out() -> None:
    """A commit makes its document's head from the stored copy's summary, then shows that copy's summary: the same
    copy, its figures worked out once, yet every caller gets a summary of its own to change."""
    plan = world.plan(world.subjects(600), fitted=True)
    stored = planning.as_stored(plan)
    assert planning.as_stored(plan) is stored and stored.columnar
    assert stored == dataclasses.replace(plan, format=stored.format)
    first = stored.summary()
    fresh = dataclasses.replace(stored).summary()  # an equal plan with nothing worked out yet
    assert first == fresh
    first["visits"]["planned"] = -1
    first["repeat_visits"].clear()
    assert stored.summary() == fresh
