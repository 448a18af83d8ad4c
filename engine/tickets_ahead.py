"""The subjects' ticket keys, computed by a child process while the planner makes its cells.

A fitted plan needs every member's ticket key (engine.sampling.ticket_keys: a SHA-256 per subject) right after its
cells; at guangzhou that is 3.3 M hashes, 2.4 s of Python on the planner's one core, while the cells before it
are mostly polars work that leaves the other core idle much of the time. So when the planner starts, a child
process is given every subject's USCC and the seed, and hashes them meanwhile; the planner then hands it its
members and reads their keys back in their order. The child runs the same function, so the keys are the same; if it
fails, or is asked about another seed or a subject it was not given, the planner computes the keys itself, as it
did before.

The ids, the members and the keys go through files in a temporary folder (Arrow IPC in, raw unsigned 64-bit
integers out); the seed goes through the child's standard input, never its command line, which other users of the
machine can read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path

import numpy as np
import polars as pl

AHEAD_ROWS = 500_000  # subjects; below it, starting the child costs more than the hashes
_ROWS = 500_000  # ids hashed at a time in the child (each batch is a Python list)


class TicketsAhead:
    """The ticket keys of `usccs` under `seed`, being computed by a child process."""

    def __init__(self, seed: str, usccs: pl.Series) -> None:
        self.seed = seed
        folder = tempfile.mkdtemp(prefix="suijian-tickets-")
        self._ids = os.path.join(folder, "ids.arrow")
        self._members = os.path.join(folder, "members.arrow")
        self._keys = os.path.join(folder, "keys.u64")
        pl.DataFrame({"uscc": usccs}).write_ipc(self._ids)
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.tickets_ahead"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._proc = proc
        assert proc.stdin is not None
        # The request is one line; the child hashes, then waits for a second line: the members are ready.
        request = {"seed": seed, "ids": self._ids, "members": self._members, "keys": self._keys}
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except OSError:  # the child is gone already: `keys` finds it failed
            pass
        # Whatever happens to the plan, the child is stopped and its folder removed (at the latest when this object
        # is collected or the process ends).
        self._cleanup = weakref.finalize(self, _stop, proc, folder)

    def keys(self, seed: str, usccs: pl.Series) -> pl.Series | None:
        """The keys of `usccs` (UInt64, in their order), or None when the child cannot give them all (the caller
        computes them itself). Ends the child either way.

        The child looks the members up in what it hashed and writes their keys in their order: the planner reads
        back 8 bytes a member, not every subject's id to join on (at 10 M subjects that join held ~0.6 GB at the
        plan's peak)."""
        try:
            if seed != self.seed:
                return None
            pl.DataFrame({"uscc": usccs}, schema={"uscc": pl.String}).write_ipc(self._members)
            stdin = self._proc.stdin
            assert stdin is not None
            stdin.write(b"members\n")
            stdin.close()
            if self._proc.wait() != 0:
                return None
            keys = np.fromfile(self._keys, dtype=np.uint64)
            return pl.Series(keys, dtype=pl.UInt64) if len(keys) == len(usccs) else None
        except (OSError, ValueError, pl.exceptions.PolarsError):
            return None
        finally:
            self.close()

    def close(self) -> None:
        self._cleanup()


def start(seed: str, usccs: pl.Series) -> TicketsAhead | None:
    """A TicketsAhead for these subjects, or None for fewer than AHEAD_ROWS or if the child cannot be started."""
    if len(usccs) < AHEAD_ROWS:
        return None
    try:
        return TicketsAhead(seed, usccs)
    except OSError:
        return None


def _stop(proc: subprocess.Popen[bytes], folder: str) -> None:
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(OSError):  # a pipe to a child that is gone
            proc.stdin.close()
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    shutil.rmtree(folder, ignore_errors=True)


def _child() -> int:
    from engine.sampling import ticket_keys

    request = json.loads(sys.stdin.buffer.readline())
    ids = pl.read_ipc(request["ids"]).get_column("uscc")
    parts = [ticket_keys(request["seed"], ids.slice(at, _ROWS).to_list()) for at in range(0, len(ids), _ROWS)]
    table = pl.DataFrame(
        {"uscc": ids, "_key": pl.Series(np.concatenate(parts) if parts else np.zeros(0, np.uint64), dtype=pl.UInt64)}
    )
    del ids, parts
    if sys.stdin.buffer.readline().strip() != b"members":
        return 1  # the planner went on without the keys
    members = pl.read_ipc(request["members"]).select("uscc")
    found = members.join(table, on="uscc", how="left", maintain_order="left").get_column("_key")
    if found.null_count():
        return 2  # a member the child was not given: the planner hashes them itself
    found.to_numpy().astype(np.uint64).tofile(request["keys"])
    return 0


if __name__ == "__main__":
    raise SystemExit(_child())
