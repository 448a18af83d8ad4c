"""The project's error tree: every error a user can cause is one of these, with the data to name the fix.

The CLI prints str(error) as one line and exits 1 (UsageError: 2). This docstring is the one place the whole tree
is written down; tests/entities/test_errors.py fails on an error class defined elsewhere or missing here.

SuijianError
├── InputError          bad input data: a file, row, column and reason (import, generation options)
│   ├── ImportRejected  an import found bad rows; carries every RowProblem, nothing was written
│   ├── PackError       a rule pack has errors: carries every finding (file:line: code: message); it cannot be used
│   ├── RecordError     a subject's feature record does not fit the catalogue (wrong type, value outside its set)
│   ├── SnapshotProblem a stored input snapshot is missing, unreadable or not what its hash says
│   ├── PackVersionProblem a stored rule-pack version is missing, unreadable or not what its hash says
│   ├── DocumentUnreadable a stored plan document's bytes are not compressed UTF-8 text (its readers say which)
│   ├── NoIdentity      a state-changing command without a configured identity (one line naming how to set it)
│   └── UnknownScheme   a ledger entry names a hashing scheme this release does not know (newer, or edited)
├── StoreError          the store cannot be opened, is not initialised, or is at an unknown schema version
├── UsageError          an option combination that cannot work (the CLI exits 2 for these)
├── Forbidden           the configured role may not do this; the refusal names the role and why
├── DemoRefused         `suijian demo` would overwrite a store holding imported data
└── EngineFault         the durable-rules core misbehaved (an action raised, a call returned no state, …): a bug,
                        never the user's input; raised instead of returning a possibly wrong result

Internal control flow that never leaves its module (each says why it exists): engine.rules.conditions.
ConditionError (a condition that cannot be read, turned into a finding by the checker), engine.rules.yamlio.
_Refused, engine.rules.analysis._OverBudget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class SuijianError(Exception):
    """Base class: the CLI prints str(error) as one line and exits 1."""


class InputError(SuijianError):
    pass


class StoreError(SuijianError):
    pass


class UsageError(SuijianError):
    pass


@dataclass(frozen=True, order=True)
class RowProblem:
    """One bad cell or row: where it is (file, 1-based row as a spreadsheet shows it, column) and why."""

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row else self.file
        col = f" [{self.column}]" if self.column else ""
        return f"{where}{col}: {self.reason}"


class ImportRejected(InputError):
    def __init__(self, problems: list[RowProblem], rows_read: int) -> None:
        self.problems = sorted(problems)
        self.rows_read = rows_read
        bad_rows = len({p.row for p in self.problems})
        super().__init__(
            f"{self.problems[0]} (and {len(self.problems) - 1} more problem(s) in {bad_rows} row(s)); nothing was written"
            if len(self.problems) > 1
            else f"{self.problems[0]}; nothing was written"
        )


class PackProblem(Protocol):
    """What PackError needs of a finding (engine.rules.Finding is one): its severity and its one-line text."""

    @property
    def severity(self) -> str: ...


class PackError(InputError):
    """A pack that failed its check; `findings` holds every error and warning, sorted by location."""

    def __init__(self, findings: Sequence[PackProblem]) -> None:
        self.findings = list(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        first = errors[0] if errors else (self.findings[0] if self.findings else None)
        if first is None:
            message = "the rule pack cannot be used"
        elif len(errors) > 1:
            message = f"{first} (and {len(errors) - 1} more error(s)); the rule pack cannot be used"
        else:
            message = f"{first}; the rule pack cannot be used"
        super().__init__(message)


class RecordError(InputError):
    """A feature value a pack reads has the wrong type or is outside the feature's closed set."""

    def __init__(self, feature: str, value: object, reason: str) -> None:
        self.feature = feature
        self.value = value
        self.reason = reason
        super().__init__(f"feature '{feature}': {reason}, got {value!r}")


class SnapshotProblem(InputError):
    """A stored snapshot is missing, unreadable or not what its hash says."""


class DocumentUnreadable(InputError):
    """A stored plan document's bytes are not zlib-compressed UTF-8 text; `tasks export` and `audit verify` turn it
    into their own one-line message naming the plan."""


class Forbidden(SuijianError):
    """The configured role may not do this (exit 1; the refusal names the role and why)."""


class DemoRefused(SuijianError):
    """The store holds data that did not come from `suijian demo`; loading a demo would destroy it."""

    def __init__(self, url: str, imports: int, last: str | None) -> None:
        self.url = url
        self.imports = imports
        self.last = last
        what = f"{imports} import run(s), last: {last}" if imports else "rows that no demo wrote"
        super().__init__(
            f"the store {url} holds imported data ({what}); rerun with --replace to overwrite it, or use another --db"
        )


class EngineFault(SuijianError):
    """The inference core returned something it must not; the evaluation is refused rather than guessed."""


class PackVersionProblem(InputError):
    """A stored rule-pack version is missing, unreadable or not what its hash says: one line, never a traceback.

    `why` is the part after the version's name, for reports that name the version themselves (audit verify)."""

    def __init__(self, digest: str, why: str) -> None:
        self.digest = digest
        self.why = why
        super().__init__(f"rule-pack version {digest[:12]} {why}; run `suijian audit verify` to see what it affects")


class UnknownScheme(InputError):
    """An entry names a hashing scheme this suijian does not know (made by a newer one, or edited)."""


class NoIdentity(InputError):
    """A state-changing command without a configured identity (exit 1, one line naming how to set it)."""

    code = "no_identity"
