"""The synthetic district generator: real-figure profiles, valid and unique rows, determinism, plausible mixes,
and the one-transaction demo load on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from stdnum.cn import uscc as stdnum_uscc

from engine.features.compute import due_dates
from engine.synth import TABLES, DemoRefused, Generator, get_profile, load_demo
from engine.synth.generator import add_years
from engine.synth.profiles import BAIYUN, GUANGZHOU, JIEDONG, apportion
from entities import models, store
from entities.errors import UsageError
from tests.helpers import import_one_subject

AS_OF = dt.date(2025, 12, 31)
NOW = dt.datetime(2026, 1, 2, 9, 30)
CREATE = {
    "subject": models.SubjectCreate,
    "licence": models.LicenceCreate,
    "list_entry": models.ListEntryCreate,
    "penalty": models.PenaltyCreate,
    "complaint": models.ComplaintCreate,
    "check_result": models.CheckResultCreate,
    "equipment": models.EquipmentCreate,
    "accident": models.AccidentCreate,
    "food_business": models.FoodBusinessCreate,
    "device_business": models.DeviceBusinessCreate,
    "inspector": models.InspectorCreate,
    "conflict": models.ConflictCreate,
    "annual_report": models.AnnualReportCreate,
}
Rows = dict[str, list[dict[str, Any]]]


def generate(
    subjects: int, seed: int = 1, as_of: dt.date = AS_OF, batch_size: int = 1000, name: str = "jiedong"
) -> Rows:
    tables: Rows = {t: [] for t in TABLES}
    for batch in Generator(get_profile(name, subjects), seed, as_of, batch_size=batch_size).batches():
        for table, rows in batch.items():
            tables[table].extend(rows)
    return tables


@pytest.fixture(scope="module")
def small() -> Rows:
    return generate(3000)


@pytest.fixture(scope="module")
def medium() -> Rows:
    return generate(20_000, seed=7, batch_size=50_000)


# ── profiles ────────────────────────────────────────────────────────────────────────────────────────────
def test_profiles_carry_the_real_figures() -> None:
    assert JIEDONG.total_subjects == 53_453
    assert dict(JIEDONG.subjects) == {"enterprise": 7513, "individual": 45_730, "cooperative": 210}
    assert JIEDONG.total_equipment == 4972
    assert {k: v for k, v in JIEDONG.equipment.items() if v} == {
        "elevator": 2460,
        "crane": 1326,
        "pressure_vessel": 474,
        "pressure_piping": 446,
        "boiler": 164,
        "vehicle": 72,
        "ride": 30,
    }
    assert [c.code for c in JIEDONG.counties] == ["445203"]
    assert BAIYUN.total_subjects == 470_700
    assert round(BAIYUN.subjects["individual"] / BAIYUN.total_subjects, 3) == 0.45
    assert BAIYUN.user_units == 9641 and BAIYUN.total_equipment >= 40_000
    assert GUANGZHOU.total_subjects == 3_300_000
    assert len(GUANGZHOU.counties) == 11
    assert GUANGZHOU.total_equipment == round(BAIYUN.total_equipment / BAIYUN.total_subjects * 3_300_000)


@pytest.mark.parametrize("n", [1, 7, 2000, 53_453, 123_457])
def test_scaling_keeps_the_mix_and_exact_totals(n: int) -> None:
    p = get_profile("jiedong", n)
    assert p.total_subjects == n
    assert p.total_equipment == round(4972 * n / 53_453)
    for kind, count in p.subjects.items():
        assert abs(count - JIEDONG.subjects[kind] * n / 53_453) < 1
    assert p.inspectors == max(2, round(n / 350))


def test_unknown_profile_and_bad_size_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown profile 'x'; choose one of jiedong, baiyun, guangzhou"):
        get_profile("x")
    with pytest.raises(UsageError, match="--subjects must be at least 1"):
        JIEDONG.scaled(0)


def test_apportion_is_exact_and_proportional() -> None:
    assert apportion({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}
    assert sum(apportion({"a": 0.3, "b": 0.7}, 7).values()) == 7


# ── rows ────────────────────────────────────────────────────────────────────────────────────────────────
def test_counts_match_the_scaled_profile(small: Rows) -> None:
    p = get_profile("jiedong", 3000)
    kinds = Counter(r["kind"] for r in small["subject"])
    assert dict(kinds) == {k: v for k, v in p.subjects.items() if v}
    assert Counter(r["category"] for r in small["equipment"]) == Counter({k: v for k, v in p.equipment.items() if v})
    assert Counter(r["format"] for r in small["food_business"]) == Counter({k: v for k, v in p.food.items() if v})
    devices = Counter(f"{r['activity']}:{r['product_class']}" for r in small["device_business"])
    assert devices == Counter({k: v for k, v in p.devices.items() if v})
    assert len(small["inspector"]) == p.inspectors == 9


def test_every_row_passes_its_create_model(small: Rows, medium: Rows) -> None:
    for table, model in CREATE.items():
        # Accidents are rare (a few per thousand devices): the medium district is needed to see some.
        rows = small[table] + medium[table][:5000]
        assert rows, f"no {table} rows generated"
        for row in rows:
            model.model_validate(row)


def test_usccs_are_valid_unique_and_say_kind_and_county(small: Rows, medium: Rows) -> None:
    for rows in (small["subject"], medium["subject"]):
        codes = [r["uscc"] for r in rows]
        assert len(set(codes)) == len(codes)
        for r in rows:
            assert stdnum_uscc.is_valid(r["uscc"]), r["uscc"]
            assert r["uscc"][:2] == {"enterprise": "91", "individual": "92", "cooperative": "93"}[r["kind"]]
            assert r["uscc"][2:8] == r["region"][:6]
    # Enterprises registered before 2015-10 kept their all-digit organisation code; later ones got MA…
    old = [r for r in medium["subject"] if r["kind"] == "enterprise" and r["registered_on"] < dt.date(2015, 10, 1)]
    assert old and all(r["uscc"][8:16].isdigit() for r in old)
    assert all(r["uscc"][8:10] == "MA" for r in medium["subject"] if r["kind"] == "individual")


def test_natural_keys_are_unique_and_references_resolve(small: Rows) -> None:
    keys = {
        "subject": ("uscc",),
        "licence": ("number",),
        "list_entry": ("uscc", "list_name", "listed_on"),
        "penalty": ("decision_no",),
        "complaint": ("ticket_no",),
        "check_result": ("id",),
        "equipment": ("reg_code",),
        "accident": ("id",),
        "food_business": ("licence_no",),
        "device_business": ("licence_no",),
        "inspector": ("id",),
        "conflict": ("inspector_id", "uscc"),
        "annual_report": ("uscc", "year"),
    }
    for table, cols in keys.items():
        values = [tuple(r[c] for c in cols) for r in small[table]]
        assert len(values) == len(set(values)), table
    usccs = {r["uscc"] for r in small["subject"]}
    for table in (
        "licence",
        "list_entry",
        "penalty",
        "complaint",
        "check_result",
        "food_business",
        "device_business",
        "annual_report",
        "conflict",
    ):
        assert {r["uscc"] for r in small[table]} <= usccs, table
    assert {r["user_uscc"] for r in small["equipment"]} <= usccs
    assert {r["reg_code"] for r in small["accident"]} <= {r["reg_code"] for r in small["equipment"]}
    inspectors = {r["id"]: r for r in small["inspector"]}
    assert {r["inspector_id"] for r in small["conflict"]} <= set(inspectors)
    # The county's checks are led by its inspectors who hold an enforcement certificate, never by experts; a higher
    # level's check by one of that level's own inspectors, who is not on the county's roster.
    county = [r for r in small["check_result"] if r["level"] == "county"]
    assert county and all(inspectors[r["lead_inspector"]]["certificate_no"] for r in county)
    assert all(r["lead_inspector"] is None for r in small["check_result"] if r["level"] != "county")
    # Licences agree with the facts tables.
    licences = {r["number"]: r for r in small["licence"]}
    for fb in small["food_business"]:
        lic = licences[fb["licence_no"]]
        assert lic["uscc"] == fb["uscc"]
        assert lic["kind"] == {"production": "food_production", "special_food": "special_food"}.get(
            fb["licence_kind"], "food_trade"
        )
    for db in small["device_business"]:
        licensed = (db["activity"], db["product_class"]) in {
            ("trade", "III"),
            ("production", "II"),
            ("production", "III"),
        }
        assert (db["licence_no"] in licences) == licensed
    use = Counter(r["uscc"] for r in small["licence"] if r["kind"] == "special_equipment_use")
    assert use == Counter(r["user_uscc"] for r in small["equipment"])


def test_dates_are_relative_to_as_of_and_consistent(small: Rows) -> None:
    registered = {r["uscc"]: r["registered_on"] for r in small["subject"]}
    assert all(r["registered_on"] <= AS_OF for r in small["subject"])
    assert all(registered[r["uscc"]] <= r["listed_on"] <= AS_OF for r in small["list_entry"])
    assert all(AS_OF - dt.timedelta(days=731) <= r["received_on"] <= AS_OF for r in small["complaint"])
    assert all(r["checked_on"] <= AS_OF for r in small["check_result"])
    assert all(r["decided_on"] <= AS_OF for r in small["penalty"])
    for e in small["equipment"]:
        assert e["installed_on"] < AS_OF
        if e["last_inspected_on"]:
            assert e["installed_on"] < e["last_inspected_on"] <= AS_OF
        assert (e["safety_grade"] is not None) == (e["category"] in {"pressure_vessel", "pressure_piping"})


def test_another_as_of_moves_every_date(small: Rows) -> None:
    earlier = generate(3000, as_of=dt.date(2020, 12, 31))
    assert max(r["registered_on"] for r in earlier["subject"]) <= dt.date(2020, 12, 31)
    assert max(r["received_on"] for r in earlier["complaint"]) <= dt.date(2020, 12, 31)
    assert max(r["checked_on"] for r in earlier["check_result"]) <= dt.date(2020, 12, 31)
    assert any(r["next_due_on"] and r["next_due_on"] < dt.date(2020, 12, 31) for r in earlier["equipment"])


def test_same_seed_same_rows_other_seed_other_rows(small: Rows) -> None:
    again = generate(3000)
    assert again == small
    generator = Generator(get_profile("jiedong", 500), 1, AS_OF, batch_size=200)
    assert list(generator.batches()) == list(generator.batches())
    other = generate(3000, seed=2)
    assert other["subject"] != small["subject"]
    shared = {r["uscc"] for r in other["subject"]} & {r["uscc"] for r in small["subject"]}
    assert len(shared) < 30
    assert [len(other[t]) for t in ("subject", "equipment", "food_business")] == [
        3000,
        len(small["equipment"]),
        len(small["food_business"]),
    ]


# ── distributions ───────────────────────────────────────────────────────────────────────────────────────
def test_mix_of_subjects_is_plausible(medium: Rows) -> None:
    subjects = medium["subject"]
    n = len(subjects)
    kinds = Counter(r["kind"] for r in subjects)
    assert abs(kinds["individual"] / n - 45_730 / 53_453) < 0.001
    recent = {k: 0 for k in kinds}
    for r in subjects:
        recent[r["kind"]] += (AS_OF - r["registered_on"]).days < 1826
    # seed 003: 67 % of all subjects registered in the last five years, individuals more, co-operatives less
    assert abs(recent["individual"] / kinds["individual"] - 31_011 / 45_730) < 0.02
    assert abs(recent["enterprise"] / kinds["enterprise"] - 4716 / 7513) < 0.03
    individuals = Counter(r["industry"][:3] for r in subjects if r["kind"] == "individual")
    shops = sum(v for k, v in individuals.items() if k in {"F52", "H62", "O80", "O81"})
    assert shops / kinds["individual"] > 0.6
    enterprises = Counter(r["industry"][0] for r in subjects if r["kind"] == "enterprise")
    assert enterprises.most_common(1)[0][0] == "C"  # 揭东 is a manufacturing district
    cooperatives = Counter(r["industry"][0] for r in subjects if r["kind"] == "cooperative")
    assert cooperatives.most_common(1)[0][0] == "A"
    statuses = Counter(r["status"] for r in subjects)
    assert statuses["active"] / n > 0.94
    assert {"cancelled", "revoked"} <= set(statuses)
    regions = Counter(r["region"] for r in subjects)
    assert len(regions) == 12 and regions.most_common(1)[0][0] == "445203001"  # the district seat, 曲溪


def test_whitelist_and_lenient_flags(medium: Rows) -> None:
    enterprises = [r for r in medium["subject"] if r["kind"] == "enterprise"]
    white = {r["uscc"] for r in enterprises if r["whitelist"]}
    assert 0 < len(white) < 0.02 * len(enterprises)
    assert all(r["kind"] == "enterprise" for r in medium["subject"] if r["whitelist"] or r["lenient"])
    # 白名单 enterprises have a clean record.
    assert not white & {r["uscc"] for r in medium["list_entry"]}
    assert not white & {r["uscc"] for r in medium["penalty"]}
    assert 0.01 < sum(r["lenient"] for r in enterprises) / len(enterprises) < 0.05


def test_lists_penalties_complaints_and_checks_at_realistic_rates(medium: Rows) -> None:
    n = len(medium["subject"])
    abnormal = [r for r in medium["list_entry"] if r["list_name"] == "abnormal"]
    assert abs(len(abnormal) / n - 5065 / 53_453) < 0.01  # seed 003: 5,065 entries in five years
    assert 0 < sum(r["list_name"] == "serious_violation" for r in medium["list_entry"]) < len(abnormal) * 0.05
    assert 0.5 * n * 0.0125 < len(medium["penalty"]) < 1.5 * n * 0.0125
    complaints = medium["complaint"]
    assert 0.7 < len(complaints) / (n * 2 * 8437 / 5 / 53_453) < 1.3
    assert 0.25 < sum(r["verified"] for r in complaints) / len(complaints) < 0.42
    per_subject = Counter(r["uscc"] for r in complaints)
    top = sum(c for _, c in per_subject.most_common(max(1, len(per_subject) // 10)))
    assert top / len(complaints) > 0.25  # concentrated on few subjects
    assert len(per_subject) < 0.1 * n
    results = Counter("no_problem" in r["result_codes"] for r in medium["check_result"])
    assert results[True] > results[False]


def test_food_scores_give_mostly_a_and_b(medium: Rows) -> None:
    def grade(r: dict[str, Any]) -> str:
        total = r["static_score"] + r["dynamic_score"]
        return "A" if total <= 30 else "B" if total <= 45 else "C" if total <= 60 else "D"

    grades = Counter(grade(r) for r in medium["food_business"])
    total = sum(grades.values())
    assert (grades["A"] + grades["B"]) / total > 0.7
    assert 0.05 < grades["C"] / total < 0.25
    assert 0 < grades["D"] / total < 0.05
    assert sum(r["format"] == "school_canteen" for r in medium["food_business"]) == round(228 * 20_000 / 53_453)


def test_equipment_has_elevators_dominating_and_some_overdue(medium: Rows) -> None:
    eq = medium["equipment"]
    cats = Counter(r["category"] for r in eq)
    assert cats.most_common(1)[0][0] == "elevator"
    overdue = [r for r in eq if r["next_due_on"] and r["next_due_on"] < AS_OF]
    assert 0.01 < len(overdue) / len(eq) < 0.08
    assert any(r["location_type"] in {"school", "hospital", "mall"} for r in eq if r["category"] == "elevator")
    rides = [r["location_type"] for r in eq if r["category"] == "ride"]
    assert rides and sum(loc in {"park", "scenic", "mall"} for loc in rides) > len(rides) / 2
    assert sum(r["open_hidden_dangers"] > 0 for r in eq) > 0
    units = {r["user_uscc"] for r in eq}
    assert 0.8 * get_profile("jiedong", 20_000).user_units <= len(units) <= get_profile("jiedong", 20_000).user_units


def test_elevator_inspections_follow_tsg_t7001(medium: Rows) -> None:
    """Periodic inspections in years 1, 4, 7, 9, 11, 13, 15 after installation, then yearly; the due date is an
    anniversary of installation and lies ahead unless the device is overdue."""
    allowed = {1, 4, 7, 9, 11, 13, 15}
    checked = 0
    for e in medium["equipment"]:
        if e["category"] != "elevator" or e["next_due_on"] is None:
            continue
        inst, due = e["installed_on"], e["next_due_on"]
        years = due.year - inst.year
        assert add_years_one(inst, years) == due
        assert years in allowed or years >= 16
        if e["last_inspected_on"]:
            assert (due - e["last_inspected_on"]).days <= 366 * 4 + 61
        checked += 1
    assert checked > 500


def add_years_one(day: dt.date, years: int) -> dt.date:
    import numpy as np

    epoch = dt.date(1970, 1, 1)
    return epoch + dt.timedelta(days=int(add_years(np.array([(day - epoch).days]), np.array([years]))[0]))


def test_recorded_due_dates_agree_with_the_computed_ones(medium: Rows) -> None:
    """The register's next_due_on is what the features compute from the last inspection (issue 12): the demo
    and the pack's intervals tell the same story, so the features' overdue count is the summary's."""
    eq = [e for e in medium["equipment"] if e["status"] == "in_use" and e["next_due_on"] is not None]
    units = pl.DataFrame(
        {
            "category": [e["category"] for e in eq],
            "sub_type": [e["sub_type"] for e in eq],
            "grade": [e["safety_grade"] for e in eq],
            "installed_on": [e["installed_on"] for e in eq],
            "last_inspected_on": [e["last_inspected_on"] for e in eq],
            "next_due_on": [e["next_due_on"] for e in eq],
        },
        schema={
            "category": pl.Utf8,
            "sub_type": pl.Utf8,
            "grade": pl.Int64,
            "installed_on": pl.Date,
            "last_inspected_on": pl.Date,
            "next_due_on": pl.Date,
        },
    )
    computed = due_dates(units).to_list()
    # 29 February anniversaries may land a day apart; nothing else may differ.
    off = [(e, c) for e, c in zip(eq, computed, strict=True) if c is None or abs((c - e["next_due_on"]).days) > 1]
    assert len(eq) > 1000 and not off, off[:3]


