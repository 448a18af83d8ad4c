"""`suijian demo --results`: play a simulated year of a committed plan through the real 一公开 paths, then re-grade.

Every half month (the first working day on or after the 1st and the 16th) the office does what a user would do with
the commands: it imports the results sheets that came back (a real CSV with the task list's headers, through
`engine.results.intake.import_results`, one batch and ledger entry each), proposes follow-ups
(`followup_store.refresh`), decides the 经营异常名录 proposals of the cycle before (`followup_store.decide`), and
publishes what is recorded (`publishing.publish`, XLSX and CSV written). Then the store is graded again as of the
period's end and each subject's class is compared with the grade the plan was drawn from.

Nothing here reads the clock: days come from the simulation, `created_at` (when the ledger entries were written)
from the caller.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine import grading
from engine.plan.calendar import WorkCalendar
from engine.results import followup_store, followups, intake, publishing
from engine.results.codes import ResultCodes, default_codes
from engine.results.validate import HEADERS
from engine.rules import Pack
from engine.synth.results import SYNTHETIC_MARK, Limits, PlannedVisit, SimVisit, simulate
from entities import store
from entities.identity import Identity

# [synthetic] Share of 经营异常名录 proposals (code 6, 无法联系) a supervisor confirms; the rest are rejected because a
# second visit or the registered letters (企业经营异常名录管理办法 第9条) reached the subject after all.
LISTING_CONFIRM_SHARE = 0.85
CONFIRM_REASON = SYNTHETIC_MARK + "实地核查及两次挂号信均无法联系"
REJECT_REASON = SYNTHETIC_MARK + "复核时已通过登记住所联系上"

# What the migration table compares: the output, its Chinese name, and the labels of its values.
COMPARED: Sequence[tuple[str, str, Mapping[str, str]]] = (
    ("credit_class", "信用风险分类", {"A": "A 低", "B": "B 一般", "C": "C 较高", "D": "D 高"}),
    ("food_grade", "食品风险等级", {"A": "A 级", "B": "B 级", "C": "C 级", "D": "D 级", "none": "不评定"}),
    ("hazard_level", "特种设备风险等级", {"1": "1 级", "2": "2 级", "3": "3 级", "4": "4 级"}),
)
# How the year went for a subject, the columns of the migration table.
FOUND, CLEAN, UNCHECKED = "found", "clean", "unchecked"


@dataclass
class Year:
    """What the simulated year did (the `--json` document's `results` member)."""

    plan_id: str
    seed: int
    limits: Limits
    visits: int = 0
    done: int = 0
    not_done: int = 0
    beyond_calendar: int = 0
    items: Counter[str] = field(default_factory=Counter)  # result code → items carrying it
    checked_items: int = 0  # items checked (an item may carry two codes)
    batches: list[dict[str, Any]] = field(default_factory=list)
    publications: list[dict[str, Any]] = field(default_factory=list)
    proposals: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    publish_days: list[int] = field(default_factory=list)  # working days from completion to 公示, per result
    regrade: dict[str, Any] = field(default_factory=dict)
    # Caused by the year's results: the same day graded without them (before anything was recorded) and with them.
    migrations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    # Since the grade the plan was drawn from: the results and time passing (windows closing, inspections falling due).
    since_plan: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    since_plan_unchanged: dict[str, int] = field(default_factory=dict)
    folder: str = ""

    def as_dict(self) -> dict[str, Any]:
        on_time = sum(p["on_time"] for p in self.publications)
        late = sum(p["late"] for p in self.publications)
        return {
            "plan_id": self.plan_id,
            "seed": self.seed,
            "synthetic": True,
            "folder": self.folder,
            "last_completion": self.limits.last_completion.isoformat(),
            "visits": {
                "planned": self.visits,
                "done": self.done,
                "not_done": self.not_done,
                "beyond_calendar": self.beyond_calendar,
            },
            "items": {"total": self.checked_items, "by_code": dict(sorted(self.items.items()))},
            "batches": self.batches,
            "publications": self.publications,
            "published": {
                "records": on_time + late,
                "on_time": on_time,
                "late": late,
                "median_working_days": statistics.median(self.publish_days) if self.publish_days else None,
            },
            "followups": dict(sorted(self.proposals.items())),
            "decisions": dict(sorted(self.decisions.items())),
            "regrade": self.regrade,
            "migrations": self.migrations,
            "unchanged": self.unchanged,
            "since_plan": {"migrations": self.since_plan, "unchanged": self.since_plan_unchanged},
        }


# ── reading the plan ─────────────────────────────────────────────────────────────────────────────────────────


def planned_visits(conn: Connection, plan_id: str) -> list[PlannedVisit]:
    v, p = store.table("plan_visit"), store.table("plan")
    rows = conn.execute(
        sa.select(v.c.visit_id, v.c.uscc, v.c["items"], v.c.team, v.c.scheduled_on, v.c.due_on, p.c.period_end)
        .join(p, p.c.id == v.c.plan_id)
        .where(v.c.plan_id == plan_id)
        .order_by(v.c.visit_id)
    )
    return [
        PlannedVisit(
            plan_id=plan_id,
            visit_id=r.visit_id,
            uscc=r.uscc,
            items=tuple(r.items),
            team=tuple(r.team),
            scheduled_on=_day(r.scheduled_on or r.period_end),
            due_on=_day(r.due_on or r.period_end),
        )
        for r in rows
    ]


def period_of(conn: Connection, plan_id: str) -> tuple[dt.date, dt.date]:
    p = store.table("plan")
    row = conn.execute(sa.select(p.c.period_start, p.c.period_end).where(p.c.id == plan_id)).one()
    return _day(row.period_start), _day(row.period_end)


def domains_of(conn: Connection) -> dict[str, str]:
    t = store.table("check_item")
    return {str(c): str(d) for c, d in conn.execute(sa.select(t.c.code, t.c.domain))}


# ── the office's calendar ────────────────────────────────────────────────────────────────────────────────────


def cycle_days(calendar: WorkCalendar, start: dt.date, limits: Limits) -> list[dt.date]:
    """The office's recording and 公示 days: the first working day on or after the 1st and the 16th of each month
    after the period's start, and the period's last working day (the year-end sweep)."""
    days = set()
    month = dt.date(start.year, start.month, 1)
    while month <= limits.year_end:
        for first in (month, month.replace(day=16)):
            day = calendar.next_working_day(first)
            if start < first and day <= limits.year_end:  # nothing can be filed on the period's first day
                days.add(day)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    days.add(limits.year_end)
    return sorted(days)


# ── the results sheet ────────────────────────────────────────────────────────────────────────────────────────


def sheet(visits: Iterable[SimVisit]) -> bytes:
    """The filled-in results as a CSV with the task list's headers (UTF-8), one row per visit and item."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS.values())
    for s in visits:
        v = s.visit
        for item in s.items:
            writer.writerow(
                [
                    v.plan_id,
                    v.visit_id,
                    v.uscc,
                    item.item_code,
                    s.completed_on.isoformat(),
                    "；".join(item.result_codes),
                    item.findings,
                    item.measure.label if item.measure else "",
                    item.deadline.isoformat() if item.deadline else "",
                    item.report_on.isoformat() if item.report_on else "",
                    "、".join(v.team),
                    "",
                ]
            )
    return buffer.getvalue().encode("utf-8")


# ── the year ─────────────────────────────────────────────────────────────────────────────────────────────────


def run_year(
    engine: Engine,
    *,
    plan_id: str,
    grade_run: str,
    pack: Pack,
    seed: int,
    calendar: WorkCalendar,
    actor: Identity,
    created_at: dt.datetime,
    out_dir: Path,
    regrade_on: dt.date | None = None,
    on_cycle: Callable[[int, int], object] | None = None,
    codes: ResultCodes | None = None,
) -> Year:
    """Simulate the plan's year of results, record, propose, decide and publish them cycle by cycle, re-grade."""
    table = codes if codes is not None else default_codes()
    with engine.connect() as conn:
        visits = planned_visits(conn, plan_id)
        start, end = period_of(conn, plan_id)
        before = outputs_of_run(conn, grade_run)  # read once: the simulation's classes and the migrations' start
        domains = domains_of(conn)
    limits = Limits.of(calendar, start, end)
    when = regrade_on or end
    with engine.connect() as conn:
        without = outputs_as_of(conn, pack, when)  # the counterfactual: the same day with no result recorded
    classes = {u: grading.label_of(o["credit_class"]) for u, o in before.items() if o.get("credit_class") is not None}
    simulated = simulate(visits, classes=classes, domains=domains, calendar=calendar, limits=limits, seed=seed)
    year = Year(plan_id, seed, limits, visits=len(visits), done=len(simulated.done))
    year.not_done, year.beyond_calendar = simulated.not_done, simulated.beyond_calendar
    year.items = Counter(code for s in simulated.done for i in s.items for code in i.result_codes)
    year.checked_items = sum(len(s.items) for s in simulated.done)
    folder = out_dir / f"模拟数据-{plan_id}"
    (folder / "检查结果").mkdir(parents=True, exist_ok=True)
    (folder / "公示").mkdir(parents=True, exist_ok=True)
    year.folder = str(folder)
    days = cycle_days(calendar, start, limits)
    previous = start - dt.timedelta(days=1)
    for n, day in enumerate(days, start=1):
        filed = [s for s in simulated.done if previous < s.filed_on <= day]
        with engine.begin() as conn:
            _cycle(conn, year, day, filed, folder, calendar, pack, actor, created_at, seed, last=n == len(days))
        previous = day
        if on_cycle is not None:
            on_cycle(n, len(days))
    year.publish_days = _publish_days(engine, plan_id, calendar)
    with engine.begin() as conn:
        run = grading.grade_store(conn, pack, when, created_at=created_at, actor=actor)
        year.regrade = {"run_id": run.id, "as_of": when.isoformat(), "distributions": run.distributions}
        checked = _how_checked(conn, plan_id, table)
        after = outputs_of_run(conn, run.id)
        year.migrations, year.unchanged = migrations(without, after, checked)
        year.since_plan, year.since_plan_unchanged = migrations(before, after, checked)
    return year


def _cycle(
    conn: Connection,
    year: Year,
    day: dt.date,
    filed: Sequence[SimVisit],
    folder: Path,
    calendar: WorkCalendar,
    pack: Pack,
    actor: Identity,
    created_at: dt.datetime,
    seed: int,
    *,
    last: bool,
) -> None:
    """One recording and 公示 day of the office."""
    if filed:
        path = folder / "检查结果" / f"模拟数据-检查结果-{day.isoformat()}.csv"
        path.write_bytes(sheet(filed))
        done = intake.import_results(conn, path, recorded_on=day, actor=actor, created_at=created_at)
        # The file relative to the year's folder: the document is the same wherever the folder was written.
        year.batches.append({**done.as_dict(), "recorded_on": day.isoformat(), "file": str(path.relative_to(folder))})
    new = followup_store.refresh(conn, calendar, day, pack)  # the pack's follow-up decisions (followups.yaml)
    if new:
        kinds = conn.execute(
            sa.select(store.table("followup_proposal").c.kind).where(
                store.table("followup_proposal").c.proposed_on == day
            )
        )
        year.proposals.update(str(k) for (k,) in kinds)
    # Decide the listings proposed on an earlier day (on the last day every open one too: the year is closed).
    for row in followup_store.listing(conn, open_only=True):
        p = row.proposal
        if p["kind"] != followups.ProposalKind.LIST_ABNORMAL.value or (_day(p["proposed_on"]) >= day and not last):
            continue
        confirm = _share(seed, str(p["id"])) < LISTING_CONFIRM_SHARE
        decided = followup_store.decide(
            conn,
            str(p["id"]),
            followups.Decision.CONFIRM if confirm else followups.Decision.REJECT,
            actor=actor,
            decided_on=day,
            reason=CONFIRM_REASON if confirm else REJECT_REASON,
            created_at=created_at,
        )
        year.decisions["listed" if decided["listed"] else "rejected"] += 1
    published = publishing.publish(
        conn, calendar, published_on=day, actor=actor, created_at=created_at, plan_id=year.plan_id, until=day
    )
    if published.id is not None:
        base = folder / "公示" / f"模拟数据-公示-{day.isoformat()}"
        base.with_suffix(".xlsx").write_bytes(published.xlsx)
        base.with_suffix(".csv").write_bytes(published.csv)
        year.publications.append({"published_on": day.isoformat(), **published.as_dict()})


def _share(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by the seed and a proposal id (its decision does not depend on the order)."""
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _publish_days(engine: Engine, plan_id: str, calendar: WorkCalendar) -> list[int]:
    p, i = store.table("publication"), store.table("publication_item")
    stmt = (
        sa.select(i.c.completed_on, p.c.published_on)
        .join(p, p.c.id == i.c.publication_id)
        .where(i.c.plan_id == plan_id)
        .order_by(i.c.visit_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [calendar.count_working_days(_day(c) + dt.timedelta(days=1), _day(d)) for c, d in rows]


def _how_checked(conn: Connection, plan_id: str, table: ResultCodes) -> dict[str, str]:
    """Each subject the year's results reached: FOUND if a result in force found a problem, else CLEAN."""
    out: dict[str, str] = {}
    for r in publishing.current_results(conn, plan_id):
        found = any(c in table.problems for c in r.result_codes)
        out[r.uscc] = FOUND if found or out.get(r.uscc) == FOUND else CLEAN
    return out


def outputs_of_run(conn: Connection, run_id: str) -> dict[str, dict[str, Any]]:
    """Each subject's compared outputs in a stored grade run."""
    frame = grading.outcomes_frame(conn, run_id)
    names = [n for n, _, _ in COMPARED if n in frame.columns]
    columns = [frame[n].to_list() for n in names]
    return {
        u: dict(zip(names, values, strict=True)) for u, *values in zip(frame["uscc"].to_list(), *columns, strict=True)
    }


def outputs_as_of(conn: Connection, pack: Pack, day: dt.date) -> dict[str, dict[str, Any]]:
    """Each subject's compared outputs graded as of `day` from the store as it is, nothing stored (no run, no entry)."""
    out: dict[str, dict[str, Any]] = {}
    for state, frame, ids in grading.grade_partitions(conn, pack, day):
        for uscc, outcome in zip(frame["uscc"].to_list(), ids.tolist(), strict=True):
            outputs = state.outcomes[outcome].outputs
            out[uscc] = {n: outputs.get(n) for n, _, _ in COMPARED if n in outputs}
    return out


def migrations(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]], checked: Mapping[str, str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """Per compared output: each (from, to) that changed, with how many of its subjects the year found at fault,
    checked without a finding, or did not check; and how many subjects kept their value."""
    moved: dict[str, list[dict[str, Any]]] = {}
    same: dict[str, int] = {}
    for name, _, _ in COMPARED:
        pairs: Counter[tuple[str, str, str]] = Counter()
        kept = 0
        for uscc in sorted(new):
            a, b = old.get(uscc, {}).get(name), new[uscc].get(name)
            if a is None or b is None:
                continue
            a, b = grading.label_of(a), grading.label_of(b)
            if a == b:
                kept += 1
            else:
                pairs[(a, b, checked.get(uscc, UNCHECKED))] += 1
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for (a, b, how), n in pairs.items():
            row = rows.setdefault((a, b), {"from": a, "to": b, "subjects": 0, FOUND: 0, CLEAN: 0, UNCHECKED: 0})
            row["subjects"] += n
            row[how] += n
        ordered = sorted(rows.values(), key=lambda r: (grading.label_order(r["from"]), grading.label_order(r["to"])))
        if ordered:
            moved[name] = ordered
        if kept or ordered:
            same[name] = kept
    return moved, same


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
