"""Warn when a rule's reason states a number its conditions no longer use (`stale_reason`).

After `days_since_registration < 365` becomes `< 730`, a reason still saying 成立不满一年 (or 不满 365 天) explains
a rule that no longer exists. The check is deliberately conservative, so a warning means something:

- only rules with a numeric condition are read (a reason on a yes/no condition may cite dates and articles);
- a number written as digits counts unless it is an article, order or grade number (第…条, …号, …级), part of a
  date (6 月 30 日), or a period in years or months (those are read as durations, below); it is fine when the rule uses it: a condition's threshold (or one off it: `< 365`
  is 不满 365 天, `> 2` is 3 次以上), an output value (a ratio also as a percentage), a number in the name of a
  feature the rule reads (`verified_complaints_12m` is 近 12 个月), or the value of a parameter the reason names;
- 一年, 两年, 三年, 半年, 三个月, 六个月 (and 1 年, 3 个月 …) count as 365, 730, 1095, 180, 90, 180 days, and only
  when written as a bound (不满一年, 超过一年, 一年内, 一年以上 …) on a rule whose condition reads a days feature (`days_*`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from engine.rules.codes import Code
from engine.rules.findings import Findings
from engine.rules.model import Decision, Parameter, Rule

DURATIONS = {"一年": 365, "两年": 730, "二年": 730, "三年": 1095, "半年": 180, "三个月": 90, "六个月": 180}
_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(?![\d.])")
_DURATION = re.compile(
    r"(不满|不足|未满|满|超过|逾)?\s*(" + "|".join(DURATIONS) + r"|\d+\s*年|\d+\s*个月)\s*(以内|以上|以下|之内|内)?",
)
_NOT_THRESHOLD_AFTER = ("号", "条", "款", "项", "级", "月", "年", "个月")
_SLACK = 1  # `< 365` reads 不满 365 天; `> 2` reads 3 次以上


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _used(rule: Rule, parameters: Mapping[str, Parameter]) -> tuple[set[float], list[tuple[str, set[float]]]]:
    """The numbers the rule uses, and per days feature it reads the thresholds it compares that feature with."""
    used: set[float] = set()
    days: list[tuple[str, set[float]]] = []
    for c in rule.conditions:
        found = {float(v) for t in c.tests for v in t.thresholds() if _numeric(v)}
        used |= {x + d for x in found for d in (-_SLACK, 0, _SLACK)}
        used |= {float(n) for n in re.findall(r"\d+", c.input)}
        if c.input.startswith("days_") or "_days" in c.input:
            days.append((c.input, found))
    for value in rule.outputs.values():
        for v in value if isinstance(value, list | tuple) else [value]:
            if _numeric(v):
                used |= {float(v), round(float(v) * 100, 6)}
    for name, p in parameters.items():
        if name in rule.reason:
            values = p.value if isinstance(p.value, list | tuple) else [p.value]
            used |= {float(v) for v in values if _numeric(v)}
    return used, days


def _stated(reason: str) -> Iterable[tuple[str, float]]:
    """Numbers the reason states as digits that may be thresholds (not articles, grades, dates or years)."""
    for m in _NUMBER.finditer(reason):
        before = reason[: m.start()].rstrip()
        after = reason[m.end() :].lstrip()
        if before.endswith("第") or after.startswith(_NOT_THRESHOLD_AFTER) or before.endswith("月"):
            continue
        yield m.group(1), float(m.group(1))


def _has_numeric_condition(rule: Rule) -> bool:
    return any(_numeric(v) for c in rule.conditions for t in c.tests for v in t.thresholds())


def stale_reasons(rule: Rule, parameters: Mapping[str, Parameter]) -> list[str]:
    """What the rule's reason states that its conditions no longer use (empty: nothing)."""
    if rule.is_else or not _has_numeric_condition(rule):
        return []
    used, days = _used(rule, parameters)
    out = [
        f"its reason states {text} but none of its conditions, outputs or named parameters uses {text}"
        for text, value in _stated(rule.reason)
        if value not in used
    ]
    for m in _DURATION.finditer(rule.reason):
        if not (m.group(1) or m.group(3)):
            continue
        word = m.group(2)
        if word in DURATIONS:
            expected = DURATIONS[word]
        else:
            n = int(re.sub(r"\D", "", word))
            expected = 365 * n if word.endswith("年") else (90 * n) // 3

        for feature, found in days:
            if found and not any(abs(x - expected) <= _SLACK for x in found):
                shown = ", ".join(f"{x:g}" for x in sorted(found))
                out.append(
                    f"its reason says {m.group(0)} ({word} ≈ {expected} days) but its condition on {feature} uses {shown}"
                )
    return out


def check_reasons(decisions: Iterable[Decision], parameters: Mapping[str, Parameter], log: Findings) -> None:
    """A `stale_reason` warning for each rule whose reason states a number its conditions no longer use."""
    for d in decisions:
        for rule in d.rules:
            for message in stale_reasons(rule, parameters):
                log.add(
                    rule.location.file,
                    rule.location.line,
                    Code.STALE_REASON,
                    f"rule '{rule.id}': {message}; update the reason",
                    severity="warning",
                )
