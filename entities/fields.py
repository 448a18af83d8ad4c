"""Lenient-but-exact parsing of the cells users bring from CSV/XLSX/JSONL into typed values.

Lenient about notation (Chinese labels, 是/否, 2020/1/5, "a;b" lists); exact about meaning: anything
ambiguous is refused with a reason, never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)
_TRUE = {"true", "1", "yes", "y", "是", "t", "√"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}
_LIST_SPLIT = re.compile(r"[;；、|,，]")


def parse_date(value: Any) -> Any:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise ValueError(f"expected a date, got a date-time {value.isoformat()}")
        return value.date()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        text = text.split("T")[0] if re.match(r"^\d{4}-\d{2}-\d{2}T00:00(:00)?$", text) else text
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                year, month, day = (int(g) for g in match.groups())
                try:
                    return dt.date(year, month, day)
                except ValueError:
                    raise ValueError(f"{value!r} is not a real date") from None
        raise ValueError(f"{value!r} is not a date (write YYYY-MM-DD)")
    raise ValueError(f"{value!r} is not a date (write YYYY-MM-DD)")


IMPORTED_ON = "imported_on"
"""Validation-context key: the date of the import; an event dated after it cannot have happened yet."""


def not_after_import(value: dt.date | None, info: ValidationInfo) -> dt.date | None:
    # The import's date comes in the validation context (it is recorded in import_log, never read from a clock
    # here); without one (the demo generator, the store's own reads) nothing is checked.
    day = (info.context or {}).get(IMPORTED_ON)
    if value is not None and day is not None and value > day:
        raise ValueError(
            f"{value.isoformat()} is after the import date {day.isoformat()}: it records something that has "
            "happened, so it cannot be in the future; check the year"
        )
    return value


def parse_bool(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{value!r} is not yes/no (write 是/否, true/false or 1/0)")


def parse_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in _LIST_SPLIT.split(value) if part.strip()]
    return value


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def strip_text(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            # PostgreSQL cannot store NUL in text; refuse it on every store alike.
            raise ValueError("contains a NUL character (\\x00); remove it")
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Date = Annotated[dt.date, BeforeValidator(parse_date)]
OptDate = Annotated[dt.date | None, BeforeValidator(parse_date)]
# The date of something that happened (registered, decided, checked, installed…), as opposed to a date that may lie
# ahead (a licence's end, the next periodic inspection): an import refuses it after the import's date.
EventDate = Annotated[dt.date, BeforeValidator(parse_date), AfterValidator(not_after_import)]
OptEventDate = Annotated[dt.date | None, BeforeValidator(parse_date), AfterValidator(not_after_import)]
Bool = Annotated[bool, BeforeValidator(parse_bool)]
Text = Annotated[str, BeforeValidator(strip_text)]
OptText = Annotated[str | None, BeforeValidator(blank_to_none), BeforeValidator(strip_text)]
OptInt = Annotated[int | None, BeforeValidator(blank_to_none)]
OptFloat = Annotated[float | None, BeforeValidator(blank_to_none)]
