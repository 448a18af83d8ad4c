"""The team builder as it was before session 27's staffing pass work (ticket batches doubling past the capacity, a
key list built per slot, the members counted by generators, the lead by `min` with a key function): the reference
that tests/engine/plan/test_teams_reference.py holds `engine.plan.teams.Roster` to, team for team and lead for lead."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

from engine.plan.teams import ANY, Failure, Staffed, qualification_label
from engine.sampling import quota, ticket_keys
from entities.models import ConflictCreate, InspectorCreate

_FIRST_ROUNDS = 64


class ReferenceRoster:
    """engine.plan.teams.Roster as of session 27's start, verbatim but for its name."""

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
            heapq.heapify(heap)

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
            more = range(len(ticks), max(round_ + 1, 2 * len(ticks)))
            ticks.extend(ticket_keys(self.teams_seed, [f"{i}/{r}" for r in more]).tolist())
        return ticks[round_]

    def _entry(self, i: str) -> tuple[float, int, str, int]:
        load = self.load[i]
        return ((load + 1) / self.capacity[i], self._ticket(i, load), i, load)

    def _take(self, keys: Sequence[tuple[str, str, str, bool]], exclude: set[str]) -> str | None:
        """The best free inspector over these heaps (in order of preference), not in `exclude`; not yet booked."""
        load_of, capacity, tick = self.load, self.capacity, self.tick
        for key in keys:
            heap = self.heaps.get(key)
            if not heap:
                continue
            aside = []
            found: str | None = None
            while heap:
                entry = heap[0]
                i = entry[2]
                load = load_of[i]
                if entry[3] != load:  # stale: the inspector was booked since, or is full
                    if load < capacity[i]:
                        ticks = tick[i]
                        t = ticks[load] if load < len(ticks) else self._ticket(i, load)
                        heapq.heapreplace(heap, ((load + 1) / capacity[i], t, i, load))
                    else:
                        heapq.heappop(heap)
                    continue
                if i in exclude:
                    aside.append(heapq.heappop(heap))
                    continue
                found = i
                break
            for entry in aside:
                heapq.heappush(heap, entry)
            if found is not None:
                return found
        return None

    def _book(self, i: str) -> None:
        self.load[i] += 1  # its heap entries are now stale: `_take` refreshes them when they come up

    # ── one visit ──────────────────────────────────────────────────────────────────────────────────────────────

    def _scarcity(self, pool: str, q: str) -> tuple[int, str]:
        return (self.supply.get((pool, q), 0), q)

    def _qual_failure(self, pool: str, q: str, k: int, blocked: set[str]) -> Failure:
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

    def _size_failure(self, pool: str, blocked: set[str]) -> Failure:
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

    def _attempt(
        self, pool: str, uscc: str, needs: Mapping[str, int], team: Sequence[str]
    ) -> tuple[list[str], dict[str, Failure], Failure | None]:
        blocked = self.conflicts.get(uscc, set())
        exclude = set(team) | blocked
        chosen: list[str] = []
        failed: dict[str, Failure] = {}
        short = self.short.get(pool, frozenset())
        for q in sorted(needs, key=lambda q: self._scarcity(pool, q)) if len(needs) > 1 else needs:
            k = needs[q]
            members = [*team, *chosen]
            if any(not self.certified[m] and q in self.quals[m] for m in members):
                continue  # an expert already on the team supplies it (only when experts_may_cover)
            have = sum(1 for m in members if self.certified[m] and q in self.quals[m])
            # A short qualification is taken from all its holders; any other from holders without one first.
            keys = [("c", pool, q, False)] if q in short else [("c", pool, q, True), ("c", pool, q, False)]
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
        certified = sum(1 for m in (*team, *chosen) if self.certified[m])
        while certified < self.team_size:
            i = self._take([("c", pool, ANY, True), ("c", pool, ANY, False)], exclude)
            if i is None:
                return chosen, {}, self._size_failure(pool, blocked)
            chosen.append(i)
            exclude.add(i)
            certified += 1
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
            needs: dict[str, int] = {}
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
        avoid_set = set(avoid)
        candidates = [m for m in certified if m not in avoid_set]
        possible = bool(candidates)
        if not candidates:
            candidates = certified
        lead = min(candidates, key=lambda m: (self.leads[m], self._ticket(m, self.leads[m]), m))
        self.leads[lead] += 1
        return lead, possible
