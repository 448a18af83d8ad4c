"""The CLI's command modules: each parses options, calls engine/, renders. None holds domain logic."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from commands import demo, grade, imports, init, plan, rules

    for module in (init, imports, demo, rules, grade, plan):
        for command in module.COMMANDS:
            group.add_command(command)
    from commands.audit import audit  # suijian audit verify|redraws

    group.add_command(audit)
    from commands.replay import COMMANDS as replay_commands  # suijian replay RUN_ID

    for command in replay_commands:
        group.add_command(command)
