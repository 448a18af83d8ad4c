"""A fitted plan (suijian.plan/2): capacity shared out before the draw, so every drawn visit is staffed.

    fitted_plan(frame, by_code, policy, roster_in, conflicts_in, past, …) -> Plan

Called by `make_plan` for new plans; plans recorded as suijian.plan/1 replay through the unfitted path.
The steps, each decided before the next and none reading a ticket before the quotas are fixed:
1. per item, its population, exclusions and strata with the pack's asked ratios (`select.eligibility`), and its
   mandatory subjects;
2. the subjects split into cells of identical pattern (per item: stratum or not eligible, mandatory or not; the
   pool that staffs them; the credit risk; the frequencies) — `fit.cells_of`;
3. `fit.fit`: the four layers (mandatory, legal floors, frequency by risk, ratios up to the asked ones at one public
   λ per pool), from public figures only;
4. the draw: one ticket per subject from the plan seed (item_seeds: shared); each item draws the smallest tickets
   of each cell up to its fitted quota, so the draws nest and a cell's visits are its largest quota; mandatory work
   and frequency work a layer could not cover fall on the largest tickets of the cell, and are named;
5. visits (one per subject, plus its frequency visits `<uscc>#2`…), staffed in priority order by `teams.Roster`.
The cells are the published strata: each item's strata are its cells, with ratio asked, ratio fitted, quota,
drawn tickets and cut-off, so anyone recomputes every cell's draw with the public consistent-sampler package.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import math
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO, Any

import numpy as np
import polars as pl

from engine import tickets_ahead
from engine.plan.calendar import WorkCalendar
from engine.plan.dates import date_visits
from engine.plan.fit import Fit, FitItem, FrequencyRule, cells_of, fit
from engine.plan.model import PLAN_FORMAT_FITTED, Dropped, InspectorLoad, ItemPlan, Plan, StratumPlan, Visit, VisitItem
from engine.plan.policy import Period, PlanPolicy, ratio_value, show_ratio
from engine.plan.select import Eligibility, History, eligibility, item_mandatory, target_expr
from engine.plan.slotted import Maker
from engine.plan.teams import Failure, Roster, previous_leads
from engine.plan.units import Units, build_units
from engine.sampling import TicketKeys, draw_frame, quota, ticket_keys, ticket_numbers
from entities.errors import InputError
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate, OrgUnitCreate

KEY = "_ticket_key"
ALL_POOL = "*"
UNSERVED = "(no unit)"  # the pool of a township no unit serves: it has no inspectors, so its work is a shortfall
MARGIN_STEP = 1  # percent of capacity held back per re-fit when the team builder cannot staff a drawn visit
MAX_MARGIN = 50


def item_needs(item: CheckItemCreate, policy: PlanPolicy) -> dict[str, int]:
    """Qualification → team members who must hold it, for one item (the policy's per-item or per-domain count)."""
    ip = policy.item(item.code)
    k = ip.qualified_members or policy.qualified_members.get(item.domain, 1)
    return {str(q): k for q in item.required_qualifications}


def capacity_share(policy: PlanPolicy, period: Period) -> Fraction:
    """The share of an inspector's yearly capacity this period may use (all of it with capacity: full)."""
    if policy.capacity == "full":
        return Fraction(1)
    y = period.start.year
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return Fraction(period.days, 366 if leap else 365)


def _risk_rank(policy: PlanPolicy) -> pl.Expr:
    """The policy's declared risk order as an integer column: smaller is riskier (D before C …, then 'none')."""
    order = {cls: i for i, cls in enumerate(policy.risk_order)}
    return (
        pl.col("credit_class")
        .fill_null("none")
        .replace_strict(order, default=len(order), return_dtype=pl.UInt16)  # 2 bytes a subject, not 8
        .alias("risk_rank")
    )


class Handover:
    """A frame given to the planner for it alone to hold: `take()` returns it and forgets it.

    A caller that passes a city's subjects frame (~600 MB) as a plain argument keeps it alive through the whole
    plan, though only the cells step reads it; handed over (and the caller's own name dropped), it is freed when
    the planner has made the cells. make_plan and fitted_plan take either; the plan is the same."""

    __slots__ = ("_frame",)

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame: pl.DataFrame | None = frame

    def take(self) -> pl.DataFrame:
        if self._frame is None:
            raise RuntimeError("this frame was handed over already")
        frame, self._frame = self._frame, None
        return frame

    def column(self, name: str) -> pl.Series:
        """One column of the frame, which stays to be taken."""
        if self._frame is None:
            raise RuntimeError("this frame was handed over already")
        return self._frame.get_column(name)


def taken(frame: pl.DataFrame | Handover) -> pl.DataFrame:
    """The frame itself, taken from its Handover when it is one."""
    return frame.take() if isinstance(frame, Handover) else frame


class Parked:
    """A frame kept in a temporary file (Arrow IPC, its types as they were: Enums and Categoricals included) while
    the steps that do not read it run, and read back the same when asked for (take) or deleted (close)."""

    __slots__ = ("_file",)

    def __init__(self, frame: pl.DataFrame) -> None:
        self._file: IO[bytes] | None = tempfile.TemporaryFile(prefix="suijian-")  # noqa: SIM115 - open until take or close
        frame.write_ipc(self._file)

    def take(self) -> pl.DataFrame:
        if self._file is None:
            raise RuntimeError("this frame was taken already")
        self._file.seek(0)
        frame = pl.read_ipc(self._file)
        self.close()
        return frame

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class _Subject:
    uscc: str
    region: str
    risk: float | None
    rank: int
    key: tuple[int, str]
    base: list[VisitItem] = field(default_factory=list)  # drawn and mandatory items (the first visit)
    freq_visits: list[list[str]] = field(default_factory=list)  # per frequency visit, the domains it checks
    frequency_items: dict[str, list[str]] = field(default_factory=dict)  # domain → its covering items here


@dataclass(frozen=True)
class Cells:
    """The subjects split into cells, with what each item and frequency makes of them (steps 1 and 2)."""

    wide: pl.DataFrame  # uscc, region, risk, risk_rank, per item stratum:/ratio:/mandatory:, pool, freq:<domain>
    cells: pl.DataFrame
    cell_items: pl.DataFrame
    members: pl.DataFrame  # uscc, cell
    # Per item its population, exclusions and strata; its `eligible` frame emptied once `wide` holds its strata (a
    # city's items hold ~220 MB of eligible subjects, which would otherwise live to the end of the plan).
    eligibilities: dict[str, Eligibility]
    eligible: dict[str, int]  # item → its eligible subjects (the emptied frames' heights)
    mandatory_of: dict[str, pl.DataFrame]
    gone: dict[str, pl.DataFrame]
    rules: list[FrequencyRule]
    freq_cols: dict[str, str]


def plan_cells(
    frame: pl.DataFrame | Handover,
    by_code: Mapping[str, CheckItemCreate],
    policy: PlanPolicy,
    past: pl.DataFrame,
    mandatory: pl.DataFrame,
    *,
    start: dt.date,
    period: Period,
    units: Units | None = None,
) -> Cells:
    """Steps 1 and 2: eligibility and mandatory work per item, frequencies, and the cells. A subject's cell depends
    only on its own row, its past checks and the policy, so `explain --run` finds it from the one row.
    `frame` handed over (Handover) is dropped before the cells are made: they read `wide` alone."""
    frame = taken(frame)
    hist = History.of(past, start.year)
    domains = {code: item.domain for code, item in by_code.items()}
    codes_ = list(by_code)
    n = frame.height

    # `wide` is one row per subject in the frame's order: each item's columns are made at the rows of its eligible
    # and mandatory subjects (their row numbers, `_ROW`) and set in place, not joined on uscc (a join per item
    # copied all of `wide` each time, ~12 copies of a city's ~340 MB, and hashed every uscc twice per item).
    indexed = frame.with_row_index(_ROW)  # shares the frame's columns: only the row numbers are new
    # The subjects any item makes mandatory, with their row: item_mandatory joins against these few, not the city.
    in_mandatory = indexed.select("uscc", *(["status"] if "status" in frame.columns else []), _ROW).join(
        mandatory.select("uscc").unique(), on="uscc", how="semi"
    )

    # ── 1. eligibility and mandatory work per item ──────────────────────────────────────────────────────────
    item_columns: list[pl.Series] = []
    eligibilities: dict[str, Eligibility] = {}
    eligible: dict[str, int] = {}
    mandatory_of: dict[str, pl.DataFrame] = {}
    gone: dict[str, pl.DataFrame] = {}
    for code, item in by_code.items():
        e = eligibility(item, indexed, policy, hist, domains, start=start, keep=[_ROW], rows_at_once=_ROWS_AT_ONCE)
        eligibilities[code] = dataclasses.replace(e, eligible=e.eligible.clear().drop(_ROW))
        eligible[code] = e.eligible.height
        ratios = {s: show_ratio(r) for s, (_, r, _) in e.strata.items()}
        # Enums, not strings: a string costs 16 bytes a subject even when short or null, an Enum one or a few, and
        # `wide` has two such columns per item for every subject (cells_of reads them as text per distinct row only).
        part = e.eligible.select(
            _ROW,
            pl.col("_stratum").cast(_enum(ratios)).alias(f"stratum:{code}"),
            pl.col("_stratum")
            .replace_strict(ratios, return_dtype=pl.String)
            .cast(_enum(ratios.values()))
            .alias(f"ratio:{code}"),
        )
        del e
        rows = part.get_column(_ROW)
        item_columns += [
            _at_rows(n, rows, part.get_column(f"stratum:{code}")),
            _at_rows(n, rows, part.get_column(f"ratio:{code}")),
        ]
        del part, rows
        mine, ended = item_mandatory(item, in_mandatory, policy, mandatory, keep=[_ROW])
        mandatory_of[code], gone[code] = mine.drop(_ROW), ended
        item_columns.append(
            pl.repeat(False, n, dtype=pl.Boolean, eager=True)
            .alias(f"mandatory:{code}")
            .scatter(mine.get_column(_ROW), True)
        )
    # The past checks' groups (~0.4 GB at 10 M subjects) are read by the eligibility alone: let go before `wide`, and
    # so are the subjects' columns read from here by nothing (the status, the flags, …): `wide` is made, the step's
    # highest point, beside the columns the pool, the risk order and the frequencies read (the targets' features).
    del indexed, in_mandatory, hist
    later = {"uscc", "region", "risk", "credit_class", *policy.frequencies.values()}
    later.update(feature for item in by_code.values() for feature in item.target)
    frame = frame.select([c for c in frame.columns if c in later])
    # The region and the pool are Enums of their values: a few thousand townships, not a 16-byte string per subject
    # in `wide` and in `members`, which lives to the plan's end (~300 MB at 10 M subjects); their text, order and
    # equality are the strings'. The pool is worked out once per township, not once per subject.
    region = frame.select(_as_enum(frame, pl.col("region"))).to_series()
    townships = region.dtype.categories.to_list() if isinstance(region.dtype, pl.Enum) else []
    if units is not None and units.active:
        # A unit table: a visit is staffed from the units serving its township (engine.plan.units).
        pool_of = {r: units.pool_of_township(r) or UNSERVED for r in townships}
    elif policy.team_pool == "county":
        pool_of = {r: r[:6] for r in townships}
    else:
        pool_of = None  # one pool: every subject's, whatever its region
    if pool_of is None:
        pool = pl.repeat(ALL_POOL, frame.height, dtype=pl.String, eager=True).cast(_enum([ALL_POOL]))
    else:
        pool = region.replace_strict(pool_of, default=None, return_dtype=_enum(pool_of.values()))

    # Frequencies: visits a subject is due in the period, per domain the pack sets a frequency for.
    freq_cols: dict[str, str] = {}
    freq_columns: list[pl.Series] = []
    rules: list[FrequencyRule] = []
    for domain, column in sorted(policy.frequencies.items()):
        covering = sorted(
            c for c, it in by_code.items() if it.domain == domain and str(it.method) in policy.onsite_methods
        )
        if column not in frame.columns or not covering:
            continue
        needs: dict[str, int] = {}
        for c in covering:
            for q, k in item_needs(by_code[c], policy).items():
                needs[q] = max(needs.get(q, 0), k)
        rules.append(FrequencyRule(domain, tuple(covering), needs))
        name = f"freq:{domain}"
        freq_cols[domain] = name
        # The items a frequency visit checks: the domain's on-site items whose target the subject matches (drawn,
        # excluded from the draw or not: frequency work is not a random draw), comma-separated; none (""), no
        # frequency visit. Worked out as one bit per item, the text made once per distinct set: a string per subject
        # was ~0.3 GB a domain at 10 M subjects, at the plan's highest point.
        matched = _matched_items(frame, [(c, target_expr(by_code[c], frame.schema)) for c in covering])
        per_period = pl.col(column).cast(pl.Float64).fill_null(0.0) * float(_period_years(period))
        freq_columns += [
            frame.select(pl.when(pl.lit(matched) != "").then(per_period).otherwise(0.0).alias(name)).to_series(),
            matched.alias(f"freqitems:{domain}"),
        ]
        del matched
    # uscc and risk are the frame's own columns (shared, not copied); the items' columns in the order the joins gave
    # them before, then the pool and the frequencies.
    own = frame.select("uscc", "risk", _risk_rank(policy)).get_columns()
    wide = pl.DataFrame([own[0], region, *own[1:], *item_columns, pool.alias("pool"), *freq_columns])
    del own, item_columns, region, pool, freq_columns

    # ── 2. cells ────────────────────────────────────────────────────────────────────────────────────────────
    del frame  # a city's subjects (~600 MB) freed before cells_of's copy of `wide`, when the caller let go of them
    cell_input = wide.drop("risk").rename({"risk_rank": "risk"})
    split = [c for d in freq_cols for c in (freq_cols[d], f"freqitems:{d}")]
    cells, cell_items, members = cells_of(cell_input, codes_, split_by=split)
    return Cells(wide, cells, cell_items, members, eligibilities, eligible, mandatory_of, gone, rules, freq_cols)


_ROW = "_subject_row"  # a subject's row in the frame plan_cells reads (no subjects frame has such a column)
# Subjects read at a time for an item's eligibility: the filtered copies, joins and stratum keys of one slice live at
# once, not a city's (select.eligibility sums the counts; the same Eligibility).
_ROWS_AT_ONCE = 250_000


def _at_rows(n: int, rows: pl.Series, values: pl.Series) -> pl.Series:
    """A column of `n` rows holding `values` at `rows` (row numbers, distinct) and null elsewhere."""
    return pl.repeat(None, n, dtype=values.dtype, eager=True).alias(values.name).scatter(rows, values)


def _enum(values: Iterable[str]) -> pl.DataType:
    """An Enum of these strings (sorted, so the dtype depends on the set alone); String when there are none."""
    names = sorted(set(values))
    return pl.Enum(names) if names else pl.String()


def _matched_items(frame: pl.DataFrame, targets: Sequence[tuple[str, pl.Expr]]) -> pl.Series:
    """Per subject the codes whose target it matches, in the given order, comma-separated ("" for none), as an Enum
    of the lists that occur: a bit per code (a null target: not matched), the text made once per distinct set."""
    if len(targets) > 63:  # more bits than a word: the text per subject, as it was made before
        text = pl.concat_str([pl.when(t).then(pl.lit(c)) for c, t in targets], separator=",", ignore_nulls=True)
        return frame.select(text.cast(pl.Categorical)).to_series()
    one = [
        pl.when(t).then(pl.lit(1 << k, dtype=pl.UInt64)).otherwise(pl.lit(0, dtype=pl.UInt64))
        for k, (_, t) in enumerate(targets)
    ]
    bits = frame.select(pl.sum_horizontal(one).cast(pl.UInt64)).to_series()  # a domain has ≥ 1 covering item
    texts = {m: ",".join(c for k, (c, _) in enumerate(targets) if m >> k & 1) for m in bits.unique().to_list()}
    return bits.replace_strict(texts, return_dtype=_enum(texts.values()))


def _as_enum(frame: pl.DataFrame, text: pl.Expr) -> pl.Expr:
    """`text` (a String expression over `frame`) as an Enum of its distinct values (_enum)."""
    return text.cast(_enum(frame.select(text.drop_nulls().unique()).to_series().to_list()))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a plan is made, as it was before afterwards.

    A city's plan holds millions of small objects that live to its end (visits, items, heap entries, rows), and
    each full collection walks all of them again to free nothing: they form no cycles (≈ 10 s of CPU at
    guangzhou). Reference counting still frees everything else at once; the plan is the same either way."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def fitted_plan(
    *,
    frame: pl.DataFrame | Handover,
    by_code: Mapping[str, CheckItemCreate],
    policy: PlanPolicy,
    roster_in: Sequence[InspectorCreate],
    conflicts_in: Sequence[ConflictCreate],
    past: pl.DataFrame,
    mandatory: pl.DataFrame,
    seed: str,
    teams_seed: str,
    period: Period,
    as_of: dt.date,
    start: dt.date,
    regions: tuple[str, ...],
    out_of_scope: dict[str, int],
    left_out: tuple[str, ...],
    units: Sequence[OrgUnitCreate] = (),
    calendar: WorkCalendar | None = None,
    ticket_keys_of: TicketKeys | None = None,
) -> Plan:
    if policy.item_seeds != "shared":
        raise InputError(
            "item_seeds: per_item cannot make a fitted plan: with a seed per item the visits a cell needs are not "
            "known before the draw; set item_seeds: shared in the pack's policy.yaml"
        )
    share = capacity_share(policy, period)
    unit_table = build_units(units, roster_in, pool_by_county=policy.team_pool == "county") if units else None
    # The subjects' ticket keys are hashed by a child process while the cells are made (engine.tickets_ahead).
    usccs = frame.column("uscc") if isinstance(frame, Handover) else frame.get_column("uscc")
    ahead = tickets_ahead.start(seed, usccs) if ticket_keys_of is None else None
    del usccs
    c = plan_cells(frame, by_code, policy, past, mandatory, start=start, period=period, units=unit_table)
    cells, cell_items, members = c.cells, c.cell_items, c.members
    eligibilities, mandatory_of, gone, rules, freq_cols = c.eligibilities, c.mandatory_of, c.gone, c.rules, c.freq_cols
    eligible = c.eligible
    freq_items = {d: f"freqitems:{d}" for d in freq_cols}
    # What the plan reads of `wide` from here: the items' and the pool's columns (cells_of's) are let go with `c`.
    wide = c.wide.select("uscc", "region", "risk", "risk_rank", *freq_cols.values(), *freq_items.values())
    # Nothing below reads the subjects frame or the mandatory rows (plan_cells made all of their use), nor `c`:
    # dropped, so what the caller does not keep is freed before the fit (the frames of a city run to GBs).
    del c, frame, mandatory
    if cells.height == 0:
        raise InputError("nothing to plan: no subject in the jurisdiction is eligible for or mandatory under any item")

    # ── 3. tickets: one per subject of any cell, in ticket order inside each cell ────────────────────────────
    members = _with_subject_columns(members, wide)
    # A cell's subjects share its frequency columns (cells_of split on them): one subject per cell reads them for
    # the fit (_frequency_frame) and, from here to the plan's end, for the visit list (_visit_plan), so `wide` is
    # let go here, not kept (~0.8 GB at 10 M subjects) through the ticket keys and the fit.
    per_cell = (
        members.unique("cell", keep="first", maintain_order=True)
        .select("uscc", pl.col("cell").cast(pl.String))
        .join(wide.select("uscc", *freq_cols.values(), *freq_items.values()), on="uscc")
        .drop("uscc")
        .sort("cell")
    )
    del wide
    frequency = _frequency_frame(per_cell, freq_cols)
    keys = _ticket_keys(seed, members.get_column("uscc"), ticket_keys_of, ahead)
    del ahead
    members = _tie_order(members.with_columns(keys.alias(KEY)), seed)
    del keys
    items = [
        FitItem(
            code=c,
            general=str(it.kind) == "general",
            population=eligibilities[c].population,
            floor=_floor(policy, c),
            needs=item_needs(it, policy),
        )
        for c, it in by_code.items()
    ]
    capacity = {i.id: quota(min(share, Fraction(1)), i.capacity) for i in roster_in}

    # ── 4. fit, draw, staff. The fit counts capacity in aggregate (Hall's condition per pool); the team builder
    # then fills visits one by one (conflicts of interest, greedy order). Should it leave a drawn visit without a
    # team, the fit is made again with MARGIN_STEP less of every inspector's capacity, so a published draw is never
    # left unvisited; the margin used is recorded (fit.margin) and replay repeats the same steps.
    margin = 0
    while True:
        inspectors = pl.DataFrame(
            [
                (
                    i.id,
                    _inspector_pool(i, policy, unit_table),
                    capacity[i.id] * (100 - margin) // 100,
                    list(i.qualifications),
                )
                for i in roster_in
                if not i.is_expert and capacity[i.id] > 0
            ],
            schema={"id": pl.String, "pool": pl.String, "capacity": pl.Int64, "qualifications": pl.List(pl.String)},
            orient="row",
        )
        result = fit(
            cells,
            cell_items,
            items,
            inspectors,
            team_size=policy.team_size,
            general_cap=policy.general_cap,
            frequency=frequency,
            frequency_rules=rules,
            item_seeds=policy.item_seeds,
            grid=policy.fit_grid,
        )
        quotas = result.cells.select("cell", "item", "stratum", "quota", "ratio_asked", "ratio_fitted", "mandatory")
        item_plans, drawn_rows = _draws(
            by_code, eligibilities, eligible, mandatory_of, gone, members, quotas, seed, result
        )
        subjects = _visit_plan(members, quotas, drawn_rows, mandatory_of, result, rules, freq_cols, per_cell)
        uncovered = _uncovered_mandatory(members, quotas, mandatory_of, result)
        # Staffing and the schedule never read the members (a province's 9.7 M, ~0.6 GB): they wait on disk, read
        # back only if the fit is made again.
        parked = Parked(members)
        del members
        visits, loads, staffing_dropped = _staff(
            subjects, by_code, policy, roster_in, conflicts_in, past, share, teams_seed, period, start, units=unit_table
        )
        # The working-day schedule: a day, a window and a due date for every staffed visit. A drawn visit without
        # a team or without a day is a published draw left unvisited: fit again with less capacity.
        dated = date_visits(
            visits,
            start=start,
            end=period.end,
            calendar=calendar if calendar is not None else WorkCalendar(),
            inspectors=roster_in,
            policy=policy,
        )
        placed = {(v.uscc, i.code) for v in dated.visits for i in v.items if i.drawn}
        unvisited = sum(1 for u, code, _ in drawn_rows.iter_rows() if (u, code) not in placed)
        if unvisited == 0 or margin + MARGIN_STEP > MAX_MARGIN:
            parked.close()
            break
        margin += MARGIN_STEP
        members = parked.take()
    uncovered += _ended(gone)
    # Only the visits the schedule could not place are looked up: a dict of every visit is ~100 MB at 10 M.
    unplaced = {vid for vid, _ in dated.unscheduled}
    by_id = {v.id: v for v in visits if v.id in unplaced}
    for vid, reason in dated.unscheduled:
        v = by_id[vid]
        uncovered.append(
            Dropped(
                visit=vid,
                uscc=v.uscc,
                items=v.item_codes,
                mandatory=tuple(i.code for i in v.items if i.mandatory),
                code="schedule",
                reason=reason,
            )
        )
    visits = list(dated.visits)
    record = fit_record(result)
    record["margin"] = f"{margin}%"
    return Plan(
        seed=seed,
        teams_seed=teams_seed,
        period=period,
        as_of=as_of,
        regions=regions,
        policy=policy,
        items=tuple(item_plans),
        visits=tuple(sorted(visits, key=lambda v: v.id)),
        team_load=loads,
        uncovered=tuple(
            sorted([*uncovered, *(d for d in staffing_dropped if d.code == "capacity")], key=Dropped.sort_key)
        ),
        unstaffed=tuple(sorted((d for d in staffing_dropped if d.code != "capacity"), key=Dropped.sort_key)),
        mandatory_out_of_scope=dict(sorted(out_of_scope.items())),
        provincial_left_out=left_out,
        format=PLAN_FORMAT_FITTED,
        fit=record,
        schedule=dated.report.to_dict(),
    )


