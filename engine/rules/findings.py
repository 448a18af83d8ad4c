"""The findings a pack check collects as it goes: every stage (read, merge, type, cases) reports here, so the
user sees every problem at once, sorted by `file:line`, instead of the first one only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from engine.rules.codes import Code
from engine.rules.conditions import did_you_mean
from engine.rules.model import Finding, Location
from engine.rules.yamlio import LineDict

# Table-analysis findings: a pack with these is refused but can still be built, for tools that must look at it.
_ANALYSIS_CODES = (Code.OVERLAP, Code.GAP)
_MISSING = {"id": Code.MISSING_ID, "reason": Code.MISSING_REASON, "basis": Code.MISSING_BASIS}


class Findings:
    """Every finding so far, and whether one of them is structural (then no Pack can be built)."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self.broken = False

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.items)

    def add(self, file: str, line: int, code: Code, message: str, severity: str = "error") -> None:
        self.items.append(Finding(Location(file, line), code, message, severity))
        if severity == "error" and code not in _ANALYSIS_CODES:
            self.broken = True

    def extend(self, found: Iterable[Finding], *, breaks: bool = True) -> None:
        """Findings made elsewhere (the YAML reader, the table analysis); `breaks`: any of them is structural."""
        found = list(found)
        self.items.extend(found)
        if found and breaks:
            self.broken = True

    def sorted(self) -> list[Finding]:
        """Each finding once, by file and line."""
        unique = {(f.location, f.code, f.message, f.severity): f for f in self.items}
        return sorted(unique.values(), key=Finding.sort_key)

    def fields(self, m: LineDict, file: str, allowed: Mapping[str, bool], what: str, ident: str = "") -> None:
        """Report keys of `m` not in `allowed` and required keys (allowed[key] is True) that are missing."""
        for key in m:
            if key not in allowed:
                hint = did_you_mean(str(key), list(allowed))
                self.add(file, m.key_line(key), Code.UNKNOWN_FIELD, f"unknown field '{key}' in {what}{hint}")
        for key, required in allowed.items():
            if required and (m.get(key) is None or (isinstance(m.get(key), str) and not m[key].strip())):
                self.missing(file, m, key, what, ident)

    def missing(self, file: str, m: LineDict, key: str, what: str, ident: str) -> None:
        line = m.key_line(key) if key in m else m.line
        if what == "a rule" and key in ("id", "reason", "basis"):
            name = f"rule '{ident}'" if ident else "a rule"
            text = {
                "id": "a rule has no id; give it a stable id such as credit_d_serious",
                "reason": f"{name} has no reason; say in plain words (中文) why it applies",
                "basis": f'{name} has no basis; cite the regulation and article, or write "本规则包配置：<why>"',
            }[key]
            self.add(file, line, _MISSING[key], text)
        elif key == "id":
            self.add(file, line, Code.MISSING_ID, f"{what} has no id")
        else:
            self.add(file, line, Code.MISSING_FIELD, f"{what}{f' {ident!r}' if ident else ''} has no '{key}'")
