"""Make a 抽查计划: draw each check item's subjects, merge them into visits, staff the visits under capacity.

    make_plan(subjects, items, policy, inspectors, conflicts, history, seed=…, period=…, as_of=…) -> Plan

Pure: no store, no clock, no printing. The same inputs give a byte-identical `plan.to_json()`, whatever the
order of the rows, items, inspectors or conflicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from engine.plan.calendar import WorkCalendar
from engine.plan.fitted import Handover, capacity_share, collector_paused, fitted_plan, item_needs, taken
from engine.plan.frames import check_history, check_subjects
from engine.plan.model import Dropped, InspectorLoad, Plan, Visit, VisitItem
from engine.plan.policy import Period, PlanPolicy
from engine.plan.select import (
    EXCLUSION_REASONS,
    History,
    ItemSelection,
    check_item_codes,
    mandatory_rows,
    select_item,
    target_expr,
)
from engine.plan.teams import Failure, Roster, previous_leads
from engine.sampling import TicketKeys, derive_seed, ticket_keys
from entities import codes
from entities.enums import SubjectStatus
from entities.errors import InputError
from entities.models import CheckItemCreate, ConflictCreate, InspectorCreate, OrgUnitCreate

MIN_SEED_LENGTH = 20  # issue 5: a public seed such as 20 dice digits; anything shorter is refused
KEY = "_ticket_key"


def check_seed(seed: object) -> str:
    """The plan seed, or one line saying why it cannot be one (missing, short, padded)."""
    if seed is None or seed == "":
        raise InputError(
            f"seed is missing: give a public seed of at least {MIN_SEED_LENGTH} characters (e.g. 20 dice digits)"
        )
    if not isinstance(seed, str):
        raise InputError(f"seed must be text, not {type(seed).__name__}")
    if seed != seed.strip():
        raise InputError("seed has spaces at its start or end; they would change every ticket, so remove them")
    if len(seed) < MIN_SEED_LENGTH:
        raise InputError(
            f"seed {seed!r} is too short ({len(seed)} characters): give at least {MIN_SEED_LENGTH} "
            "(e.g. 20 dice digits)"
        )
    return seed


def _jurisdiction(subjects: pl.DataFrame, regions: Sequence[str] | None) -> tuple[pl.DataFrame, tuple[str, ...]]:
    if regions is None:
        chosen: tuple[str, ...] = ()
        frame = subjects
    else:
        if isinstance(regions, str):
            regions = [regions]
        normalised = []
        for r in regions:
            try:
                normalised.append(codes.normalise_region(r) if isinstance(r, str) else r)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            if not isinstance(normalised[-1], str):
                raise InputError(f"region {r!r} must be text (a 6- or 9-digit code)")
        chosen = tuple(sorted(set(normalised)))
        if not chosen:
            raise InputError("no region given: name the jurisdiction (6-digit county or 9-digit 街镇 codes)")
        condition = pl.lit(False)
        for code in chosen:
            prefix = codes.region_prefix(code)
            if not subjects.select(pl.col("region").str.starts_with(prefix).any()).item():
                raise InputError(f"unknown region {code}: no subject in the object library is in it")
            condition = condition | pl.col("region").str.starts_with(prefix)
        frame = subjects.filter(condition)
    if frame.height == 0:
        raise InputError("empty population: the object library has no subjects in the jurisdiction")
    return _by_uscc(frame), chosen


def _by_uscc(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in USCC order. Given in that order already (a plan's subjects, a snapshot's: both list them by
    USCC), it is returned as it is: sorted again, every column of a city's frame would be copied (~600 MB) at the
    plan's preamble. The USCCs are unique (check_subjects), so either way the rows are in the same order."""
    if frame.get_column("uscc").is_sorted():
        return frame
    return frame.sort("uscc")


PROVINCIAL_NOTE = "provincial item, not drawn at this level"


def provincial_items_left_out(items: Sequence[CheckItemCreate], regions: Sequence[str]) -> tuple[str, ...]:
    """Codes of the items with `level: provincial` that a plan of `regions` does not draw.

    令53号 第49条: the plan for medical-device production is the provincial drug administration's, so only a plan
    whose regions are all province codes (440000) draws such an item; a county or city plan, or a plan of the
    whole store (no regions: the store's level is not known, so it is not taken for a province), leaves it out.
    """
    provincial = bool(regions) and all(len(r) == 6 and r.endswith("0000") for r in regions)
    if provincial:
        return ()
    return tuple(sorted(i.code for i in items if i.level is not None and str(i.level) == "provincial"))


