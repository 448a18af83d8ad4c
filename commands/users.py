"""`suijian users add|list|disable|token`: the accounts that sign in to the web app and the JSON API.

The account table is the operator's, like the store file itself: these commands need no declared identity (anyone
who can write the store could write the table directly). Passwords are never on the command line: a prompt asked
twice, or one line on stdin with --password-stdin (for scripts).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from commands.common import db_option, emit, json_option, now, out, store_connection, table
from engine.access import accounts
from entities.errors import InputError
from entities.identity import ROLE_NAMES


@click.group("users")
def users() -> None:
    """The web app's accounts: add, list, disable, and API tokens.

    \b
    Examples:
      suijian users add admin --role supervisor --display 张科长
      suijian users list
    """


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("--password-stdin: nothing on stdin; give the password as one line")
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


def _member(row: accounts.AccountRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "role": row.role.value,
        "display": row.display,
        "enabled": row.enabled,
        "inspector": row.inspector_id,
        "created_at": row.created_at.isoformat(),
    }


@users.command("add")
@click.argument("name")
@click.option("--role", "role_text", required=True, metavar="ROLE", help=f"The account's role: {ROLE_NAMES}.")
@click.option("--display", default=None, metavar="TEXT", help="The name shown on pages (default: NAME).")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from stdin (for scripts).")
@click.option("--unlinked", is_flag=True, help="An inspector account whose NAME is no 登录账号 on the roster (yet).")
@db_option
@json_option
def add_cmd(
    name: str, role_text: str, display: str | None, password_stdin: bool, unlinked: bool, db: str | None, as_json: bool
) -> None:
    """Add an account. An inspector's NAME must be the 登录账号 of an inspector on the roster (that is how the web app
    finds their list), unless --unlinked. The password (at least 10 characters) is asked twice, or read from stdin.

    \b
    Examples:
      suijian users add admin --role supervisor
      suijian users add ZF4452030001 --role inspector --display 罗强
      printf '%s\\n' "$PASSWORD" | suijian users add aud1 --role auditor --password-stdin
    """
    role = accounts.role_of(role_text)
    with store_connection(db) as conn:  # checked before the password is asked for
        accounts.check_name(name)
        if accounts.find(conn, name.strip()) is not None:
            raise InputError(
                f"an account named {name.strip()!r} exists already; `suijian users list` shows the accounts"
            )
    password = _password(password_stdin)
    with store_connection(db, write=True) as conn:
        row = accounts.add(conn, name, role, password, display=display, now=now(), unlinked=unlinked)
    if as_json:
        emit({"account": _member(row)})
        return
    link = ""
    if row.inspector_id is not None:
        link = f", linked to roster inspector {row.inspector_id}"
    elif unlinked:
        link = f"; not linked to the roster: it sees no list until an inspector's 登录账号 is {row.name}"
    out.print(f"Added account {row.name} ({row.role.value}, shown as {row.display}){link}.")


@users.command("list")
@db_option
@json_option
def list_cmd(db: str | None, as_json: bool) -> None:
    """List the accounts: name, role, display name, enabled, the roster inspector an inspector account is linked to.

    \b
    Examples:
      suijian users list
      suijian users list --json
    """
    with store_connection(db) as conn:
        rows = accounts.listing(conn)
    if as_json:
        emit({"accounts": [_member(r) for r in rows]})
        return
    if not rows:
        out.print("No accounts yet; add one with `suijian users add NAME --role supervisor`.")
        return
    out.print(
        table(
            None,
            ["账号", "角色", "显示名", "状态", "名录人员", "创建时间"],
            [
                (
                    r.name,
                    r.role.label,
                    r.display,
                    "启用" if r.enabled else "停用",
                    r.inspector_id or ("—" if r.role.value != "inspector" else "未关联"),
                    r.created_at.isoformat(sep=" "),
                )
                for r in rows
            ],
        )
    )
    out.print(f"{len(rows)} account(s), {sum(r.enabled for r in rows)} enabled.")


@users.command("disable")
@click.argument("name")
@db_option
@json_option
def disable_cmd(name: str, db: str | None, as_json: bool) -> None:
    """Disable an account: it can no longer sign in, its sessions end and its API tokens are refused.

    \b
    Examples:
      suijian users disable ZF4452030001
    """
    with store_connection(db, write=True) as conn:
        changed = accounts.disable(conn, name, now=now())
    if as_json:
        emit({"name": name, "disabled": True, "changed": changed})
        return
    if changed:
        out.print(f"Disabled account {name}: its sessions are ended and its API tokens refused.")
    else:
        out.print(f"Account {name} was disabled already.")


@users.command("token")
@click.argument("name")
@click.option(
    "--label", required=True, metavar="TEXT", help="What the token is for, e.g. 省级平台 (shown nowhere else)."
)
@db_option
@json_option
def token_cmd(name: str, label: str, db: str | None, as_json: bool) -> None:
    """Make an API token for an account (`Authorization: Bearer TOKEN`); it is printed once, only its hash is kept.

    \b
    Examples:
      suijian users token admin --label 省级平台
    """
    with store_connection(db, write=True) as conn:
        token = accounts.new_token(conn, name, label, now=now())
    if as_json:
        emit({"name": name, "label": label.strip(), "token": token})
        return
    click.echo(token)
    click.echo("Keep this token now: only its hash is stored, it cannot be shown again.", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(users)
