"""The engine version every grade run and ledger entry records: this package's version and the rule engine's.

Read from the installed distributions, so a release changes it in one place (pyproject.toml). It is recorded
with every run, so it must keep reading "suijian-<version>+durable-rules-<version>".
"""

from __future__ import annotations

from importlib import metadata


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:  # pragma: no cover - a checkout used without `pip install -e .`
        return "unknown"


ENGINE_VERSION = f"suijian-{_installed('suijian')}+durable-rules-{_installed('durable_rules')}"
