"""Imports at the edges: a rejects file that cannot be written, future-dated facts, malformed files, the progress count.

Each case is one clear line naming the file (and row and column where there is one), and nothing written.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine import ingest
from entities import kinds, store
from entities.errors import ImportRejected, InputError, RowProblem
from tests.engine.test_ingest import GOOD_SUBJECT, SUBJECT_HEADER, counts, fixture, rejected, run, write_csv

BAD_SUBJECT = ["91440103MA59C8QK3A", "错码公司", "企业", "H6210", "440103001", "2017-08-15"]


@pytest.fixture(autouse=True)
def builtin_regions(engine: sa.Engine) -> None:
    store.initialise(engine)


def refused(engine: sa.Engine, kind: str, path: Path, **kw: Any) -> str:
    """Import a file that must be refused with one line (not a row report) and leave every table as it was."""
    before = counts(engine)
    with pytest.raises(InputError) as info:
        run(engine, kind, path, **kw)
    assert not isinstance(info.value, ImportRejected)
    assert counts(engine) == before
    assert "\n" not in str(info.value)
    return str(info.value)


# ── the rejects file of --skip-invalid ──────────────────────────────────────────────────────────────────
def test_rejects_path_is_a_folder(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])
    (tmp_path / "s.rejects.csv").mkdir()
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {tmp_path / 's.rejects.csv'}: it is a folder, not a file "
        "(--skip-invalid writes it beside s.csv); nothing was written"
    )
    assert (tmp_path / "s.rejects.csv").is_dir()


def test_rejects_folder_not_writable(engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])
    # As root every folder is writable; deny this one the way access(2) would for another user.
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {tmp_path / 's.rejects.csv'}: no permission to write in folder {tmp_path} "
        "(--skip-invalid writes it beside s.csv); nothing was written"
    )
    assert not (tmp_path / "s.rejects.csv").exists()


def test_rejects_file_read_only(engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])
    old = tmp_path / "s.rejects.csv"
    old.write_text("an earlier run's rejects\n")
    old.chmod(0o444)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == old else real(p, mode))
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {old}: it is read-only (--skip-invalid writes it beside s.csv); nothing was written"
    )
    assert old.read_text() == "an earlier run's rejects\n"


def test_rejects_file_failing_while_written_rolls_the_import_back(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check passed, then the file could not be opened (a folder created meanwhile, a full disk): the good
    # rows already upserted in the transaction must not be committed.
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT, BAD_SUBJECT])

    real = Path.open

    def full_disk(self: Path, *args: Any, **kw: Any) -> Any:
        if self.name == "s.rejects.csv":
            raise OSError(28, "No space left on device")
        return real(self, *args, **kw)

    monkeypatch.setattr(Path, "open", full_disk)
    assert refused(engine, "subjects", path, skip_invalid=True) == (
        f"cannot write the rejects file {tmp_path / 's.rejects.csv'}: No space left on device "
        "(--skip-invalid writes it beside s.csv); nothing was written"
    )


def test_rejects_path_is_not_checked_without_skip_invalid(engine: sa.Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [SUBJECT_HEADER, GOOD_SUBJECT])
    (tmp_path / "s.rejects.csv").mkdir()
    assert run(engine, "subjects", path).inserted == 1
