"""The CLI's command modules: each parses options, calls engine/, renders. None holds domain logic, and none imports
another command module: what several share lives in commands/common.py (options, the store, the JSON envelope,
errors, progress) and commands/views.py (renderings).

Every module has `register(cli)`, which adds its commands to the group; the rules group comes before the modules
that add subcommands to it (backtest, publish).
"""

from __future__ import annotations

import click

from commands import (
    audit,
    backtest,
    demo,
    explain,
    grade,
    imports,
    init,
    inspectors,
    plan,
    publish,
    replay,
    results,
    rules,
    serve,
    tasks,
    users,
)

MODULES = (
    init,
    imports,
    demo,
    rules,
    backtest,
    publish,
    grade,
    explain,
    plan,
    tasks,
    inspectors,
    results,
    replay,
    audit,
    users,
    serve,
)


def register(cli: click.Group) -> None:
    for module in MODULES:
        module.register(cli)
