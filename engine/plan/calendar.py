"""Working days in mainland China: statutory holidays and make-up working days (调休), from the State Council's notices.

Why a library and files, never a table in code: the holidays of a year are fixed each November by the State
Council's notice (国务院办公厅关于 YYYY 年部分节假日安排的通知), moved by 调休 so that some weekends become working
days. The maintained library `chinesecalendar` (PyPI; imported as `chinese_calendar`) transcribes those notices;
release 1.11.0 covers 2004–2026. A later year, or a correction, comes from a calendar file the user supplies:

    # source: 国务院办公厅关于2027年部分节假日安排的通知（国办发明电〔2026〕N号）
    date,kind,name
    2027-01-01,holiday,元旦
    2027-02-20,workday,春节调休上班

- lines starting with `#` are comments; exactly one `# source: …` line names the notice the rows come from;
- the header is `date,kind` with an optional third column `name`;
- `date` is YYYY-MM-DD, `kind` is `holiday` (a day off, weekday or weekend inside a holiday run) or `workday` (a
  weekend day worked by 调休); every other Monday–Friday is a working day and every other weekend day is not;
- a file covers every year its dates fall in, and for those years it replaces the library (so a corrected notice
  wins); it must list each such year completely.

Every answer that needs a year neither covers raises one InputError naming the year and the `--calendar FILE`
option. `WorkCalendar.version` names the library release and each file's SHA-256, to record with decisions.

A plan records the calendar it was scheduled with, one row per day of its period (`WorkCalendar.table`: date,
working, holiday, source), in its input snapshot; `RecordedCalendar.from_table` rebuilds exactly that calendar,
so a replay gives the same working days whatever library release is installed later and after the calendar
file is gone. It answers only for the recorded days (anything else is one InputError).

Deadlines in working days: 企业信息公示暂行条例 第6条 (information the regulator produces is published 自产生之日起
20个工作日内) and 令49号 第39条 (food check results published 于检查结果信息形成后20个工作日内); under 民法典 第201条 a
period counted in days starts the next day, so day 1 is the first working day after the event
(`add_working_days`). 企业公示信息抽查办法 第12条 (results recorded 自检查结束之日起20个工作日内) and 令57号 第29条's
十个工作日 re-check run on the same clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.metadata
import io
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import chinese_calendar

from entities.errors import InputError

LIBRARY = "chinesecalendar"
FILE_OPTION = "--calendar FILE"
KINDS = ("holiday", "workday")
TABLE_COLUMNS = ("date", "working", "holiday", "source")  # a recorded calendar's rows (WorkCalendar.table)


def _library_version() -> str:
    return importlib.metadata.version(LIBRARY)


def _library_years() -> tuple[int, int]:
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


@dataclass(frozen=True)
class CalendarFile:
    """A user-supplied calendar for some years: the notice's exceptions (holiday / workday) and where they come from."""

    name: str  # the file name, for messages
    source: str
    sha256: str
    exceptions: Mapping[dt.date, tuple[str, str]]  # date → (kind, name)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted({d.year for d in self.exceptions}))

    @classmethod
    def parse(cls, text: str, name: str = "calendar file") -> CalendarFile:
        """A calendar file read from its text; one InputError names the first bad line and what to fix."""
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        source: str | None = None
        rows: list[tuple[int, str]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                body = stripped.lstrip("#").strip()
                if body.lower().startswith("source:"):
                    if source is not None:
                        raise InputError(f"{name}:{number}: a second `# source:` line; give one source per file")
                    source = body.split(":", 1)[1].strip()
                    if not source:
                        raise InputError(f"{name}:{number}: `# source:` is empty; name the State Council notice")
                continue
            rows.append((number, line))
        if source is None:
            raise InputError(f"{name}: no `# source: …` line; name the State Council notice the dates come from")
        if not rows:
            raise InputError(f"{name}: no header `date,kind` and no dates")
        header_line, header = rows[0]
        columns = [c.strip().lower() for c in next(csv.reader([header]))]
        if columns[:2] != ["date", "kind"] or len(columns) > 3 or (len(columns) == 3 and columns[2] != "name"):
            raise InputError(f"{name}:{header_line}: the header must be `date,kind` or `date,kind,name`")
        exceptions: dict[dt.date, tuple[str, str]] = {}
        for number, line in rows[1:]:
            cells = [c.strip() for c in next(csv.reader(io.StringIO(line)))]
            if len(cells) < 2 or len(cells) > len(columns):
                raise InputError(f"{name}:{number}: expected {','.join(columns)}, got {line.strip()!r}")
            try:
                day = dt.date.fromisoformat(cells[0])
            except ValueError:
                raise InputError(f"{name}:{number}: date {cells[0]!r} is not YYYY-MM-DD") from None
            kind = cells[1].lower()
            if kind not in KINDS:
                raise InputError(f"{name}:{number}: kind {cells[1]!r} must be holiday or workday")
            if day in exceptions:
                raise InputError(f"{name}:{number}: {day} is listed twice")
            # A "workday" on a Monday–Friday changes nothing: almost surely a wrong date, so refuse it.
            if kind == "workday" and day.weekday() < 5:
                raise InputError(
                    f"{name}:{number}: {day} is a {day.strftime('%A')}, already a working day; "
                    "list only weekend days worked by 调休 as workday"
                )
            exceptions[day] = (kind, cells[2] if len(cells) > 2 else "")
        if not exceptions:
            raise InputError(f"{name}: no dates under the header")
        return cls(name=name, source=source, sha256=sha, exceptions=exceptions)

    @classmethod
    def read(cls, path: Path | str) -> CalendarFile:
        """A calendar file read from disk (UTF-8, a BOM allowed)."""
        p = Path(path)
        try:
            text = p.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise InputError(f"calendar file {p}: cannot read it ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"calendar file {p}: not UTF-8 text") from None
        return cls.parse(text, name=str(p))


@dataclass(frozen=True)
class Week:
    """One ISO week (Monday–Sunday) and its working days in order."""

    label: str  # "2026-W10"
    monday: dt.date
    working_days: tuple[dt.date, ...]


def week_label(day: dt.date) -> str:
    """The ISO week a day falls in, as "2026-W10" (the form `tasks mine --week` takes)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class WorkCalendar:
    """Which days are working days: the library's years, plus or replaced by calendar files for other years."""

    def __init__(self, files: Iterable[CalendarFile] = ()) -> None:
        """The library's calendar with the given files; two files giving one year are refused."""
        self.files: tuple[CalendarFile, ...] = tuple(files)
        owner: dict[int, str] = {}
        for f in self.files:
            for year in f.years:
                if year in owner:
                    raise InputError(f"calendar files {owner[year]} and {f.name} both give {year}; give one")
                owner[year] = f.name
        self._first_library_year, self._last_library_year = _library_years()
        self._library_version = _library_version()
        self._years: dict[int, tuple[tuple[int, ...], frozenset[int]]] = {}

    # ── what is covered ─────────────────────────────────────────────────────────────────────────────────────

    def _file_for(self, year: int) -> CalendarFile | None:
        for f in self.files:
            if year in f.years:
                return f
        return None

    def covers(self, year: int) -> bool:
        return self._file_for(year) is not None or self._first_library_year <= year <= self._last_library_year

    def require(self, start: dt.date, end: dt.date) -> None:
        """Raise one InputError if any year from start to end is not covered (check a period before planning it)."""
        for year in range(start.year, end.year + 1):
            self._check_year(year)

    def _check_year(self, year: int) -> None:
        if not self.covers(year):
            raise InputError(
                f"no working-day calendar for {year}: {LIBRARY} {self._library_version} covers "
                f"{self._first_library_year}–{self._last_library_year}; give the State Council's {year} holiday "
                f"notice as a calendar file with {FILE_OPTION} (CSV date,kind with kind holiday|workday and a "
                "`# source:` line)"
            )

    @property
    def version(self) -> str:
        """What decided the working days, to record with each decision: the library release and each file's hash."""
        parts = [f"{LIBRARY}=={self._library_version}"]
        for f in sorted(self.files, key=lambda f: f.years):
            years = ",".join(str(y) for y in f.years)
            parts.append(f"file[{years}] sha256:{f.sha256}")
        return "; ".join(parts)

    def sources(self) -> dict[int, str]:
        """Per year given by a file, the notice it names (the library's years cite the library)."""
        return {y: f.source for f in self.files for y in f.years}

    def source_of(self, year: int) -> str:
        """What decides the working days of a year: the library release, or the file (its notice and SHA-256)."""
        self._check_year(year)
        f = self._file_for(year)
        if f is None:
            return f"{LIBRARY}=={self._library_version}"
        return f"{f.source} (file sha256:{f.sha256})"

    def sources_between(self, start: dt.date, end: dt.date) -> tuple[str, ...]:
        """The sources (`source_of`) of the years from start to end, in year order, each once: what a schedule of
        those days depends on. A calendar rebuilt from its recorded table answers the same."""
        out: list[str] = []
        for year in range(start.year, end.year + 1):
            s = self.source_of(year)
            if s not in out:
                out.append(s)
        return tuple(out)

    def table(self, start: dt.date, end: dt.date) -> list[dict[str, object]]:
        """One row per day from start to end (date, working, holiday, source): the calendar as a plan records it in
        its input snapshot, enough to rebuild it (`RecordedCalendar.from_table`) without the library or the file."""
        self.require(start, end)
        rows: list[dict[str, object]] = []
        day = start
        while day <= end:
            rows.append(
                {
                    "date": day.isoformat(),
                    "working": self.is_working_day(day),
                    "holiday": self.holiday_name(day),
                    "source": self.source_of(day.year),
                }
            )
            day += dt.timedelta(days=1)
        return rows

    # ── days ────────────────────────────────────────────────────────────────────────────────────────────────

    def is_working_day(self, day: dt.date) -> bool:
        """True on a working day: Monday–Friday unless a holiday, or a weekend day worked by 调休."""
        return day.toordinal() in self._year_set(day.year)

    def holiday_name(self, day: dt.date) -> str | None:
        """The holiday or make-up day's name (library: English name; file: its name column), else None."""
        self._check_year(day.year)
        f = self._file_for(day.year)
        if f is not None:
            hit = f.exceptions.get(day)
            return (hit[1] or hit[0]) if hit else None
        if day in chinese_calendar.workdays:
            return str(chinese_calendar.workdays[day])
        if day in chinese_calendar.holidays:
            return str(chinese_calendar.holidays[day])
        return None

    def working_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The working days from start to end, both included, in order."""
        if end < start:
            return []
        out: list[dt.date] = []
        for year in range(start.year, end.year + 1):
            days = self._year_list(year)
            lo = bisect_left(days, start.toordinal())
            hi = bisect_right(days, end.toordinal())
            out.extend(dt.date.fromordinal(o) for o in days[lo:hi])
        return out

    def count_working_days(self, start: dt.date, end: dt.date) -> int:
        return len(self.working_days(start, end))

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day after `day` (day 1 is the first working day after it): a deadline of n 工作日."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"a deadline counts at least 1 working day, not {n!r}")
        year = day.year
        after = day.toordinal()
        left = n
        while True:
            days = self._year_list(year)
            start = bisect_right(days, after)
            available = len(days) - start
            if left <= available:
                return dt.date.fromordinal(days[start + left - 1])
            left -= available
            year += 1

    def next_working_day(self, day: dt.date) -> dt.date:
        """The day itself if it is a working day, else the first working day after it."""
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    def weeks(self, start: dt.date, end: dt.date) -> list[Week]:
        """The ISO weeks that meet start..end, each with its working days inside start..end."""
        monday = start - dt.timedelta(days=start.weekday())
        out: list[Week] = []
        while monday <= end:
            sunday = monday + dt.timedelta(days=6)
            days = self.working_days(max(monday, start), min(sunday, end))
            out.append(Week(week_label(monday), monday, tuple(days)))
            monday += dt.timedelta(days=7)
        return out

    # ── per-year sets, built once ───────────────────────────────────────────────────────────────────────────

    def _year_list(self, year: int) -> Sequence[int]:
        return self._ordinals(year)[0]

    def _year_set(self, year: int) -> frozenset[int]:
        return self._ordinals(year)[1]

    def _ordinals(self, year: int) -> tuple[tuple[int, ...], frozenset[int]]:
        hit = self._years.get(year)
        if hit is not None:
            return hit
        self._check_year(year)
        f = self._file_for(year)
        day = dt.date(year, 1, 1)
        days: list[int] = []
        while day.year == year:
            if f is not None:
                exception = f.exceptions.get(day)
                working = exception[0] == "workday" if exception else day.weekday() < 5
            else:
                working = bool(chinese_calendar.is_workday(day))
            if working:
                days.append(day.toordinal())
            day += dt.timedelta(days=1)
        self._years[year] = (tuple(days), frozenset(days))
        return self._years[year]


class RecordedCalendar(WorkCalendar):
    """The working days a plan recorded (`WorkCalendar.table`), rebuilt without the library or any file.

    It answers only for the recorded days, from `first` to `last`: a question about another day is one InputError,
    never a guess (a weekday outside the record is not known to be a working day).
    """

    def __init__(self, days: Mapping[dt.date, tuple[bool, str | None, str]], name: str = "the recorded calendar"):
        """`days`: date → (working, holiday name, source), for consecutive days; see `from_table`."""
        if not days:
            raise InputError(f"{name} has no days")
        self.files = ()
        self.name = name
        self._days = dict(days)
        self.first, self.last = min(self._days), max(self._days)
        if (self.last - self.first).days + 1 != len(self._days):
            missing = next(
                d for d in (self.first + dt.timedelta(days=k) for k in range(len(self._days))) if d not in self._days
            )
            raise InputError(f"{name} skips {missing}: it must give every day from {self.first} to {self.last}")
        self._source: dict[int, str] = {}
        for day, (_, _, source) in sorted(self._days.items()):
            if self._source.setdefault(day.year, source) != source:
                raise InputError(f"{name} gives two sources for {day.year}; one source decides a year")
        self._years = {}

    @classmethod
    def from_table(cls, rows: Sequence[Mapping[str, object]], name: str = "the recorded calendar") -> RecordedCalendar:
        """The calendar of `WorkCalendar.table` rows; one InputError names the first bad row."""
        days: dict[dt.date, tuple[bool, str | None, str]] = {}
        for number, row in enumerate(rows, start=1):
            missing = [c for c in TABLE_COLUMNS if c not in row]
            if missing:
                raise InputError(f"{name}: row {number} has no {missing[0]!r} (needs {', '.join(TABLE_COLUMNS)})")
            try:
                day = dt.date.fromisoformat(str(row["date"]))
            except ValueError:
                raise InputError(f"{name}: row {number}: date {row['date']!r} is not YYYY-MM-DD") from None
            working, holiday, source = row["working"], row["holiday"], row["source"]
            if not isinstance(working, bool):
                raise InputError(f"{name}: row {number} ({day}): working must be true or false, not {working!r}")
            if holiday is not None and not isinstance(holiday, str):
                raise InputError(f"{name}: row {number} ({day}): holiday must be a name or empty, not {holiday!r}")
            if not isinstance(source, str) or not source:
                raise InputError(f"{name}: row {number} ({day}): no source")
            if day in days:
                raise InputError(f"{name}: row {number}: {day} is given twice")
            days[day] = (working, holiday, source)
        return cls(days, name)

    def _outside(self, what: str) -> InputError:
        return InputError(f"{self.name} covers {self.first}..{self.last} only, not {what}")

    def covers(self, year: int) -> bool:
        return self.first.year <= year <= self.last.year

    def require(self, start: dt.date, end: dt.date) -> None:
        if start < self.first or end > self.last:
            raise self._outside(f"{start}..{end}")

    def _check_year(self, year: int) -> None:
        if not self.covers(year):
            raise self._outside(str(year))

    @property
    def version(self) -> str:
        return "; ".join(self.sources_between(self.first, self.last))

    def sources(self) -> dict[int, str]:
        return {}

    def source_of(self, year: int) -> str:
        self._check_year(year)
        return self._source[year]

    def is_working_day(self, day: dt.date) -> bool:
        self.require(day, day)
        return self._days[day][0]

    def holiday_name(self, day: dt.date) -> str | None:
        self.require(day, day)
        return self._days[day][1]

    def working_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        if end < start:
            return []
        self.require(start, end)
        return super().working_days(start, end)

    def _ordinals(self, year: int) -> tuple[tuple[int, ...], frozenset[int]]:
        hit = self._years.get(year)
        if hit is not None:
            return hit
        self._check_year(year)
        days = tuple(d.toordinal() for d, (working, _, _) in sorted(self._days.items()) if d.year == year and working)
        self._years[year] = (days, frozenset(days))
        return self._years[year]
