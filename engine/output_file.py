"""Check that a file can be written before any work is done, and write it with one clear line if it cannot.

A command that writes a file (a task list, the rejects of an import) checks its path first: a folder in the way,
a folder that does not exist or one it may not write in is found before the store is read or an import commits,
so the user fixes the path without losing the work. The check writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

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
