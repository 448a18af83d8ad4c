"""A plan's read of its grade run's results and the subjects' live columns, a USCC range at a time.

A city's plan reads 3.3 M grade results and 3.3 M subjects' region, status and whitelist. Through the Python
driver every value became a Python object and back (`runs.read_frame`): ≈ 15 CPU s of the plan's read. On a
SQLite store with ADBC's SQLite driver installed, a child process reads them in one query (the results, each with
its subject's live columns: `grade_result LEFT JOIN subject`, in USCC order) and streams them as Arrow batches
over a pipe; the plan takes them a range at a time as it reads its recorded features, so no frame of the whole
city is held (session 24's whole read through ADBC cost 0.8 GB more entering the planner). A thread takes the
batches off the pipe as they come, a few ahead of the plan: the child, which would otherwise wait on a full pipe
while the plan joins a range, reads the next range meanwhile on the other core.

The child is a process of its own because ADBC's driver carries its own copy of SQLite, which must not open a
file this process has open (engine.features.arrow_read explains why). It sees what is committed: it is used only
when this process's connection has written nothing uncommitted, and only for a population large enough to pay
for starting it. If it cannot read (no driver, another store, an error in the child), the range being read and
every later one are read through the connection as before; both ways give the same frames.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl

CHILD_ROWS = 500_000  # below it, starting the child process costs more than the tuples
BATCH_ROWS = 100_000  # rows per Arrow batch the child sends
READ_AHEAD = 8  # batches taken off the pipe before the plan asks for them (~55 MB at guangzhou: about 3 ranges)

# Nothing null (a subject missing from the subject table has present = 0 and empty live columns): the driver
# types each column from the first batch, so a column all null there would refuse a later value.
# The subjects' columns come from ix_subject_features (migration 0012), which holds all four: SQLite's planner
# otherwise takes the primary key's index and reads each subject's row, names and addresses included (guangzhou:
# 5.7 CPU s for the query against 2.5). A store without that index makes the query fail, and the connection reads.
_SQL = (
    "SELECT r.uscc AS uscc, r.outcome AS outcome, s.uscc IS NOT NULL AS present, COALESCE(s.region, '') AS region, "
    "COALESCE(s.status, '') AS status, COALESCE(s.whitelist, 0) AS whitelist "
    "FROM grade_result AS r LEFT JOIN subject AS s INDEXED BY ix_subject_features ON s.uscc = r.uscc "
    "WHERE r.run_id = ? ORDER BY r.uscc"
)
_SCHEMA = {
    "uscc": pl.String,
    "outcome": pl.Int64,
    "present": pl.Int64,
    "region": pl.String,
    "status": pl.String,
    "whitelist": pl.Int64,
}


class ChildFailed(Exception):
    """The child could not read the rows (or its stream broke): read them through the connection instead."""


class Stream:
    """The child's rows, taken a USCC range at a time in ascending order (`between`)."""

    def __init__(self, path: str, run_id: str) -> None:
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "engine.plan_read"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"path": path, "run_id": run_id, "batch": BATCH_ROWS}).encode())
        self._proc.stdin.close()
        self._pending: list[pl.DataFrame] = []
        self._done = False
        self._failed: ChildFailed | None = None  # what ended the stream, raised again if it is asked once more
        # What the pump took off the pipe, in order: frames, then None (the end) or the ChildFailed that ended it.
        self._ahead: queue.Queue[pl.DataFrame | ChildFailed | None] = queue.Queue(maxsize=READ_AHEAD)
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._pump_batches, args=(self._proc,), name="plan-read", daemon=True)
        self._pump.start()

    def _pump_batches(self, proc: subprocess.Popen[bytes]) -> None:
        """The child's batches put on `_ahead` as frames (on the pump thread), then the end or what failed."""
        import pyarrow as pa
        import pyarrow.ipc

        item: pl.DataFrame | ChildFailed | None
        try:
            assert proc.stdout is not None
            for batch in pyarrow.ipc.open_stream(proc.stdout):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                if frame.schema != pl.Schema(_SCHEMA):
                    raise ChildFailed(f"unexpected types {frame.schema}")
                if not self._put(frame):
                    return
            item = None if proc.wait() == 0 else ChildFailed(f"exit status {proc.returncode}")
        except ChildFailed as exc:
            item = exc
        except (pa.ArrowException, OSError) as exc:
            item = ChildFailed(str(exc))
        except Exception as exc:  # noqa: BLE001  # anything else ends the stream too, never silently: the plan waits
            item = ChildFailed(f"{type(exc).__name__}: {exc}")
        self._put(item)

    def _put(self, item: pl.DataFrame | ChildFailed | None) -> bool:
        """Put `item` on `_ahead` once there is room; False when the stream was closed meanwhile."""
        while not self._stop.is_set():
            try:
                self._ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _next(self) -> pl.DataFrame | None:
        """The next batch as a frame, None at the end of a complete stream; ChildFailed otherwise."""
        if self._proc is None:
            raise ChildFailed("closed")
        if self._failed is not None:  # the pump has ended: nothing more will come on `_ahead`
            raise self._failed
        item = self._ahead.get()
        if isinstance(item, ChildFailed):
            self._failed = item
            raise item
        return item

    def between(self, after: str | None, upto: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(grade results: uscc, outcome; live columns: uscc, region, status, whitelist) of the subjects whose
        USCC is after `after` and up to `upto`, in USCC order. Ranges must be asked in ascending order."""
        while not self._done and (not self._pending or self._pending[-1].get_column("uscc")[-1] <= upto):
            frame = self._next()
            if frame is None:
                self._done = True
            elif frame.height:
                self._pending.append(frame)
        rows = pl.concat(self._pending) if self._pending else pl.DataFrame(schema=_SCHEMA)
        usccs = rows.get_column("uscc")
        cut = int(usccs.search_sorted(upto, side="right"))
        low = 0 if after is None else int(usccs.search_sorted(after, side="right"))
        here, rest = rows.slice(low, cut - low), rows.slice(cut)
        self._pending = [rest] if rest.height else []
        results = here.select("uscc", "outcome")
        live = here.filter(pl.col("present") == 1).select(
            "uscc", "region", "status", pl.col("whitelist").cast(pl.Boolean)
        )
        return results, live

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._stop.set()  # the pump stops at its next batch, or its wait for room, and puts nothing more
            if proc.poll() is None:
                proc.kill()  # its pipe ends, so a pump blocked reading it returns
            proc.wait()
            self._pump.join()
            while not self._ahead.empty():  # the frames taken ahead and never asked for
                self._ahead.get_nowait()
            if proc.stdout is not None:
                proc.stdout.close()


def _child() -> int:
    request = json.loads(sys.stdin.buffer.read())
    from urllib.parse import quote

    import adbc_driver_sqlite.dbapi as driver
    import pyarrow.ipc

    conn = driver.connect(f"file:{quote(request['path'])}?mode=ro", autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(request["batch"])})
            cursor.execute(_SQL, (request["run_id"],))
            reader = cursor.fetch_record_batch()
            with pyarrow.ipc.new_stream(sys.stdout.buffer, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(_child())
