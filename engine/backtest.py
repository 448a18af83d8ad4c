"""Backtest rule packs: how well did the classes a pack gives as of a date predict what the later checks found?

The store's subjects are graded as of `as_of` with every pack, in memory (nothing is stored): the features are
computed once per partition and each pack grades that partition (`Grading.grade_frame`). The checks recorded in the
window as_of < checked_on <= until are then counted per class of each categorical output: subjects, subjects
checked, checks, checks with a finding, hit rate, share of all findings, and how many checks fell in the first
half of the window. The features never see those checks: they are computed as of `as_of` (checked_on <= as_of).

A finding is a result code that says the check found something wrong (`engine.features.compute.PROBLEM_CODES`,
the same codes the features count): 未发现问题 is not, and neither are the codes that record a state
(未发现开展经营活动, 已关闭停业, 注销, 吊销, 撤销, 迁出), which would otherwise make the status rules look prophetic.

Limit: the checks in the window were chosen by the plan then in force, not at random across the classes;
hit rates of classes that were checked for cause are biased (selection bias).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.features.compute import PROBLEM_CODES, feature_partitions, registered_after
from engine.grading import Grading
from engine.rules import Pack
from entities import store
from entities.errors import InputError, UsageError

FINDING_CODES = PROBLEM_CODES
CLASS_SUFFIXES = ("_class", "_grade", "_level")
"""Outputs backtested by default: the glossary's credit class, food grade and hazard level, by name."""

MIN_CHECKS = 30
"""A class with fewer checks takes no part in the lift: its hit rate is mostly noise."""

_COUNTS = ("subjects", "checked_subjects", "checks", "findings", "checks_first_half", "findings_first_half")