def _check_roster(
    inspectors: object, conflicts: object, team_size: int
) -> tuple[list[InspectorCreate], list[ConflictCreate]]:
    if not isinstance(inspectors, Sequence) or isinstance(inspectors, str):
        raise InputError("inspectors must be a list of InspectorCreate")
    seen: set[str] = set()
    for i in inspectors:
        if not isinstance(i, InspectorCreate):
            raise InputError(f"inspectors must be InspectorCreate, not {type(i).__name__}")
        if i.id in seen:
            raise InputError(f"inspector {i.id} is given twice")
        seen.add(i.id)
    certified = sum(1 for i in inspectors if not i.is_expert and i.capacity > 0)
    if certified < team_size:
        raise InputError(
            f"no qualified inspector at all: a team needs {team_size} inspectors with an enforcement certificate "
            f"and capacity, the roster has {certified}"
        )
    if not isinstance(conflicts, Sequence) or isinstance(conflicts, str):
        raise InputError("conflicts must be a list of ConflictCreate")
    for c in conflicts:
        if not isinstance(c, ConflictCreate):
            raise InputError(f"conflicts must be ConflictCreate, not {type(c).__name__}")
    return sorted(inspectors, key=lambda i: i.id), sorted(conflicts, key=lambda c: (c.inspector_id, c.uscc))


def _status_label(status: str) -> str:
    try:
        return f"{SubjectStatus(status).label} ({status})"
    except ValueError:
        return status


