"""Staff visits with inspector teams: at least two certified, qualified, free of conflicts, within capacity, balanced.

Who joins is decided by load first and tickets second: for every slot the free inspector whose share of their
capacity would be lowest after taking the visit is chosen, and equal shares go to the smaller ticket
`ticket(teams_seed, "<inspector id>/<visits so far>")`. The ticket changes each time an inspector takes a visit, so
ties are re-drawn round after round (balanced, yet not a fixed rota), and anyone can recompute every choice from
the public seed. The lead is the certified member with the fewest leads so far who did not lead the subject's
previous visit, equal counts going to the smaller `ticket(teams_seed, "<inspector id>/<leads so far>")`.
Capacity is handed out greedily in the order the caller gives (mandatory work first, then risk).

Inspectors whose qualifications are in short supply (their holders' capacity is below the demand for them) are
kept for the visits that need those qualifications: a slot that any certified inspector can fill is given to
someone without a short qualification while such a person is free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from fractions import Fraction
from heapq import heapify, heappop, heappush, heapreplace

import polars as pl

from engine.sampling import quota, ticket_keys
from entities.enums import Qualification
from entities.models import ConflictCreate, InspectorCreate

ANY = ""  # the heap of every certified inspector of a pool, whatever they hold
_NO_ONE: frozenset[str] = frozenset()
# Tickets drawn ahead per inspector, in one batch; later rounds in doubling batches that stop at the inspector's
# capacity (a fitted plan books nearly all of it, guangzhou 642,727 of 664,960: doubling past it drew 838,068).
_FIRST_ROUNDS = 64


def qualification_label(q: str) -> str:
    try:
        return f"{Qualification(q).label}（{q}）"
    except ValueError:
        return q


@dataclass(frozen=True)
class Failure:
    """Why some items of a visit could not be staffed: a stable code and one line for people."""

    code: str  # capacity | no_holder | conflict | team_size
    reason: str

    @property
    def is_capacity(self) -> bool:
        return self.code == "capacity"


@dataclass
class Staffed:
    """The outcome for one visit's items: who was added, which items are staffed, which were dropped and why."""

    added: list[str]
    staffed: list[str]
    dropped: list[tuple[list[str], Failure]]


