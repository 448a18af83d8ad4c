"""How long-running engine work reports progress without printing: a callback the skin (CLI, web job) supplies.

    progress(step, done, total)   step: what is running, in the user's words; total None when unknown

The engine calls it between units of work (a partition graded, a stratum drawn, an entry verified); the CLI turns
it into a progress bar on stderr, the web app into a job's progress. The default does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, "int | None"], None]


def no_progress(step: str, done: int, total: int | None) -> None:
    """The default: report nothing."""
