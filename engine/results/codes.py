"""The result codes an inspection records (国家企业信用信息公示系统 抽查检查结果), read from a data file, with what
each one means under the law in force: a 经营异常名录 cause, a penalty-case cause, or the end of checks.

The codes and labels live in `entities/data/result_codes.csv` (the 18 codes of the addendum §7, [secondary]); code
never spells a code's meaning twice. What the current law makes of a code (addendum §5, read in the texts):

- 企业信息公示暂行条例 as revised in 2024 (in force 2024-05-01), 第18条, and 企业经营异常名录管理办法 as revised in 2025,
  第4条: a subject goes on the 经营异常名录 for (四) 通过登记的住所或者经营场所无法联系 — code 6, a cause by itself — and
  for (二) not publishing by the deadline the regulator ordered. Code B (未按规定公示应当公示的信息) is therefore *not* a
  cause by itself: it leads to an order to publish by a deadline, and only a missed deadline is a cause
  (`Listing.ORDERED_DEADLINE`).
- Since the 2024 revision, 公示信息隐瞒真实情况弄虚作假 (code C) is no longer a listing cause: it is 责令改正 and a fine
  (and, if serious, the 严重违法失信名单 through that penalty), so it is a penalty-case cause.
- 注销、被吊销、被撤销、迁出 (9–12): the registration is gone from the jurisdiction; there is nothing left to check.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property
from pathlib import Path

from entities.errors import InputError

BUILTIN_CODES = Path(__file__).resolve().parents[2] / "entities" / "data" / "result_codes.csv"

COLUMNS = (
    "code",
    "label_zh",
    "label_en",
    "kind",
    "group",
    "problem",
    "listing",
    "penalty",
    "ends_checks",
    "key",
    "basis",
    "mark",
)
MARKS = ("text", "secondary", "unsure")  # the addendum's marks

# Separators people put between several codes in one cell (Excel users type 、 or ；, exports write ；).
SEPARATORS = (",", "，", ";", "；", "、", "/", "|", "\n")


class CodeKind(StrEnum):
    """What a result code says about the check."""

    NO_FINDING = "no_finding"  # 未发现问题: excludes every other code
    FINDING = "finding"  # a problem was found (including one corrected on order)
    OBSTRUCTION = "obstruction"  # the check was obstructed
    NO_ACTIVITY = "no_activity"  # the checked business activity was not found
    STATUS = "status"  # the subject's state: closed, or registration cancelled / revoked / annulled / moved out


class Listing(StrEnum):
    """Whether a code is a cause for the 经营异常名录 under the current law."""

    NONE = "none"
    DIRECT = "direct"  # a cause by itself (第4条(四) 无法联系)
    ORDERED_DEADLINE = "ordered_deadline"  # a cause only once an ordered publication deadline passes unmet (第4条(二))


class Penalty(StrEnum):
    NONE = "none"
    CASE = "case"  # a penalty-case cause (立案)


@dataclass(frozen=True)
class ResultCode:
    """One result code: its labels, what kind of outcome it is and what the law makes of it."""

    code: str
    label_zh: str
    label_en: str
    kind: CodeKind
    group: str | None  # "A" when the national form lists it under 发现问题待后续处理
    problem: bool  # counts as a check that found a problem (grading features)
    listing: Listing
    penalty: Penalty
    ends_checks: bool
    key: str | None  # the matching entities.enums.ResultCode value, where one exists
    basis: str  # the article behind listing / penalty / ends_checks
    mark: str  # how the code and label were verified: text | secondary | unsure

    def __str__(self) -> str:
        return f"{self.code} {self.label_zh}"


class ResultCodes:
    """The table of result codes: look a code up by code or label, and ask which codes have which legal effect."""

    def __init__(self, codes: Iterable[ResultCode], source: str = "result codes") -> None:
        self.source = source
        self._by_code: dict[str, ResultCode] = {}
        for c in codes:
            self._by_code[c.code] = c
        self._by_label = {c.label_zh: c for c in self._by_code.values()}

    def __iter__(self) -> Iterator[ResultCode]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def __getitem__(self, code: str) -> ResultCode:
        return self._by_code[code]

    def lookup(self, text: str) -> ResultCode | None:
        """The code a cell means: its code (letters in any case, full-width digits allowed) or its Chinese label."""
        raw = text.strip().rstrip("；;").strip()
        t = _halfwidth(raw)
        hit = self._by_label.get(raw) or self._by_code.get(t) or self._by_code.get(t.upper())
        if hit is None and t.isascii() and t.isdigit():
            hit = self._by_code.get(str(int(t)))  # "06" → "6"
        return hit

    def split(self, cell: str) -> list[str]:
        """The parts of a cell holding several codes ("3；A", "6、B"), blanks dropped; each still to be looked up.

        A label is never split even if it contains a separator character: labels are matched first."""
        text = cell.strip()
        if self.lookup(text) is not None:
            return [text]
        parts = [text]
        for sep in SEPARATORS:
            parts = [p for part in parts for p in part.split(sep)]
        return [p.strip() for p in parts if p.strip()]

    # ── legal effects ────────────────────────────────────────────────────────────────────────────────────────

    def codes_where(self, **wanted: object) -> frozenset[str]:
        return frozenset(c.code for c in self if all(getattr(c, k) == v for k, v in wanted.items()))

    @cached_property
    def no_finding(self) -> frozenset[str]:
        return self.codes_where(kind=CodeKind.NO_FINDING)

    @cached_property
    def findings(self) -> frozenset[str]:
        return self.codes_where(kind=CodeKind.FINDING)

    @cached_property
    def problems(self) -> frozenset[str]:
        return self.codes_where(problem=True)

    @cached_property
    def direct_listing_causes(self) -> frozenset[str]:
        """Codes that are a 经营异常名录 cause by themselves (current law: 6 only)."""
        return self.codes_where(listing=Listing.DIRECT)

    @cached_property
    def deadline_listing_causes(self) -> frozenset[str]:
        """Codes that become a listing cause only when the ordered publication deadline passes unmet (B)."""
        return self.codes_where(listing=Listing.ORDERED_DEADLINE)

    @cached_property
    def penalty_causes(self) -> frozenset[str]:
        """Codes that are a penalty-case cause (C since the 2024 revision)."""
        return self.codes_where(penalty=Penalty.CASE)

    @cached_property
    def ending(self) -> frozenset[str]:
        """Codes after which there is nothing left to check (9–12)."""
        return self.codes_where(ends_checks=True)

    def label(self, codes: Iterable[str]) -> str:
        """The codes' Chinese labels joined as the national system shows them ("未发现问题", "违反…；发现问题…")."""
        return "；".join(self[c].label_zh for c in sort_codes(codes))


