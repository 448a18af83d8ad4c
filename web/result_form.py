"""The result form (检查结果登记) of the inspector's pages and API: read what was filled in, record it through the same
engine function as `suijian results record` (engine.results.intake.record_one), and say what is wrong in Chinese,
field by field.

Only the form's own reading (a date that is not a date, an item with no code) is checked here; every rule of a
result — codes, windows, deadlines, the team, corrections — is the engine's, whose problems are translated here
by their stable codes (engine.results.validate.ProblemCode), never re-implemented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from engine.my_visits import MyVisit
from engine.results import intake
from engine.results.model import VisitResult, parse_measure_kind
from entities.errors import ImportRejected
from entities.identity import Identity

# The form's fields and what people call them; an engine problem names the CLI option, mapped back here.
LABELS = {
    "completed": "完成日期",
    "code": "结果代码",
    "findings": "问题描述",
    "measure": "处置措施",
    "deadline": "整改期限",
    "report_received": "整改报告收到日期",
    "correct": "更正原因",
    "team": "检查组",
    "visit": "检查编号",
    "account": "账号",
}
OPTION_FIELDS = {
    "--code": "code",
    "--item": "code",
    "--completed": "completed",
    "--findings": "findings",
    "--measure": "measure",
    "--deadline": "deadline",
    "--report-received": "report_received",
    "--correct": "correct",
    "--team": "team",
    "--visit": "visit",
    "SUIJIAN_USER": "account",
}
# engine.results.validate.ProblemCode → what the inspector reads.
PROBLEMS_ZH = {
    "missing": "必须填写",
    "bad_date": "不是有效日期",
    "visit_not_in_plan": "计划中没有这次检查",
    "uscc_mismatch": "统一社会信用代码与计划中的主体不符",
    "item_not_in_visit": "该事项不属于这次检查",
    "duplicate_item": "同一事项填写了两次",
    "item_missing": "每个检查事项都要选择结果代码",
    "no_items": "请至少选择一个结果代码",
    "no_code": "请至少选择一个结果代码",
    "unknown_code": "不是有效的结果代码",
    "no_problem_combined": "“未发现问题”不能与其他结果代码同时选择",
    "before_window": "早于本计划的检查期限开始日，请核对",
    "after_recording": "晚于今天，不能登记将来的日期",
    "unknown_measure": "不是有效的处置措施",
    "deadline_missing": "选择了责令改正、责令限期公示或监察指令时必须填写",
    "deadline_before_completion": "不能早于完成日期",
    "measure_without_finding": "只有发现问题的结果才能采取处置措施",
    "report_before_completion": "不能早于完成日期",
    "report_after_recording": "不能晚于今天",
    "report_without_order": "只有责令改正或监察指令才有整改报告",
    "team_too_small": "检查人员不得少于两名",
    "not_your_visit": "您不在这次检查的检查组中，不能登记结果",
    "not_allowed": "您的角色不能登记检查结果",
    "correction_without_reason": "这次检查已登记结果；如需更正，请填写更正原因",
    "nothing_to_correct": "这次检查还没有登记结果，不需要更正原因",
    "version_conflict": "结果刚被他人更新，请刷新页面后重试",
    "inconsistent_visit": "同一检查的各项填写不一致",
}


@dataclass
class Filled:
    """What the form holds, as typed (kept to show the form again with the errors)."""

    completed: str = ""
    codes: dict[str, list[str]] = field(default_factory=dict)  # item code → result codes chosen
    findings: str = ""
    measures: list[str] = field(default_factory=list)
    deadline: str = ""
    report_received: str = ""
    correct: str = ""


@dataclass(frozen=True)
class Outcome:
    """What recording did: the batch and ledger entry, or that the same result was there already."""

    batch_id: str | None
    ledger_seq: int | None
    unchanged: bool


def filled_from(form: Mapping[str, Sequence[str]], items: Sequence[str]) -> Filled:
    """Read the form's fields: `code:<ITEM>` per check item (several), `measure` (several), the rest one value each."""

    def one(name: str) -> str:
        values = form.get(name) or [""]
        return str(values[0]).strip()

    return Filled(
        completed=one("completed"),
        codes={i: [str(c).strip() for c in form.get(f"code:{i}", []) if str(c).strip()] for i in items},
        findings=one("findings"),
        measures=[str(m).strip() for m in form.get("measure", []) if str(m).strip()],
        deadline=one("deadline"),
        report_received=one("report_received"),
        correct=one("correct"),
    )


def _date(text: str, name: str, errors: dict[str, list[str]], *, required: bool) -> dt.date | None:
    if not text:
        if required:
            errors.setdefault(name, []).append(f"{LABELS[name]}：必须填写（如 2026-03-04）")
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.setdefault(name, []).append(f"{LABELS[name]}：{text!r} 不是有效日期，请按 2026-03-04 的格式填写")
        return None


def _translated(exc: ImportRejected, item_names: Mapping[str, str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for p in exc.problems:
        name = OPTION_FIELDS.get(p.column, "visit")
        code, _, detail = p.reason.partition(": ")
        said = PROBLEMS_ZH.get(code)
        text = f"{LABELS[name]}：{said}" if said else f"{LABELS[name]}：{detail or p.reason}"
        # An item's own problem names the item, so a visit of several items says which one.
        item = next((c for c in item_names if c in detail), None) if name == "code" else None
        if item is not None and len(item_names) > 1:
            text = f"{LABELS[name]}（{item_names[item]}）：{said or detail}"
        if text not in errors.get(name, []):
            errors.setdefault(name, []).append(text)
    return errors


def record(
    conn: Connection,
    visit: MyVisit,
    filled: Filled,
    *,
    actor: Identity,
    today: dt.date,
    created_at: dt.datetime,
) -> tuple[Outcome | None, dict[str, list[str]]]:
    """Record the filled-in result of `visit` as `actor` (the signed-in account); (outcome, {}) or (None, errors by
    field). Nothing is written when there is an error."""
    errors: dict[str, list[str]] = {}
    completed = _date(filled.completed, "completed", errors, required=True)
    deadline = _date(filled.deadline, "deadline", errors, required=False)
    report_on = _date(filled.report_received, "report_received", errors, required=False)
    names = {i.code: i.name for i in visit.items}
    for code, chosen in filled.codes.items():
        if not chosen:
            what = f"结果代码（{names.get(code, code)}）" if len(names) > 1 else "结果代码"
            errors.setdefault("code", []).append(f"{what}：请至少选择一个")
    for m in filled.measures:
        if parse_measure_kind(m) is None:
            errors.setdefault("measure", []).append(f"处置措施：{m!r} 不是有效的处置措施")
    if errors or completed is None:
        return None, errors
    try:
        written, same = intake.record_one(
            conn,
            plan_id=visit.plan_id,
            visit_id=visit.visit_id,
            items=[f"{code}={','.join(chosen)}" for code, chosen in filled.codes.items()],
            codes=(),
            completed_on=completed,
            recorded_on=today,
            actor=actor,
            created_at=created_at,
            findings=filled.findings,
            measures=filled.measures,
            deadline=deadline,
            report_on=report_on,
            correct=filled.correct or None,
        )
    except ImportRejected as exc:
        return None, _translated(exc, names)
    return Outcome(written.batch_id, written.ledger_seq, same), {}


def recorded_summary(result: VisitResult | None) -> str:
    """One line for the page: what the version in force says (or that nothing is recorded)."""
    if result is None:
        return "尚未登记"
    return f"第 {result.version} 版，{result.completed_on.isoformat()} 完成，{result.recorded_on.isoformat()} 登记"