def _inspector_pool(i: InspectorCreate, policy: PlanPolicy, units: Units | None) -> str:
    if units is not None and units.active:
        return units.pool_of_inspector(i.id) or UNSERVED
    return i.region[:6] if policy.team_pool == "county" else ALL_POOL


def _floor(policy: PlanPolicy, code: str) -> Fraction:
    floor = policy.item(code).floor
    return Fraction(0) if floor is None else ratio_value(floor)


def _period_years(period: Period) -> Fraction:
    """The period as a share of its year (a year 1, a quarter about 1/4): yearly frequencies are prorated by it."""
    y = period.start.year
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return min(Fraction(1), Fraction(period.days, 366 if leap else 365))


def _frequency_frame(per_cell: pl.DataFrame, freq_cols: Mapping[str, str]) -> pl.DataFrame:
    """(cell, domain, per_period, risk) per cell and domain with a frequency: more visits a year is riskier (the
    pack gives the riskier grade more: food D 4, C 3 …), so risk = −visits per period in thousandths. `per_cell`:
    each cell's frequency columns (those of any of its members: cells_of split on them); joining every member
    instead was a hash join over a province's USCCs, at the plan's highest point at 10 M (5.57 GB in
    `bench/plan_peak.py --no-holders`)."""
    if not freq_cols:
        return pl.DataFrame(schema={"cell": pl.String, "domain": pl.String, "per_period": pl.Float64, "risk": pl.Int64})
    parts = []
    for domain, column in sorted(freq_cols.items()):
        parts.append(
            per_cell.filter(pl.col(column) > 0).select(
                "cell",
                pl.lit(domain).alias("domain"),
                pl.col(column).alias("per_period"),
                (-(pl.col(column) * 1000).round(0)).cast(pl.Int64).alias("risk"),
            )
        )
    return pl.concat(parts).sort("cell", "domain")


