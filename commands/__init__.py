"""The CLI's command modules: each parses options, calls engine/, renders. None holds domain logic."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from commands import demo, grade, imports, init, plan, rules

    for module in (init, imports, demo, rules, grade, plan):
        for command in module.COMMANDS:
            group.add_command(command)
