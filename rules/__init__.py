"""The rule packs shipped with suijian (national, guangdong): data the engine reads, found by name from any folder.

A user names a bundled pack (`suijian rules check national`) or gives a directory; a directory that exists wins,
so a pack of one's own called `national` in the working directory is the one used.
"""

from __future__ import annotations

from pathlib import Path

BUNDLED = Path(__file__).parent


def bundled_names() -> list[str]:
    """The names of the packs shipped with suijian, sorted."""
    return sorted(p.name for p in BUNDLED.iterdir() if (p / "pack.yaml").is_file())


def bundled(name: str) -> Path | None:
    """The directory of the bundled pack called `name`, or None if there is none."""
    return BUNDLED / name if name in bundled_names() else None


def locate(given: str) -> Path | None:
    """The directory `given` names: an existing directory as given, else a bundled pack's; None if neither."""
    path = Path(given)
    if path.is_dir():
        return path
    return bundled(given)
