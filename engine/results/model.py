"""A visit's result as data: per check item the result codes, findings and measures; who recorded it, when, which
version. Corrections never overwrite: a correction is a new version carrying its reason, and every earlier
version stays readable (`History`).

Plain, immutable data and pure functions; the store keeps one row per version and item (`VisitResult.rows()`) and
compares `fingerprint()` to make a re-import of the same file change nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from entities.errors import InputError

RESULT_FORMAT = "suijian.result/1"


class MeasureKind(StrEnum):
    """A measure taken on a finding (后续处置措施)."""

    RECTIFY = "rectify"  # 责令改正, with a deadline (限期)
    ORDER_PUBLISH = "order_publish"  # 责令限期公示: its missed deadline is the 经营异常名录 cause (条例 第18条)
    DIRECTIVE = "directive"  # 特种设备安全监察指令 (令57号 第23条): 限期改正 or 消除隐患, with a deadline
    STOP_USE = "stop_use"  # 责令停止使用 (特种设备安全法 第83–84条)
    CASE = "case"  # 立案
    REFER = "refer"  # 抄告相关部门: a violation of another department's rules

    @property
    def label(self) -> str:
        return MEASURE_LABELS[self]


MEASURE_LABELS: Mapping[MeasureKind, str] = {
    MeasureKind.RECTIFY: "责令改正",
    MeasureKind.ORDER_PUBLISH: "责令限期公示",
    MeasureKind.DIRECTIVE: "监察指令",
    MeasureKind.STOP_USE: "责令停止使用",
    MeasureKind.CASE: "立案",
    MeasureKind.REFER: "抄告相关部门",
}
# Orders that set a period to comply (限期): they need a deadline, and a re-check follows it.
NEEDS_DEADLINE = frozenset({MeasureKind.RECTIFY, MeasureKind.ORDER_PUBLISH, MeasureKind.DIRECTIVE})
# Orders whose compliance the subject reports (整改报告), starting 令57号 第29条's re-check clock.
REPORTED = frozenset({MeasureKind.RECTIFY, MeasureKind.DIRECTIVE})


def parse_measure_kind(text: str) -> MeasureKind | None:
    """The measure a cell names: its Chinese label or its English name (any case)."""
    t = text.strip()
    for kind, label in MEASURE_LABELS.items():
        if t == label or t.lower() == kind.value:
            return kind
    return None


@dataclass(frozen=True)
class Measure:
    """One measure: its kind, the deadline it sets (限期), and a note (指令书编号, 案号 …)."""

    kind: MeasureKind
    deadline: dt.date | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measure:
        return cls(
            kind=MeasureKind(d["kind"]),
            deadline=dt.date.fromisoformat(d["deadline"]) if d.get("deadline") else None,
            note=d.get("note", ""),
        )


@dataclass(frozen=True)
class ItemResult:
    """What the check of one item found: one or more result codes, findings text, measures, the rectification report."""

    item_code: str
    result_codes: tuple[str, ...]
    findings: str = ""
    measures: tuple[Measure, ...] = ()
    rectification_report_on: dt.date | None = None  # the day the 整改报告 was received

    def measure(self, kind: MeasureKind) -> Measure | None:
        return next((m for m in self.measures if m.kind is kind), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_code": self.item_code,
            "result_codes": sorted(self.result_codes),
            "findings": self.findings,
            "measures": sorted(
                (m.to_dict() for m in self.measures),
                key=lambda m: (m["kind"], m["deadline"] or "", m["note"]),
            ),
            "rectification_report_on": self.rectification_report_on.isoformat()
            if self.rectification_report_on
            else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ItemResult:
        report = d.get("rectification_report_on")
        return cls(
            item_code=d["item_code"],
            result_codes=tuple(d["result_codes"]),
            findings=d.get("findings", ""),
            measures=tuple(Measure.from_dict(m) for m in d.get("measures", ())),
            rectification_report_on=dt.date.fromisoformat(report) if report else None,
        )


@dataclass(frozen=True)
class VisitResult:
    """The result of one visit of a plan, one version of it: completion date, team, each item's result, who recorded it.

    `recorded_on` is an explicit input (the batch's recording date), never the wall clock. Version 1 is the first
    result; each correction is the next version with its `correction_reason`.
    """

    plan_id: str
    visit_id: str
    uscc: str
    completed_on: dt.date
    items: tuple[ItemResult, ...]
    team: tuple[str, ...]
    recorded_on: dt.date
    recorded_by: str
    version: int = 1
    correction_reason: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Which visit this is a result of: (plan id, visit id)."""
        return (self.plan_id, self.visit_id)

    @property
    def result_codes(self) -> tuple[str, ...]:
        """Every code recorded on any item of the visit, each once, sorted."""
        return tuple(sorted({c for i in self.items for c in i.result_codes}))

    def item(self, code: str) -> ItemResult | None:
        return next((i for i in self.items if i.item_code == code), None)

    def content(self) -> dict[str, Any]:
        """What was found, without who recorded it, when, or which version (what a re-import compares)."""
        return {
            "format": RESULT_FORMAT,
            "plan_id": self.plan_id,
            "visit_id": self.visit_id,
            "uscc": self.uscc,
            "completed_on": self.completed_on.isoformat(),
            "team": sorted(self.team),
            "items": [i.to_dict() for i in sorted(self.items, key=lambda i: i.item_code)],
        }

    def fingerprint(self) -> str:
        """SHA-256 of the canonical content: equal for the same findings, whoever records them and whenever."""
        text = json.dumps(self.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The whole version as canonical plain data (what a ledger entry hashes)."""
        return {
            **self.content(),
            "team": list(self.team),  # lead first, as recorded
            "recorded_on": self.recorded_on.isoformat(),
            "recorded_by": self.recorded_by,
            "version": self.version,
            "correction_reason": self.correction_reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VisitResult:
        return cls(
            plan_id=d["plan_id"],
            visit_id=d["visit_id"],
            uscc=d["uscc"],
            completed_on=dt.date.fromisoformat(d["completed_on"]),
            items=tuple(ItemResult.from_dict(i) for i in d["items"]),
            team=tuple(d["team"]),
            recorded_on=dt.date.fromisoformat(d["recorded_on"]),
            recorded_by=d["recorded_by"],
            version=d["version"],
            correction_reason=d.get("correction_reason"),
        )

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per item (the store's result-item rows): the visit's fields repeated on each."""
        head = {
            "plan_id": self.plan_id,
            "visit_id": self.visit_id,
            "version": self.version,
            "uscc": self.uscc,
            "completed_on": self.completed_on,
            "team": list(self.team),
            "recorded_on": self.recorded_on,
            "recorded_by": self.recorded_by,
            "correction_reason": self.correction_reason,
        }
        out = []
        for i in sorted(self.items, key=lambda i: i.item_code):
            d = i.to_dict()
            out.append(
                {
                    **head,
                    "item_code": i.item_code,
                    "result_codes": d["result_codes"],
                    "findings": i.findings,
                    "measures": d["measures"],
                    "rectification_report_on": i.rectification_report_on,
                }
            )
        return out


# ── versions ────────────────────────────────────────────────────────────────────────────────────────────────


def current(versions: Iterable[VisitResult]) -> VisitResult | None:
    """The version in force: the highest version number of one visit's results (None if there are none)."""
    latest: VisitResult | None = None
    for v in versions:
        if latest is not None and v.key != latest.key:
            raise InputError(f"versions of two visits given together: {latest.key} and {v.key}")
        if latest is None or v.version > latest.version:
            latest = v
    return latest


def current_by_visit(results: Iterable[VisitResult]) -> dict[tuple[str, str], VisitResult]:
    """The version in force of each visit's result, by (plan id, visit id)."""
    out: dict[tuple[str, str], VisitResult] = {}
    for r in results:
        held = out.get(r.key)
        if held is None or r.version > held.version:
            out[r.key] = r
    return out


@dataclass(frozen=True)
class History:
    """Every version of one visit's result, oldest first; adding a version returns a new history, never edits one."""

    versions: tuple[VisitResult, ...] = ()

    @property
    def first(self) -> VisitResult | None:
        return self.versions[0] if self.versions else None

    @property
    def current(self) -> VisitResult | None:
        return self.versions[-1] if self.versions else None

    def next_version(self) -> int:
        return len(self.versions) + 1

    def unchanged(self, result: VisitResult) -> bool:
        """True when the result says what the version in force already says (a re-import: nothing to record)."""
        held = self.current
        return held is not None and held.fingerprint() == result.fingerprint()

    def add(self, result: VisitResult) -> History:
        """The history with `result` as the next version; a second version needs a correction reason."""
        held = self.current
        if held is not None and result.key != held.key:
            raise InputError(f"result of {result.key} added to the history of {held.key}")
        if result.version != self.next_version():
            raise InputError(
                f"visit {result.visit_id}: version {result.version} given, the next version is {self.next_version()}"
            )
        if held is not None and not (result.correction_reason or "").strip():
            raise InputError(
                f"visit {result.visit_id} already has a result; a correction needs a reason (--correct REASON)"
            )
        return History((*self.versions, result))


def correct(previous: VisitResult, corrected: VisitResult, reason: str) -> VisitResult:
    """The correction of `previous` as a new version: `corrected`'s content, the next version number, the reason."""
    if not reason.strip():
        raise InputError(f"visit {previous.visit_id}: a correction needs a reason (--correct REASON)")
    if corrected.key != previous.key:
        raise InputError(f"a correction of visit {previous.visit_id} names visit {corrected.visit_id}")
    return replace(corrected, version=previous.version + 1, correction_reason=reason.strip())
