"""`suijian init`: create an empty store, or upgrade an older one to the current schema."""

from __future__ import annotations

import click

from commands.common import db_option, emit, json_option, out, store_engine
from entities import identity, store


@click.command("init")
@db_option
@json_option
def init(db: str | None, as_json: bool) -> None:
    """Create an empty store, or upgrade one made by an older suijian (migrations are versioned).

    \b
    Examples:
      suijian init                                         # ./suijian.db
      suijian init --db postgresql://postgres@127.0.0.1/test
    """
    identity.require("init")
    with store_engine(db) as engine:
        before, after = store.initialise(engine)
        url = engine.url.render_as_string(hide_password=True)
    if as_json:
        emit({"db": url, "schema_before": before, "schema": after})
        return
    if before is None:
        out.print(f"Created the store {url} (schema {after}).")
    elif before == after:
        out.print(f"The store {url} is already at schema {after}; nothing to do.")
    else:
        out.print(f"Upgraded the store {url} from schema {before} to {after}.")


def register(cli: click.Group) -> None:
    cli.add_command(init)
