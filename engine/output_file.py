"""Check that a file can be written before any work is done, and write it with one clear line if it cannot.

A command that writes a file (a task list, the rejects of an import) checks its path first: a folder in the way,
a folder that does not exist or one it may not write in is found before the store is read or an import commits,
so the user fixes the path without losing the work. The check writes nothing.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from entities.errors import InputError


def problem(path: Path) -> str | None:
    """Why `path` cannot be written as a file, in a few words (e.g. "it is a folder"), or None if it can."""
    if path.is_dir():
        return "it is a folder, not a file"
    parent = path.parent
    if not parent.exists():
        # A file where a folder should be is the usual cause of a "missing" folder: name it.
        for ancestor in parent.parents:
            if ancestor.exists():
                if not ancestor.is_dir():
                    return f"{ancestor} is a file, not a folder"
                break
        return f"folder {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    if path.exists():
        if not os.access(path, os.W_OK):
            return "it is read-only"
    elif not os.access(parent, os.W_OK | os.X_OK):
        return f"no permission to write in folder {parent}"
    return None


def check(path: str | Path) -> Path:
    """The path as a Path, or InputError with the one-line reason it cannot be written (nothing is written)."""
    path = Path(path)
    reason = problem(path)
    if reason is not None:
        raise InputError(f"cannot write {path}: {reason}; choose another path")
    return path


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be written in `folder`, created if missing (e.g. "… is a file, not a folder"), or None."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:  # not even the root: nothing to say beyond the OS's own error later
        return None
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"no permission to write in folder {existing}"
    return None


def check_folder(folder: str | Path) -> Path:
    """The folder as a Path (not created yet), or InputError with the one-line reason files cannot go there."""
    folder = Path(folder)
    reason = folder_problem(folder)
    if reason is not None:
        raise InputError(f"cannot write in {folder}: {reason}; choose another folder")
    return folder


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path`; an error the check could not foresee (disk full) is one line too, and leaves no new file."""
    path = check(path)
    existed = path.exists()
    try:
        path.write_bytes(data)
    except OSError as exc:
        if not existed:
            path.unlink(missing_ok=True)  # half a task list under the real name would be taken for the whole
        raise InputError(f"cannot write {path} ({exc.strerror or exc}); choose another path") from None


def write_chunks(path: str | Path, chunks: Iterable[bytes]) -> int:
    """Write the pieces to `path` as they come (a city's task list is never held whole); returns the bytes written.

    They go to a temporary file beside it, renamed to `path` once all are written: a failure half-way (disk full,
    bad input found late) leaves no half file under the real name and an existing file as it was."""
    path = check(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    size = 0
    try:
        with temporary.open("wb") as f:
            for chunk in chunks:
                f.write(chunk)
                size += len(chunk)
        os.replace(temporary, path)
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror or exc}); choose another path") from None
    finally:
        temporary.unlink(missing_ok=True)
    return size


FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry: no wall clock in the bytes


def fixed_zip(data: bytes) -> bytes:
    """The zip `data` with every entry stamped FIXED_ZIP_TIME (zipfile stamps the current time), order and content
    unchanged: same inputs, same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def xlsx_bytes(workbook: Any) -> bytes:
    """An openpyxl workbook as XLSX bytes with no wall clock in them: ExcelWriter directly, not Workbook.save
    (which stamps the current time into the document's modified date), and fixed zip entry times."""
    from openpyxl.writer.excel import ExcelWriter  # imported here: most commands never write a workbook

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).write_data()
    return fixed_zip(raw.getvalue())
