"""Checking and writing an output file: the reason a path cannot be written, and no half file on failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import output_file
from entities.errors import InputError


def test_a_writable_path_passes_and_is_written(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    assert output_file.problem(target) is None
    output_file.write_bytes(target, b"a,b\r\n")
    assert target.read_bytes() == b"a,b\r\n"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda t: t, "it is a folder, not a file"),
        (lambda t: t / "no" / "such" / "x.csv", "folder {t}/no/such does not exist"),
        (lambda t: t / "f.txt" / "sub" / "x.csv", "{t}/f.txt is a file, not a folder"),
        (lambda t: t / "f.txt" / "x.csv", "{t}/f.txt is a file, not a folder"),
    ],
    ids=["folder", "missing folder", "file as grandparent", "file as parent"],
)
def test_paths_that_cannot_be_written(tmp_path: Path, make: object, reason: str) -> None:
    (tmp_path / "f.txt").write_text("x")
    path = make(tmp_path)  # type: ignore[operator]
    assert output_file.problem(path) == reason.format(t=tmp_path)
    with pytest.raises(InputError) as info:
        output_file.check(path)
    assert str(info.value) == f"cannot write {path}: {reason.format(t=tmp_path)}; choose another path"


def test_folder_without_write_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    assert output_file.problem(tmp_path / "x.csv") == f"no permission to write in folder {tmp_path}"


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.xlsx"
    real = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        real(self, data[:3])  # part of it reached the disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(InputError) as info:
        output_file.write_bytes(target, b"0123456789")
    assert str(info.value) == f"cannot write {target} (No space left on device); choose another path"
    assert not target.exists()


def test_folders_that_files_cannot_go_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f.txt").write_text("x")
    assert output_file.folder_problem(tmp_path / "new" / "deeper") is None  # created when written
    assert output_file.folder_problem(tmp_path) is None
    assert output_file.folder_problem(tmp_path / "f.txt" / "sub") == f"{tmp_path / 'f.txt'} is a file, not a folder"
    with pytest.raises(InputError) as info:
        output_file.check_folder(tmp_path / "f.txt")
    assert str(info.value) == (
        f"cannot write in {tmp_path / 'f.txt'}: {tmp_path / 'f.txt'} is a file, not a folder; choose another folder"
    )
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real(p, mode))
    assert output_file.folder_problem(tmp_path / "new") == f"no permission to write in folder {tmp_path}"