class Roster:
    """The inspectors of a plan with their remaining capacity, ready to staff visits one after another."""

    def __init__(
        self,
        inspectors: Sequence[InspectorCreate],
        conflicts: Iterable[ConflictCreate],
        *,
        teams_seed: str,
        capacity_share: Fraction,
        team_size: int,
        pool_by_county: bool,
        experts_may_cover: bool,
        work: Iterable[tuple[str, Sequence[Mapping[str, int]]]] = (),
        tight_is_short: bool = False,
        pools: tuple[Mapping[str, str], Callable[[str], str]] | None = None,
    ) -> None:
        """`work` lists every visit to staff as (subject region, its items' needs), to tell which qualifications
        are short: those whose holders' capacity is below the demand for them — or, with `tight_is_short` (fitted
        plans, whose demand was fitted to capacity and may use all of it), not above it."""
        self.team_size = team_size
        self.pool_by_county = pool_by_county
        # Explicit pools (a unit table, engine.plan.units): inspector id → pool, and a region → pool function.
        self.explicit = pools
        self._pools: dict[str, str] = {}  # region → its pool, as `_pool_of` found it
        self.experts_may_cover = experts_may_cover
        ordered = sorted(inspectors, key=lambda i: i.id)
        self.certified: dict[str, bool] = {i.id: not i.is_expert for i in ordered}
        self.quals: dict[str, frozenset[str]] = {i.id: frozenset(str(q) for q in i.qualifications) for i in ordered}
        self.pool: dict[str, str] = {
            i.id: (pools[0].get(i.id, "") if pools is not None else self._pool_of(i.region)) for i in ordered
        }
        self.capacity: dict[str, int] = {i.id: quota(min(capacity_share, Fraction(1)), i.capacity) for i in ordered}
        self.load: dict[str, int] = {i.id: 0 for i in ordered}
        self.leads: dict[str, int] = {i.id: 0 for i in ordered}
        self.conflicts: dict[str, set[str]] = {}
        for c in conflicts:
            self.conflicts.setdefault(c.uscc, set()).add(c.inspector_id)
        # One ticket per inspector and round ("<id>/<round>"), computed a few rounds ahead, more when needed.
        self.teams_seed = teams_seed
        first = {i: min(self.capacity[i], _FIRST_ROUNDS) for i in self.load}
        names = [f"{i}/{r}" for i in self.load for r in range(first[i])]
        keys = ticket_keys(teams_seed, names).tolist() if names else []
        self.tick: dict[str, list[int]] = {}
        at = 0
        for i in self.load:
            self.tick[i] = keys[at : at + first[i]]
            at += first[i]
        # Certified holders per (pool, qualification) and their total capacity: for reasons and scarcity.
        self.holders: dict[tuple[str, str], set[str]] = {}
        self.supply: dict[tuple[str, str], int] = {}
        for i, ok in self.certified.items():
            if not ok:
                continue
            for q in (*self.quals[i], ANY):
                self.holders.setdefault((self.pool[i], q), set()).add(i)
                self.supply[(self.pool[i], q)] = self.supply.get((self.pool[i], q), 0) + self.capacity[i]
        demand: dict[tuple[str, str], int] = {}
        for region, item_needs in work:
            pool = self._pool_of(region)
            visit: dict[str, int] = {}
            for needs in item_needs:
                for q, k in needs.items():
                    visit[q] = max(visit.get(q, 0), k)
            for q, k in visit.items():
                demand[(pool, q)] = demand.get((pool, q), 0) + k
        self.short: dict[str, frozenset[str]] = {}
        for pool in sorted(set(self.pool.values())):
            self.short[pool] = frozenset(
                q
                for (p, q), need in demand.items()
                if p == pool
                and (need >= self.supply.get((p, q), 0) if tight_is_short else need > self.supply.get((p, q), 0))
            )
        # Heaps of (share after one more visit, ticket, id, load when pushed): one entry per inspector with room in
        # every heap they belong to (their qualifications and the short ones fix which, from here on). A booking
        # pushes nothing: the inspector's entries go stale, and `_take` refreshes a stale entry when it reaches the
        # top. That finds the same inspector as pushing a fresh entry to every heap at each booking did, since a
        # stale entry's share, (older load + 1) / capacity, is below the fresh one's: it surfaces no later than the
        # fresh entry would, and is then put back in the fresh entry's place. (A city books some 650,000 times;
        # eager pushes left 1.7 M stale entries to pop.)
        self.heaps: dict[tuple[str, str, str, bool], list[tuple[float, int, str, int]]] = {}
        for i in self.load:
            if self.load[i] < self.capacity[i]:
                entry = self._entry(i)
                for key in self._heap_keys(i):
                    self.heaps.setdefault(key, []).append(entry)
        for heap in self.heaps.values():
            heapify(heap)
        # The heaps `_attempt` asks, per pool and qualification (None: the team's other members), built once per
        # pair by `_heap_order`: a city asks them some 650,000 times.
        self._orders: dict[str, dict[str | None, tuple[tuple[str, str, str, bool], ...]]] = {}

    def _pool_of(self, region: str) -> str:
        pool = self._pools.get(region)
        if pool is None:  # once per township, not once per visit staffed
            explicit = self.explicit
            pool = explicit[1](region) if explicit is not None else (region[:6] if self.pool_by_county else "*")
            self._pools[region] = pool
        return pool

    def _heap_keys(self, i: str) -> list[tuple[str, str, str, bool]]:
        kind = "c" if self.certified[i] else "e"
        pool = self.pool[i]
        free = not (self.quals[i] & self.short.get(pool, frozenset()))
        out = []
        for q in (*sorted(self.quals[i]), ANY):
            out.append((kind, pool, q, False))
            if free:
                out.append((kind, pool, q, True))
        return out

    def _ticket(self, i: str, round_: int) -> int:
        ticks = self.tick[i]
        if round_ >= len(ticks):
            # No round at or past the capacity is ever asked for by the heaps (an inspector with room has load <
            # capacity) nor by `choose_lead` (leads < visits): so the batch stops there.
            more = range(len(ticks), max(round_ + 1, min(2 * len(ticks), self.capacity[i])))
            ticks.extend(ticket_keys(self.teams_seed, [f"{i}/{r}" for r in more]).tolist())
        return ticks[round_]

    def _entry(self, i: str) -> tuple[float, int, str, int]:
        load = self.load[i]
        return ((load + 1) / self.capacity[i], self._ticket(i, load), i, load)

    def _take(self, keys: Sequence[tuple[str, str, str, bool]], exclude: set[str]) -> str | None:
        """The best free inspector over these heaps (in order of preference), not in `exclude`; not yet booked."""
        heaps, load_of, capacity, tick = self.heaps, self.load, self.capacity, self.tick
        for key in keys:
            heap = heaps.get(key)
            if not heap:
                continue
            aside: list[tuple[float, int, str, int]] | None = None  # the excluded, put back after: mostly none
            found: str | None = None
            while heap:
                entry = heap[0]
                i = entry[2]
                load = load_of[i]
                if entry[3] != load:  # stale: the inspector was booked since, or is full
                    room = capacity[i]
                    if load < room:
                        ticks = tick[i]
                        t = ticks[load] if load < len(ticks) else self._ticket(i, load)
                        heapreplace(heap, ((load + 1) / room, t, i, load))
                    else:
                        heappop(heap)
                    continue
                if i in exclude:
                    if aside is None:
                        aside = []
                    aside.append(heappop(heap))
                    continue
                found = i
                break
            if aside is not None:
                for entry in aside:
                    heappush(heap, entry)
            if found is not None:
                return found
        return None

    def _book(self, i: str) -> None:
        self.load[i] += 1  # its heap entries are now stale: `_take` refreshes them when they come up

    # ── one visit ──────────────────────────────────────────────────────────────────────────────────────────────

    def _scarcity(self, pool: str, q: str) -> tuple[int, str]:
        return (self.supply.get((pool, q), 0), q)

    def _qual_failure(self, pool: str, q: str, k: int, blocked: AbstractSet[str]) -> Failure:
        holders = self.holders.get((pool, q), set())
        free_of_conflict = len(holders - blocked)
        label = qualification_label(q)
        if len(holders) < k:
            return Failure(
                "no_holder",
                f"{k} certified inspector(s) holding {label} needed; the roster has {len(holders)}",
            )
        if free_of_conflict < k:
            return Failure(
                "conflict",
                f"conflicts of interest leave {free_of_conflict} of {len(holders)} certified holders of {label} "
                f"({k} needed)",
            )
        return Failure(
            "capacity",
            f"capacity: all {len(holders)} certified holders of {label} are fully booked by higher-priority visits",
        )

    def _size_failure(self, pool: str, blocked: AbstractSet[str]) -> Failure:
        everyone = self.holders.get((pool, ANY), set())
        free_of_conflict = len(everyone - blocked)
        if free_of_conflict < self.team_size:
            return Failure(
                "team_size",
                f"a team needs {self.team_size} certified inspectors; only {free_of_conflict} have no conflict "
                f"of interest with this subject",
            )
        return Failure(
            "capacity",
            f"capacity: all {len(everyone)} certified inspectors are fully booked by higher-priority visits",
        )

    def _heap_order(self, pool: str, q: str | None) -> tuple[tuple[str, str, str, bool], ...]:
        """The certified heaps to take a holder of `q` from, in order of preference (None: anyone, to fill the
        team up to its size); kept in `_orders[pool]`, where `_attempt` looks first."""
        keys: tuple[tuple[str, str, str, bool], ...]
        if q is None:  # someone without a short qualification first, whoever it is
            keys = (("c", pool, ANY, True), ("c", pool, ANY, False))
        elif q in self.short.get(pool, _NO_ONE):  # a short qualification is taken from all its holders
            keys = (("c", pool, q, False),)
        else:  # any other from holders without a short one first
            keys = (("c", pool, q, True), ("c", pool, q, False))
        self._orders.setdefault(pool, {})[q] = keys
        return keys

    def _attempt(
        self, pool: str, uscc: str, needs: Mapping[str, int], team: Sequence[str]
    ) -> tuple[list[str], dict[str, Failure], Failure | None]:
        blocked: AbstractSet[str] = self.conflicts.get(uscc) or _NO_ONE
        exclude = set(team)
        if blocked:
            exclude |= blocked
        certified, quals = self.certified, self.quals
        orders = self._orders.get(pool, {})
        chosen: list[str] = []
        failed: dict[str, Failure] = {}
        for q in sorted(needs, key=lambda q: self._scarcity(pool, q)) if len(needs) > 1 else needs:
            k = needs[q]
            have = 0
            if team or chosen:  # the first need of a new team has no members yet: nothing to count
                members = [*team, *chosen]
                if any(not certified[m] and q in quals[m] for m in members):
                    continue  # an expert already on the team supplies it (only when experts_may_cover)
                have = sum(1 for m in members if certified[m] and q in quals[m])
            keys = orders.get(q) or self._heap_order(pool, q)
            while have < k:
                i = self._take(keys, exclude)
                if i is None:
                    expert = self._take([("e", pool, q, False)], exclude) if self.experts_may_cover else None
                    if expert is not None:
                        chosen.append(expert)
                        exclude.add(expert)
                    else:
                        failed[q] = self._qual_failure(pool, q, k, blocked)
                    break
                chosen.append(i)
                exclude.add(i)
                have += 1
        if failed:
            return chosen, failed, None
        filled = 0
        for m in (*team, *chosen) if team else chosen:  # a loop: two generators cost more than 1–3 members
            if certified[m]:
                filled += 1
        if filled < self.team_size:
            keys = orders.get(None) or self._heap_order(pool, None)
            while filled < self.team_size:
                i = self._take(keys, exclude)
                if i is None:
                    return chosen, {}, self._size_failure(pool, blocked)
                chosen.append(i)
                exclude.add(i)
                filled += 1
        return chosen, {}, None

    def staff(
        self, region: str, uscc: str, items: Sequence[tuple[str, Mapping[str, int]]], team: Sequence[str] = ()
    ) -> Staffed:
        """Add members to `team` (possibly empty) so it can check `items`; items it cannot cover are dropped.

        Items are (code, {qualification: holders needed}). Nothing is booked unless the team that results meets
        every rule; an item whose qualification cannot be supplied is dropped with the reason, and the rest are
        tried again without it.
        """
        pool = self._pool_of(region)
        remaining = list(items)
        dropped: list[tuple[list[str], Failure]] = []
        while remaining:
            needs: Mapping[str, int]
            if len(remaining) == 1:  # most visits: the one item's needs are the visit's (`_attempt` only reads them)
                needs = remaining[0][1]
            else:
                needs = {}
                for _, item_needs in remaining:
                    for q, k in item_needs.items():
                        needs[q] = max(needs.get(q, 0), k)
            chosen, failed, size_failure = self._attempt(pool, uscc, needs, team)
            if not failed and size_failure is None:
                for i in chosen:
                    self._book(i)
                return Staffed(added=chosen, staffed=[code for code, _ in remaining], dropped=dropped)
            if size_failure is not None:
                dropped.append(([code for code, _ in remaining], size_failure))
                return Staffed(added=[], staffed=[], dropped=dropped)
            keep = []
            by_failure: dict[str, list[str]] = {}
            for code, item_needs in remaining:
                first = next((q for q in sorted(item_needs) if q in failed), None)
                if first is None:
                    keep.append((code, item_needs))
                else:
                    by_failure.setdefault(first, []).append(code)
            for q in sorted(by_failure):
                dropped.append((by_failure[q], failed[q]))
            remaining = keep
        return Staffed(added=[], staffed=[], dropped=dropped)

    def choose_lead(self, team: Sequence[str], avoid: Iterable[str]) -> tuple[str, bool]:
        """The lead: a certified member who did not lead the subject's previous visit, fewest leads so far.

        Returns the lead and whether avoiding the previous lead was possible.
        """
        certified = [m for m in team if self.certified[m]]
        avoid_set = set(avoid) if avoid else _NO_ONE
        candidates = [m for m in certified if m not in avoid_set] if avoid_set else certified
        possible = bool(candidates)
        if not candidates:
            candidates = certified
        if not candidates:
            raise ValueError("choose_lead: the team has no certified member")
        leads = self.leads
        lead = candidates[0]
        fewest = leads[lead]
        ticket: int | None = None  # the lead's ticket, looked up only when another member has as few leads
        for m in candidates[1:]:  # `min` by (leads, ticket, id)
            n = leads[m]
            if n > fewest:
                continue
            if n < fewest:
                lead, fewest, ticket = m, n, None
                continue
            if ticket is None:
                ticket = self._ticket(lead, fewest)
            t = self._ticket(m, n)
            if t < ticket or (t == ticket and m < lead):
                lead, ticket = m, t
        leads[lead] += 1
        return lead, possible


def previous_leads(history: pl.DataFrame, subjects: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Each subject's lead inspector(s) on its latest check that names one (several on one day: all of them).

    `subjects`: only these subjects' (a plan asks for the subjects it visits, a fraction of a city's history);
    None: every subject's."""
    # Lazy, so only the three columns read are touched: filtering the frame first copied all of a province's
    # past checks (6.7 M rows × 8 columns at 10 M subjects) before the join narrowed them to the visited subjects.
    # The lead as text: a Categorical (planning.history) would sort by its codes in older polars.
    led = (
        history.lazy()
        .select("uscc", "checked_on", pl.col("lead_inspector").cast(pl.String))
        .filter(pl.col("lead_inspector").is_not_null())
    )
    if subjects is not None:
        led = led.join(pl.LazyFrame({"uscc": list(subjects)}, schema={"uscc": pl.String}), on="uscc", how="semi")
    rows = (
        led.filter(pl.col("checked_on") == pl.col("checked_on").max().over("uscc"))
        .group_by("uscc")
        .agg(pl.col("lead_inspector").unique().sort())
        .collect()
    )
    return {u: tuple(leads) for u, leads in rows.iter_rows()}