def _with_subject_columns(members: pl.DataFrame, wide: pl.DataFrame) -> pl.DataFrame:
    """The members (uscc, cell) with each subject's region, risk and risk_rank from `wide`, in the members' order.

    Both list their subjects by USCC (the planner's frame is in USCC order, cells_of returns the members so) and
    every member is a row of `wide`, so each member's row is found by binary search and the columns gathered there:
    no hash table over a city's USCCs as a join on them builds (≈ 0.7 against 1.7 CPU s at 3.3 M subjects). A
    `wide` not in USCC order (a caller's own frame) is joined as before; the result is the same either way."""
    columns = wide.select("region", "risk", "risk_rank")
    uscc = wide.get_column("uscc")
    if not uscc.is_sorted():
        return members.join(wide.select("uscc", *columns.columns), on="uscc", how="left")
    rows = uscc.search_sorted(members.get_column("uscc"), side="left")
    return members.hstack(columns[rows])


# Subjects whose ticket keys are computed at a time on this machine: a province's 9.7 M USCCs as Python strings
# and their keys as Python integers were ~1 GB at once, at the plan's peak (issue 15 item 4).
_KEY_ROWS = 500_000


def _ticket_keys(
    seed: str, usccs: pl.Series, keys_of: TicketKeys | None, ahead: tickets_ahead.TicketsAhead | None = None
) -> pl.Series:
    """Each member's ticket key (sampling.ticket_keys), in order: from the child that hashed them `ahead`, else
    here a slice at a time; by `keys_of` (Spark) in one call, its one job."""
    if ahead is not None:
        found = ahead.keys(seed, usccs)
        if found is not None:
            return found
    if keys_of is not None:
        return pl.Series(keys_of(seed, usccs.to_list()), dtype=pl.UInt64)
    parts = [ticket_keys(seed, usccs.slice(at, _KEY_ROWS).to_list()) for at in range(0, len(usccs), _KEY_ROWS)]
    return pl.Series(np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64), dtype=pl.UInt64)


