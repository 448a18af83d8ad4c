"""A plan as data: per item the draw, the visits with their teams, the load per inspector, and what is left out.

Everything here is plain, immutable data. `Plan.to_json()` is canonical (sorted keys, lists in a fixed order,
no wall-clock time), so the same inputs give byte-identical JSON and a ledger can hash it; `Plan.from_json`
reads it back for exports.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import polars as pl

from engine.ledger import canonical, plan_columns
from engine.plan.policy import Period, PlanPolicy
from engine.sampling import TICKET_SCHEME, StratumDraw, Ticket

_T = TypeVar("_T")

PLAN_FORMAT = "suijian.plan/1"  # unfitted: drawn at the asked ratios, staffed afterwards (suijian 0.1 – 0.2)
PLAN_FORMAT_FITTED = "suijian.plan/2"  # fitted: capacity shared out before the draw (engine.plan.fitted)
# The fitted plan with a columnar document (engine.ledger.plan_columns): how new plans are stored and hashed.
PLAN_FORMAT_COLUMNAR = "suijian.plan/3"


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def _pair(t: dict[str, str] | None) -> Ticket | None:
    return None if t is None else Ticket(t["ticket"], t["id"], 1)


@dataclass(frozen=True)
class StratumPlan:
    """One stratum of one item: the draw (population, quota, drawn tickets, cut-off) and the ratio behind it."""

    draw: StratumDraw
    key: Mapping[str, str]  # e.g. {"county": "440111", "credit_class": "C"}
    ratio: str  # the ratio applied, e.g. "5%"
    ratio_asked: str | None = None  # the policy's ratio when the 一般-item cap lowered it

    @property
    def stratum(self) -> str:
        return self.draw.stratum

    def to_dict(self) -> dict[str, Any]:
        out = self.draw.to_dict()
        out.update(key=dict(self.key), ratio=self.ratio, ratio_asked=self.ratio_asked)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StratumPlan:
        drawn = tuple(Ticket(t["ticket"], t["id"], 1) for t in d["drawn"])
        draw = StratumDraw(
            stratum=d["stratum"],
            population=d["population"],
            quota=d["quota"],
            drawn=drawn,
            next_in_line=_pair(d["next_in_line"]),
        )
        return cls(draw=draw, key=dict(d["key"]), ratio=d["ratio"], ratio_asked=d["ratio_asked"])


@dataclass(frozen=True)
class ItemPlan:
    """One check item: its population, exclusions by reason, strata with quotas and draws, mandatory work."""

    code: str
    name: str
    kind: str  # key | general
    domain: str
    method: str
    joint_group: str | None
    seed: str  # the seed its tickets come from: the plan's, or derive_seed(plan seed, "item/<code>")
    strata_by: tuple[str, ...]
    population: int  # subjects in the jurisdiction matching the item's target
    exclusions: Mapping[str, int]  # reason → subjects taken out of the draw (first reason counts)
    eligible: int
    strata: tuple[StratumPlan, ...]
    mandatory_required: int  # subjects the rule pack makes mandatory for this item in the jurisdiction
    mandatory_excluded: int  # of those, registration ended (cannot be visited)

    @property
    def quota(self) -> int:
        return sum(s.draw.quota for s in self.strata)

    @property
    def drawn_count(self) -> int:
        return sum(len(s.draw.drawn) for s in self.strata)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "domain": self.domain,
            "method": self.method,
            "joint_group": self.joint_group,
            "seed": self.seed,
            "strata_by": list(self.strata_by),
            "population": self.population,
            "exclusions": dict(self.exclusions),
            "excluded": sum(self.exclusions.values()),
            "eligible": self.eligible,
            "quota": self.quota,
            "drawn_count": self.drawn_count,
            "strata": [s.to_dict() for s in self.strata],
            "mandatory_required": self.mandatory_required,
            "mandatory_excluded": self.mandatory_excluded,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ItemPlan:
        return cls(
            code=d["code"],
            name=d["name"],
            kind=d["kind"],
            domain=d["domain"],
            method=d["method"],
            joint_group=d["joint_group"],
            seed=d["seed"],
            strata_by=tuple(d["strata_by"]),
            population=d["population"],
            exclusions=dict(d["exclusions"]),
            eligible=d["eligible"],
            strata=tuple(StratumPlan.from_dict(s) for s in d["strata"]),
            mandatory_required=d["mandatory_required"],
            mandatory_excluded=d["mandatory_excluded"],
        )


@dataclass(frozen=True, slots=True)
class VisitItem:
    """One item checked during a visit, and why: drawn (with its stratum), mandatory (with the pack's reason), or both."""

    code: str
    drawn: bool
    mandatory: bool
    stratum: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "drawn": self.drawn,
            "mandatory": self.mandatory,
            "stratum": self.stratum,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VisitItem:
        return cls(
            code=d["code"],
            drawn=d["drawn"],
            mandatory=d["mandatory"],
            stratum=d["stratum"],
            reason=d["reason"],
        )


@dataclass(frozen=True, slots=True)
class Visit:
    """One entry into a subject's premises (进一次门): its items, the team and lead, and when it is due."""

    id: str  # the USCC, or "<USCC>/<joint group>" when the policy merges only within joint groups
    uscc: str
    region: str
    items: tuple[VisitItem, ...]
    team: tuple[str, ...]  # lead first, then the other certified members, then experts
    lead: str
    experts: tuple[str, ...]
    due_from: dt.date
    due_to: dt.date
    priority: int  # 1 = staffed first (mandatory work, then by risk, then by ticket)
    risk: float | None
    previous_leads: tuple[str, ...] = ()
    lead_repeats: bool = False  # true only if every certified member led the previous visit
    # Fitted plans (suijian.plan/2) only; None in plan/1 documents, which keep their bytes:
    scheduled_on: dt.date | None = None  # the working day the schedule gives it (engine.plan.dates)
    due_on: dt.date | None = None  # the last working day it may be done on
    index: int = 1  # the subject's index-th visit of `count` in the period (frequency work: 4 a year → 1..4)
    count: int = 1

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.items)

    @property
    def mandatory(self) -> bool:
        return any(i.mandatory for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uscc": self.uscc,
            "region": self.region,
            "items": [i.to_dict() for i in self.items],
            "team": list(self.team),
            "lead": self.lead,
            "experts": list(self.experts),
            "due_from": self.due_from.isoformat(),
            "due_to": self.due_to.isoformat(),
            "priority": self.priority,
            "risk": self.risk,
            "previous_leads": list(self.previous_leads),
            "lead_repeats": self.lead_repeats,
            **(
                {
                    "scheduled_on": self.scheduled_on.isoformat(),
                    "due_on": None if self.due_on is None else self.due_on.isoformat(),
                    "index": self.index,
                    "count": self.count,
                }
                if self.scheduled_on is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Visit:
        return cls(
            id=d["id"],
            uscc=d["uscc"],
            region=d["region"],
            items=tuple(VisitItem.from_dict(i) for i in d["items"]),
            team=tuple(d["team"]),
            lead=d["lead"],
            experts=tuple(d["experts"]),
            due_from=dt.date.fromisoformat(d["due_from"]),
            due_to=dt.date.fromisoformat(d["due_to"]),
            priority=d["priority"],
            risk=d["risk"],
            previous_leads=tuple(d["previous_leads"]),
            lead_repeats=d["lead_repeats"],
            scheduled_on=_date(d.get("scheduled_on")),
            due_on=_date(d.get("due_on")),
            index=d.get("index", 1),
            count=d.get("count", 1),
        )


@dataclass(frozen=True)
class Dropped:
    """Work the plan could not schedule: a visit or some of its items, with a stable code and the reason."""

    visit: str
    uscc: str
    items: tuple[str, ...]
    mandatory: tuple[str, ...]  # which of the items were mandatory
    code: str  # capacity | no_holder | conflict | team_size | status
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit": self.visit,
            "uscc": self.uscc,
            "items": list(self.items),
            "mandatory": list(self.mandatory),
            "code": self.code,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Dropped:
        return cls(
            visit=d["visit"],
            uscc=d["uscc"],
            items=tuple(d["items"]),
            mandatory=tuple(d["mandatory"]),
            code=d["code"],
            reason=d["reason"],
        )

    def sort_key(self) -> tuple[str, tuple[str, ...], str]:
        return (self.visit, self.items, self.code)


@dataclass(frozen=True)
class InspectorLoad:
    """How much of an inspector's capacity for the period the plan uses."""

    id: str
    expert: bool
    capacity: int  # for this period
    visits: int
    leads: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "expert": self.expert,
            "capacity": self.capacity,
            "visits": self.visits,
            "leads": self.leads,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InspectorLoad:
        return cls(id=d["id"], expert=d["expert"], capacity=d["capacity"], visits=d["visits"], leads=d["leads"])


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


@dataclass(frozen=True)
class Plan:
    """A 抽查计划 for one jurisdiction and period: what is drawn, who visits whom and when, and what is left out."""

    seed: str
    teams_seed: str
    period: Period
    as_of: dt.date
    regions: tuple[str, ...]
    policy: PlanPolicy
    items: tuple[ItemPlan, ...]
    visits: tuple[Visit, ...]
    team_load: tuple[InspectorLoad, ...]
    uncovered: tuple[Dropped, ...]  # dropped for lack of capacity, or because the registration ended
    unstaffed: tuple[Dropped, ...]  # no team can be formed: nobody qualified, conflicts, too few inspectors
    # The pack's mandatory items that are not among the items in force: counted, so never dropped silently.
    mandatory_out_of_scope: Mapping[str, int] = field(default_factory=dict)
    scheme: str = TICKET_SCHEME
    # Items of the catalogue with level: provincial that this plan's level does not draw (令53号 第49条). Shown in
    # the summary, not part of the plan document (the document has no such item at all); a plan read back from
    # the store does not know them.
    provincial_left_out: tuple[str, ...] = field(default=(), compare=False)
    format: str = PLAN_FORMAT
    fit: Mapping[str, Any] | None = None  # fitted plans: λ, κ, layers with who is left out (fitted.fit_record)
    schedule: Mapping[str, Any] | None = None  # fitted plans: the schedule's figures (engine.plan.dates)

    @property
    def fitted(self) -> bool:
        return self.format in (PLAN_FORMAT_FITTED, PLAN_FORMAT_COLUMNAR)

    @property
    def columnar(self) -> bool:
        return self.format == PLAN_FORMAT_COLUMNAR

    # ── figures ─────────────────────────────────────────────────────────────────────────────────────────────

    def item(self, code: str) -> ItemPlan:
        for i in self.items:
            if i.code == code:
                return i
        raise KeyError(code)

    def repeat_visits(self) -> dict[str, Any]:
        """Subjects visited more than once in the period ÷ subjects visited (target 0 % for random items).

        A fitted plan's frequency visits (index 2…count: a D-grade caterer's four a year) are the frequency the pack
        asks for, not repeats: only first visits count here."""
        per_subject = Counter(v.uscc for v in self.visits if v.index == 1)
        random_subject = Counter(v.uscc for v in self.visits if v.index == 1 and any(i.drawn for i in v.items))
        repeated = sum(1 for n in per_subject.values() if n > 1)
        random_repeated = sum(1 for n in random_subject.values() if n > 1)
        return {
            "subjects_visited": len(per_subject),
            "subjects_visited_more_than_once": repeated,
            "rate": _rate(repeated, len(per_subject)),
            "random_subjects_visited": len(random_subject),
            "random_subjects_visited_more_than_once": random_repeated,
            "random_rate": _rate(random_repeated, len(random_subject)),
        }

    def mandatory_coverage(self) -> dict[str, Any]:
        """Mandatory work planned against mandatory work required: visits overall and subject-items per item."""
        planned_items: Counter[str] = Counter()
        planned_subjects: set[str] = set()
        for v in self.visits:
            for i in v.items:
                if i.mandatory:
                    planned_items[i.code] += 1
                    planned_subjects.add(v.uscc)
        dropped_items: dict[str, Counter[str]] = {}
        dropped_subjects: set[str] = set()
        for d in (*self.uncovered, *self.unstaffed):
            for code in d.mandatory:
                dropped_items.setdefault(code, Counter())[d.code] += 1
                dropped_subjects.add(d.uscc)
        per_item = {}
        for item in self.items:
            per_item[item.code] = {
                "required": item.mandatory_required,
                "planned": planned_items.get(item.code, 0),
                "not_planned": dict(sorted(dropped_items.get(item.code, Counter()).items())),
            }
        required = planned_subjects | dropped_subjects
        return {
            "subjects_required": len(required),
            "subjects_fully_planned": len(planned_subjects - dropped_subjects),
            "subjects_partly_or_not_planned": len(dropped_subjects),
            "items": per_item,
            "out_of_scope": dict(sorted(self.mandatory_out_of_scope.items())),
        }

    def load_summary(self) -> dict[str, Any]:
        certified = [t for t in self.team_load if not t.expert and t.capacity > 0]
        used = [t.visits for t in certified]
        shares = [t.visits / t.capacity for t in certified]
        return {
            "inspectors": len(self.team_load),
            "certified_with_capacity": len(certified),
            "capacity": sum(t.capacity for t in certified),
            "inspector_visits": sum(used),
            "min_visits": min(used, default=0),
            "max_visits": max(used, default=0),
            "min_share": round(min(shares, default=0.0), 6),
            "max_share": round(max(shares, default=0.0), 6),
            "full": sum(1 for t in certified if t.visits >= t.capacity),
        }

    def _dropped_counts(self, dropped: tuple[Dropped, ...]) -> dict[str, Any]:
        by_code = Counter(d.code for d in dropped)
        return {
            "entries": len(dropped),
            "subject_items": sum(len(d.items) for d in dropped),
            "mandatory_subject_items": sum(len(d.mandatory) for d in dropped),
            "by_reason": dict(sorted(by_code.items())),
        }

    # ── plain data ──────────────────────────────────────────────────────────────────────────────────────────

    def _scope(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "seed": self.seed,
            "ticket_scheme": self.scheme,
            "teams_seed": self.teams_seed,
            "period": self.period.model_dump(mode="json"),
            "as_of": self.as_of.isoformat(),
            "regions": list(self.regions),
            "policy": self.policy.document(self.fitted),
        }

    def _memo(self, name: str, make: Callable[[], _T]) -> _T:
        """`make()`, made once per plan: a plan never changes (frozen, and tuples of frozen records), so neither
        does what is worked out of it. Kept beside the fields, which alone make the plan's equality and documents."""
        memo: dict[str, Any] = self.__dict__.setdefault("_memoised", {})  # not "_memo": that would hide the method
        if name not in memo:
            memo[name] = make()
        return memo[name]

    def as_columnar(self) -> Plan:
        """This plan in the plan/3 format (the same plan, stored columnar), made once: a commit's document and the
        summary it then shows read the same copy, whose figures are worked out once (`summary`)."""
        return self._memo("columnar", lambda: dataclasses.replace(self, format=PLAN_FORMAT_COLUMNAR))

    def _visit_figures(self) -> dict[str, Any]:
        """The summary's figures that go over every visit: seconds for a city's plan, which a commit shows after
        its document's head has been made of them."""
        return {
            "visits": {
                # Every visit the draws and mandatory work call for, staffed or not (status-ended excluded).
                "needed": len(
                    {v.id for v in self.visits}
                    | {d.visit for d in (*self.uncovered, *self.unstaffed) if d.code != "status"}
                ),
                "planned": len(self.visits),
                "with_mandatory_items": sum(1 for v in self.visits if v.mandatory),
                "subject_items": sum(len(v.items) for v in self.visits),
                "lead_changed_from_previous": sum(
                    1 for v in self.visits if v.previous_leads and v.lead not in v.previous_leads
                ),
                "lead_repeats_unavoidably": sum(1 for v in self.visits if v.lead_repeats),
                **(
                    {
                        "frequency_visits": sum(
                            1 for v in self.visits if not any(i.drawn or i.mandatory for i in v.items)
                        )
                    }
                    if self.fitted
                    else {}
                ),
            },
            "repeat_visits": self.repeat_visits(),
            "mandatory_coverage": self.mandatory_coverage(),
        }

    def summary(self) -> dict[str, Any]:
        """The plan summary as plain data: per item and stratum the draw, coverage, load, repeat rate, shortfalls."""
        figures = copy.deepcopy(self._memo("visit_figures", self._visit_figures))  # the caller's to change
        return {
            **self._scope(),
            "items": [i.to_dict() for i in self.items],
            "visits": figures["visits"],
            "repeat_visits": figures["repeat_visits"],
            "mandatory_coverage": figures["mandatory_coverage"],
            "team_load": self.load_summary(),
            "team_load_by_inspector": [t.to_dict() for t in self.team_load],
            **({"fit": dict(self.fit)} if self.fit is not None else {}),
            **({"schedule": dict(self.schedule)} if self.schedule is not None else {}),
            "uncovered": {
                **self._dropped_counts(self.uncovered),
                "list": [d.to_dict() for d in self.uncovered],
            },
            "unstaffed": {
                **self._dropped_counts(self.unstaffed),
                "list": [d.to_dict() for d in self.unstaffed],
            },
            **(
                {
                    "not_drawn_at_this_level": {
                        c: "provincial item, not drawn at this level" for c in self.provincial_left_out
                    }
                }
                if self.provincial_left_out
                else {}
            ),
        }

    def _head(self) -> dict[str, Any]:
        """The document without its visit list."""
        out = self.summary()
        out.pop("not_drawn_at_this_level", None)  # the summary's, not the document's
        out["mandatory_out_of_scope"] = dict(sorted(self.mandatory_out_of_scope.items()))
        return out

    def to_dict(self) -> dict[str, Any]:
        out = self._head()
        out["visit_list"] = [v.to_dict() for v in self.visits]
        return out

    @property
    def document_scheme(self) -> str:
        if self.columnar:
            return canonical.PLAN3
        return canonical.PLAN2 if self.fitted else canonical.PLAN

    def head(self) -> dict[str, Any]:
        """The document without its visit list (a plan/3 document's head)."""
        return self._head()

    def visit_frames(self, batch: int = 50_000) -> Iterator[pl.DataFrame]:
        """The visits as frames of engine.ledger.plan_columns.VISIT_COLUMNS, `batch` rows at a time."""
        for start in range(0, len(self.visits), batch):
            yield visit_frame(self.visits[start : start + batch])

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, fixed list order, UTF-8 text as is; byte-identical for identical inputs."""
        return canonical.plan_text(self.to_dict(), self.document_scheme)

    def json_pieces(self) -> Iterator[str]:
        """`to_json()` in pieces (their concatenation is that text), the visits turned to text a batch at a time:
        a city's plan is hashed and compressed without its document ever being whole in memory."""
        visits = (v.to_dict() for v in self.visits)
        return canonical.plan_text_pieces(self._head(), "visit_list", visits, self.document_scheme)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        return cls(
            seed=d["seed"],
            teams_seed=d["teams_seed"],
            period=Period.model_validate(d["period"]),
            as_of=dt.date.fromisoformat(d["as_of"]),
            regions=tuple(d["regions"]),
            policy=PlanPolicy.model_validate(d["policy"]),
            items=tuple(ItemPlan.from_dict(i) for i in d["items"]),
            visits=tuple(Visit.from_dict(v) for v in d["visit_list"]),
            team_load=tuple(InspectorLoad.from_dict(t) for t in d["team_load_by_inspector"]),
            uncovered=tuple(Dropped.from_dict(x) for x in d["uncovered"]["list"]),
            unstaffed=tuple(Dropped.from_dict(x) for x in d["unstaffed"]["list"]),
            mandatory_out_of_scope=dict(d["mandatory_out_of_scope"]),
            scheme=d["ticket_scheme"],
            format=d.get("format", PLAN_FORMAT),
            fit=d.get("fit"),
            schedule=d.get("schedule"),
        )

    @classmethod
    def from_columns(cls, head: Mapping[str, Any], frames: Iterable[pl.DataFrame]) -> Plan:
        """A plan read back from a plan/3 document: its head and its visits' frames."""
        visits = tuple(v for f in frames for v in visits_of(f))
        return dataclasses.replace(cls.from_dict({**head, "visit_list": []}), visits=visits)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """A plan read back from `to_json()` (for exports and replay)."""
        return cls.from_dict(json.loads(text))


def visit_frame(visits: Sequence[Visit]) -> pl.DataFrame:
    """Visits as a frame of engine.ledger.plan_columns.VISIT_COLUMNS (a plan/3 document's table), built there from
    flat columns and Arrow list offsets (polars makes a column of Python lists one visit at a time: some 20 s of a
    city's plan or replay)."""
    return plan_columns.visits_frame(visits)


def visits_of(frame: pl.DataFrame) -> Iterator[Visit]:
    """The Visit objects of a frame of VISIT_COLUMNS."""
    for r in frame.iter_rows(named=True):
        yield Visit(
            id=r["id"],
            uscc=r["uscc"],
            region=r["region"],
            items=tuple(VisitItem.from_dict(i) for i in r["items"]),
            team=tuple(r["team"]),
            lead=r["lead"],
            experts=tuple(r["experts"]),
            due_from=r["due_from"],
            due_to=r["due_to"],
            priority=r["priority"],
            risk=r["risk"],
            previous_leads=tuple(r["previous_leads"]),
            lead_repeats=r["lead_repeats"],
            scheduled_on=r["scheduled_on"],
            due_on=r["due_on"],
            index=1 if r["index"] is None else r["index"],
            count=1 if r["count"] is None else r["count"],
        )
