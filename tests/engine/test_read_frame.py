"""runs.read_frame: rows straight into columns, in chunks, on both stores, without changing the connection."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from engine.ledger import runs
from entities import store


def test_read_frame_reads_every_chunk_in_order_and_leaves_the_connection_as_it_was(
    engine: sa.Engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(runs, "READ_CHUNK", 7)  # several chunks, the last one short
    rows = [{"code": f"99{i:04d}", "name": f"测试区{i}", "parent": None, "level": "county"} for i in range(23)]
    r = store.table("region")
    with engine.begin() as conn:
        store.bulk_insert(conn, "region", rows)
        frame = runs.read_frame(
            conn,
            sa.select(r.c.code, r.c.name).where(r.c.code.startswith("99")).order_by(r.c.code),
            {"code": pl.String, "name": pl.String},
        )
        assert frame.to_dicts() == [{"code": x["code"], "name": x["name"]} for x in rows]
        # A server-side cursor on the connection itself would break the next statement (LOCK TABLE on PostgreSQL).
        assert "yield_per" not in conn.get_execution_options()
        empty = runs.read_frame(conn, sa.select(r.c.code).where(r.c.code == "none"), {"code": pl.String})
        assert empty.height == 0 and empty.schema == pl.Schema({"code": pl.String})
