"""engine.replay.recompute.mismatched compares a plan snapshot's grade columns with its grade run's a slice of
subjects at a time: the count and examples must be those of the whole join it replaced, whatever the slices."""

from __future__ import annotations

import polars as pl
import pytest

from engine.planning import join_graded
from engine.replay.recompute import mismatched

COLUMNS = pl.DataFrame(
    {
        "_outcome": [1, 2, 3],
        "credit_class": ["A", "B", None],
        "mandatory": [[], ["SP-XS-01"], ["SP-CY-01", "TS-SY-01"]],
        "risk": [0.0, 12.5, 40.0],
        "food_grade": ["A", None, "C"],  # not in the snapshot: not compared
    },
    schema={
        "_outcome": pl.Int64,
        "credit_class": pl.String,
        "mandatory": pl.List(pl.String),
        "risk": pl.Float64,
        "food_grade": pl.String,
    },
)


def _whole(subjects: pl.DataFrame, results: pl.DataFrame) -> tuple[int, list[str]]:
    """The comparison as it was made before: every subject joined with the run's columns at once."""
    graded = join_graded(results.rename({"outcome": "_outcome"}), COLUMNS)
    cols = [c for c in graded.columns if c != "uscc" and c in subjects.columns]
    joined = subjects.select("uscc", *cols).join(graded.select("uscc", *cols), on="uscc", how="left", suffix="_run")
    differs = joined.filter(pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_run")) for c in cols))
    return differs.height, differs.get_column("uscc").sort().head(3).to_list()


def _case() -> tuple[pl.DataFrame, pl.DataFrame]:
    usccs = [f"9144{n:014d}" for n in range(40)]
    outcome = [1 + n % 3 for n in range(40)]
    row = {1: ("A", [], 0.0), 2: ("B", ["SP-XS-01"], 12.5), 3: (None, ["SP-CY-01", "TS-SY-01"], 40.0)}
    credit = [row[o][0] for o in outcome]
    mandatory = [row[o][1] for o in outcome]
    risk = [row[o][2] for o in outcome]
    credit[5], mandatory[17], risk[31] = "D", ["SP-XS-01"], 99.0  # edited copies (17 has outcome 3)
    subjects = pl.DataFrame(
        {"uscc": usccs, "credit_class": credit, "mandatory": mandatory, "risk": risk, "region": ["天河区"] * 40},
        schema={
            "uscc": pl.String,
            "credit_class": pl.String,
            "mandatory": pl.List(pl.String),
            "risk": pl.Float64,
            "region": pl.String,
        },
    )
    # The run did not grade subject 23 (it differs: it has values), and lists its results in another order.
    results = pl.DataFrame({"uscc": usccs, "outcome": outcome}).filter(pl.col("uscc") != usccs[23]).reverse()
    return subjects, results


@pytest.mark.parametrize("rows", [1, 3, 7, 40, None])
def test_slices_count_what_the_whole_join_counts(rows: int | None) -> None:
    subjects, results = _case()
    expected = _whole(subjects, results)
    assert expected[0] == 4
    assert mismatched(subjects, results, COLUMNS, rows=rows) == expected


def test_identical_copies_differ_nowhere() -> None:
    subjects, results = _case()
    graded = join_graded(results.rename({"outcome": "_outcome"}), COLUMNS).sort("uscc")
    copy = subjects.filter(pl.col("uscc").is_in(graded.get_column("uscc").implode())).with_columns(
        graded.get_column("credit_class"), graded.get_column("mandatory"), graded.get_column("risk")
    )
    assert mismatched(copy, results, COLUMNS, rows=5) == (0, [])