def make_plan(
    subjects: pl.DataFrame | Handover,
    items: Sequence[CheckItemCreate],
    policy: PlanPolicy,
    inspectors: Sequence[InspectorCreate],
    conflicts: Sequence[ConflictCreate],
    history: pl.DataFrame,
    *,
    seed: str,
    period: Period,
    as_of: dt.date,
    regions: Sequence[str] | None = None,
    fitted: bool = False,
    units: Sequence[OrgUnitCreate] = (),
    calendar: WorkCalendar | None = None,
    ticket_keys_of: TicketKeys | None = None,
) -> Plan:
    """Plan the period's checks: each item's draw plus mandatory work, merged into visits, staffed under capacity.

    `units` is the unit table (engine.plan.units): with rows, a fitted plan staffs each visit from the units
    serving its township. `fitted` makes a suijian.plan/2 plan: capacity shared out before the draw, so every drawn visit is staffed
    (engine.plan.fitted; what `suijian plan` makes). Without it, the suijian.plan/1 planner that plans recorded
    before replay with: drawn at the asked ratios, then staffed in priority order.

    `subjects` holds one row per subject (uscc, region, credit_class, the features the items' targets read, and
    from grading optionally mandatory / mandatory_reason / risk / sector grades / status / whitelist / name /
    address), or a Handover of it: then make_plan alone holds it and frees it once read (a fitted plan reads it
    in its first step); `history` the past checks (frames.history_frame). `regions` is the jurisdiction (6-digit county or
    9-digit 街镇 codes; a city or province code covers its counties); None plans every subject given.
    `calendar`: the working days a fitted plan's schedule uses (engine.plan.dates.date_visits; None: the
    chinesecalendar library alone); the suijian.plan/1 planner schedules no visits and does not read it.
    `ticket_keys_of` computes the subjects' ticket keys (None: engine.sampling.ticket_keys, looked up at the call so
    bench/plan_store.py's stage timer still sees it; Spark's: engine.spark.plan); it must return what ticket_keys
    returns, so it changes where the hashing runs, never the plan.
    Bad input raises InputError with one line naming what to fix.
    """
    seed = check_seed(seed)
    if not isinstance(policy, PlanPolicy):
        raise InputError(f"policy must be a PlanPolicy, not {type(policy).__name__}")
    if not isinstance(period, Period):
        raise InputError(f"period must be a Period, not {type(period).__name__}")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise InputError(f"as-of must be a date, not {as_of!r}")
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise InputError("check items must be a list of CheckItemCreate")
    by_code = check_item_codes(items)
    if not by_code:
        raise InputError("no check items in force: give at least one item of the catalogue")
    unknown = sorted(set(policy.items) - set(by_code))
    if unknown:
        raise InputError(f"unknown item {unknown[0]}: the policy sets it, but it is not among the check items in force")
    if period.end < as_of:
        raise InputError(f"period {period.label} ended on {period.end}, before as-of {as_of}: nothing left to plan")
    past = check_history(history, as_of)
    subjects = taken(subjects)
    checked = check_subjects(
        subjects, need_status=bool(policy.excluded_statuses), need_whitelist=policy.whitelist != "none"
    )
    frame, chosen_regions = _jurisdiction(checked, regions)
    left_out = provincial_items_left_out(list(by_code.values()), chosen_regions)
    if left_out and set(left_out) == set(by_code):
        raise InputError(
            f"check item {left_out[0]} is a provincial item (level: provincial): only a plan of a province "
            "(--region 440000) draws it"
        )
    by_code = {code: item for code, item in by_code.items() if code not in left_out}
    roster_in, conflicts_in = _check_roster(inspectors, conflicts, policy.team_size)
    start = max(period.start, as_of)
    teams_seed = derive_seed(seed, "teams")

    mandatory = mandatory_rows(frame)
    out_of_scope_rows = mandatory.filter(~pl.col("item_code").is_in(list(by_code)))
    out_of_scope = {str(k): int(v) for k, v in out_of_scope_rows.group_by("item_code").len().iter_rows()}
    mandatory = mandatory.filter(pl.col("item_code").is_in(list(by_code)))
    if fitted:
        # Handed on, not kept here: the fitted planner frees the subjects after its first step (when the caller
        # handed them over too), instead of holding a city's frame to the end of the plan.
        # The mandatory lists are read: `mandatory` has them as rows (at 10 M subjects the two list columns are
        # ~230 MB that would otherwise be held through the eligibility of every item).
        handed = Handover(frame.drop("mandatory", "mandatory_reason", strict=False))
        del subjects, checked, frame
        with collector_paused():
            return fitted_plan(
                frame=handed,
                by_code=by_code,
                policy=policy,
                roster_in=roster_in,
                conflicts_in=conflicts_in,
                past=past,
                mandatory=mandatory,
                seed=seed,
                teams_seed=teams_seed,
                period=period,
                as_of=as_of,
                start=start,
                regions=chosen_regions,
                out_of_scope=out_of_scope,
                left_out=left_out,
                units=units,
                calendar=calendar,
                ticket_keys_of=ticket_keys_of,
            )

    # Targets are checked (and their filters built) before any hashing, so a bad target fails fast.
    targets = {code: target_expr(item, frame.schema) for code, item in by_code.items()}
    key_column: str | None = None
    if policy.item_seeds == "shared":
        # One ticket key per subject serves every item's draw: hash only subjects some item can draw.
        anyone = pl.lit(False)
        for expr in targets.values():
            anyone = anyone | expr
        ids = frame.filter(anyone)["uscc"]
        keys = pl.DataFrame(
            {"uscc": ids, KEY: pl.Series((ticket_keys_of or ticket_keys)(seed, ids.to_list()), dtype=pl.UInt64)}
        )
        frame = frame.join(keys, on="uscc", how="left")
        key_column = KEY

    hist = History.of(past, start.year)
    domains = {code: item.domain for code, item in by_code.items()}
    selections: list[ItemSelection] = []
    for code, item in by_code.items():
        if policy.item_seeds == "shared":
            item_seed = seed
        else:
            try:
                item_seed = derive_seed(seed, f"item/{code}")
            except InputError:
                raise InputError(
                    f"check item code {code!r} cannot name a derived seed (letters, digits, . _ / - only); "
                    "use item_seeds: shared"
                ) from None
        selections.append(
            select_item(
                item,
                frame,
                policy,
                hist,
                domains,
                seed=item_seed,
                key_column=key_column,
                start=start,
                mandatory=mandatory,
            )
        )

    return _visits_and_teams(
        frame=frame,
        by_code=by_code,
        selections=selections,
        policy=policy,
        roster_in=roster_in,
        conflicts_in=conflicts_in,
        past=past,
        seed=seed,
        teams_seed=teams_seed,
        period=period,
        as_of=as_of,
        start=start,
        regions=chosen_regions,
        out_of_scope=out_of_scope,
        left_out=left_out,
    )


