"""Facts dated after the as-of are not part of it: a subject registered later is not in that date's population.

Such a subject is left out of the features, the grade run and the plan, and the grade run reports how many were.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import grading
from engine.features.compute import feature_partitions, features_of, population_size, registered_after
from engine.rules import load_pack
from entities import store
from entities.errors import InputError
from tests.helpers import TESTER, run_cli

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 2, 9, 0)
PACK = Path(__file__).resolve().parents[1] / "packs" / "base"
EARLY, ON_THE_DAY, LATE = "91440103MA59C8QK3L", "92440103L12345678T", "91445203MA4W3TGX5Q"


def subject(uscc: str, registered_on: dt.date) -> dict[str, object]:
    return {
        "uscc": uscc,
        "name": f"主体{uscc[-4:]}",
        "kind": "enterprise",
        "industry": "H6210",
        "region": "440103001",
        "address": "",
        "registered_on": registered_on,
        "status": "active",
        "whitelist": False,
        "lenient": False,
    }


@pytest.fixture
def later(engine: sa.Engine) -> sa.Engine:
    """Three subjects: one registered long before the as-of, one on it, one in 2099 (loaded before imports refused it)."""
    with engine.begin() as conn:
        store.bulk_insert(
            conn,
            "subject",
            [
                subject(EARLY, dt.date(2017, 8, 15)),
                subject(ON_THE_DAY, AS_OF),
                subject(LATE, dt.date(2099, 1, 1)),
            ],
        )
        # A penalty dated after the as-of is ignored too (the features count only what happened by then).
        store.bulk_insert(
            conn,
            "penalty",
            [
                {
                    "decision_no": "穗荔市监罚〔2026〕1号",
                    "uscc": EARLY,
                    "decided_on": dt.date(2026, 1, 5),
                    "severity": "fine",
                    "legal_basis": "x",
                    "amount": None,
                }
            ],
        )
    return engine


def test_features_leave_out_subjects_registered_later(later: sa.Engine) -> None:
    with later.connect() as conn:
        frame = next(feature_partitions(conn, AS_OF))
        assert frame.get_column("uscc").to_list() == [EARLY, ON_THE_DAY]
        assert frame.get_column("days_since_registration").to_list() == [3060, 0]
        assert frame.get_column("penalties_1y").to_list() == [0, 0]
        assert features_of(conn, EARLY, dt.date(2026, 1, 5))["penalties_1y"] == 1  # type: ignore[index]
        assert registered_after(conn, AS_OF) == 1
        assert registered_after(conn, AS_OF, [EARLY, LATE]) == 1
        assert registered_after(conn, dt.date(2099, 1, 1)) == 0
        assert (population_size(conn, AS_OF), population_size(conn, dt.date(2099, 1, 1))) == (2, 3)


def test_explaining_a_subject_registered_later_says_so(later: sa.Engine) -> None:
    with later.connect() as conn, pytest.raises(InputError) as info:
        features_of(conn, LATE, AS_OF)
    assert str(info.value) == (
        f"subject {LATE} was registered on 2099-01-01, after the as-of 2025-12-31: it is not in the population as of "
        "that date; choose an as-of on or after 2099-01-01"
    )


def test_grade_run_leaves_them_out_and_reports_the_count(later: sa.Engine) -> None:
    with later.begin() as conn:
        run = grading.grade_store(conn, load_pack(PACK), AS_OF, created_at=NOW, actor=TESTER)
        graded = conn.execute(sa.select(store.table("grade_result").c.uscc).order_by("uscc")).scalars().all()
    assert (run.subjects, run.registered_later) == (2, 1)
    assert run.as_dict()["registered_later"] == 1
    assert graded == [EARLY, ON_THE_DAY]


def test_grading_only_subjects_registered_later_names_the_fix(later: sa.Engine) -> None:
    with later.begin() as conn, pytest.raises(InputError) as info:
        grading.grade_store(conn, load_pack(PACK), AS_OF, created_at=NOW, actor=TESTER, usccs=[LATE])
    assert str(info.value) == (
        "no subjects to grade as of 2025-12-31: the 1 in the store (or of --subject) were registered after it; "
        "choose a later --as-of"
    )


def test_grade_cli_reports_the_count(later: sa.Engine, store_url: str) -> None:
    code, out, err = run_cli("grade", "--as-of", "2025-12-31", "--pack", str(PACK), "--json", "--db", store_url)
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["subjects"], doc["registered_later"]) == (2, 1)
    code, out, err = run_cli("grade", "--as-of", "2025-12-31", "--pack", str(PACK), "--db", store_url)
    assert code == 0, err
    assert out.splitlines()[2] == "1 subjects registered after 2025-12-31 were left out (not in the population then)"


def test_explain_cli_names_the_registration_date(later: sa.Engine, store_url: str) -> None:
    assert run_cli("explain", LATE, "--as-of", "2025-12-31", "--pack", str(PACK), "--db", store_url) == (
        1,
        "",
        f"Error: subject {LATE} was registered on 2099-01-01, after the as-of 2025-12-31: it is not in the "
        "population as of that date; choose an as-of on or after 2099-01-01\n",
    )