def _tie_order(members: pl.DataFrame, seed: str) -> pl.DataFrame:
    """Order of the subjects by ticket: the 64-bit key, and on the rare equal keys the full ticket number."""
    tied = members.filter(pl.col(KEY).is_duplicated())
    numbers = dict(zip(tied["uscc"].to_list(), ticket_numbers(seed, tied["uscc"].to_list()), strict=True))
    tie = pl.col("uscc").replace_strict(numbers, default="", return_dtype=pl.String) if numbers else pl.lit("")
    # Kept as a Categorical: the tie is "" for all but a handful of a city's subjects, and `members` lives to the
    # plan's end (4 bytes a subject instead of a 16-byte string view). Sorted by its text, explicitly: polars before
    # 1.32 sorts a Categorical by its codes (order of first appearance), which would change the order on a tie.
    members = members.with_columns(tie.cast(pl.Categorical).alias("_tie"))
    return members.sort("cell", KEY, pl.col("_tie").cast(pl.String))


def _draws(
    by_code: Mapping[str, CheckItemCreate],
    eligibilities: Mapping[str, Any],
    eligible: Mapping[str, int],
    mandatory_of: Mapping[str, pl.DataFrame],
    gone: Mapping[str, pl.DataFrame],
    members: pl.DataFrame,
    quotas: pl.DataFrame,
    seed: str,
    result: Fit,
) -> tuple[list[ItemPlan], pl.DataFrame]:
    """Each item's draw over its cells at the fitted quotas: the published strata, and (uscc, item, cell) drawn."""
    plans: list[ItemPlan] = []
    drawn: list[tuple[str, str, str]] = []
    for code, item in by_code.items():
        e = eligibilities[code]
        mine = quotas.filter(pl.col("item") == code, pl.col("stratum").is_not_null())
        info = {
            c: (s, q, a, f)
            for c, s, q, a, f in mine.select("cell", "stratum", "quota", "ratio_asked", "ratio_fitted").iter_rows()
        }
        frame = members.filter(pl.col("cell").is_in(list(info))).select(
            pl.col("uscc").alias("id"), pl.col("cell").cast(pl.String).alias("stratum"), KEY
        )
        draw = draw_frame(frame, {c: v[1] for c, v in info.items()}, seed, key_column=KEY, check_unique=False)
        strata = []
        for s in draw.strata:
            stratum, _, asked, fitted = info[s.stratum]
            key = dict(e.strata[stratum][0])
            key["stratum"] = stratum
            key["cell"] = s.stratum
            strata.append(StratumPlan(draw=s, key=key, ratio=fitted, ratio_asked=asked))
            drawn.extend((t.id, code, s.stratum) for t in s.drawn)
        ended = gone[code]
        plans.append(
            ItemPlan(
                code=code,
                name=item.name,
                kind=str(item.kind),
                domain=item.domain,
                method=str(item.method),
                joint_group=item.joint_group,
                seed=seed,
                strata_by=("cell", *e.strata_by),
                population=e.population,
                exclusions=e.exclusions,
                eligible=eligible[code],
                strata=tuple(strata),
                mandatory_required=mandatory_of[code].height + ended.height,
                mandatory_excluded=ended.height,
            )
        )
    return plans, pl.DataFrame(drawn, schema={"uscc": pl.String, "item": pl.String, "cell": pl.String}, orient="row")


