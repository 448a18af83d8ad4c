"""The subjects' ticket keys hashed by a child process while the planner makes its cells (engine.tickets_ahead):
the keys engine.sampling gives, looked up for any members in any order; another seed, a subject the child was not
given or a child that failed leaves the hashing to the planner; and the plan is the same either way."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from engine import planning, tickets_ahead
from engine.sampling import ticket_keys
from tests.engine.plan import world

SEED = "27182818284590452353"


def _usccs(n: int) -> list[str]:
    return sorted(f"9144{i:014d}" for i in range(n))


def test_the_childs_keys_are_the_samplers_for_any_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tickets_ahead, "AHEAD_ROWS", 0)
    monkeypatch.setattr(tickets_ahead, "_ROWS", 700)  # several batches in the child
    usccs = _usccs(2500)
    members = random.Random(3).choices(usccs, k=4000)  # a subject in several cells, in cell order
    ahead = tickets_ahead.start(SEED, pl.Series(usccs))
    assert ahead is not None
    found = ahead.keys(SEED, pl.Series(members))
    assert found is not None and found.dtype == pl.UInt64
    assert np.array_equal(found.to_numpy(), ticket_keys(SEED, members))


def test_what_the_child_cannot_answer_is_left_to_the_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tickets_ahead, "AHEAD_ROWS", 0)
    usccs = _usccs(300)
    assert tickets_ahead.start(SEED, pl.Series(usccs[:1])) is not None
    monkeypatch.setattr(tickets_ahead, "AHEAD_ROWS", 2)
    assert tickets_ahead.start(SEED, pl.Series(usccs[:1])) is None  # too few to pay for a process
    monkeypatch.setattr(tickets_ahead, "AHEAD_ROWS", 0)
    other_seed = tickets_ahead.start(SEED, pl.Series(usccs))
    assert other_seed is not None and other_seed.keys(SEED + "1", pl.Series(usccs)) is None
    not_given = tickets_ahead.start(SEED, pl.Series(usccs[:-1]))
    assert not_given is not None and not_given.keys(SEED, pl.Series(usccs)) is None
    killed = tickets_ahead.start(SEED, pl.Series(usccs))
    assert killed is not None
    killed._proc.kill()
    assert killed.keys(SEED, pl.Series(usccs)) is None


def test_the_plan_is_the_same_with_keys_hashed_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = world.subjects(900)
    asked: list[int] = []
    real = tickets_ahead.TicketsAhead.keys

    def keys(self: tickets_ahead.TicketsAhead, seed: str, usccs: pl.Series) -> pl.Series | None:
        found = real(self, seed, usccs)
        asked.append(0 if found is None else len(found))
        return found

    monkeypatch.setattr(tickets_ahead.TicketsAhead, "keys", keys)
    monkeypatch.setattr(tickets_ahead, "AHEAD_ROWS", 0)
    ahead = world.plan(frame, fitted=True)
    assert asked and asked[0] > 0
    monkeypatch.setattr(tickets_ahead, "AHEAD_ROWS", 10**9)
    here = world.plan(frame, fitted=True)
    assert len(asked) == 1
    assert planning.plan_document(ahead) == planning.plan_document(here)