def test_overdue_units_are_late_by_days_to_months(medium: Rows) -> None:
    """The 30-day threshold decides something: most overdue units are a few weeks late, a few are years late."""
    late = [
        (AS_OF - e["next_due_on"]).days
        for e in medium["equipment"]
        if e["status"] == "in_use" and e["next_due_on"] and e["next_due_on"] < AS_OF
    ]
    assert late
    within = sum(d <= 30 for d in late) / len(late)
    assert 0.4 < within < 0.8 and max(late) < 1000


def test_equipment_status_scope_and_lift_locations(medium: Rows) -> None:
    eq = medium["equipment"]
    status = Counter(e["status"] for e in eq)
    assert status["in_use"] > 0.9 * len(eq) and status["stopped"] and status["scrapped"]
    # Stopped and scrapped units have no due date; construction-site cranes are not generated (法第100条).
    assert all(e["next_due_on"] is None for e in eq if e["status"] != "in_use")
    assert not [e for e in eq if e["sub_type"] in {"塔式起重机", "施工升降机"}]
    lifts = Counter(e["location_type"] for e in eq if e["category"] == "elevator")
    assert lifts.most_common(1)[0][0] == "residential"


def test_checks_carry_items_complaints_domains_and_reports_exist(medium: Rows) -> None:
    food_item = {"production": "SP-SC-01", "special_food": "SP-SC-01", "trade": "SP-XS-01", "catering": "SP-CY-01"}
    food = {}
    for f in medium["food_business"]:
        food.setdefault(f["uscc"], set()).add(food_item[f["licence_kind"]])
    checks = medium["check_result"]
    assert sum(c["item_code"] is not None for c in checks) > 0.9 * len(checks)
    food_checks = [c for c in checks if (c["item_code"] or "").startswith("SP-")]
    assert food_checks and all(c["item_code"] in food.get(c["uscc"], ()) for c in food_checks)
    assert {c["kind"] for c in food_checks} >= {"random", "targeted"}
    domains = Counter(c["domain"] for c in medium["complaint"])
    assert domains["food"] and domains["special_equipment"] and domains["consumer"]
    reports = medium["annual_report"]
    years = Counter(r["year"] for r in reports)
    assert set(years) == {2022, 2023, 2024}
    filed = [r for r in reports if r["filed_on"] is not None]
    on_time = sum(r["filed_on"] <= dt.date(r["year"] + 1, 6, 30) for r in filed) / len(reports)
    assert 0.85 < on_time < 0.99
    assert any(lic["kind"] == "industrial_product" for lic in medium["licence"])


