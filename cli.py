"""suijian — 双随机、一公开 random inspections and risk-graded supervision, from the command line.

The CLI is a thin skin: parse options, open the store, call engine/, render. Every command takes --db and
--json, prints one line for a user error (exit 1) and click's usage message for a usage error (exit 2); with
--json the error is the failure envelope on stdout instead (commands/common.py).
Command modules live in commands/, one per command family.
"""

from __future__ import annotations

import sys

import click

from commands import register
from commands.common import SuijianGroup, run_main


@click.group(cls=SuijianGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="suijian")
def suijian() -> None:
    """随检 suijian: rule engine for 双随机、一公开 market-supervision inspections.

    \b
    Start here:
      suijian demo --profile jiedong      # generate a real-size district, load it, run the job
      suijian init --db sqlite:///x.db    # create (or upgrade) an empty store
      suijian import subjects FILE.csv    # load 经营主体 from CSV/XLSX/JSONL/Parquet
      suijian rules check national        # a bundled rule pack by name (national, guangdong), or a directory

    The store is --db URL, else $SUIJIAN_DB, else sqlite:///suijian.db. Every command has --json: one document
    on stdout, {"ok": true, …} or {"ok": false, "error": {"code": …, "message": …}}.
    """


register(suijian)


def main() -> None:
    sys.exit(run_main(suijian))


if __name__ == "__main__":
    main()
