"""Every bad input is refused with one clear line (an InputError), before anything is planned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from engine.plan import ItemPolicy, Period, PlanPolicy, history_frame, subjects_frame
from entities.errors import InputError
from entities.models import InspectorCreate
from tests.engine.plan import world
from tests.engine.plan.world import AS_OF, item, plan, uscc


def _experts_only() -> list[InspectorCreate]:
    return [i.model_copy(update={"certificate_no": None}) for i in world.roster(4)]


def _one_certified() -> list[InspectorCreate]:
    return world.roster(1, experts=3)


def _future_history() -> pl.DataFrame:
    return history_frame([{"uscc": uscc(1), "checked_on": AS_OF + dt.timedelta(days=3), "item_code": "REG-01"}])


CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("no seed", lambda: plan(seed=None), "seed is missing"),  # type: ignore[arg-type]
    ("empty seed", lambda: plan(seed=""), "seed is missing"),
    ("short seed", lambda: plan(seed="1234567890123456789"), "too short (19 characters)"),
    ("padded seed", lambda: plan(seed=" 01382438112797316654"), "spaces at its start or end"),
    ("seed not text", lambda: plan(seed=1382438112797316654), "seed must be text"),  # type: ignore[arg-type]
    ("unknown region", lambda: plan(regions=["440999"]), "unknown region 440999"),
    ("bad region code", lambda: plan(regions=["44011"]), "is not a 6-digit"),
    (
        "unknown item in policy",
        lambda: plan(policy=PlanPolicy(items={"ZZ-99": ItemPolicy()})),
        "unknown item ZZ-99",
    ),
    ("no items", lambda: plan(items=[]), "no check items in force"),
    ("item twice", lambda: plan(items=[item("X-01"), item("X-01")]), "check item X-01 is given twice"),
    ("empty population", lambda: plan(world.subjects(0)), "empty population"),
    (
        "no qualified inspector: experts only",
        lambda: plan(inspectors=_experts_only()),
        "no qualified inspector at all",
    ),
    ("no qualified inspector: one", lambda: plan(inspectors=_one_certified()), "the roster has 1"),
    ("as-of before the data", lambda: plan(past=_future_history()), "is before the data"),
    ("period over", lambda: plan(period=Period.year(2024)), "ended on 2024-12-31, before as-of"),
    ("as-of a datetime", lambda: plan(as_of=dt.datetime(2025, 1, 2, 8)), "as-of must be a date"),
    ("no credit class", lambda: plan(world.subjects().drop("credit_class")), "no column 'credit_class'"),
    ("no status", lambda: plan(world.subjects().drop("status")), "no column 'status'"),
    (
        "duplicate subject",
        lambda: plan(pl.concat([world.subjects(5), world.subjects(5).head(1)])),
        "more than once",
    ),
    (
        "bad subject region",
        lambda: plan(world.subjects(3).with_columns(pl.lit("4401").alias("region"))),
        "is not a 6-digit county",
    ),
    (
        "reasons out of step",
        lambda: plan(
            subjects_frame(
                [
                    {
                        "uscc": uscc(1),
                        "region": "440111001",
                        "mandatory": ["X-01"],
                        "mandatory_reason": ["a", "b"],
                    }
                ]
            )
        ),
        "one reason per mandatory item",
    ),
    ("history not a frame", lambda: plan(past=[]), "history must be a polars DataFrame"),  # type: ignore[arg-type]
    ("history missing a column", lambda: plan(past=history_frame().drop("kind")), "no column 'kind'"),
    ("subjects not a frame", lambda: plan(frame=[{"uscc": "x"}]), "subjects must be a polars DataFrame"),  # type: ignore[arg-type]
    ("policy not a policy", lambda: plan(policy={"team_size": 2}), "policy must be a PlanPolicy"),  # type: ignore[arg-type]
    (
        "risk infinite",
        lambda: plan(world.subjects(3).with_columns(pl.lit(float("inf")).alias("risk"))),
        "risk is inf",
    ),
    (
        "registered after as-of",
        lambda: plan(world.subjects(3).with_columns(pl.lit(-4).alias("days_since_registration"))),
        "as-of is before the data: subject",
    ),
    (
        "risk not a number",
        lambda: plan(world.subjects(3).with_columns(pl.lit("high").alias("risk"))),
        "'risk' must be numeric",
    ),
]


@pytest.mark.parametrize("name, call, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(name: str, call: Callable[[], Any], words: str) -> None:
    with pytest.raises(InputError) as e:
        call()
    message = str(e.value)
    assert words in message
    assert "\n" not in message and len(message) < 240


def test_region_codes_select_the_jurisdiction() -> None:
    frame = world.subjects(60).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("440112001")).otherwise(pl.col("region")).alias("region")
    )
    whole = plan(frame)
    county = plan(frame, regions=["440112"])
    city = plan(frame, regions=["440100"])
    assert county.regions == ("440112",)
    assert {v.region[:6] for v in county.visits} == {"440112"}
    assert city.to_json().replace('"regions":["440100"]', '"regions":[]') == whole.to_json()


def test_categorical_text_columns_are_read_as_text() -> None:
    frame = world.subjects(80)
    categorical = frame.with_columns(pl.col("credit_class", "status", "region").cast(pl.Categorical))
    assert plan(categorical).to_json() == plan(frame).to_json()
