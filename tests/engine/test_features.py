"""Features from the store as of a date: exact values on a hand-built district, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.features import REGISTRY
from engine.features.compute import SCHEMA, due_dates, feature_partitions, features_of, report_year
from entities import codes, store
from entities.models import (
    AccidentCreate,
    AnnualReportCreate,
    CheckResultCreate,
    ComplaintCreate,
    DeviceBusinessCreate,
    EquipmentCreate,
    FoodBusinessCreate,
    ListEntryCreate,
    PenaltyCreate,
    SubjectCreate,
)

AS_OF = dt.date(2025, 12, 31)


def uscc(n: int, kind: str = "91") -> str:
    body = f"{kind}445203{n:09d}"
    return body + codes.uscc_check_digit(body)


A, B, C = uscc(1), uscc(2, "92"), uscc(3)


def _subject(u: str, **kw: Any) -> dict[str, Any]:
    base = {
        "uscc": u,
        "name": "主体" + u[-4:],
        "kind": "enterprise",
        "industry": "C3389",
        "region": "445203001",
        "registered_on": "2020-12-31",
    }
    return SubjectCreate(**{**base, **kw}).model_dump()


def load(engine: sa.Engine) -> None:
    rows: dict[str, list[Any]] = {
        "subject": [
            _subject(A, whitelist=True),
            _subject(B, kind="individual", industry="H6210", registered_on="2025-12-01"),
            _subject(C, status="吊销"),
        ],
        "list_entry": [
            ListEntryCreate(uscc=A, list_name="abnormal", listed_on="2021-06-01", removed_on="2022-01-01"),
            ListEntryCreate(
                uscc=A, list_name="abnormal", listed_on="2024-03-01", reason="通过登记的住所或者经营场所无法联系"
            ),
            ListEntryCreate(uscc=A, list_name="serious_violation", listed_on="2026-01-05"),  # after as_of
            ListEntryCreate(uscc=C, list_name="serious_violation", listed_on="2023-01-01"),
        ],
        "penalty": [
            PenaltyCreate(
                decision_no="P1", uscc=A, decided_on="2025-06-30", severity="fine", legal_basis="食品安全法第124条"
            ),
            PenaltyCreate(decision_no="P2", uscc=A, decided_on="2023-01-01", severity="suspension", legal_basis="x"),
            PenaltyCreate(decision_no="P3", uscc=A, decided_on="2022-12-31", severity="fine", legal_basis="x"),  # > 3y
            PenaltyCreate(
                decision_no="P5",
                uscc=A,
                decided_on="2025-03-01",
                severity="warning",
                legal_basis="《医疗器械监督管理条例》第八十九条",
            ),
            PenaltyCreate(
                decision_no="P4", uscc=A, decided_on="2026-02-01", severity="fine", legal_basis="x"
            ),  # future
        ],
        "complaint": [
            ComplaintCreate(ticket_no="T1", uscc=B, received_on="2025-01-01", verified=True, domain="特种设备安全"),
            ComplaintCreate(ticket_no="T4", uscc=A, received_on="2025-03-01", verified=True, domain="food"),
            ComplaintCreate(ticket_no="T2", uscc=B, received_on="2024-12-31", verified=True),  # 365 days before
            ComplaintCreate(ticket_no="T3", uscc=B, received_on="2025-11-11"),
        ],
        "check_result": [
            CheckResultCreate(id="R1", uscc=A, checked_on="2024-05-01", result_codes="fixed_after_order"),
            CheckResultCreate(id="R2", uscc=A, checked_on="2025-05-01", result_codes="no_problem"),
            # B's food checks: a full routine check, then a complaint follow-up that covers some points only.
            CheckResultCreate(
                id="R4", uscc=B, checked_on="2025-12-10", item_code="SP-CY-01", kind="random", result_codes="no_problem"
            ),
            CheckResultCreate(
                id="R5", uscc=B, checked_on="2025-12-20", item_code="SP-CY-01", kind="lead", result_codes="no_problem"
            ),
            CheckResultCreate(id="R3", uscc=C, checked_on="2021-05-01", result_codes="unreachable"),
        ],
        "food_business": [
            FoodBusinessCreate(
                licence_no="JY1",
                uscc=B,
                licence_kind="catering",
                format="restaurant",
                static_score=20,
                dynamic_score=30,
            ),
            FoodBusinessCreate(
                licence_no="JY2", uscc=B, licence_kind="trade", format="grocery", static_score=10, dynamic_score=10
            ),
        ],
        "device_business": [
            DeviceBusinessCreate(licence_no="YX1", uscc=A, activity="trade", product_class="III"),
            DeviceBusinessCreate(
                licence_no="YX2", uscc=A, activity="production", product_class="II", key_catalogue=True
            ),
        ],
        "equipment": [
            # In its 15th year; inspected for year 14 (TSG T7001-2023: year 15 next), due 2025-10-01: 91 days late.
            # The recorded next_due_on (an annual reading) is not what decides.
            EquipmentCreate(
                reg_code="E000000001",
                category="elevator",
                user_uscc=A,
                location_type="school",
                installed_on="2010-10-01",
                design_life_years=15,
                last_inspected_on="2024-10-01",
                next_due_on="2026-10-01",
            ),
            # Grade 3: every 3 years from the last inspection, due 2026-02-15 (within 90 days).
            EquipmentCreate(
                reg_code="E000000002",
                category="pressure_vessel",
                user_uscc=A,
                installed_on="2019-01-01",
                safety_grade=3,
                last_inspected_on="2023-02-15",
                last_conclusion="fail",
                open_hidden_dangers=2,
                serious_hidden_dangers=1,
            ),
            # Grade 4 (监控使用): the inspection body's date governs: 1 day late.
            EquipmentCreate(
                reg_code="E000000003",
                category="pressure_vessel",
                user_uscc=A,
                installed_on="2019-01-01",
                safety_grade=4,
                last_inspected_on="2024-06-30",
                next_due_on="2025-12-30",
            ),
            EquipmentCreate(reg_code="E000000004", category="crane", user_uscc=A, installed_on="2026-03-01"),  # not yet
            # Grade 5 in use: no periodic date (it must not be used), counted as unusable.
            EquipmentCreate(
                reg_code="E000000005",
                category="pressure_vessel",
                user_uscc=A,
                installed_on="2019-01-01",
                safety_grade=5,
                last_inspected_on="2025-01-01",
                last_conclusion="fail",
            ),
            # Out of scope: a tower crane (construction sites, 法第100条) and a stopped lift, both never inspected.
            EquipmentCreate(
                reg_code="E000000006", category="crane", sub_type="塔式起重机", user_uscc=A, installed_on="2015-01-01"
            ),
            EquipmentCreate(
                reg_code="E000000007", category="elevator", user_uscc=A, installed_on="2015-01-01", status="停用"
            ),
            EquipmentCreate(
                reg_code="E000000008",
                category="crane",
                sub_type="通用桥式起重机",
                user_uscc=A,
                location_type="房屋建筑、市政工程工地",
                installed_on="2015-01-01",
            ),
        ],
        "accident": [
            AccidentCreate(id="AC1", reg_code="E000000001", occurred_on="2024-06-01", responsible=True),
            AccidentCreate(id="AC2", reg_code="E000000001", occurred_on="2023-06-01", responsible=True),  # > 2y
            AccidentCreate(id="AC3", reg_code="E000000002", occurred_on="2025-06-01", responsible=False),
        ],
        # Report year 2024 (due 2025-06-30): A filed late, C on time; B was set up in 2025 and need not report.
        "annual_report": [
            AnnualReportCreate(uscc=A, year=2024, filed_on="2025-07-15"),
            AnnualReportCreate(uscc=C, year=2024, filed_on="2025-03-01"),
        ],
    }
    with engine.begin() as conn:
        for name, items in rows.items():
            store.bulk_insert(conn, name, [r if isinstance(r, dict) else r.model_dump() for r in items])


def test_exact_features_on_a_hand_built_district(engine: sa.Engine) -> None:
    load(engine)
    with engine.connect() as conn:
        a, b, c = (features_of(conn, u, AS_OF) for u in (A, B, C))
        assert features_of(conn, uscc(99), AS_OF) is None
    assert a is not None and b is not None and c is not None
    assert set(a) == {"uscc", *REGISTRY}
    assert {
        k: a[k]
        for k in (
            "subject_kind",
            "status",
            "industry_section",
            "days_since_registration",
            "whitelist",
            "on_abnormal_list",
            "on_serious_violation_list",
            "abnormal_listings_3y",
            "penalties_1y",
            "penalties_3y",
            "severe_penalties_3y",
            "checks_3y",
            "problem_checks_3y",
            "days_since_last_check",
            "last_check_found_problem",
            "has_food_licence",
            "food_risk_score",
            "has_device_business",
            "device_producer",
            "device_max_class",
            "device_key_catalogue",
        )
    } == {
        "subject_kind": "enterprise",
        "status": "active",
        "industry_section": "C",
        "days_since_registration": 1826,
        "whitelist": True,
        "on_abnormal_list": True,
        "on_serious_violation_list": False,
        "abnormal_listings_3y": 1,
        "penalties_1y": 2,
        "penalties_3y": 3,
        "severe_penalties_3y": 1,
        "checks_3y": 2,
        "problem_checks_3y": 1,
        "days_since_last_check": 244,
        "last_check_found_problem": False,
        "has_food_licence": False,
        "food_risk_score": None,
        "has_device_business": True,
        "device_producer": True,
        "device_max_class": 3,
        "device_key_catalogue": True,
    }
    assert {
        k: a[k]
        for k in a
        if k.startswith("equipment")
        or k
        in (
            "elevator_count",
            "public_gathering_equipment_count",
            "pressure_vessel_worst_grade",
            "responsible_accidents_2y",
        )
    } == {
        "equipment_count": 4,
        "elevator_count": 1,
        "public_gathering_equipment_count": 1,
        "equipment_overdue_count": 2,
        "equipment_max_days_overdue": 91,
        "equipment_due_90d_count": 1,
        "equipment_failed_count": 2,
        "equipment_over_design_life_count": 1,
        "equipment_hidden_dangers": 2,
        "equipment_serious_hidden_dangers": 1,
        "pressure_vessel_worst_grade": 5,
        "responsible_accidents_2y": 1,
        "equipment_unusable_in_use_count": 1,
        "equipment_verified_complaints_12m": 0,
    }
    assert (a["abnormal_unreachable"], a["annual_report_late"], a["device_penalties_1y"]) == (True, True, 1)
    assert (a["verified_complaints_12m"], a["days_since_full_food_check"]) == (1, None)
    # B: the riskier of two food licences; a complaint exactly 365 days back is outside the 12 months.
    assert (b["food_licence_kind"], b["food_format"], b["food_risk_score"], b["food_static_score"]) == (
        "catering",
        "restaurant",
        50.0,
        20.0,
    )
    assert (b["complaints_12m"], b["verified_complaints_12m"], b["days_since_registration"]) == (2, 1, 30)
    assert (b["days_since_last_check"], b["checks_3y"], b["days_since_full_food_check"]) == (11, 2, 21)
    assert (b["equipment_verified_complaints_12m"], b["annual_report_late"], b["abnormal_unreachable"]) == (
        1,
        False,
        False,
    )
    assert (b["equipment_count"], b["pressure_vessel_worst_grade"], b["device_max_class"]) == (0, None, None)
    # C: revoked, on the serious-violation list, its only check older than 3 years.
    assert (c["status"], c["on_serious_violation_list"], c["checks_3y"], c["last_check_found_problem"]) == (
        "revoked",
        True,
        0,
        True,
    )
    assert c["annual_report_late"] is False


def test_no_reports_in_the_store_is_not_late(engine: sa.Engine) -> None:
    """A store without any annual report of the due year says nothing about lateness (missing, not true)."""
    with engine.begin() as conn:
        store.bulk_insert(conn, "subject", [_subject(A)])
    with engine.connect() as conn:
        a = features_of(conn, A, AS_OF)
    assert a is not None and a["annual_report_late"] is None


def test_report_year_turns_after_30_june() -> None:
    assert report_year(dt.date(2026, 6, 30)) == 2024
    assert report_year(dt.date(2026, 7, 1)) == 2025


def _units(*rows: tuple[str, str, int | None, str, str | None, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (c, t, g, dt.date.fromisoformat(i), last and dt.date.fromisoformat(last), n and dt.date.fromisoformat(n))
            for c, t, g, i, last, n in rows
        ],
        schema={
            "category": pl.Utf8,
            "sub_type": pl.Utf8,
            "grade": pl.Int64,
            "installed_on": pl.Date,
            "last_inspected_on": pl.Date,
            "next_due_on": pl.Date,
        },
        orient="row",
    )


def test_due_dates_follow_each_category_interval() -> None:
    units = _units(
        ("elevator", "曳引驱动乘客电梯", None, "2020-03-10", None, None),  # never inspected: year 1
        ("elevator", "曳引驱动乘客电梯", None, "2020-03-10", "2021-03-01", None),  # year 1 done: year 4
        ("elevator", "曳引驱动乘客电梯", None, "2020-03-10", "2024-01-15", None),  # year 4, two months early: 7
        ("elevator", "曳引驱动乘客电梯", None, "2005-03-10", "2024-03-01", None),  # over 15 years: every year
        ("crane", "通用桥式起重机", None, "2020-01-01", "2024-05-01", None),  # bridge crane: 2 years
        ("crane", "流动式起重机", None, "2020-01-01", "2024-05-01", None),  # mobile crane: 1 year
        ("boiler", "承压蒸汽锅炉", None, "2020-01-01", "2024-05-01", None),  # external: 1 year
        ("pressure_vessel", "储存压力容器", 2, "2020-01-01", None, None),  # first within 3 years
        ("pressure_vessel", "储存压力容器", 2, "2020-01-01", "2022-06-01", None),  # grade 1–2: 6 years
        ("pressure_vessel", "储存压力容器", 4, "2020-01-01", "2022-06-01", "2023-01-01"),  # body's date
        ("pressure_vessel", "储存压力容器", 5, "2020-01-01", "2022-06-01", "2023-01-01"),  # must not be used
        ("pressure_piping", "工艺管道", 3, "2020-01-01", "2022-06-01", None),  # grade 3: 3 years
    )
    assert due_dates(units).to_list() == [
        dt.date(2021, 3, 10),
        dt.date(2024, 3, 10),
        dt.date(2027, 3, 10),
        dt.date(2025, 3, 10),
        dt.date(2026, 5, 1),
        dt.date(2025, 5, 1),
        dt.date(2025, 5, 1),
        dt.date(2023, 1, 1),
        dt.date(2028, 6, 1),
        dt.date(2023, 1, 1),
        None,
        dt.date(2025, 6, 1),
    ]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.integers(1, 4))
def test_batch_size_never_changes_the_features(engine: sa.Engine, batch: int) -> None:
    with engine.connect() as conn:
        if not store.count_rows(conn, "subject"):
            conn.rollback()
            load(engine)
    with engine.connect() as conn:
        whole = pl.concat(list(feature_partitions(conn, AS_OF, partition_size=100)))
        parts = pl.concat(list(feature_partitions(conn, AS_OF, partition_size=batch)))
    assert whole.schema == pl.Schema(SCHEMA)
    assert whole.height == 3 and whole.equals(parts)


def test_two_worker_processes_give_the_same_frames(engine: sa.Engine, store_url: str) -> None:
    load(engine)
    with engine.connect() as conn:
        one = list(feature_partitions(conn, AS_OF, partition_size=1))
        two = list(feature_partitions(conn, AS_OF, partition_size=1, url=store_url, workers=2))
    assert len(one) == len(two) == 3
    assert all(a.equals(b) for a, b in zip(one, two, strict=True))
