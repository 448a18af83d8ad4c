"""The CLI contract, for every command and subcommand (DESIGN.md "CLI contract"): `--help` with an example that
parses, `--json`, and help examples whose USCCs pass their own check digit."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click
import pytest

from cli import suijian
from entities.codes import normalise_uscc
from tests.helpers import run_cli


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk(command.commands[name], (*path, name))


COMMANDS = dict(walk(suijian))
LEAVES = [path for path, command in COMMANDS.items() if not isinstance(command, click.Group)]


def help_text(path: tuple[str, ...]) -> str:
    code, out, err = run_cli(*path, "--help")
    assert (code, err) == (0, ""), path
    return out


def examples(text: str) -> list[list[str]]:
    """Each `suijian …` command in a help text's example lines, as arguments after `suijian` (a line continued with
    a backslash joined; `a && b` gives two; a pipe or a redirection ends one)."""
    lines = [line.strip() for line in text.replace("\\\n", " ").splitlines()]
    found = []
    for line in lines:
        if not line.startswith("suijian "):
            continue
        words = shlex.split(line, comments=True)
        for part in " ".join(shlex.quote(w) for w in words).split(" '&&' "):
            args = shlex.split(part)
            for stop in ("|", ">", "2>"):
                if stop in args:
                    args = args[: args.index(stop)]
            if args and args[0] == "suijian":
                found.append(args[1:])
    return found


def test_the_walk_finds_every_command() -> None:
    """The walk reaches subcommands (a command added later is checked too, without being listed here)."""
    assert {" ".join(p) for p in LEAVES} >= {
        "audit redraws",
        "audit verify",
        "demo",
        "explain",
        "grade",
        "import",
        "init",
        "plan",
        "replay",
        "rules active",
        "rules backtest",
        "rules check",
        "rules diff",
        "rules export",
        "rules publish",
        "rules test",
        "tasks export",
    }


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "suijian")
def test_help_has_a_runnable_example(path: tuple[str, ...]) -> None:
    found = examples(help_text(path))
    assert found, f"`suijian {' '.join(path)} --help` shows no example line starting with `suijian `"


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_has_json(path: tuple[str, ...]) -> None:
    assert any("--json" in p.opts for p in COMMANDS[path].params), f"suijian {' '.join(path)} has no --json"
    assert "--json" in help_text(path)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "suijian")
def test_every_example_parses(path: tuple[str, ...]) -> None:
    """Each example's words are valid for the command it names: click builds its context (options, arguments,
    types, required options) without running it."""
    for args in examples(help_text(path)):
        command: click.Command = suijian
        ctx = suijian.make_context("suijian", list(args), resilient_parsing=True)
        rest = list(args)
        while isinstance(command, click.Group) and rest and rest[0] in command.commands:
            command = command.commands[rest.pop(0)]
        assert not isinstance(command, click.Group) or not rest, f"unknown command in example: suijian {args}"
        if isinstance(command, click.Group):
            continue
        command.make_context(command.name, rest, parent=ctx)  # raises on a bad example


USCC_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9]{8}[0-9A-Z]{10}(?![0-9A-Za-z])")


def test_every_uscc_in_help_passes_its_check_digit() -> None:
    seen = []
    for path in COMMANDS:
        for token in USCC_LIKE.findall(help_text(path)):
            seen.append(token)
            assert normalise_uscc(token) == token, f"suijian {' '.join(path)} --help: {token}"
    assert seen  # the examples do show subjects (explain, grade --subject)
