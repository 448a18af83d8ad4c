"""Re-check visits (复查) from `recheck` follow-up proposals: who goes, on which working day.

Pure (no store, no clock): the proposals still open, the visits they follow up, the roster as it is now, the
visits already on people's days, the working-day calendar and the scheduling date come in; `Recheck`s come out.

The team. The original visit's team goes back when every member is still active — still on the roster, not now in
a conflict of interest with the subject (回避) — and it still meets the staffing rules for the item (at least
`team_size` certified inspectors, enough holders of each qualification the item needs): they know the finding and
the order they gave. Otherwise the team is rebuilt with the rules staffing uses (engine.plan.teams): the original
members who are still active are kept, and certified inspectors of the subject's staffing pool (its county, the
jurisdiction, or the units serving its township) who have no conflict with the subject are added — holders of a
missing qualification first, then anyone certified, up to `team_size` — choosing the one with the fewest visits
in the re-check's window, equal counts going to the smaller SHA-256 of "<proposal id>|<inspector id>" (fixed by
the inputs, and not always the same person). The lead stays the original lead when kept, else the first kept
member, else the first one added. When no such team exists the re-check is not scheduled and says why.

The day. A working day (the plan schedule's calendar) inside the proposal's window [earliest, latest], not before
the scheduling date: the first day on which the lead already visits the subject's township (one trip, as the plan
schedule does) and every member has room under the daily capacity; else the first day with room for everyone;
else (all days full) the day with the least load, said in the note. A window that has already passed cannot be
kept: the re-check goes on the first working day from the scheduling date, and the note says it is late.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.plan.calendar import WorkCalendar
from entities.models import InspectorCreate

ORIGINAL = "original"  # the original visit's team
RESTAFFED = "restaffed"  # rebuilt (someone left the roster, a new conflict, a qualification missing)
SCHEME = "suijian.recheck/1"  # how a scheduling run's re-checks are hashed into its ledger entry
ID_LIMIT = 64  # plan_visit.visit_id


@dataclass(frozen=True)
class Due:
    """An open `recheck` proposal with what it needs of the visit it follows up."""

    proposal_id: str
    plan_id: str
    of_visit_id: str
    uscc: str
    region: str  # the subject's township (the original visit's)
    item_code: str
    reason: str
    basis: str
    earliest: dt.date
    latest: dt.date
    team: tuple[str, ...]  # the original visit's team, lead first
    lead: str


@dataclass(frozen=True)
class Recheck:
    """A scheduled re-check visit: its plan_visit row under the original plan, and how it was decided."""

    due: Due
    visit_id: str
    team: tuple[str, ...]  # lead first
    lead: str
    scheduled_on: dt.date
    team_rule: str
    note: str

    def visit_row(self) -> dict[str, Any]:
        """The new plan_visit row (the plan's own rows are untouched)."""
        return {
            "plan_id": self.due.plan_id,
            "visit_id": self.visit_id,
            "uscc": self.due.uscc,
            "region": self.due.region,
            "items": [self.due.item_code],
            "team": list(self.team),
            "lead": self.lead,
            "scheduled_on": self.scheduled_on,
            "due_on": self.due.latest,
            "status": "planned",
        }

    def recheck_row(self, run_id: str) -> dict[str, Any]:
        return {
            "plan_id": self.due.plan_id,
            "visit_id": self.visit_id,
            "proposal_id": self.due.proposal_id,
            "of_visit_id": self.due.of_visit_id,
            "item_code": self.due.item_code,
            "earliest": self.due.earliest,
            "latest": self.due.latest,
            "team_rule": self.team_rule,
            "note": self.note,
            "run_id": run_id,
        }


@dataclass(frozen=True)
class Unstaffed:
    """An open re-check no team can be formed for (not scheduled; it stays open)."""

    due: Due
    reason: str


@dataclass
class Scheduled:
    rechecks: list[Recheck] = field(default_factory=list)
    unstaffed: list[Unstaffed] = field(default_factory=list)


def visit_id(of_visit_id: str, item_code: str) -> str:
    """The re-check's visit id: "<original visit>/RC-<item>", readable in the task list; a hash when too long."""
    text = f"{of_visit_id}/RC-{item_code}"
    if len(text) <= ID_LIMIT:
        return text
    return "RC-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def row_hash(rows: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of a run's re-checks (scheme SCHEME): each joined plan_visit + recheck_visit record — without the
    derived `status` and `run_id` — as JSON with sorted keys, no spaces, UTF-8, one per line, in key order."""
    digest = hashlib.sha256()
    for r in sorted(rows, key=lambda r: (r["plan_id"], r["visit_id"])):
        data = {k: _plain(v) for k, v in r.items() if k not in ("status", "run_id")}
        digest.update(json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _tie(proposal_id: str, inspector_id: str) -> str:
    return hashlib.sha256(f"{proposal_id}|{inspector_id}".encode()).hexdigest()


def choose_team(
    due: Due,
    people: Mapping[str, InspectorCreate],
    conflicts: Mapping[str, set[str]],
    needs: Mapping[str, int],
    *,
    team_size: int,
    may_staff: Callable[[InspectorCreate], bool],
    load: Callable[[str], int],
) -> tuple[tuple[str, ...], str, str, str] | str:
    """(team, lead, rule, note), or the one-line reason no team can be formed (see the module docstring).

    `needs`: qualification → certified holders the item needs; `may_staff(i)`: i is in the subject's staffing pool
    and their unit carries out the item; `load`: visits each inspector already has in the window."""
    blocked = conflicts.get(due.uscc, set())

    def active(m: str) -> bool:
        return m in people and m not in blocked

    def certified(m: str) -> bool:
        return not people[m].is_expert

    def holders(team: Sequence[str], q: str) -> int:
        return sum(1 for m in team if certified(m) and q in {str(x) for x in people[m].qualifications})

    def meets(team: Sequence[str]) -> bool:
        return sum(1 for m in team if certified(m)) >= team_size and all(
            holders(team, q) >= k for q, k in needs.items()
        )

    gone = [m for m in due.team if m not in people]
    conflicted = [m for m in due.team if m in people and m in blocked]
    if not gone and not conflicted and meets(due.team):
        return due.team, due.lead, ORIGINAL, "原检查组（成员均在岗、无回避事由）"
    kept = [m for m in due.team if active(m)]
    pool = sorted(
        (p for p in people.values() if p.id not in kept and p.id not in blocked and certified(p.id) and may_staff(p)),
        key=lambda p: (load(p.id), _tie(due.proposal_id, p.id)),
    )
    team = list(kept)
    for q, k in sorted(needs.items()):
        for p in pool:
            if holders(team, q) >= k:
                break
            if p.id not in team and q in {str(x) for x in p.qualifications}:
                team.append(p.id)
    for p in pool:
        if sum(1 for m in team if certified(m)) >= team_size:
            break
        if p.id not in team:
            team.append(p.id)
    why = []
    if gone:
        why.append(f"{'、'.join(gone)} 已不在名录")
    if conflicted:
        why.append(f"{'、'.join(conflicted)} 需回避")
    if not why:
        why.append("原检查组资质或人数已不符合要求")
    if not meets(team):
        missing = [q for q, k in sorted(needs.items()) if holders(team, q) < k]
        lack = (
            f"no certified holder of {', '.join(missing)} is free of conflict in the subject's pool"
            if missing
            else (f"fewer than {team_size} certified inspectors free of conflict in the subject's pool")
        )
        return f"re-check {due.proposal_id}: the original team cannot go ({'；'.join(why)}) and {lack}"
    lead = due.lead if due.lead in kept else next(m for m in team if certified(m))
    ordered = (lead, *[m for m in team if m != lead])
    added = [m for m in team if m not in kept]
    note = f"重组检查组：{'；'.join(why)}；保留 {'、'.join(kept) or '无'}，补充 {'、'.join(added)}（同一检查组池、无回避、窗口内任务最少）"
    return ordered, lead, RESTAFFED, note


def choose_day(
    due: Due,
    team: Sequence[str],
    lead: str,
    calendar: WorkCalendar,
    as_of: dt.date,
    busy: Counter[tuple[str, dt.date]],
    trips: set[tuple[str, str, dt.date]],
    daily_capacity: int,
) -> tuple[dt.date, str]:
    """The re-check's working day and a note (see the module docstring). `busy[(inspector, day)]`: visits already
    on that day; `trips`: (inspector, township, day) of visits already scheduled."""
    start = max(due.earliest, as_of)
    if start > due.latest:
        day = calendar.next_working_day(as_of)
        return day, f"复查期限 {due.earliest}—{due.latest} 已过，安排在最早的工作日"
    days = [d for d in _days(start, due.latest) if calendar.is_working_day(d)]
    if not days:
        day = calendar.next_working_day(due.latest)
        return day, f"复查期限 {due.earliest}—{due.latest} 内无工作日，安排在其后第一个工作日"
    room = [d for d in days if all(busy[(m, d)] < daily_capacity for m in team)]
    same_trip = [d for d in room if (lead, due.region, d) in trips]
    if same_trip:
        return same_trip[0], "与组长当日在同一街镇的检查同行"
    if room:
        return room[0], "期限内第一个全组有余量的工作日"
    day = min(days, key=lambda d: (max(busy[(m, d)] for m in team), d))
    return day, f"期限内每个工作日都已满（每日 {daily_capacity} 户），安排在负荷最小的一天"


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def schedule(
    dues: Sequence[Due],
    people: Mapping[str, InspectorCreate],
    conflicts: Mapping[str, set[str]],
    needs: Mapping[str, Mapping[str, int]],
    calendar: WorkCalendar,
    as_of: dt.date,
    *,
    team_size: int,
    daily_capacity: int,
    may_staff: Callable[[InspectorCreate, Due], bool],
    busy: Counter[tuple[str, dt.date]] | None = None,
    trips: set[tuple[str, str, dt.date]] | None = None,
) -> Scheduled:
    """Teams and days for open re-checks, the narrowest deadline first (then by proposal id); each placed re-check
    takes its room before the next is placed."""
    busy = Counter(busy or {})
    trips = set(trips or ())
    out = Scheduled()
    for due in sorted(dues, key=lambda d: (d.latest, d.proposal_id)):
        window = _days(max(due.earliest, as_of), due.latest)

        def load(m: str, window: list[dt.date] = window) -> int:
            return sum(busy[(m, d)] for d in window)

        chosen = choose_team(
            due,
            people,
            conflicts,
            needs.get(due.item_code, {}),
            team_size=team_size,
            may_staff=lambda p, due=due: may_staff(p, due),  # type: ignore[misc]
            load=load,
        )
        if isinstance(chosen, str):
            out.unstaffed.append(Unstaffed(due, chosen))
            continue
        team, lead, rule, team_note = chosen
        day, day_note = choose_day(due, team, lead, calendar, as_of, busy, trips, daily_capacity)
        for m in team:
            busy[(m, day)] += 1
            trips.add((m, due.region, day))
        out.rechecks.append(
            Recheck(due, visit_id(due.of_visit_id, due.item_code), team, lead, day, rule, f"{team_note}；{day_note}")
        )
    return out