def test_inspectors_have_mixed_qualifications_experts_and_conflicts(medium: Rows) -> None:
    inspectors = medium["inspector"]
    assert len(inspectors) == round(20_000 / 350)
    experts = [r for r in inspectors if r["certificate_no"] is None]
    assert 0 < len(experts) <= 0.1 * len(inspectors)
    assert all(len(r["qualifications"]) == 1 for r in experts)
    quals = Counter(q for r in inspectors for q in r["qualifications"])
    assert {"food", "special_equipment", "registration"} <= set(quals)
    assert len({r["unit"] for r in inspectors}) > 5
    assert medium["conflict"] and all(r["reason"] for r in medium["conflict"])


# ── loading ─────────────────────────────────────────────────────────────────────────────────────────────
def _dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        result = {}
        for name in TABLES:
            t = store.table(name)
            result[name] = [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
        return result


def test_load_writes_every_row_and_logs_the_demo(engine: sa.Engine) -> None:
    profile = get_profile("jiedong", 1500)
    result = load_demo(engine, profile, 3, AS_OF, now=NOW)
    with engine.connect() as conn:
        for name in TABLES:
            assert store.count_rows(conn, name) == result.rows[name], name
        log = conn.execute(sa.select(store.table("import_log"))).mappings().all()
    assert [(r["kind"], r["file_name"], r["rows"], r["inserted"]) for r in log] == [
        ("demo", "demo:jiedong:subjects=1500:seed=3:as_of=2025-12-31", result.total_rows, result.total_rows)
    ]
    assert result.rows["subject"] == 1500 and result.replaced == 0


def test_same_seed_gives_identical_store_content(tmp_path: Any) -> None:
    dumps = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        eng = store.make_engine(f"sqlite:///{tmp_path / name}.db")
        store.initialise(eng)
        load_demo(eng, get_profile("jiedong", 800), seed, AS_OF, now=NOW)
        dumps.append(_dump(eng))
        eng.dispose()
    assert dumps[0] == dumps[1]
    assert dumps[0]["subject"] != dumps[2]["subject"]


def test_a_second_demo_replaces_the_first(engine: sa.Engine) -> None:
    load_demo(engine, get_profile("jiedong", 900), 1, AS_OF, now=NOW)
    second = load_demo(engine, get_profile("jiedong", 600), 2, AS_OF, now=NOW)
    assert second.replaced > 900
    with engine.connect() as conn:
        assert store.count_rows(conn, "subject") == 600
        assert conn.execute(sa.text("SELECT count(*) FROM import_log WHERE kind = 'demo'")).scalar() == 2


def _import_something(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        import_one_subject(conn, "subjects.csv", NOW)


def test_imported_data_is_never_overwritten_without_replace(engine: sa.Engine) -> None:
    load_demo(engine, get_profile("jiedong", 300), 1, AS_OF, now=NOW)
    _import_something(engine)
    before = _dump(engine)
    with pytest.raises(
        DemoRefused,
        match=r"holds imported data \(1 import run\(s\), last: subjects subjects.csv\); rerun with --replace",
    ):
        load_demo(engine, get_profile("jiedong", 300), 2, AS_OF, now=NOW)
    assert _dump(engine) == before
    load_demo(engine, get_profile("jiedong", 300), 2, AS_OF, now=NOW, replace=True)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM subject WHERE name = '揭阳市真实数据有限公司'")).scalar() == 0
    # After the replacing demo, a further demo needs no --replace.
    load_demo(engine, get_profile("jiedong", 300), 3, AS_OF, now=NOW)


def test_a_failed_load_writes_nothing(engine: sa.Engine) -> None:
    load_demo(engine, get_profile("jiedong", 400), 1, AS_OF, now=NOW)
    before = _dump(engine)

    def explode(table: str, rows: int, expected: int) -> None:
        if table == "equipment":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        load_demo(engine, get_profile("jiedong", 2500), 2, AS_OF, now=NOW, on_progress=explode, batch_size=1000)
    assert _dump(engine) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM import_log")).scalar() == 1


def test_past_checks_carry_the_level_that_made_them(medium: Rows) -> None:
    """令49号 第42条 reads who checked: the demo's checks carry a level, mostly the county's (vocab.CHECK_LEVEL_MIX),
    complaint follow-ups always the county's, and some recent food checks a higher level's, so the rule acts."""
    from collections import Counter

    from engine.synth import vocab

    checks = medium["check_result"]
    assert all(r["level"] in ("national", "provincial", "city", "county") for r in checks)
    assert {r["level"] for r in checks if r["kind"] == "lead"} == {"county"}
    routine = Counter(r["level"] for r in checks if r["kind"] in ("random", "key"))
    total = sum(routine.values())
    for level, share in vocab.CHECK_LEVEL_MIX["routine"]:
        assert abs(routine[level] / total - share) < 0.02 + share * 0.2, (level, routine)
    recent = [r for r in checks if (r["item_code"] or "").startswith("SP-") and (AS_OF - r["checked_on"]).days < 90]
    assert sum(r["level"] != "county" for r in recent) >= 10
    # The levels come from a stream of their own: a second generation gives the same rows.
    again = generate(20_000, seed=7, batch_size=50_000)["check_result"]
    assert [r["level"] for r in again] == [r["level"] for r in checks]
