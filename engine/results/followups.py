"""Follow-ups (后续处置) a result calls for, as proposals: re-check visits, the special-equipment ladder, 经营异常名录
listings and penalty cases for a supervisor to confirm or reject.

Two steps:
1. `facts(...)` turns a result item (and what happened since: the rectification report, a re-check, whether an
   ordered publication was made) into `ItemFacts`, and `ItemFacts.rule_input(codes)` into the result facts a rule
   pack reads (engine/features/result_facts.py);
2. `propose(facts, calendar, rules)` evaluates the pack's follow-up decisions (rules/national/followups.yaml: a
   `collect` table whose output names the follow-up) on durable-rules, and turns each fired rule into a proposal
   with the rule's reason and basis. The re-check windows count working days given by the pack's parameters
   `recheck_after_report_days` (令57号 第29条: 十个工作日内) and `recheck_within_days` (office policy).

What the law in force says (addendum §1, §2, §5, read in the texts), as the national pack's rules encode it:
- 责令改正 with a deadline → a re-check after the deadline (令54号 第49条 跟踪检查; 令49号 likewise). How soon after
  is policy, not law: the parameter `recheck_within_days`.
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

from engine.features.result_facts import ITEM_DOMAINS
from engine.plan.calendar import WorkCalendar
from engine.results.codes import ResultCodes, default_codes
from engine.results.model import MeasureKind, VisitResult
from engine.results.publication import working_days_left
from engine.rules import durable
from engine.rules.model import Pack, Rule
from entities.errors import Forbidden, InputError

SPECIAL_EQUIPMENT = "special_equipment"  # the catalogue's domain of special-equipment items
FOLLOWUP_OUTPUT = "followup"  # the output of the pack's follow-up decisions that names the follow-up
# What each value of that output proposes (two kinds of re-check differ only in their window).
OUTPUT_KINDS: Mapping[str, str] = {
    "recheck_after_report": "recheck",
    "recheck_after_deadline": "recheck",
    "directive": "directive",
    "stop_use": "stop_use",
    "order_publication": "order_publication",
    "list_abnormal": "list_abnormal",
    "penalty_case": "penalty_case",
}


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
class ItemFacts:
    """One item of one result: what was found, ordered and done since, as of a date (`rule_input` gives the
    result facts a pack reads)."""

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

    def rule_input(self, codes: ResultCodes | None = None) -> dict[str, Any]:
        """The result facts a rule pack reads (engine/features/result_facts.py): what a code means in law comes
        from the code table, what was ordered and done from the result."""
        table = codes if codes is not None else default_codes()
        found = self.result_codes & table.findings
        fixed = {c.code for c in table if c.key == "fixed_after_order"}
        return {
            "item_domain": self.domain if self.domain in ITEM_DOMAINS else "other",
            "result_ends_checks": bool(self.result_codes & table.ending),
            "found_problem": bool(found),
            "problem_open": bool(found - fixed),
            "listing_cause": bool(self.result_codes & table.direct_listing_causes),
            "publication_listing_cause": bool(self.result_codes & table.deadline_listing_causes),
            "penalty_cause": bool(self.result_codes & table.penalty_causes),
            "rectify_ordered": bool(self.measures & {MeasureKind.RECTIFY, MeasureKind.DIRECTIVE}),
            "directive_issued": MeasureKind.DIRECTIVE in self.measures,
            "stop_use_ordered": MeasureKind.STOP_USE in self.measures,
            "case_opened": MeasureKind.CASE in self.measures,
            "publication_ordered": MeasureKind.ORDER_PUBLISH in self.measures,
            "rectification_report_received": self.rectification_report_on is not None
            and self.rectification_report_on <= self.as_of,
            "working_days_past_deadline": self.working_days_past_deadline,
            "rechecked": self.rechecked,
            "recheck_corrected": self.recheck_corrected,
            "ordered_publication_made": self.ordered_publication_made,
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
    rule: str = ""  # the pack rule that proposed it

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
    rules: Pack,
    *,
    codes: ResultCodes | None = None,
) -> list[Proposal]:
    """The follow-ups these facts call for under the pack `rules`, in a stable order (by visit, item, kind).

    Each item's result facts are evaluated by the pack's follow-up decisions on durable-rules (equal facts share
    one evaluation); every fired rule becomes a proposal with its reason, basis and rule id. Two rules proposing
    the same kind for the same item give one proposal (the first in table order)."""
    if not rules.followups:
        raise InputError(
            f"rule pack {rules.name} {rules.version} has no follow-up decisions (followups.yaml); "
            "use a pack that has them (national 2026.3 or later) or pass --pack"
        )
    table = codes if codes is not None else default_codes()
    pack = rules.followup_pack()
    after_report = int(rules.parameters["recheck_after_report_days"].value)
    after_deadline = int(rules.parameters["recheck_within_days"].value)
    listed = list(items)
    results = durable.evaluate_many(pack, [f.rule_input(table) for f in listed])
    out: dict[str, Proposal] = {}
    for f, result in zip(listed, results, strict=True):
        if not result.ok:
            raise InputError(f"follow-up rules failed for {f.visit_id} {f.item_code}: {'; '.join(result.errors)}")
        for rule_id in result.fired:
            rule = pack.rule(rule_id)
            value = str(rule.outputs[FOLLOWUP_OUTPUT])
            proposal = _proposal(f, value, rule, calendar, table, after_report, after_deadline)
            out.setdefault(proposal.key, proposal)
    return sorted(out.values(), key=lambda p: (p.plan_id, p.visit_id, p.item_code, list(ProposalKind).index(p.kind)))


def _proposal(
    f: ItemFacts,
    value: str,
    rule: Rule,
    calendar: WorkCalendar,
    table: ResultCodes,
    after_report: int,
    after_deadline: int,
) -> Proposal:
    """One fired rule as a proposal: the rule's reason with the dates and codes of this result, its window."""
    kind = ProposalKind(OUTPUT_KINDS[value])
    earliest = latest = None
    detail = ""
    if value == "recheck_after_report" and f.rectification_report_on is not None:
        earliest = calendar.next_working_day(f.rectification_report_on + dt.timedelta(days=1))
        latest = calendar.add_working_days(f.rectification_report_on, after_report)
        detail = f"整改报告 {f.rectification_report_on}"
    elif value == "recheck_after_deadline" and f.deadline is not None:
        earliest = calendar.add_working_days(f.deadline, 1)
        latest = calendar.add_working_days(f.deadline, after_deadline)
        detail = f"期限 {f.deadline}"
    elif kind in (ProposalKind.LIST_ABNORMAL, ProposalKind.PENALTY_CASE, ProposalKind.ORDER_PUBLICATION):
        detail = "检查结果 " + "、".join(str(table[c]) for c in sorted(f.result_codes) if c in table)
    reason = f"{rule.reason}（{detail}）" if detail else rule.reason
    return Proposal(kind, f.plan_id, f.visit_id, f.uscc, f.item_code, reason, rule.basis, earliest, latest, rule.id)


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
