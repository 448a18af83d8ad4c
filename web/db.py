"""The app's store: one SQLAlchemy engine per app (opened by create_app), and `get_conn` for handlers.

Import `get_conn` from here in page and API modules (web.app re-exports it, but importing web.app from a router
module would make an import cycle with the app that includes the routers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.engine import Connection, Engine


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_conn(request: Request) -> Iterator[Connection]:
    """A connection to the store for one request, in one transaction: committed when the handler returns, rolled back
    when it raises — as the CLI's `store_connection(write=True)`. A handler that redirects after a write calls
    `conn.commit()` itself before returning, so the page the browser asks for next sees the write."""
    with engine_of(request).connect() as conn:
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        if conn.in_transaction():
            conn.commit()


def now() -> dt.datetime:
    """The wall-clock time (UTC, whole seconds) that sessions, the rate limit and jobs are measured against; it
    decides nothing that is recorded as a decision."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