def _visit_plan(
    members: pl.DataFrame,
    quotas: pl.DataFrame,
    drawn: pl.DataFrame,
    mandatory_of: Mapping[str, pl.DataFrame],
    result: Fit,
    rules: Sequence[FrequencyRule],
    freq_cols: Mapping[str, str],
    per_cell: pl.DataFrame,
) -> list[_Subject]:
    """Per subject the items of its first visit and its frequency visits, in the fit's nested ticket order.

    Only subjects that get a visit become Python objects (a city has millions of subjects in its cells and a few
    hundred thousand visits); the list is in the members' order, as if every subject had been walked."""
    order = members.with_columns(
        pl.int_range(pl.len()).over("cell").alias("_pos"), pl.int_range(pl.len()).alias("_row")
    )
    covered = dict(
        quotas.filter(pl.col("mandatory")).group_by("cell").agg(pl.col("item")).iter_rows()
    )  # cell → its mandatory items
    mcov = {
        c: n
        for c, n in result.cells.filter(pl.col("mandatory"))
        .group_by("cell")
        .agg(pl.col("mandatory_covered").min())
        .iter_rows()
    }
    drawn_set = {(u, i) for u, i, _ in drawn.iter_rows()}
    reasons = {code: dict(m.select("uscc", "reason").iter_rows()) for code, m in mandatory_of.items()}
    cell_items: dict[str, list[str]] = {}
    for c, i in quotas.select("cell", "item").iter_rows():
        cell_items.setdefault(c, []).append(i)
    for codes in cell_items.values():
        codes.sort()  # once a cell, not once a subject
    mandatory_items = {c: set(items) for c, items in covered.items()}
    fields = ("uscc", "cell", "region", "risk", "risk_rank", KEY, "_tie", "_pos", "_row")
    subjects: dict[str, tuple[int, _Subject]] = {}  # uscc → (its row in `order`, the subject)

    def subject(row: tuple[Any, ...]) -> _Subject:
        uscc, _cell, region, risk, rank, key, tie, _pos, at = row
        if uscc not in subjects:
            subjects[uscc] = (at, _Subject(uscc=uscc, region=region, risk=risk, rank=rank, key=(key, tie)))
        return subjects[uscc][1]

    # First visits: drawn subjects, and the mandatory ones the fit covered (a cell's first mandatory_covered).
    has_work = pl.col("uscc").is_in(drawn.get_column("uscc").unique()) | (
        pl.col("_pos") < pl.col("cell").replace_strict(mcov, default=0, return_dtype=pl.Int64)
    )
    for row in order.filter(has_work).select(fields).iter_rows():
        uscc, cell, pos = row[0], row[1], row[7]
        base: list[VisitItem] = []
        mand_here = mandatory_items.get(cell, set()) if pos < mcov.get(cell, 0) else set()
        for code in cell_items.get(cell, []):
            is_drawn = (uscc, code) in drawn_set
            is_mand = code in mand_here
            if is_drawn or is_mand:
                base.append(
                    VisitItem(
                        code=code,
                        drawn=is_drawn,
                        mandatory=is_mand,
                        stratum=cell if is_drawn else None,
                        reason=reasons[code].get(uscc) if is_mand else None,
                    )
                )
        if base:
            subject(row).base = base
    # Frequency work: the fit's covered visits per cell, given in ticket order, each subject the visits its domains
    # still ask for (fit.frequency_runs: the same rule the fit counted with), merged across domains.
    if rules:
        rule_of = {r.domain: r for r in rules}
        per_period: dict[str, dict[str, Fraction]] = {}
        items_of: dict[str, dict[str, list[str]]] = {}
        # A cell's subjects agree on its frequencies and frequency items (cells_of splits the cells by them):
        # `per_cell` has them once a cell.
        for first in per_cell.iter_rows(named=True):
            per_period[first["cell"]] = {d: Fraction(str(first[c] or 0.0)) for d, c in freq_cols.items()}
            items_of[first["cell"]] = {
                d: sorted(filter(None, (first[f"freqitems:{d}"] or "").split(","))) for d in freq_cols
            }
        reach = {
            (c, i): max(q, m)
            for c, i, q, m in result.cells.select("cell", "item", "quota", "mandatory_covered").iter_rows()
        }
        # Only the cells given frequency visits are walked, subject by subject.
        given = result.frequency.filter(pl.col("covered") > 0).get_column("cell").unique().to_list()
        in_cell: dict[str, list[tuple[Any, ...]]] = {}
        for row in order.filter(pl.col("cell").is_in(given)).select(fields).iter_rows():
            in_cell.setdefault(row[1], []).append(row)
        for cell, label, _risk, _needed, got in result.frequency.iter_rows():
            if not got:
                continue
            domains = label.split("+")
            size = len(in_cell[cell])
            have = {d: max([reach.get((cell, i), 0) for i in rule_of[d].covering_items], default=0) for d in domains}
            items_here = {d: items_of[cell][d] for d in domains}
            left = got
            for p, row in enumerate(in_cell[cell]):
                if left <= 0:
                    break
                due = {}
                for d in domains:
                    f = per_period[cell][d]
                    t = math.floor(f) + (1 if p < math.ceil((f - math.floor(f)) * size) else 0)
                    due[d] = t - (1 if p < have[d] else 0)
                take = min(max(due.values(), default=0), left)
                if take > 0:
                    s = subject(row)
                    s.freq_visits = [[d for d in domains if due[d] >= j] for j in range(1, take + 1)]
                    s.frequency_items = items_here
                    left -= take
    return [s for _, s in sorted(subjects.values(), key=lambda x: x[0])]


