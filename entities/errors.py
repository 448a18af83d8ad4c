"""The project's error tree: every error a user can cause is one of these, with the data to name the fix.

SuijianError
├── InputError          bad input data: a file, row, column and reason (import, generation options)
│   └── ImportRejected  an import found bad rows; carries every RowProblem, nothing was written
├── StoreError          the store cannot be opened, is not initialised, or is at an unknown schema version
└── UsageError          an option combination that cannot work (the CLI exits 2 for these)
"""

from __future__ import annotations

from dataclasses import dataclass


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


class Forbidden(SuijianError):
    """The configured role may not do this (exit 1; the refusal names the role and why)."""