def sort_codes(codes: Iterable[str]) -> list[str]:
    """Codes in the national form's order: numbers first by value, then letters."""
    return sorted(set(codes), key=lambda c: (0, int(c), "") if c.isdigit() else (1, 0, c))


def _halfwidth(text: str) -> str:
    # Full-width digits and letters (１, Ａ) are what a Chinese IME types; map them to ASCII.
    return "".join(chr(ord(ch) - 0xFEE0) if ch.isalnum() and "！" <= ch <= "～" else ch for ch in text)


def _flag(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise InputError(f"{where}: must be true or false, got {value!r}")
    return v == "true"


def parse_codes(text: str, name: str = "result codes") -> ResultCodes:
    """A code table read from CSV text (`#` lines are comments); one InputError names the first bad row and column."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if not line.lstrip().startswith("#")]
    lines = [(n, line) for n, line in lines if line.strip()]
    if not lines:
        raise InputError(f"{name}: no header and no codes")
    header_no, header = lines[0]
    columns = tuple(c.strip() for c in next(csv.reader([header])))
    if columns != COLUMNS:
        raise InputError(f"{name}:{header_no}: the header must be {','.join(COLUMNS)}")
    out: list[ResultCode] = []
    seen: dict[str, int] = {}
    labels: dict[str, int] = {}
    for number, line in lines[1:]:
        cells = [c.strip() for c in next(csv.reader(io.StringIO(line)))]
        if len(cells) != len(COLUMNS):
            raise InputError(f"{name}:{number}: expected {len(COLUMNS)} columns, got {len(cells)}")
        row = dict(zip(COLUMNS, cells, strict=True))
        at = f"{name}:{number}"
        code = row["code"]
        if not code or not code.isalnum() or code != code.upper():
            raise InputError(f"{at} [code]: {code!r} is not a code (digits or a capital letter)")
        if code in seen:
            raise InputError(f"{at} [code]: {code} is also on line {seen[code]}")
        seen[code] = number
        if not row["label_zh"]:
            raise InputError(f"{at} [label_zh]: empty")
        if row["label_zh"] in labels:
            raise InputError(f"{at} [label_zh]: {row['label_zh']} is also on line {labels[row['label_zh']]}")
        labels[row["label_zh"]] = number
        try:
            kind = CodeKind(row["kind"])
        except ValueError:
            raise InputError(f"{at} [kind]: {row['kind']!r} is not one of {', '.join(CodeKind)}") from None
        try:
            listing = Listing(row["listing"])
        except ValueError:
            raise InputError(f"{at} [listing]: {row['listing']!r} is not one of {', '.join(Listing)}") from None
        try:
            penalty = Penalty(row["penalty"])
        except ValueError:
            raise InputError(f"{at} [penalty]: {row['penalty']!r} is not one of {', '.join(Penalty)}") from None
        if row["mark"] not in MARKS:
            raise InputError(f"{at} [mark]: {row['mark']!r} is not one of {', '.join(MARKS)}")
        if (listing is not Listing.NONE or penalty is not Penalty.NONE) and not row["basis"]:
            raise InputError(f"{at} [basis]: a listing or penalty cause must name its article")
        out.append(
            ResultCode(
                code=code,
                label_zh=row["label_zh"],
                label_en=row["label_en"],
                kind=kind,
                group=row["group"] or None,
                problem=_flag(row["problem"], f"{at} [problem]"),
                listing=listing,
                penalty=penalty,
                ends_checks=_flag(row["ends_checks"], f"{at} [ends_checks]"),
                key=row["key"] or None,
                basis=row["basis"],
                mark=row["mark"],
            )
        )
    if not out:
        raise InputError(f"{name}: no codes under the header")
    for c in out:
        if c.group is not None and c.group not in seen:
            raise InputError(f"{name}:{seen[c.code]} [group]: {c.group} is not a code of the table")
    return ResultCodes(sort_by_form(out), source=name)


def sort_by_form(codes: Iterable[ResultCode]) -> list[ResultCode]:
    by_code = {c.code: c for c in codes}
    return [by_code[c] for c in sort_codes(by_code)]


def load_codes(path: Path | str = BUILTIN_CODES) -> ResultCodes:
    """The code table from a CSV file (default: the built-in one), UTF-8 with or without a BOM."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"result codes {p}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"result codes {p}: not UTF-8 text") from None
    return parse_codes(text, name=p.name)


@cache
def default_codes() -> ResultCodes:
    """The built-in code table, read once."""
    return load_codes(BUILTIN_CODES)


def labels(codes: ResultCodes) -> Mapping[str, str]:
    """Code → Chinese label, in the form's order (for dropdowns and reports)."""
    return {c.code: c.label_zh for c in codes}