def _uncovered_mandatory(
    members: pl.DataFrame, quotas: pl.DataFrame, mandatory_of: Mapping[str, pl.DataFrame], result: Fit
) -> list[Dropped]:
    """Mandatory work the first layer could not staff: the cell's largest tickets, named one by one."""
    out: list[Dropped] = []
    short = (
        result.cells.filter(pl.col("mandatory"), pl.col("mandatory_covered") < pl.col("size"))
        .group_by("cell")
        .agg(pl.col("item").sort(), pl.col("mandatory_covered").min())
    )
    if short.height == 0:
        return out
    order = members.with_columns(pl.int_range(pl.len()).over("cell").alias("_pos"))
    for cell, item_codes, covered in short.iter_rows():
        for (uscc,) in order.filter(pl.col("cell") == cell, pl.col("_pos") >= covered).select("uscc").iter_rows():
            out.append(
                Dropped(
                    visit=uscc,
                    uscc=uscc,
                    items=tuple(item_codes),
                    mandatory=tuple(item_codes),
                    code="capacity",
                    reason="mandatory work beyond the office's capacity (layer 1 shortfall): raise capacity or "
                    "ask the higher authority",
                )
            )
    return out


def _ended(gone: Mapping[str, pl.DataFrame]) -> list[Dropped]:
    by_subject: dict[str, tuple[list[str], str]] = {}
    for code, frame in gone.items():
        for uscc, _reason, status in frame.iter_rows():
            by_subject.setdefault(uscc, ([], status))[0].append(code)
    return [
        Dropped(
            visit=uscc,
            uscc=uscc,
            items=tuple(sorted(codes)),
            mandatory=tuple(sorted(codes)),
            code="status",
            reason=f"registration ended ({status}): mandatory work cannot be done on site",
        )
        for uscc, (codes, status) in sorted(by_subject.items())
    ]


