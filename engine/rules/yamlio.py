"""Read one rule-pack YAML file into plain values that remember their line numbers.

Whatever the text, this returns (value, findings) and never raises: malformed YAML, tabs in indentation,
duplicate keys, anchors/aliases, bad dates and non-UTF-8 bytes each become a finding at their line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.rules.codes import Code
from engine.rules.model import Finding, Location

_MAX_DEPTH = 40


class LineDict(dict[Any, Any]):
    """A mapping from the file, with the line of the mapping, of each key and of each value."""

    line: int
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]

    def key_line(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)

    def value_line(self, key: Any) -> int:
        return self.value_lines.get(key, self.key_line(key))


class LineList(list[Any]):
    """A sequence from the file, with the line of the sequence and of each item."""

    line: int
    item_lines: list[int]

    def item_line(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


# Internal: raised deep inside the YAML loader's recursion (anchors, tags, odd keys) to unwind to read_yaml, which
# turns it into a Finding; read_yaml never raises, so this never leaves the module.
class _Refused(Exception):
    def __init__(self, line: int, code: Code, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.code = code
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases: a rule file says each thing once, where it applies."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                event.start_mark.line + 1,
                Code.YAML_SYNTAX,
                "anchors and aliases (&, *) are not supported; write the value out",
            )
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise _Refused(
                event.start_mark.line + 1,
                Code.YAML_SYNTAX,
                "anchors and aliases (&, *) are not supported; write the value out",
            )
        return super().compose_node(parent, index)


_UNQUOTED_CONDITION = re.compile(r":\s*(>=?\s*[-+\d$]|!=|\[[^\]\n]*\.\.|\([^)\n]*\.\.)")
_INDENT_PROBLEMS = (
    "mapping values are not allowed",
    "did not find expected key",
    "expected <block end>",
    "did not find expected '-' indicator",
    "could not find expected ':'",
)


def read_yaml(path: Path, display: str) -> tuple[Any, list[Finding]]:
    """Parse `path`; locations in findings use `display` as the file name. Returns (None, findings) on failure."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Finding(Location(display), Code.UNREADABLE, f"cannot read the file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Finding(Location(display, line), Code.ENCODING, "not UTF-8 text; save the file as UTF-8")]
    return parse_yaml(text, display)


def parse_yaml(text: str, display: str) -> tuple[Any, list[Finding]]:
    lines = text.splitlines()
    tabs = [
        Finding(
            Location(display, n),
            Code.YAML_TAB,
            "tab character in the indentation; YAML indents with spaces only",
        )
        for n, line in enumerate(lines, start=1)
        if "\t" in line[: len(line) - len(line.lstrip(" \t"))]
    ]
    if tabs:
        return None, tabs
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, []
        return _value(loader, node, display, 0), []
    except _Refused as exc:
        return None, [Finding(Location(display, exc.line), exc.code, exc.message + _hint(exc.message, lines, exc.line))]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = (exc.problem or exc.context or "malformed YAML").strip()
        return None, [
            Finding(
                Location(display, line),
                Code.YAML_SYNTAX,
                f"malformed YAML: {problem}{_hint(problem, lines, line)}",
            )
        ]
    except yaml.YAMLError as exc:
        return None, [Finding(Location(display, 1), Code.YAML_SYNTAX, f"malformed YAML: {str(exc).splitlines()[0]}")]
    except RecursionError:
        return None, [Finding(Location(display, 1), Code.YAML_SYNTAX, "malformed YAML: nested too deeply")]
    finally:
        if loader is not None:
            loader.dispose()


def _hint(problem: str, lines: list[str], line: int) -> str:
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    prev = lines[line - 2] if 1 < line <= len(lines) + 1 else ""
    if _UNQUOTED_CONDITION.search(source) or _UNQUOTED_CONDITION.search(prev):
        return '; put conditions that start with >, !, [ or ( in quotes, e.g. ">= 3" or "[30..45)"'
    if any(p in problem for p in _INDENT_PROBLEMS):
        return "; check the indentation (siblings at the same depth, spaces only)"
    return ""


def _value(loader: _Loader, node: Node, display: str, depth: int) -> Any:
    line = node.start_mark.line + 1
    if depth > _MAX_DEPTH:
        raise _Refused(line, Code.YAML_SYNTAX, f"nested more than {_MAX_DEPTH} levels deep")
    if isinstance(node, ScalarNode):
        try:
            return loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise _Refused(line, Code.YAML_SYNTAX, f"malformed YAML: {(exc.problem or str(exc)).strip()}") from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise _Refused(line, Code.YAML_SYNTAX, f"malformed YAML: cannot read {node.value!r} ({exc})") from None
    if isinstance(node, SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise _Refused(line, Code.YAML_SYNTAX, f"malformed YAML: unsupported tag {node.tag}")
        seq = LineList(_value(loader, item, display, depth + 1) for item in node.value)
        seq.line = line
        seq.item_lines = [item.start_mark.line + 1 for item in node.value]
        return seq
    if isinstance(node, MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise _Refused(line, Code.YAML_SYNTAX, f"malformed YAML: unsupported tag {node.tag}")
        mapping = LineDict()
        mapping.line = line
        mapping.key_lines = {}
        mapping.value_lines = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                raise _Refused(key_line, Code.YAML_SYNTAX, "a key must be a plain word, not a list or mapping")
            key = _value(loader, key_node, display, depth + 1)
            if isinstance(key, (list, dict)) or not _hashable(key):
                raise _Refused(key_line, Code.YAML_SYNTAX, "a key must be a plain word")
            if key in mapping:
                raise _Refused(
                    key_line,
                    Code.DUPLICATE_KEY,
                    f"key '{key}' appears twice in the same mapping (first on line {mapping.key_lines[key]})",
                )
            mapping[key] = _value(loader, value_node, display, depth + 1)
            mapping.key_lines[key] = key_line
            mapping.value_lines[key] = value_node.start_mark.line + 1
        return mapping
    raise _Refused(line, Code.YAML_SYNTAX, "malformed YAML")


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
