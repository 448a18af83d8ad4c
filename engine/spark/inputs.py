"""The Parquet folder a Spark run reads: the store's feature tables, one file per table, and the subjects' regions.

`read.write_parquet` writes the tables the features read (partition.INPUTS). A Spark task reads one USCC range of
every table (read.read_parquet_partition), so the files are rewritten here sorted by their owner USCC in row groups
of ROW_GROUP rows with statistics: a range read then skips the row groups outside its range instead of scanning the
whole file. A folder exported by a data platform works unsorted too, only slower (every task scans every file).
`regions.parquet` (uscc, region) is what a grade run freezes besides the features (record.frozen_tables).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features import read
from engine.features.partition import INPUTS, OWNER
from entities import store
from entities.errors import InputError

REGIONS = "regions"
ROW_GROUP = 100_000


def export(conn: Connection, folder: Path) -> None:
    """Write the store's tables to `folder` as a Spark run reads them (each sorted by owner USCC) and regions."""
    read.write_parquet(conn, folder)
    for name in INPUTS:
        path = folder / f"{name}.parquet"
        owner = OWNER[name] or "uscc" if name != "accident" else "reg_code"
        pl.read_parquet(path).sort(owner).write_parquet(path, row_group_size=ROW_GROUP, statistics=True)
    t = store.table("subject")
    rows = conn.execute(sa.select(t.c.uscc, t.c.region).order_by(t.c.uscc)).all()
    pl.DataFrame(rows, schema={"uscc": pl.String, "region": pl.String}, orient="row").write_parquet(
        folder / f"{REGIONS}.parquet", row_group_size=ROW_GROUP
    )


def check_folder(folder: Path) -> None:
    """One line naming what the folder lacks: a table file, or a column of one."""
    if not folder.is_dir():
        raise InputError(f"--input {folder}: no such folder; give a folder of <table>.parquet files")
    read.check_parquet_folder(folder)
    if not (folder / f"{REGIONS}.parquet").is_file():
        raise InputError(
            f"{folder}: no {REGIONS}.parquet (uscc, region of every subject); `suijian grade --engine spark` "
            "without --input writes a complete folder"
        )
    for name, columns in {**INPUTS, REGIONS: {"uscc": pl.String, "region": pl.String}}.items():
        path = folder / f"{name}.parquet"
        try:
            found = pl.read_parquet_schema(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
        missing = [c for c in columns if c not in found]
        if missing:
            raise InputError(f"{path}: no column {', '.join(missing)}; the table needs {', '.join(columns)}")