def _staff(
    subjects: list[_Subject],
    by_code: Mapping[str, CheckItemCreate],
    policy: PlanPolicy,
    roster_in: Sequence[InspectorCreate],
    conflicts_in: Sequence[ConflictCreate],
    past: pl.DataFrame,
    share: Fraction,
    teams_seed: str,
    period: Period,
    start: dt.date,
    units: Units | None = None,
) -> tuple[list[Visit], tuple[InspectorLoad, ...], list[Dropped]]:
    """Visits staffed in priority order: mandatory first, then the riskier class, then the smaller ticket."""
    needs = {code: item_needs(item, policy) for code, item in by_code.items()}
    drafts: list[tuple[str, _Subject, int, int, list[VisitItem]]] = []
    frequency_items: dict[tuple[str, str], VisitItem] = {}  # one (frozen) item per code and domain, shared
    for s in subjects:
        count = (1 if s.base else 0) + len(s.freq_visits)
        first = 1
        if s.base:
            drafts.append((s.uscc, s, 1, count, sorted(s.base, key=lambda i: i.code)))
            first = 2
        for k, domains in enumerate(s.freq_visits, first):
            by_code_ = {
                c: frequency_items.get((c, d)) or frequency_items.setdefault((c, d), _frequency_item(c, d))
                for d in domains
                for c in s.frequency_items[d]
            }
            vid = s.uscc if k == 1 else f"{s.uscc}#{k}"
            drafts.append((vid, s, k, count, sorted(by_code_.values(), key=lambda i: i.code)))
    drafts.sort(
        key=lambda d: (not any(i.mandatory for i in d[4]), d[2], d[1].rank, -(d[1].risk or 0.0), d[1].key, d[0])
    )
    roster = Roster(
        list(roster_in),
        list(conflicts_in),
        teams_seed=teams_seed,
        capacity_share=share,
        team_size=policy.team_size,
        pool_by_county=policy.team_pool == "county",
        experts_may_cover=policy.experts_may_cover,
        work=[(s.region, [needs[i.code] for i in items]) for _, s, _, _, items in drafts],
        tight_is_short=True,
        pools=(
            (
                {i.id: _inspector_pool(i, policy, units) for i in roster_in},
                lambda r: units.pool_of_township(r) or UNSERVED,
            )
            if units is not None and units.active
            else None
        ),
    )
    previous = previous_leads(past, [s.uscc for s in subjects])  # a subject's first visit avoids its last lead
    dropped: list[Dropped] = []
    visits: list[Visit] = []
    is_certified = roster.certified
    for priority, (vid, s, k, count, items) in enumerate(drafts, 1):
        result = roster.staff(s.region, s.uscc, [(i.code, needs[i.code]) for i in items])
        for codes_, failure in result.dropped:
            dropped.append(_dropped(vid, s.uscc, items, codes_, failure))
        if not result.staffed:
            continue
        avoid = previous.get(s.uscc, ()) if k == 1 else ()
        lead, possible = roster.choose_lead(result.added, avoid)
        certified: list[str] = []
        experts: list[str] = []
        for m in result.added:  # the lead first, then the other certified members, then the experts, each by id
            if m != lead:
                (certified if is_certified[m] else experts).append(m)
        certified.sort()
        experts.sort()
        visits.append(
            _visit(
                id=vid,
                uscc=s.uscc,
                region=s.region,
                items=_staffed_items(items, result.staffed),
                team=(lead, *certified, *experts),
                lead=lead,
                experts=tuple(experts),
                due_from=start,
                due_to=period.end,
                priority=priority,
                risk=s.risk,
                previous_leads=tuple(avoid),
                lead_repeats=bool(avoid) and not possible,
                scheduled_on=None,
                due_on=None,
                index=k,
                count=count,
            )
        )
    loads = tuple(
        InspectorLoad(
            id=i.id,
            expert=i.is_expert,
            capacity=roster.capacity[i.id],
            visits=roster.load[i.id],
            leads=roster.leads[i.id],
        )
        for i in sorted(roster_in, key=lambda i: i.id)
    )
    return visits, loads, dropped


