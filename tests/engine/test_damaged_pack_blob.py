"""A rule-pack version whose stored blob is damaged gives one clear line from every command that reads it.

Regression: a byte flipped in the stored zip gave a `zlib.error` (or BadZipFile) traceback from `audit verify`,
`replay`, `explain --run`, `rules export` and `grade` with the active published pack. The store is a copy of
the 0.1.0 fixture (it has a published pack, grade runs and plans that all use one pack version).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from entities import store
from tests.helpers import run_cli

FIXTURE = Path(__file__).parents[1] / "fixtures" / "stores" / "ledger-0.1.0.db"
FILES_HASH = "47010ce992d3868d7dcf28811e3d11df66b96b4b39ba34d3279f18ca512293a7"
GRADE_RUN, PLAN = "G20251231-cee06f88-0001", "P2026-09056c35e1"


def _blob(path: Path) -> bytes:
    with sqlite3.connect(path) as conn:
        return bytes(conn.execute("SELECT data FROM blob WHERE hash = ?", (FILES_HASH,)).fetchone()[0])


def _offsets(size: int) -> list[int]:
    """15 places spread over the blob: local headers, deflated data, the central directory and its end."""
    return sorted({round(i * (size - 1) / 14) for i in range(15)})


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, Path]]:
    base = tmp_path_factory.mktemp("damaged")
    original = _blob(FIXTURE)
    stores = []
    for offset in _offsets(len(original)):
        copy = base / f"flip-{offset}.db"
        shutil.copy(FIXTURE, copy)
        upgraded(copy)  # as `suijian init` does for a store written by an earlier release
        data = bytearray(original)
        data[offset] ^= 0xFF
        with sqlite3.connect(copy) as conn:
            conn.execute("UPDATE blob SET data = ? WHERE hash = ?", (bytes(data), FILES_HASH))
        stores.append((offset, copy))
    return stores


def upgraded(path: Path) -> None:
    engine = store.make_engine(f"sqlite:///{path}")
    try:
        store.upgrade(engine)
    finally:
        engine.dispose()


def _commands(out_dir: Path) -> dict[str, list[str]]:
    return {
        "replay": ["replay", GRADE_RUN],
        "explain": ["explain", "91445203029896568F", "--run", PLAN],
        "rules export": ["rules", "export", GRADE_RUN, str(out_dir)],
        "grade": ["grade", "--as-of", "2026-06-30"],
    }


def test_every_command_gives_one_line_not_a_traceback(damaged: list[tuple[int, Path]], tmp_path: Path) -> None:
    refused = 0
    for offset, path in damaged:
        url = f"sqlite:///{path}"
        code, out, err = run_cli("audit", "verify", "--db", url)
        text = out + err
        assert "Traceback" not in text, (offset, text)
        if code == 0:  # a byte the zip never reads (a time stamp, a version field): nothing is damaged
            continue
        refused += 1
        assert code == 1, (offset, text)
        assert f"rule-pack version {FILES_HASH[:12]} (used by " in text, (offset, text)
        for name, args in _commands(tmp_path / f"export-{offset}").items():
            code, out, err = run_cli(*args, "--db", url)
            lines = [line for line in (out + err).splitlines() if line.strip()]
            assert "Traceback" not in out + err, (offset, name, out + err)
            assert code == 1, (offset, name, out + err)
            assert lines == [next(line for line in lines if line.startswith("Error: "))], (offset, name, lines)
            assert f"rule-pack version {FILES_HASH[:12]}" in lines[0], (offset, name, lines)
            assert "suijian audit verify" in lines[0], (offset, name, lines)
    assert refused >= 10  # most places are read: the test exercised damaged blobs, not only harmless bytes
