"""Write small packs for tests: a valid manifest plus the given rule files."""

from __future__ import annotations

import textwrap
from pathlib import Path

from engine.rules import check_pack

PACKS = Path(__file__).resolve().parents[2] / "packs"

MANIFEST = """\
name: t
version: "1"
jurisdiction: 测试辖区
effective_from: 2025-01-01
"""


def write_pack(directory: Path, files: dict[str, str], manifest: str | None = MANIFEST) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (directory / "pack.yaml").write_text(textwrap.dedent(manifest), encoding="utf-8")
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def lines(directory: Path | str) -> list[str]:
    """The findings as the CLI prints them."""
    return [str(f) for f in check_pack(directory)]


def table(
    rules: str,
    *,
    hit_policy: str = "first",
    outputs: str = "{grade: {type: str, values: [A, B, C, D]}}",
    extra: str = "",
) -> str:
    """A rule file with one decision `d` holding the given rules (YAML list items, written at column 0)."""
    head = (
        "decisions:\n"
        "  - id: d\n"
        "    description: 测试决策\n"
        f"    hit_policy: {hit_policy}\n"
        f"{extra}"
        f"    outputs: {outputs}\n"
        "    rules:\n"
    )
    return head + textwrap.indent(textwrap.dedent(rules).strip("\n") + "\n", "      ")


def rule(ident: str, when: str, then: str = "{grade: A}") -> str:
    return f"- id: {ident}\n  when: {when}\n  then: {then}\n  reason: 测试\n  basis: 本规则包配置：测试\n"
