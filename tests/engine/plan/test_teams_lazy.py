"""The roster's lazy heap refresh chooses exactly as the eager pushes it replaced (kept here as the reference)."""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.plan.teams import Roster
from tests.engine.plan import world


class EagerRoster(Roster):
    """The roster before the lazy refresh: every booking pushed a fresh entry to each of the inspector's heaps,
    and `_take` popped the stale ones."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.heaps = {}
        self._keys = {i: [self.heaps.setdefault(key, []) for key in self._heap_keys(i)] for i in self.load}
        for i in self.load:
            self._push(i)

    def _entry(self, i: str) -> tuple[float, int, str, int]:
        load = self.load[i]
        return ((load + 1) / self.capacity[i], self._ticket(i, load), i, load)

    def _push(self, i: str) -> None:
        if self.load[i] >= self.capacity[i]:
            return
        entry = self._entry(i)
        for heap in self._keys[i]:
            heapq.heappush(heap, entry)

    def _take(self, keys: Sequence[tuple[str, str, str, bool]], exclude: set[str]) -> str | None:
        for key in keys:
            heap = self.heaps.get(key)
            if not heap:
                continue
            aside = []
            found = None
            while heap:
                entry = heap[0]
                i = entry[2]
                if entry[3] != self.load[i]:
                    heapq.heappop(heap)
                    continue
                if i in exclude:
                    aside.append(heapq.heappop(heap))
                    continue
                found = entry
                break
            for entry in aside:
                heapq.heappush(heap, entry)
            if found is not None:
                return found[2]
        return None

    def _book(self, i: str) -> None:
        self.load[i] += 1
        self._push(i)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n_inspectors=st.integers(2, 30),
    n_visits=st.integers(0, 400),
    team_size=st.integers(1, 3),
    experts_may_cover=st.booleans(),
    pool_by_county=st.booleans(),
    tight=st.booleans(),
)
def test_lazy_refresh_staffs_as_eager_pushes(
    seed: int,
    n_inspectors: int,
    n_visits: int,
    team_size: int,
    experts_may_cover: bool,
    pool_by_county: bool,
    tight: bool,
) -> None:
    rnd = random.Random(seed)
    inspectors = world.random_roster(rnd, n_inspectors, 90)  # some past the 64 tickets drawn ahead
    subjects = [world.uscc(k) for k in range(max(1, n_visits // 2))]
    conflicts = world.random_conflicts(rnd, inspectors, subjects)
    visits = world.random_visits(rnd, n_visits, subjects)
    work = [(region, [needs for _, needs in items]) for region, _, items in visits]
    kwargs = dict(
        teams_seed=f"teams{seed}",
        capacity_share=Fraction(rnd.randint(1, 4), 4),
        team_size=team_size,
        pool_by_county=pool_by_county,
        experts_may_cover=experts_may_cover,
        work=work,
        tight_is_short=tight,
    )
    lazy = Roster(inspectors, conflicts, **kwargs)  # type: ignore[arg-type]
    eager = EagerRoster(inspectors, conflicts, **kwargs)  # type: ignore[arg-type]
    for region, uscc, items in visits:
        a, b = lazy.staff(region, uscc, items), eager.staff(region, uscc, items)
        assert a == b
        if a.added:
            assert lazy.choose_lead(a.added, ()) == eager.choose_lead(b.added, ())
    assert lazy.load == eager.load
    assert lazy.leads == eager.leads
