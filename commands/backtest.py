"""`suijian rules backtest`: how well did a pack's classes, as of a past date, predict what the later checks found?"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from rich.text import Text

from commands.common import (
    DATE,
    counting,
    db_option,
    emit,
    json_option,
    out,
    pack_directory,
    progress_bars,
    store_connection,
    table,
    url_of,
    workers_for,
)
from engine.backtest import MIN_CHECKS, Backtest, ClassFigures, one_year_after
from engine.backtest import backtest as run_backtest
from engine.features.compute import population_size
from engine.rules import load_pack
from entities.enums import CheckKind
from entities.errors import UsageError


def _pct(value: float | None, space: str = "") -> str:
    return "—" if value is None else f"{100 * value:.1f}{space}%"


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _class_row(c: ClassFigures) -> list[Any]:
    return [
        c.label,
        c.subjects,
        c.checked_subjects,
        c.checks,
        c.findings,
        _pct(c.hit_rate),
        _pct(c.share_of_findings),
        _pct(c.first_half_share),
    ]


def _print(result: Backtest) -> None:
    kinds = f" of kind {', '.join(result.kinds)}" if result.kinds else ""
    last = f"; the store's latest check{kinds}: {result.last_check_on}" if result.last_check_on else ""
    click.echo(
        f"Backtest as of {result.as_of}: checks{kinds} with {result.as_of} < checked_on <= {result.until} "
        f"(first half to {result.midpoint}{last})"
    )
    later = f" ({result.registered_later:,} registered later left out)" if result.registered_later else ""
    click.echo(f"Population: {result.subjects:,} subjects registered by {result.as_of}{later}")
    left = (
        f"; {_n(result.checks_left_out, 'check')} of other subjects (registered later or not in the store) left out"
        if result.checks_left_out
        else ""
    )
    click.echo(
        f"Checks of these subjects: {result.checks:,} ({result.checked_subjects:,} subjects checked), "
        f"{result.findings:,} with a finding ({_pct(result.hit_rate)}){left}"
    )
    click.echo(
        f"Findings in the first half: {result.findings_first_half:,} of {result.findings:,} "
        f"({_pct(result.first_half_share_of_findings)})"
    )
    for p in result.packs:
        errors = f"; {p.subjects_with_errors:,} subjects hit a rule-pack error" if p.subjects_with_errors else ""
        click.echo(f"Pack {p.directory}: {p.name} {p.version} (hash {p.hash[:12]}){errors}")
    several = len(result.packs) > 1
    columns = ["class", "subjects", "checked", "checks", "findings", "hit rate", "share", "1st half"]
    for name in result.output_names():
        rows: list[list[Any]] = []
        ends: list[int] = []
        lifts: list[str] = []
        for p in result.packs:
            figures = p.output(name)
            if figures is None:
                lifts.append(f"{p.directory}: no output {name}")
                continue
            for i, c in enumerate(figures.classes):
                rows.append(([p.directory if i == 0 else ""] if several else []) + _class_row(c))
            ends.append(len(rows) - 1)
            lift = figures.lift
            who = f" {p.directory}" if several else ""
            if lift is None:
                lifts.append(
                    f"lift{who}: — (fewer than two ranked classes with {_n(result.min_checks, 'check')} or more)"
                )
            else:
                hi, lo = lift.highest, lift.lowest
                value = "—" if lift.value is None else f"{lift.value:.2f}×"
                lifts.append(
                    f"lift{who}: {hi.label} over {lo.label} = {value} (hit rate {_pct(hi.hit_rate)} of "
                    f"{_n(hi.checks, 'check')} vs {_pct(lo.hit_rate)} of {lo.checks:,}; checks in 1st half "
                    f"{_pct(hi.first_half_share)} vs {_pct(lo.first_half_share)})"
                )
        t = table(name, (["pack"] if several else []) + columns, rows)
        for end in ends[:-1]:
            t.rows[end].end_section = True
        click.echo("")
        out.print(t)
        for line in lifts:
            click.echo(line)
    click.echo("")
    for paragraph in _footnote(result):
        # Wrapped by display width (a Chinese character takes two columns), without trailing blanks.
        for wrapped in Text(paragraph).wrap(out, out.width):
            click.echo(wrapped.plain.rstrip())


def _footnote(result: Backtest) -> list[str]:
    return [
        f"checked: subjects with a check in the window; findings: checks with a finding; share: the class's share "
        f"of all findings; 1st half: the share of the class's checks done by {result.midpoint}. A finding is a "
        "result code other than 未发现问题 and the status codes (未发现开展经营活动, 已关闭停业, 注销, 吊销, 撤销, "
        "迁出). Lift: the hit rate of the riskiest class over the least risky (A < D, 1 < 4), among the classes "
        f"with {_n(result.min_checks, 'check')} or more.",
        "Selection bias: these checks were chosen by the plan then in force, not at random across the classes. "
        "Where it was risk-weighted or checks followed leads, the classes it favoured were checked more and for "
        "cause, so their hit rates are not what a random check would find. Compare packs on the same checks; "
        "--kind random keeps to the 双随机 draws. Subject status, food scores and equipment records are the "
        "store's current values, not as of --as-of.",
    ]


@click.command("backtest")
@click.argument("pack_dirs", nargs=-1, required=True, metavar="PACK [PACK…]")
@click.option(
    "--as-of",
    "as_of",
    required=True,
    type=DATE,
    metavar="YYYY-MM-DD",
    help="Grade the store as it was on this date; the checks after it are what the classes predict.",
)
@click.option(
    "--until",
    "until",
    type=DATE,
    default=None,
    metavar="YYYY-MM-DD",
    help="Last day of the window of checks (default: one year after --as-of).",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice([k.value for k in CheckKind]),
    help="Count only checks of this kind (repeatable; default every kind).",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="NAME",
    help="Backtest this output of the packs (repeatable; default every output named *_class, *_grade, *_level).",
)
@click.option(
    "--min-checks",
    type=click.IntRange(1),
    default=MIN_CHECKS,
    show_default=True,
    metavar="N",
    help="Fewest checks a class needs to take part in the lift.",
)
@db_option
@json_option
def backtest(
    pack_dirs: tuple[str, ...],
    as_of: dt.datetime,
    until: dt.datetime | None,
    kinds: tuple[str, ...],
    outputs: tuple[str, ...],
    min_checks: int,
    db: str | None,
    as_json: bool,
) -> None:
    """Backtest rule packs: grade the store as of --as-of with each pack (in memory; nothing is stored), then see
    how the checks recorded after it (as_of < checked_on <= until) fell across each pack's classes.

    Per pack and class (credit_class, food_grade, hazard_level…): subjects, subjects checked, checks, checks with
    a finding, hit rate (checks with a finding / checks), the class's share of all findings, and the share of
    its checks done in the first half of the window; per output the lift, the hit rate of the riskiest class
    over the least risky one. Several packs are shown side by side, on the same subjects and checks, so a
    change can be judged on evidence. The features never see the checks after --as-of; subjects registered
    after it are left out. A finding is a result code that reports a problem: not 未发现问题, nor a status
    (注销, 吊销, 已关闭停业…).

    Limit: the checks were not a random sample of the classes. If the plan in force chose them by risk (or
    they followed complaints), the classes it favoured were checked more and for cause: their hit rates carry
    that selection bias. --kind random keeps to the 双随机 draws. Subject status, food scores and equipment
    records are the store's current values, not as of --as-of.

    \b
    Examples:
      suijian rules backtest national --as-of 2025-01-01
      suijian rules backtest national my-pack --as-of 2025-01-01 --until 2025-12-31 --kind random
      suijian rules backtest guangdong --as-of 2025-06-30 --output food_grade --json
    """
    day = as_of.date()
    last = until.date() if until else one_year_after(day)
    if last <= day:
        raise UsageError(f"--until {last} is not after --as-of {day}; the window is as_of < checked_on <= until")
    packs = [load_pack(pack_directory(d)) for d in pack_dirs]
    with store_connection(db) as conn, progress_bars() as report:
        total = population_size(conn, day)
        result = run_backtest(
            conn,
            packs,
            day,
            last,
            outputs=outputs,
            kinds=kinds,
            min_checks=min_checks,
            url=url_of(conn),
            workers=workers_for(total),
            on_partition=counting(report, "回测 backtest", total),
        )
    if as_json:
        emit(result.as_dict())
    else:
        _print(result)


def register(cli: click.Group) -> None:
    """`suijian rules backtest`: a subcommand of the rules group (registered before this)."""
    rules = cli.commands["rules"]
    assert isinstance(rules, click.Group)
    rules.add_command(backtest)