def one_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def midpoint(as_of: dt.date, until: dt.date) -> dt.date:
    """The last day of the window's first half: (as_of, midpoint] is the first half, the rest the second."""
    return as_of + dt.timedelta(days=(until - as_of).days // 2)


def rank(label: str) -> tuple[int, float, str] | None:
    """Where a class sits from low to high risk: numbers (hazard level 1 < 4) and single letters (A < D).

    Other labels (none, true/false, (missing)) are not ranked: they are listed but take no part in the lift."""
    try:
        return (0, float(label), "")
    except ValueError:
        pass
    if len(label) == 1 and label.isalpha() and label.isupper():
        return (1, 0.0, label)
    return None


def _display_order(label: str) -> tuple[int, float, str]:
    r = rank(label)
    if r is not None:
        return r
    return (3 if label.startswith("(") else 2, 0.0, label)


def label_of(value: Any) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class ClassFigures:
    """One class of one output: who was in it, and what the checks in the window found there."""

    label: str
    subjects: int
    checked_subjects: int
    checks: int
    findings: int  # checks with a finding
    checks_first_half: int
    findings_first_half: int
    all_findings: int  # findings in every class of this output: the denominator of `share_of_findings`

    @property
    def hit_rate(self) -> float | None:
        return _ratio(self.findings, self.checks)

    @property
    def share_of_findings(self) -> float | None:
        return _ratio(self.findings, self.all_findings)

    @property
    def first_half_share(self) -> float | None:
        """The share of this class's checks that were done in the first half of the window."""
        return _ratio(self.checks_first_half, self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "class": self.label,
            "ranked": rank(self.label) is not None,
            "subjects": self.subjects,
            "checked_subjects": self.checked_subjects,
            "checks": self.checks,
            "checks_with_finding": self.findings,
            "hit_rate": self.hit_rate,
            "share_of_findings": self.share_of_findings,
            "checks_first_half": self.checks_first_half,
            "findings_first_half": self.findings_first_half,
            "first_half_share_of_checks": self.first_half_share,
        }


@dataclass(frozen=True)
class Lift:
    """The hit rate of the riskiest class over the least risky one, among the classes with enough checks."""

    highest: ClassFigures
    lowest: ClassFigures

    @property
    def value(self) -> float | None:
        hi, lo = self.highest.hit_rate, self.lowest.hit_rate
        return None if hi is None or not lo else hi / lo

    def as_dict(self) -> dict[str, Any]:
        return {
            "highest": self.highest.label,
            "lowest": self.lowest.label,
            "value": self.value,
            "highest_hit_rate": self.highest.hit_rate,
            "lowest_hit_rate": self.lowest.hit_rate,
            "highest_first_half_share_of_checks": self.highest.first_half_share,
            "lowest_first_half_share_of_checks": self.lowest.first_half_share,
        }


@dataclass(frozen=True)
class OutputFigures:
    name: str
    classes: tuple[ClassFigures, ...]  # low to high risk, then unranked labels, (missing) last
    min_checks: int = MIN_CHECKS

    @property
    def lift(self) -> Lift | None:
        enough = max(1, self.min_checks)
        ranked = sorted(
            (c for c in self.classes if c.checks >= enough and rank(c.label) is not None),
            key=lambda c: _display_order(c.label),
        )
        return Lift(ranked[-1], ranked[0]) if len(ranked) >= 2 else None

    def as_dict(self) -> dict[str, Any]:
        lift = self.lift
        return {
            "output": self.name,
            "classes": [c.as_dict() for c in self.classes],
            "lift": lift.as_dict() if lift else None,
        }


@dataclass(frozen=True)
class PackFigures:
    directory: str
    name: str
    version: str
    hash: str
    subjects_with_errors: int
    outputs: tuple[OutputFigures, ...]

    def output(self, name: str) -> OutputFigures | None:
        return next((o for o in self.outputs if o.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "name": self.name,
            "version": self.version,
            "hash": self.hash,
            "subjects_with_errors": self.subjects_with_errors,
            "outputs": [o.as_dict() for o in self.outputs],
        }


@dataclass(frozen=True)
class Backtest:
    as_of: dt.date
    until: dt.date
    kinds: tuple[str, ...]  # check kinds counted; () = every kind
    min_checks: int  # fewest checks a class needs to take part in the lift
    subjects: int  # registered on or before as_of: the population graded
    registered_later: int  # in the store now, registered after as_of: left out
    checks_in_window: int  # every check in the window (of the kinds counted)
    checks: int  # of those, checks of the population
    checked_subjects: int
    findings: int
    findings_first_half: int
    last_check_on: dt.date | None  # the latest check in the store (of the kinds counted)
    packs: tuple[PackFigures, ...]

    @property
    def midpoint(self) -> dt.date:
        return midpoint(self.as_of, self.until)

    @property
    def checks_left_out(self) -> int:
        return self.checks_in_window - self.checks

    @property
    def hit_rate(self) -> float | None:
        return _ratio(self.findings, self.checks)

    @property
    def first_half_share_of_findings(self) -> float | None:
        return _ratio(self.findings_first_half, self.findings)

    def output_names(self) -> list[str]:
        """Every output backtested in any pack, in the order the packs name them."""
        return list(dict.fromkeys(o.name for p in self.packs for o in p.outputs))

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "until": self.until.isoformat(),
            "first_half_until": self.midpoint.isoformat(),
            "kinds": list(self.kinds) or None,
            "min_checks_for_lift": self.min_checks,
            "finding_codes": sorted(FINDING_CODES),
            "last_check_on": self.last_check_on.isoformat() if self.last_check_on else None,
            "population": {"subjects": self.subjects, "registered_later": self.registered_later},
            "checks": {
                "in_window": self.checks_in_window,
                "of_population": self.checks,
                "left_out": self.checks_left_out,
                "checked_subjects": self.checked_subjects,
                "with_finding": self.findings,
                "hit_rate": self.hit_rate,
                "findings_first_half": self.findings_first_half,
                "first_half_share_of_findings": self.first_half_share_of_findings,
            },
            "packs": [p.as_dict() for p in self.packs],
        }


def class_outputs(pack: Pack, wanted: Sequence[str] = ()) -> list[str]:
    """The outputs of `pack` to backtest: `wanted` where the pack has them, else those named *_class/_grade/_level.

    List outputs (task lists) have no classes and are never backtested."""
    kinds = {o.name: d.result_type(o) for d in pack.decisions for o in d.outputs}
    if wanted:
        for name in wanted:
            if kinds.get(name) == "list":
                raise UsageError(
                    f"output '{name}' of pack {pack.name} is a list (a task list), not a class; "
                    "pass an output with one value per subject"
                )
        return [n for n in wanted if n in kinds]
    return [n for n, k in kinds.items() if k != "list" and n.endswith(CLASS_SUFFIXES)]


def check_inputs(packs: Sequence[Pack], as_of: dt.date, until: dt.date, outputs: Sequence[str] = ()) -> list[list[str]]:
    """Refuse what cannot be backtested before any work; the outputs to backtest per pack."""
    if until <= as_of:
        raise UsageError(f"--until {until} is not after --as-of {as_of}; the window is as_of < checked_on <= until")
    if not packs:
        raise UsageError("name at least one rule pack directory")
    for pack in packs:
        if not pack.in_force(as_of):
            to = pack.effective_to.isoformat() if pack.effective_to else "open-ended"
            raise InputError(
                f"rule pack {pack.name} {pack.version} ({pack.directory}) is in force {pack.effective_from} "
                f"to {to}, "
                f"not on {as_of}; pass an --as-of when it was in force"
            )
    names = [class_outputs(p, outputs) for p in packs]
    for name in outputs:
        if not any(name in n for n in names):
            have = sorted({o.name for p in packs for d in p.decisions for o in d.outputs})
            raise InputError(f"no pack has an output '{name}'; outputs: {', '.join(have)}")
    for pack, n in zip(packs, names, strict=True):
        if not n and not outputs:
            raise InputError(
                f"rule pack {pack.name} ({pack.directory}) has no class output (a name ending in "
                f"{', '.join(CLASS_SUFFIXES)}); name the outputs to backtest with --output"
            )
    return names


def window_checks(conn: Connection, as_of: dt.date, until: dt.date, kinds: Sequence[str] = ()) -> pl.DataFrame:
    """The checks with as_of < checked_on <= until (of `kinds`): uscc, checked_on, finding, first_half."""
    t = store.table("check_result")
    stmt = sa.select(t.c.uscc, sa.cast(t.c.checked_on, sa.String), sa.cast(t.c.result_codes, sa.Text)).where(
        t.c.checked_on > as_of, t.c.checked_on <= until
    )
    if kinds:
        stmt = stmt.where(t.c.kind.in_(list(kinds)))
    rows = conn.execute(stmt).all()
    df = pl.DataFrame(rows, schema={"uscc": pl.Utf8, "checked_on": pl.Utf8, "codes": pl.Utf8}, orient="row")
    # The codes arrive as JSON text: a quoted code is a whole token (as in the features' own check counts).
    finding = "|".join(sorted(FINDING_CODES))
    mid = midpoint(as_of, until)
    return df.select(
        "uscc",
        pl.col("checked_on").str.slice(0, 10).str.to_date("%Y-%m-%d"),
        pl.col("codes").str.contains(f'"({finding})"').fill_null(False).alias("finding"),
    ).with_columns((pl.col("checked_on") <= mid).alias("first_half"))


def _per_subject(checks: pl.DataFrame) -> pl.DataFrame:
    return checks.group_by("uscc").agg(
        pl.len().cast(pl.Int64).alias("checks"),
        pl.col("finding").sum().cast(pl.Int64).alias("findings"),
        pl.col("first_half").sum().cast(pl.Int64).alias("checks_first_half"),
        (pl.col("finding") & pl.col("first_half")).sum().cast(pl.Int64).alias("findings_first_half"),
    )


def _last_check(conn: Connection, kinds: Sequence[str]) -> dt.date | None:
    t = store.table("check_result")
    stmt = sa.select(sa.func.max(t.c.checked_on))
    if kinds:
        stmt = stmt.where(t.c.kind.in_(list(kinds)))
    last = conn.execute(stmt).scalar()
    if isinstance(last, str):  # SQLite without type information on an aggregate
        return dt.date.fromisoformat(last[:10])
    return last


class _Tally:
    """Running counts per (pack, output, class) over the partitions."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str], dict[str, np.ndarray]] = {}

    def add(self, key: tuple[int, str], labels: np.ndarray, stats: pl.DataFrame) -> None:
        grouped = (
            stats.with_columns(pl.Series("label", labels, dtype=pl.Utf8))
            .group_by("label")
            .agg(
                pl.len().cast(pl.Int64).alias("subjects"),
                (pl.col("checks") > 0).sum().cast(pl.Int64).alias("checked_subjects"),
                *(pl.col(c).sum().cast(pl.Int64).alias(c) for c in _COUNTS[2:]),
            )
        )
        bucket = self.counts.setdefault(key, {})
        for row in grouped.iter_rows(named=True):
            got = np.array([row[c] for c in _COUNTS], dtype=np.int64)
            bucket[row["label"]] = bucket.get(row["label"], np.zeros(len(_COUNTS), dtype=np.int64)) + got

    def figures(self, key: tuple[int, str], min_checks: int = MIN_CHECKS) -> OutputFigures:
        bucket = self.counts.get(key, {})
        total = int(sum(v[3] for v in bucket.values()))
        classes = tuple(
            ClassFigures(
                label=label, **{c: int(x) for c, x in zip(_COUNTS, bucket[label], strict=True)}, all_findings=total
            )
            for label in sorted(bucket, key=_display_order)
        )
        return OutputFigures(key[1], classes, min_checks)


def backtest(
    conn: Connection,
    packs: Sequence[Pack],
    as_of: dt.date,
    until: dt.date | None = None,
    *,
    outputs: Sequence[str] = (),
    kinds: Sequence[str] = (),
    min_checks: int = MIN_CHECKS,
    partition_size: int = 200_000,
    url: str | None = None,
    workers: int = 1,
    on_partition: Callable[[int], Any] | None = None,
) -> Backtest:
    """Grade the store as of `as_of` with each pack (nothing stored) and count the window's checks per class."""
    until = until or one_year_after(as_of)
    names = check_inputs(packs, as_of, until, outputs)
    checks = window_checks(conn, as_of, until, kinds)
    last = _last_check(conn, kinds)
    if checks.height == 0:
        recorded = f"the store's latest check: {last}" if last else "the store holds none"
        kind_text = f" of kind {', '.join(kinds)}" if kinds else ""
        raise InputError(
            f"no check results{kind_text} with {as_of} < checked_on <= {until} ({recorded}); "
            "pick an --as-of inside the recorded history, or import results"
        )
    per_subject = _per_subject(checks)
    gradings = [Grading(p, as_of) for p in packs]
    tally = _Tally()
    subjects = 0
    # Subjects registered after as_of did not exist then: no pack could have graded them (the features leave
    # them out; registered_after counts them).
    registered_later = registered_after(conn, as_of)
    for frame in feature_partitions(conn, as_of, partition_size=partition_size, url=url, workers=workers):
        population = frame
        subjects += population.height
        if population.height:
            stats = population.select("uscc").join(per_subject, on="uscc", how="left").fill_null(0)
            tally.add((-1, ""), np.full(population.height, "all", dtype=object), stats)
            for i, (grading, wanted) in enumerate(zip(gradings, names, strict=True)):
                ids = grading.grade_frame(population)
                for name in wanted:
                    by_outcome = np.array([label_of(o.outputs.get(name)) for o in grading.outcomes], dtype=object)
                    tally.add((i, name), by_outcome[ids], stats)
        if on_partition is not None:
            on_partition(frame.height)
    if subjects == 0:
        raise InputError(f"no subject in the store was registered on or before {as_of}; pick a later --as-of")
    everyone = tally.figures((-1, "")).classes
    total = everyone[0] if everyone else ClassFigures("all", 0, 0, 0, 0, 0, 0, 0)
    if total.checks == 0:
        raise InputError(
            f"none of the {checks.height:,} check results with {as_of} < checked_on <= {until} is of a subject "
            f"registered on or before {as_of}; pick another --as-of"
        )
    return Backtest(
        as_of=as_of,
        until=until,
        kinds=tuple(kinds),
        min_checks=min_checks,
        subjects=subjects,
        registered_later=registered_later,
        checks_in_window=checks.height,
        checks=total.checks,
        checked_subjects=total.checked_subjects,
        findings=total.findings,
        findings_first_half=total.findings_first_half,
        last_check_on=last,
        packs=tuple(
            PackFigures(
                directory=p.directory,
                name=p.name,
                version=p.version,
                hash=p.hash,
                subjects_with_errors=sum(g.counts.get(o.id, 0) for o in g.outcomes if o.errors),
                outputs=tuple(tally.figures((i, n), min_checks) for n in wanted),
            )
            for i, (p, g, wanted) in enumerate(zip(packs, gradings, names, strict=True))
        ),
    )
