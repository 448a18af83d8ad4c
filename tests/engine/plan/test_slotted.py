"""engine.plan.slotted: visits made without their constructors are the constructors' values, take no dict, and
refuse a missing or unknown field."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.plan.model import Visit, VisitItem
from engine.plan.slotted import Maker

ITEM = VisitItem(code="SP-XS-01", drawn=True, mandatory=False, stratum="食品销售/C", reason=None)


def _fields(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "id": "91440101MA5C00001X",
        "uscc": "91440101MA5C00001X",
        "region": "440103001",
        "items": (ITEM,),
        "team": ("ZF1", "ZF2"),
        "lead": "ZF1",
        "experts": (),
        "due_from": dt.date(2026, 1, 1),
        "due_to": dt.date(2026, 12, 31),
        "priority": 7,
        "risk": 0.25,
        "previous_leads": ("ZF3",),
        "lead_repeats": False,
        "scheduled_on": None,
        "due_on": None,
        "index": 1,
        "count": 2,
    }
    values.update(changes)
    return values


def test_a_made_visit_is_the_constructors_and_has_no_dict() -> None:
    made = Maker(Visit).make(_fields())
    built = Visit(**_fields())  # type: ignore[arg-type]
    assert made == built and hash(made) == hash(built)
    assert not hasattr(made, "__dict__") and not hasattr(ITEM, "__dict__")
    assert pickle.loads(pickle.dumps(made)) == built
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.lead = "ZF2"  # type: ignore[misc]


@given(
    day=st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    index=st.integers(1, 12),
    risk=st.none() | st.floats(allow_nan=False),
)
def test_a_copy_is_replace(day: dt.date, index: int, risk: float | None) -> None:
    base = Visit(**_fields(risk=risk))  # type: ignore[arg-type]
    changes = {"scheduled_on": day, "due_on": day, "index": index}
    assert Maker(Visit).copy(base, changes) == dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_missing_or_unknown_field_is_refused() -> None:
    values = _fields()
    del values["lead"]
    with pytest.raises(TypeError, match="lead"):
        Maker(Visit).make(values)
    with pytest.raises(TypeError, match="colour"):
        Maker(Visit).make(_fields(colour="red"))
    with pytest.raises(TypeError, match="colour"):
        Maker(Visit).copy(Visit(**_fields()), {"colour": "red"})  # type: ignore[arg-type]


def test_a_class_without_slots_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Loose:
        a: int

    with pytest.raises(TypeError, match="slotted"):
        Maker(Loose)
