"""`suijian serve`: the web app (issue 16) on the store, served by uvicorn.

It binds to 127.0.0.1 unless told otherwise, and refuses to start on a store with no enabled account (nobody could
sign in, and an open app is not what anyone wants). Cookies are marked Secure when the app is reached over https
(a TLS proxy in front of it, forwarding from 127.0.0.1).
"""

from __future__ import annotations

import click

from commands.common import db_option, emit, err, json_option, store_connection
from engine.access import accounts
from entities import store
from entities.errors import InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="ADDRESS", help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@db_option
@json_option
def serve(host: str, port: int, db: str | None, as_json: bool) -> None:
    """Serve the web app for inspectors, supervisors and auditors (and the JSON API) on the store.

    Create the first account before: `suijian users add NAME --role supervisor`. With --json, one document saying
    where the app listens is printed before the server starts.

    \b
    Examples:
      suijian users add admin --role supervisor && suijian serve
      suijian serve --host 0.0.0.0 --port 8080 --db postgresql://suijian@db.local/suijian
    """
    # Loaded here, not at the top: every other command starts without importing the web stack.
    import uvicorn

    from web.app import create_app

    with store_connection(db) as conn:
        if accounts.enabled_count(conn) == 0:
            raise InputError(
                "no enabled account in the store: nobody could sign in; create one first with "
                "`suijian users add NAME --role supervisor`"
            )
    app = create_app(store.resolve_url(db))
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    if as_json:
        emit({"url": url, "host": host, "port": port})
    else:
        err.print(f"随检 web app on {url} (Ctrl+C stops it)")
    if host not in LOOPBACK:
        err.print(
            f"Note: listening on {host} makes the app reachable from the network; put it behind https (a TLS proxy) "
            "so passwords and session cookies are not sent in the clear."
        )
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True, forwarded_allow_ips="127.0.0.1")


def register(cli: click.Group) -> None:
    cli.add_command(serve)
