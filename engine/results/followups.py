"""Follow-ups (后续处置) a result calls for, as proposals: re-check visits, the special-equipment ladder, 经营异常名录
listings and penalty cases for a supervisor to confirm or reject.

Two steps, so that a rule pack can later take over the second one:
1. `facts(...)` turns a result item (and what happened since: the rectification report, a re-check, whether an
   ordered publication was made) into `ItemFacts` — plain, typed values with stable names (`FEATURES`), the rule
   input the checker would know next to the subject features;
2. `propose(facts)` maps facts to proposals with the article behind each. Every branch reads only `ItemFacts`, so
   each one is a declarative rule over those features (`when result_codes has "6" → propose list_abnormal`).

What the law in force says (addendum §1, §2, §5, read in the texts):
- 责令改正 with a deadline → a re-check after the deadline (令54号 第49条 跟踪检查; 令49号 likewise). How soon after
  is policy, not law: `Policy.recheck_within`.
- Special equipment: re-check 在被检查单位提交整改报告后十个工作日内 (令57号 第29条), on the working-day calendar.
- The ladder of 特种设备安全法: a finding → 监察指令 责令限期改正 (令57号 第23条); not corrected by the deadline →
  责令停止使用 and a fine (第83条); the 第84条 cases (no licence, not inspected or failed, scrapped, …) → 责令停止使用
  at once, with no grace period.
- Code 6 (通过登记的住所（经营场所）无法联系) → a 经营异常名录 proposal (企业经营异常名录管理办法 2025 第4条(四)).
- Code B → first an order to publish by a deadline; only a missed deadline is a listing cause (第4条(二); 条例 第18条).
- Code C (弄虚作假) → a penalty-case proposal, never a listing (条例 2024 第18条).
- There is no rule that three years on the 经营异常名录 lead to the 严重违法失信名单: the 2014 rule was deleted in 2024
  and 总局令第44号 does not have it. Nothing here proposes a listing on the 严重违法失信名单.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.plan.calendar import WorkCalendar
from engine.results.codes import ResultCodes, default_codes
from engine.results.model import MeasureKind, VisitResult
from engine.results.publication import working_days_left
from entities.errors import Forbidden, InputError

SPECIAL_EQUIPMENT = "special_equipment"  # the catalogue's domain of special-equipment items
RECHECK_AFTER_REPORT = 10  # 令57号 第29条: 十个工作日内


class ProposalKind(StrEnum):
    """What a follow-up proposes."""

    RECHECK = "recheck"  # a re-check visit (复查)
    DIRECTIVE = "directive"  # issue a 特种设备安全监察指令, 责令限期改正
    STOP_USE = "stop_use"  # 责令停止使用
    ORDER_PUBLICATION = "order_publication"  # 责令限期公示
    LIST_ABNORMAL = "list_abnormal"  # 列入经营异常名录 (a supervisor confirms or rejects)
    PENALTY_CASE = "penalty_case"  # 立案 for a penalty

    @property
    def label(self) -> str:
        return {
            "recheck": "复查",
            "directive": "发出特种设备安全监察指令",
            "stop_use": "责令停止使用",
            "order_publication": "责令限期公示",
            "list_abnormal": "列入经营异常名录",
            "penalty_case": "立案调查",
        }[self.value]


# Proposals a supervisor decides (the others are work for the inspectors' next schedule).
NEEDS_DECISION = frozenset({ProposalKind.LIST_ABNORMAL, ProposalKind.PENALTY_CASE, ProposalKind.STOP_USE})


@dataclass(frozen=True)
class Policy:
    """The office's choices where the law sets no number."""

    # A re-check of an ordinary 责令改正 falls in this many working days after the deadline ([policy], not law).
    recheck_within: int = 10
    # 第84条 cases are named by the inspector on the result (measure 责令停止使用 recorded at the visit); the
    # ladder only adds 停止使用 for a directive not complied with (第83条).


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class ItemFacts:
    """The rule input for one item of one result: what was found, ordered and done since, as of a date.

    Feature names (`FEATURES`) are the names a pack would use."""

    plan_id: str
    visit_id: str
    uscc: str
    item_code: str
    domain: str  # the item's catalogue domain
    completed_on: dt.date
    as_of: dt.date
    result_codes: frozenset[str]
    measures: frozenset[str]  # MeasureKind values
    deadline: dt.date | None  # the earliest deadline of an order with one (责令改正 / 责令限期公示 / 监察指令)
    working_days_past_deadline: int | None  # as of; negative = working days left; None without a deadline
    rectification_report_on: dt.date | None
    working_days_since_rectification_report: int | None
    rechecked: bool  # a later result of this item exists (a re-check visit's)
    recheck_corrected: bool | None  # that re-check found it corrected (E, 1); None if not rechecked
    ordered_publication_made: bool | None  # for 责令限期公示: published by the deadline? None if unknown

    def to_features(self) -> dict[str, Any]:
        """The facts as a feature record (name → value), dates as ISO text."""
        out: dict[str, Any] = {}
        for name in FEATURES:
            value = getattr(self, name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            out[name] = value
        return out


# The names a rule pack may read, with their types (the checker's vocabulary for result rules).
FEATURES: Mapping[str, str] = {
    "domain": "str",
    "result_codes": "set[str]",
    "measures": "set[str]",
    "deadline": "date?",
    "working_days_past_deadline": "int?",
    "rectification_report_on": "date?",
    "working_days_since_rectification_report": "int?",
    "rechecked": "bool",
    "recheck_corrected": "bool?",
    "ordered_publication_made": "bool?",
}


def facts(
    result: VisitResult,
    domains: Mapping[str, str],
    calendar: WorkCalendar,
    as_of: dt.date,
    *,
    rechecks: Iterable[VisitResult] = (),
    publications_made: Mapping[tuple[str, str, str], bool] | None = None,
    codes: ResultCodes | None = None,
) -> list[ItemFacts]:
    """The facts of each item of a result as of `as_of`: deadlines and reports counted in working days.

    `rechecks` are later results of the same subject (re-check visits); the first one after completion that checks
    the item decides `recheck_corrected`. `publications_made[(plan, visit, item)]` says whether an ordered
    publication was made by its deadline."""
    table = codes if codes is not None else default_codes()
    corrected_codes = table.no_finding | {c.code for c in table if c.key == "fixed_after_order"}
    later = sorted(
        (r for r in rechecks if r.uscc == result.uscc and r.completed_on > result.completed_on),
        key=lambda r: (r.completed_on, r.plan_id, r.visit_id),
    )
    made = publications_made or {}
    out = []
    for item in sorted(result.items, key=lambda i: i.item_code):
        deadlines = [m.deadline for m in item.measures if m.deadline is not None]
        due = min(deadlines) if deadlines else None
        past = -working_days_left(calendar, due, as_of) if due is not None else None
        report = item.rectification_report_on
        since = (
            calendar.count_working_days(report + dt.timedelta(days=1), as_of)
            if report is not None and report <= as_of
            else None
        )
        recheck = next((r.item(item.item_code) for r in later if r.item(item.item_code) is not None), None)
        out.append(
            ItemFacts(
                plan_id=result.plan_id,
                visit_id=result.visit_id,
                uscc=result.uscc,
                item_code=item.item_code,
                domain=domains.get(item.item_code, ""),
                completed_on=result.completed_on,
                as_of=as_of,
                result_codes=frozenset(item.result_codes),
                measures=frozenset(m.kind.value for m in item.measures),
                deadline=due,
                working_days_past_deadline=past,
                rectification_report_on=report,
                working_days_since_rectification_report=since,
                rechecked=recheck is not None,
                recheck_corrected=None
                if recheck is None
                else bool(set(recheck.result_codes) and set(recheck.result_codes) <= corrected_codes),
                ordered_publication_made=made.get((result.plan_id, result.visit_id, item.item_code)),
            )
        )
    return out


@dataclass(frozen=True)
class Proposal:
    """A follow-up for one item of one result: what, why, under which article, and when (for re-checks)."""

    kind: ProposalKind
    plan_id: str
    visit_id: str
    uscc: str
    item_code: str
    reason: str
    basis: str
    earliest: dt.date | None = None  # a re-check: not before
    latest: dt.date | None = None  # a re-check: not after

    @property
    def key(self) -> str:
        """A stable id: the same result proposes the same follow-up once, however often it is computed."""
        return f"{self.kind.value}:{self.plan_id}:{self.visit_id}:{self.item_code}"

    @property
    def needs_decision(self) -> bool:
        return self.kind in NEEDS_DECISION


def propose(
    items: Iterable[ItemFacts],
    calendar: WorkCalendar,
    *,
    policy: Policy = DEFAULT_POLICY,
    codes: ResultCodes | None = None,
) -> list[Proposal]:
    """The follow-ups these facts call for, in a stable order (by visit, item, kind)."""
    table = codes if codes is not None else default_codes()
    out: list[Proposal] = []
    for f in items:
        out.extend(_proposals(f, calendar, policy, table))
    out.sort(key=lambda p: (p.plan_id, p.visit_id, p.item_code, list(ProposalKind).index(p.kind)))
    return out


def _proposals(f: ItemFacts, calendar: WorkCalendar, policy: Policy, table: ResultCodes) -> list[Proposal]:
    out: list[Proposal] = []

    def add(
        kind: ProposalKind,
        reason: str,
        basis: str,
        earliest: dt.date | None = None,
        latest: dt.date | None = None,
    ) -> None:
        out.append(Proposal(kind, f.plan_id, f.visit_id, f.uscc, f.item_code, reason, basis, earliest, latest))

    found = f.result_codes & table.findings
    equipment = f.domain == SPECIAL_EQUIPMENT
    if f.result_codes & table.ending:
        return out  # 注销、吊销、撤销、迁出: nothing left to follow up here
    # Problems that were found and not corrected on the spot (E alone means corrected).
    open_problem = bool(found - {c.code for c in table if c.key == "fixed_after_order"})

    # Re-checks.
    orders = f.measures & {MeasureKind.RECTIFY, MeasureKind.DIRECTIVE}
    if equipment and f.rectification_report_on is not None and orders and not f.rechecked:
        latest = calendar.add_working_days(f.rectification_report_on, RECHECK_AFTER_REPORT)
        add(
            ProposalKind.RECHECK,
            f"整改报告 received {f.rectification_report_on}: re-check within {RECHECK_AFTER_REPORT} working days",
            "特种设备安全监督检查办法（总局令第57号）第29条",
            earliest=calendar.next_working_day(f.rectification_report_on + dt.timedelta(days=1)),
            latest=latest,
        )
    elif f.deadline is not None and orders and not f.rechecked:
        add(
            ProposalKind.RECHECK,
            f"责令改正 by {f.deadline}: re-check after the deadline",
            "食品生产经营监督检查管理办法（令第49号）、医疗器械经营监督管理办法（令第54号）第49条：跟踪检查",
            earliest=calendar.add_working_days(f.deadline, 1),
            latest=calendar.add_working_days(f.deadline, policy.recheck_within),
        )

    # The special-equipment ladder (特种设备安全法 第83–84条).
    if (
        equipment
        and open_problem
        and MeasureKind.DIRECTIVE not in f.measures
        and MeasureKind.STOP_USE not in f.measures
    ):
        add(
            ProposalKind.DIRECTIVE,
            "a finding on special equipment without a 监察指令: 责令限期改正",
            "特种设备安全监督检查办法（总局令第57号）第23条",
        )
    if (
        equipment
        and MeasureKind.DIRECTIVE in f.measures
        and MeasureKind.STOP_USE not in f.measures
        and f.working_days_past_deadline is not None
        and f.working_days_past_deadline > 0
        and f.recheck_corrected is False
    ):
        add(
            ProposalKind.STOP_USE,
            f"监察指令 deadline {f.deadline} passed and the re-check found it not corrected: 责令停止使用，处1万元以上10万元以下罚款",
            "中华人民共和国特种设备安全法 第83条",
        )
        add(
            ProposalKind.PENALTY_CASE,
            "逾期未改正 (特种设备安全法 第83条): a fine needs a case",
            "中华人民共和国特种设备安全法 第83条",
        )
    if equipment and MeasureKind.STOP_USE in f.measures and MeasureKind.CASE not in f.measures:
        add(
            ProposalKind.PENALTY_CASE,
            "责令停止使用 at the visit (第84条 cases carry a fine of 3万–30万 with no grace period)",
            "中华人民共和国特种设备安全法 第84条",
        )

    # 经营异常名录 and penalty causes under the current law.
    for code in sorted(f.result_codes & table.direct_listing_causes):
        add(ProposalKind.LIST_ABNORMAL, f"result {table[code]}", table[code].basis)
    for code in sorted(f.result_codes & table.deadline_listing_causes):
        if MeasureKind.ORDER_PUBLISH not in f.measures:
            add(
                ProposalKind.ORDER_PUBLICATION,
                f"result {table[code]}: order publication by a deadline first; only a missed deadline is a listing cause",
                "企业信息公示暂行条例（2024修订）第18条",
            )
        elif (
            f.working_days_past_deadline is not None
            and f.working_days_past_deadline > 0
            and f.ordered_publication_made is False
        ):
            add(
                ProposalKind.LIST_ABNORMAL,
                f"result {table[code]}, and the publication ordered by {f.deadline} was not made",
                table[code].basis,
            )
    for code in sorted(f.result_codes & table.penalty_causes):
        if MeasureKind.CASE not in f.measures:
            add(ProposalKind.PENALTY_CASE, f"result {table[code]}", table[code].basis)
    return out


# ── decisions ───────────────────────────────────────────────────────────────────────────────────────────────


class Decision(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


@dataclass(frozen=True)
class Decided:
    """A supervisor's decision on a proposal: who, when, why."""

    proposal: Proposal
    decision: Decision
    by: str
    on: dt.date
    reason: str


def decide(proposal: Proposal, decision: Decision, by: str, role: str, on: dt.date, reason: str = "") -> Decided:
    """A supervisor's decision on a proposal that needs one; a rejection needs a reason."""
    if role != "supervisor":
        raise Forbidden(f"role {role!r} cannot decide {proposal.kind.label}; a supervisor decides")
    if not proposal.needs_decision:
        raise InputError(f"{proposal.kind.label} ({proposal.key}) is scheduled work, not a decision")
    if decision is Decision.REJECT and not reason.strip():
        raise InputError(f"rejecting {proposal.key} needs a reason")
    return Decided(proposal, decision, by, on, reason.strip())


def list_entry(decided: Decided) -> dict[str, Any] | None:
    """The 经营异常名录 entry a confirmed listing proposal becomes (the store's list_entry row), else None."""
    if decided.decision is not Decision.CONFIRM or decided.proposal.kind is not ProposalKind.LIST_ABNORMAL:
        return None
    return {
        "uscc": decided.proposal.uscc,
        "list_name": "abnormal",
        "listed_on": decided.on,
        "removed_on": None,
        "reason": f"{decided.proposal.reason}（{decided.proposal.basis}）",
    }
