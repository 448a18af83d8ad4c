"""The fast constructors (`fitted._visit`, `dates._to_schedule`) build the same values as the dataclass constructors."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from engine.plan.fitted import _visit
from engine.plan.model import Visit, VisitItem


def test_visit_without_the_constructor_is_the_same_value() -> None:
    values = {
        "id": "91440101MA5AAAAAA1#2",
        "uscc": "91440101MA5AAAAAA1",
        "region": "440111001",
        "items": (VisitItem("A1", drawn=True, mandatory=False, stratum="c1"),),
        "team": ("I1", "I2", "E1"),
        "lead": "I1",
        "experts": ("E1",),
        "due_from": dt.date(2026, 1, 1),
        "due_to": dt.date(2026, 12, 31),
        "priority": 7,
        "risk": 0.25,
        "previous_leads": ("I3",),
        "lead_repeats": False,
        "scheduled_on": None,
        "due_on": None,
        "index": 2,
        "count": 3,
    }
    assert set(values) == {f.name for f in dataclasses.fields(Visit)}
    fast, slow = _visit(**values), Visit(**values)
    assert fast == slow and hash(fast) == hash(slow) and fast.to_dict() == slow.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.lead = "I2"  # type: ignore[misc]
    del values["count"]
    with pytest.raises(TypeError, match="count"):
        _visit(**values)


def test_visit_to_schedule_without_the_constructor_is_the_same_value() -> None:
    from engine.plan.dates import _to_schedule
    from engine.plan.schedule import VisitToSchedule

    v = Visit(
        id="U#3",
        uscc="U",
        region="440111001",
        items=(),
        team=("I1", "I2"),
        lead="I1",
        experts=(),
        due_from=dt.date(2026, 1, 1),
        due_to=dt.date(2026, 12, 31),
        priority=4,
        risk=None,
        index=3,
        count=4,
    )
    want = VisitToSchedule(id="U#3", subject="U", township="440111001", team=("I1", "I2"), index=3, count=4, priority=4)
    got = _to_schedule(v)
    assert got == want and hash(got) == hash(want)
    assert not hasattr(got, "__dict__")  # slotted: every field is set, none is left to a default
    assert all(getattr(got, f.name) == getattr(want, f.name) for f in dataclasses.fields(VisitToSchedule))