def _staffed_items(items: Sequence[VisitItem], staffed: Sequence[str]) -> tuple[VisitItem, ...]:
    """The visit's items that were staffed, in order. The staffed codes are those of a sublist of `items`: as many
    of them as items means every item (most visits), with no set to build."""
    if len(staffed) == len(items):
        return tuple(items)
    kept = set(staffed)
    return tuple(i for i in items if i.code in kept)


_VISITS = Maker(Visit)


def _visit(**values: Any) -> Visit:
    """`Visit(**values)` from every one of its fields, without the frozen dataclass's constructor (engine.plan.slotted)."""
    return _VISITS.make(values)


def _frequency_item(code: str, domain: str) -> VisitItem:
    return VisitItem(code=code, drawn=False, mandatory=False, stratum=None, reason=f"frequency: {domain}")


def _dropped(vid: str, uscc: str, items: Sequence[VisitItem], codes_: Sequence[str], failure: Failure) -> Dropped:
    mandatory = {i.code for i in items if i.mandatory}
    return Dropped(
        visit=vid,
        uscc=uscc,
        items=tuple(sorted(codes_)),
        mandatory=tuple(sorted(c for c in codes_ if c in mandatory)),
        code=failure.code,
        reason=failure.reason,
    )


def fit_record(result: Fit) -> dict[str, Any]:
    """The fit as plain data for the plan document: λ, κ, the layers with who is left out, items, pools."""

    def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
        return frame.to_dicts()

    return {
        "grid": result.grid,
        "lambda": {pool: show_ratio(v) for pool, v in sorted(result.lam.items())},
        # Per item where it rose above its pool's λ (capacity of its qualifications was left when others stopped).
        "item_lambda": {
            pool: {i: show_ratio(v) for i, v in sorted(items.items()) if v != result.lam[pool]}
            for pool, items in sorted(result.item_lam.items())
        },
        "kappa": {item: show_ratio(v) for item, v in sorted(result.kappa.items())},
        "layers": [
            {
                "name": layer.name,
                "demand": layer.demand,
                "covered": layer.covered,
                "shortfall": layer.shortfall,
                "left_out": rows(layer.left_out),
            }
            for layer in result.layers
        ],
        "items": rows(result.items.sort("item")),
        "frequency": rows(result.frequency),
        # Every pool's total and single qualifications, and any other Hall constraint at 90 % or more of its
        # capacity (the binding ones); replay recomputes them all.
        "pools": rows(
            result.pools.filter(
                (pl.col("constraint") == "*")
                | ~pl.col("constraint").str.contains("+", literal=True)
                | (pl.col("demand") * 10 >= pl.col("capacity") * 9)
            ).sort("pool", "constraint")
        ),
    }