def _visits_and_teams(
    *,
    frame: pl.DataFrame,
    by_code: Mapping[str, CheckItemCreate],
    selections: list[ItemSelection],
    policy: PlanPolicy,
    roster_in: list[InspectorCreate],
    conflicts_in: list[ConflictCreate],
    past: pl.DataFrame,
    seed: str,
    teams_seed: str,
    period: Period,
    as_of: dt.date,
    start: dt.date,
    regions: tuple[str, ...],
    out_of_scope: dict[str, int],
    left_out: tuple[str, ...] = (),
) -> Plan:
    def group_of(code: str) -> str:
        return by_code[code].joint_group or code

    def visit_id(uscc: str, code: str) -> str:
        return uscc if policy.merge == "all" else f"{uscc}/{group_of(code)}"

    # ── every (subject, item) to do, with why ──────────────────────────────────────────────────────────────
    drawn = pl.concat(
        [s.drawn.with_columns(pl.lit(s.plan.code).alias("item_code")) for s in selections], how="vertical"
    ).with_columns(pl.lit(True).alias("drawn"))
    must = pl.concat(
        [s.mandatory.with_columns(pl.lit(s.plan.code).alias("item_code")) for s in selections], how="vertical"
    ).with_columns(pl.lit(True).alias("mandatory"))
    work = (
        drawn.join(must, on=["uscc", "item_code"], how="full", coalesce=True)
        .with_columns(pl.col("drawn").fill_null(False), pl.col("mandatory").fill_null(False))
        .join(frame.select("uscc", "region", "risk"), on="uscc", how="left")
        .sort("uscc", "item_code")
    )

    # Mandatory work at subjects whose registration ended: nothing to visit, but never dropped silently.
    uncovered: list[Dropped] = []
    unstaffed: list[Dropped] = []
    gone: dict[tuple[str, str], list[str]] = {}
    gone_status: dict[tuple[str, str], str] = {}
    for s in selections:
        for uscc, _reason, status in s.mandatory_excluded.iter_rows():
            key = (visit_id(uscc, s.plan.code), uscc)
            gone.setdefault(key, []).append(s.plan.code)
            gone_status[key] = status
    for (vid, uscc), item_codes in sorted(gone.items()):
        label = _status_label(gone_status[(vid, uscc)])
        uncovered.append(
            Dropped(
                visit=vid,
                uscc=uscc,
                items=tuple(sorted(item_codes)),
                mandatory=tuple(sorted(item_codes)),
                code="status",
                reason=f"registration ended ({label}): mandatory work cannot be done on site",
            )
        )

    # ── visits: one per subject (or per subject and joint group), in priority order ───────────────────────
    visits: dict[str, _Draft] = {}
    for uscc, code, stratum, is_drawn, reason, is_mandatory, region, risk in work.select(
        "uscc", "item_code", "stratum", "drawn", "reason", "mandatory", "region", "risk"
    ).iter_rows():
        vid = visit_id(uscc, code)
        v = visits.setdefault(vid, _Draft(id=vid, uscc=uscc, region=region, risk=risk))
        v.items.append(
            VisitItem(
                code=code,
                drawn=bool(is_drawn),
                mandatory=bool(is_mandatory),
                stratum=stratum if is_drawn else None,
                reason=reason if is_mandatory else None,
            )
        )
    visited = sorted({v.uscc for v in visits.values()})
    tickets = dict(zip(visited, ticket_keys(seed, visited).tolist(), strict=True))

    def order(v: _Draft) -> tuple[bool, float, int, str, str]:
        risk = v.risk
        # Higher risk first; no risk score counts as the lowest; equal risk goes to the smaller ticket.
        return (risk is None, -(risk or 0.0), tickets[v.uscc], v.uscc, v.id)

    ordered = sorted(visits.values(), key=order)
    with_mandatory = [v for v in ordered if any(i.mandatory for i in v.items)]
    without = [v for v in ordered if not any(i.mandatory for i in v.items)]
    final_order = with_mandatory + without
    for rank, v in enumerate(final_order, 1):
        v.priority = rank

    needs = {code: item_needs(item, policy) for code, item in by_code.items()}
    share = capacity_share(policy, period)
    roster = Roster(
        roster_in,
        conflicts_in,
        teams_seed=teams_seed,
        capacity_share=share,
        team_size=policy.team_size,
        pool_by_county=policy.team_pool == "county",
        experts_may_cover=policy.experts_may_cover,
        work=[(v.region, [needs[i.code] for i in v.items]) for v in final_order],
    )

    def record(v: _Draft, codes_: list[str], failure: Failure) -> None:
        mandatory_codes = {i.code for i in v.items if i.mandatory}
        entry = Dropped(
            visit=v.id,
            uscc=v.uscc,
            items=tuple(sorted(codes_)),
            mandatory=tuple(sorted(c for c in codes_ if c in mandatory_codes)),
            code=failure.code,
            reason=failure.reason,
        )
        (uncovered if failure.is_capacity else unstaffed).append(entry)

    # Phase 1: mandatory items only, highest risk first. Phase 2: the drawn items, on the same priority.
    for v in with_mandatory:
        todo = [(i.code, needs[i.code]) for i in v.items if i.mandatory]
        result = roster.staff(v.region, v.uscc, todo)
        v.team += result.added
        v.staffed |= set(result.staffed)
        for codes_, failure in result.dropped:
            v.dropped |= set(codes_)
            record(v, codes_, failure)
    for v in final_order:
        todo = [(i.code, needs[i.code]) for i in v.items if i.code not in v.staffed and i.code not in v.dropped]
        if not todo:
            continue
        result = roster.staff(v.region, v.uscc, todo, v.team)
        v.team += result.added
        v.staffed |= set(result.staffed)
        for codes_, failure in result.dropped:
            v.dropped |= set(codes_)
            record(v, codes_, failure)

    # Leads, in priority order, so the busiest leads are spread first; then due windows.
    previous = previous_leads(past)
    staffed = [v for v in final_order if v.staffed]
    days = (period.end - start).days + 1
    windows = min(policy.due_windows, days)
    planned: list[Visit] = []
    for position, v in enumerate(staffed):
        avoid = previous.get(v.uscc, ())
        lead, possible = roster.choose_lead(v.team, avoid)
        certified = sorted(m for m in v.team if roster.certified[m] and m != lead)
        experts = sorted(m for m in v.team if not roster.certified[m])
        window = position * windows // len(staffed)
        due_from = start + dt.timedelta(days=window * days // windows)
        due_to = start + dt.timedelta(days=(window + 1) * days // windows - 1)
        planned.append(
            Visit(
                id=v.id,
                uscc=v.uscc,
                region=v.region,
                items=tuple(i for i in v.items if i.code in v.staffed),
                team=(lead, *certified, *experts),
                lead=lead,
                experts=tuple(experts),
                due_from=due_from,
                due_to=due_to,
                priority=v.priority,
                risk=v.risk,
                previous_leads=tuple(avoid),
                lead_repeats=bool(avoid) and not possible,
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
        for i in roster_in
    )
    return Plan(
        seed=seed,
        teams_seed=teams_seed,
        period=period,
        as_of=as_of,
        regions=regions,
        policy=policy,
        items=tuple(s.plan for s in selections),
        visits=tuple(sorted(planned, key=lambda v: v.id)),
        team_load=loads,
        uncovered=tuple(sorted(uncovered, key=Dropped.sort_key)),
        unstaffed=tuple(sorted(unstaffed, key=Dropped.sort_key)),
        mandatory_out_of_scope=dict(sorted(out_of_scope.items())),
        provincial_left_out=left_out,
    )


@dataclass
class _Draft:
    """A visit while the plan is made: its subject and items, then its team as staffing goes on."""

    id: str
    uscc: str
    region: str
    risk: float | None
    items: list[VisitItem] = field(default_factory=list)
    priority: int = 0
    team: list[str] = field(default_factory=list)
    staffed: set[str] = field(default_factory=set)  # item codes with a team
    dropped: set[str] = field(default_factory=set)  # item codes that could not be staffed


__all__ = ["EXCLUSION_REASONS", "MIN_SEED_LENGTH", "check_seed", "make_plan"]
