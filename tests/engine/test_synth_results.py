"""engine.synth.results: the simulated year of results — deterministic per seed, inside each visit's window, on
working days, at the rates its parameters name (pure: no store)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest

from engine.plan.calendar import WorkCalendar
from engine.results.codes import default_codes
from engine.results.model import MeasureKind
from engine.results.publication import deadline
from engine.results.validate import HEADERS
from engine.synth import results as sim
from engine.synth.result_year import cycle_days, sheet

CAL = WorkCalendar()
START, END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
DOMAINS = {
    "SP-CY-01": "food",
    "TS-SY-01": "special_equipment",
    "DJ-GS-01": "registration",
    "YL-JY-01": "medical_device",
}


def visits(n: int = 6000, seed: int = 5) -> tuple[list[sim.PlannedVisit], dict[str, str]]:
    """n visits spread over the year, one item each over four domains, monthly windows like the demo plan's."""
    rng = random.Random(seed)
    out, classes = [], {}
    items = sorted(DOMAINS)
    for k in range(n):
        month = rng.randint(1, 12)
        scheduled = CAL.next_working_day(dt.date(2026, month, rng.randint(1, 20)))
        due = (dt.date(2026, month, 28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        uscc = f"9144520{k:011d}"
        classes[uscc] = rng.choices("ABCD", weights=(80, 10, 9, 1))[0]
        out.append(
            sim.PlannedVisit("P2026-test", uscc, uscc, (items[k % 4],), ("ZF1", "ZF2"), min(scheduled, due), due)
        )
    return out, classes


def run(seed: int = 1, n: int = 6000) -> tuple[sim.Simulated, sim.Limits, list[sim.PlannedVisit]]:
    planned, classes = visits(n)
    limits = sim.Limits.of(CAL, START, END)
    year = sim.simulate(planned, classes=classes, domains=DOMAINS, calendar=CAL, limits=limits, seed=seed)
    return year, limits, planned


def test_same_seed_same_year_and_another_seed_another() -> None:
    a, _, _ = run(seed=3, n=800)
    b, _, _ = run(seed=3, n=800)
    c, _, _ = run(seed=4, n=800)
    assert a == b
    assert a.done != c.done
    assert sheet(a.done) == sheet(b.done)  # the results file is byte-identical too


def test_limits_keep_every_clock_inside_the_calendar() -> None:
    limits = sim.Limits.of(CAL, START, END)
    # The library covers 2026 only: the last completion's 20-working-day 公示 deadline is still in 2026, the next
    # working day's is not.
    assert deadline(CAL, limits.last_completion).year == 2026
    assert not CAL.covers(2027)
    after = CAL.add_working_days(limits.last_completion, 1)
    with pytest.raises(Exception, match="no working-day calendar for 2027"):
        deadline(CAL, after)
    assert CAL.add_working_days(limits.last_order_day, 10).year == 2026
    assert limits.year_end == dt.date(2026, 12, 31) and CAL.is_working_day(limits.year_end)


def test_every_date_is_inside_its_window_on_a_working_day() -> None:
    year, limits, planned = run()
    assert year.done
    for s in year.done:
        v = s.visit
        assert v.scheduled_on <= s.completed_on <= v.due_on, v
        assert s.completed_on <= limits.last_completion
        assert CAL.is_working_day(s.completed_on)
        assert s.completed_on <= s.filed_on <= limits.year_end
        for item in s.items:
            if item.deadline is not None:
                assert s.completed_on <= item.deadline <= max(limits.last_order_day, s.completed_on)
            if item.report_on is not None:
                assert s.completed_on < item.report_on <= s.filed_on
    assert len(year.done) + year.not_done + year.beyond_calendar == len(planned)


def test_rates_are_the_named_parameters() -> None:
    year, _, planned = run()
    codes = default_codes()
    items = [(s.visit.items[0], i) for s in year.done for i in s.items]
    n = len(items)
    clean = sum(1 for _, i in items if i.result_codes == ("1",))
    found = [(code, i) for code, i in items if set(i.result_codes) & codes.problems]
    # 未发现问题 dominates; findings are a minority, and more common than the 7 / F outcomes.
    assert 0.70 < clean / n < 0.90
    assert 0.10 < len(found) / n < 0.25
    # Special equipment: 9.3 % (揭东's 120 监察指令 in 1,290 unit checks) scaled by the class mix (mean factor ≈ 1.0).
    eq = [i for code, i in items if code == "TS-SY-01"]
    eq_found = [i for i in eq if set(i.result_codes) & codes.problems]
    assert 0.06 < len(eq_found) / len(eq) < 0.13
    assert all(i.measure in (MeasureKind.DIRECTIVE, MeasureKind.STOP_USE) for i in eq_found)
    # 无法联系 (code 6) occurs, mostly on registration checks; every finding is marked synthetic.
    six = Counter(code for code, i in items if "6" in i.result_codes)
    assert six["DJ-GS-01"] > 0 and six["DJ-GS-01"] > six["SP-CY-01"]
    assert all(i.findings.startswith(sim.SYNTHETIC_MARK) for _, i in found)
    assert all(i.findings == "" for _, i in items if not set(i.result_codes) & codes.problems)
    # Orders that set a period have a deadline; some have their rectification report in.
    orders = [
        i for _, i in found if i.measure in (MeasureKind.RECTIFY, MeasureKind.DIRECTIVE, MeasureKind.ORDER_PUBLISH)
    ]
    assert orders and all(i.deadline is not None for i in orders)
    assert any(i.report_on is not None for i in orders)
    # A few visits are not done; a few sheets come back late (more than 20 working days after the visit).
    assert 0.005 < year.not_done / len(planned) < 0.03
    late = sum(1 for s in year.done if CAL.count_working_days(s.completed_on, s.filed_on) > 15)
    assert 0.01 < late / len(year.done) < 0.08


def test_riskier_classes_are_found_at_fault_more_often() -> None:
    year, _, planned = run()
    _, classes = visits()
    codes = default_codes()
    by_class: dict[str, list[bool]] = {}
    for s in year.done:
        hit = any(set(i.result_codes) & codes.problems for i in s.items)
        by_class.setdefault(classes[s.visit.uscc], []).append(hit)
    share = {k: sum(v) / len(v) for k, v in by_class.items()}
    assert share["A"] < share["B"] < share["C"]


def test_visits_beyond_the_calendar_are_counted_not_invented() -> None:
    # A visit due in late December cannot be completed with its 公示 clock inside 2026: it is left unrecorded.
    limits = sim.Limits.of(CAL, START, END)
    late = sim.PlannedVisit("P2026-test", "V1", "V1", ("SP-CY-01",), ("ZF1", "ZF2"), dt.date(2026, 12, 21), END)
    year = sim.simulate([late], classes={}, domains=DOMAINS, calendar=CAL, limits=limits, seed=1)
    assert year.done == () and year.beyond_calendar == 1


def test_cycle_days_are_working_days_twice_a_month_and_the_year_end() -> None:
    limits = sim.Limits.of(CAL, START, END)
    days = cycle_days(CAL, START, limits)
    assert all(CAL.is_working_day(d) for d in days)
    assert days[0] == dt.date(2026, 1, 16) and days[-1] == dt.date(2026, 12, 31)
    # 2026-02-16 falls in the Spring Festival holiday (15–23 February): the office works again on the 24th.
    assert dt.date(2026, 2, 24) in days and dt.date(2026, 2, 16) not in days
    assert len(days) == 24  # the 16th of January, then the 1st and the 16th of each month, and 31 December


def test_the_sheet_has_the_import_headers() -> None:
    year, _, _ = run(n=40)
    text = sheet(year.done).decode("utf-8")
    assert text.splitlines()[0] == ",".join(HEADERS.values())
    assert len(text.splitlines()) == 1 + sum(len(s.items) for s in year.done)
