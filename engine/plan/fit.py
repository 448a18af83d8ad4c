"""Share the office's capacity out before the draw, layer by layer and by risk, so that every drawn visit is staffed.

Why before the draw: cutting a drawn list afterwards by priority turns the random sample into a chosen one, and a
published list that is never inspected breaks 一公开. So the quotas are fitted to capacity first, from public
figures only (sizes, ratios, capacity), and no ticket is read until they are fixed.

Layers, each filled before the next, riskiest first inside a layer (issue 13):
1. `mandatory` — statutory mandatory work (the pack's `mandatory_items`, e.g. 令53号 第49条 重点监管目录 once a year);
2. `floors` — the random draws at their legal floors (e.g. 企业公示信息抽查办法 第4条, as revised by 总局令第101号:
   at least 3 % of the enterprises); a floor that cannot be staffed is a named shortfall, never lowered silently;
3. `frequency` — per-subject frequencies by risk order (D before C …; e.g. 食品生产经营风险分级管理办法: D-grade
   four times a year); any visit covering the domain's full check points (mandatory or drawn) counts toward it;
4. `ratios` — the random draws up to the asked ratios, fitted to what capacity is left.
Inside a layer each cell, riskiest first, takes all it can of what capacity is left; a later cell or layer only
gets what the earlier ones could not use (capacity of qualifications they do not need), never capacity they needed.

Cells. The caller splits each jurisdiction's eligible subjects into cells of identical pattern: for each item,
its stratum, or ineligible; mandatory or not. With one seed for every item (`item_seeds: shared`) each item draws
the smallest tickets of the cell, so the draws nest: the subjects drawn for an item with quota q are the first q
of the cell, and the cell's visits are exactly the largest of its items' quotas (merge: all). Demand is thereby
known before any ticket is read. Per-item seeds make the union unpredictable and are refused.
The cells are the published strata: a third party recomputes each cell's draw with the public package.

Fitted ratio of an item in a cell (one public λ for all, from a grid of `grid` steps, 1/1000 by default):
    r′ = λ·κ·r        Q = quota(r′, N_s)        cell quota = max(f, the cell's share of Q)
- r the asked ratio of the stratum s (the item's stratum as an unfitted plan has it); N_s its eligible size; Q its
  quota by the project's one rounding rule; the share is `SeatOrder`'s (Sainte-Laguë seat by seat, house-
  monotone), so the item's total is the strata's quotas, not inflated by "at least 1" in every small cell;
- f the cell's floor quota: the item's legal floor ⌈φ·N⌉ (φ of its population N, 不少于 so rounded up; at most
  its E eligible subjects) shared over its cells in proportion to size by largest remainders, so the item's
  floors add up to exactly ⌈φ·N⌉ (0 where the floors layer could not staff it: `floor_cut`);
- κ the item's cap factor: 1 for 重点 items; for 一般 items the largest grid value with the item's TOTAL at λ = 1
  within ⌊cap·N⌋ (the cap is on the item's total, not per stratum, and strata keep their relative ratios inside
  it; the 5 % cap is [secondary], a parameter). A floor above the cap keeps the floor (law over local practice)
  and is reported as `cap_conflict`.
λ is the largest grid value whose demand can be staffed, one per pool (a county bureau makes its own plan; a
pool's λ is searched on what the earlier layers left it). Quotas, hence demand, are
non-decreasing in λ, so the search is a bisection; more capacity never gives a smaller λ.

Demand model (conservative, in inspector-visits). A visit whose items need qualification q held by k_q members
(the most any of its items asks) uses k_q "q slots" and max(team_size, Σ_q k_q) slots in all: an inspector who
holds two needed qualifications is counted twice (over-counts, never under-counts). Per pool (a county when
teams are per county, else the whole jurisdiction), staffing is possible in aggregate iff, for every set S of
qualifications, Σ_{q∈S} demand_q ≤ capacity of the inspectors holding some q ∈ S, and all slots ≤ all
capacity (Hall's condition for the transportation problem of slots to inspectors). It does not model conflicts of
interest or one inspector taking two slots of one visit; the team builder handles those visit by visit.

Contract (plain data in, plain data out; no store, no clock, no tickets):
- `cells` frame: cell (str, unique), pool (str), size (int ≥ 0), risk (int; smaller is riskier: the policy's
  declared order, e.g. credit class D < C < B < A < none, then sector grade).
- `cell_items` frame: cell, item (str), stratum (str | null: null when the cell is only mandatory for the item),
  ratio (str | null, the asked ratio, e.g. "5%"), mandatory (bool). One row per (cell, item).
- `items`: `FitItem` per item code (general or key, population, floor, qualification needs).
- `inspectors` frame: id (str), pool (str), capacity (int ≥ 0, for the period), qualifications (list[str]);
  certified inspectors only (experts never count toward a team).
- `frequency` frame (optional): cell, domain (str), per_period (float ≥ 0: visits per subject in the period; a
  fraction is a share of the cell), risk (int; smaller is riskier); `frequency_rules` name per domain the items
  that cover its full check points and the needs of a frequency visit.
- `cells_of(subjects, item_codes)` builds `cells` and `cell_items` (and the uscc → cell membership) from one
  row per subject with per-item stratum, ratio and mandatory columns.
- Inside a cell, mandatory work that cannot all be staffed covers the cell's subjects in ticket order too (the
  smallest tickets first), so the visited subjects stay nested with the draws and the demand stays as counted.
- `fit(...)` returns `Fit`: λ, κ per item, the `cells` frame of quotas (per cell and item: ratio asked, fitted,
  floor quota, quota, mandatory visits covered), `items` totals, `frequency` (needed/covered extra visits), one
  `Layer` per layer (demand, covered, shortfall in visits and a `left_out` frame riskiest first) and `pools`
  (demand against capacity per constraint at the chosen λ).
"""

from __future__ import annotations

import hashlib
import heapq
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl

from engine.plan.policy import show_ratio
from engine.sampling import parse_ratio, quota
from entities.errors import InputError

LAYERS = ("mandatory", "floors", "frequency", "ratios")
ALL = "*"  # the constraint on all slots of a pool

CELLS_SCHEMA = {"cell": pl.String, "pool": pl.String, "size": pl.Int64, "risk": pl.Int64}
CELL_ITEMS_SCHEMA = {
    "cell": pl.String,
    "item": pl.String,
    "stratum": pl.String,
    "ratio": pl.String,
    "mandatory": pl.Boolean,
}
INSPECTORS_SCHEMA = {
    "id": pl.String,
    "pool": pl.String,
    "capacity": pl.Int64,
    "qualifications": pl.List(pl.String),
}
FREQUENCY_SCHEMA = {"cell": pl.String, "domain": pl.String, "per_period": pl.Float64, "risk": pl.Int64}


@dataclass(frozen=True)
class FitItem:
    """One check item as the fitting sees it: 一般 or 重点, its population, its legal floor, its team needs."""

    code: str
    general: bool  # 一般检查事项: the cap applies to its total
    population: int  # subjects matching its target in the jurisdiction, before exclusions (floor and cap base)
    floor: Fraction = Fraction(0)  # legal floor share of the population, e.g. 3/100 for DJ-GS-01
    needs: Mapping[str, int] = field(default_factory=dict)  # qualification → members who must hold it


@dataclass(frozen=True)
class FrequencyRule:
    """A domain's frequency work: which items' visits cover its full check points, and what a visit needs."""

    domain: str
    covering_items: tuple[str, ...]
    needs: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Layer:
    """One layer's outcome in visits, and who is left out (riskiest first)."""

    name: str  # mandatory | floors | frequency | ratios
    demand: int
    covered: int
    left_out: pl.DataFrame  # pool, cell, risk, what (item or domain), visits

    @property
    def shortfall(self) -> int:
        return self.demand - self.covered


@dataclass(frozen=True)
class Fit:
    """The fitted quotas and the layers' coverage: decided before the draw, reproducible from public figures."""

    lam: Mapping[str, Fraction]  # the public λ per pool (one pool when teams are not per county): every item's least
    item_lam: Mapping[str, Mapping[str, Fraction]]  # pool → item → its λ (progressive filling; above lam if it rose on)
    grid: int
    kappa: Mapping[str, Fraction]  # per item
    # cell, pool, item, stratum, size, stratum_size, stratum_quota, ratio_asked, ratio_fitted (λ·κ·r), floor_quota,
    # floor_cut, quota, mandatory, mandatory_covered. stratum_quota == sampling.quota(ratio_fitted, stratum_size);
    # quota == max(0 if floor_cut else floor_quota, the cell's SeatOrder share of stratum_quota) — 0 in a pool
    # whose floors were cut (λ = 0 there and its cells keep what earlier layers gave them).
    cells: pl.DataFrame
    items: (
        pl.DataFrame
    )  # item, population, eligible, floor_required, floor_quota, cap_quota, kappa, quota, cap_conflict
    frequency: pl.DataFrame  # cell, domain, risk, needed, covered
    layers: tuple[Layer, ...]
    pools: pl.DataFrame  # pool, constraint, demand, capacity

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def quotas(self) -> dict[str, int]:
        """Quota per published stratum "<cell>|<item>", the form `sampling.draw_frame` takes."""
        return {f"{c}|{i}": q for c, i, q in self.cells.select("cell", "item", "quota").iter_rows()}


class SeatOrder:
    """The public order in which a stratum's quota is shared out over its cells (Sainte-Laguë, one seat at a time).

    Seat k goes to the cell with the highest n / (2a + 1) among cells not yet full (n its size, a its seats so
    far), ties to the smaller cell id. Given one seat at a time, a larger quota never takes a seat from any cell
    (no Alabama paradox), which keeps demand non-decreasing in λ; and the shares stay proportional to the sizes,
    with no "at least 1 per cell" inflation when a stratum is split into many small cells.
    """

    def __init__(self, sizes: Mapping[str, int]) -> None:
        self.sizes = {c: n for c, n in sorted(sizes.items()) if n > 0}
        self.order: list[str] = []
        # The seats are ordered with float keys and exact ties checked (`_exact_ties`), at any cell size; True
        # takes the reference path instead, one seat at a time on exact fractions (the tests compare the two).
        self.exact = False
        self._given: dict[str, int] = dict.fromkeys(self.sizes, 0)
        self._heap: list[tuple[Fraction, str]] = [(-Fraction(n, 1), c) for c, n in self.sizes.items()]
        heapq.heapify(self._heap)
        self._positions: dict[str, Any] = {c: [] for c in self.sizes}  # lists (exact path) or numpy arrays
        self._seat_cells: np.ndarray = np.zeros(0, dtype=np.int64)  # fast path: each seat's cell, by position

    def _extend(self, seats: int) -> None:
        if len(self.order) >= seats or not self.sizes:
            return
        if self.exact:
            self._extend_exact(seats)
        else:
            self._extend_fast(seats)

    def _extend_exact(self, seats: int) -> None:
        heap, given, sizes, order = self._heap, self._given, self.sizes, self.order
        positions: dict[str, list[int]] = {c: list(p) for c, p in self._positions.items()}
        while len(order) < seats and heap:
            _, c = heapq.heappop(heap)
            positions[c].append(len(order))
            order.append(c)
            a = given[c] = given[c] + 1
            if a < sizes[c]:
                heapq.heappush(heap, (-Fraction(sizes[c], 2 * a + 1), c))
        self._positions = dict(positions)

    def _extend_fast(self, seats: int) -> None:
        """The first `seats` seats at once: every cell's leading priorities, sorted (float keys, exact here)."""
        names = list(self.sizes)
        n = np.array([self.sizes[c] for c in names], dtype=np.int64)
        total = int(n.sum())
        q = min(seats, total)
        # Each cell's share is close to n·q/N; generate a few more priorities than that, and widen any cell whose
        # next, ungenerated priority could still reach the q-th seat (the check makes the shortcut exact).
        bound = np.minimum(n, (n * q + total - 1) // total + 2)
        while True:
            idx = np.repeat(np.arange(n.size), bound)
            a = np.arange(idx.size) - np.repeat(np.cumsum(bound) - bound, bound)
            priority = n[idx] / (2 * a + 1)
            ranked = np.lexsort((idx, -priority))
            if ranked.size < q:
                bound = np.minimum(n, bound * 2 + 1)
                continue
            # Widen on >= the q-th seat's float: a priority exactly above it is never a smaller float (rounding is
            # monotone), so no seat that belongs in the first q is left ungenerated.
            last = priority[ranked[q - 1]]
            widen = (bound < n) & (n / (2 * bound + 1) >= last)
            if not widen.any():
                break
            bound = np.where(widen, np.minimum(n, bound * 2 + 1), bound)
        members = idx[_exact_ties(ranked, priority, n[idx], 2 * a + 1, idx)[:q]]
        self._seat_cells = members
        self.order = [names[i] for i in members.tolist()]
        grouped = np.argsort(members, kind="stable")
        cuts = np.cumsum(np.bincount(members, minlength=n.size))[:-1]
        self._positions = {names[i]: part for i, part in enumerate(np.split(grouped, cuts))}

    def seats(self, cell: str, quota_: int) -> int:
        """The cell's share of a stratum quota."""
        if len(self.sizes) == 1:
            return min(quota_, self.sizes.get(cell, 0))  # a stratum of one cell: no order needed
        self._extend(quota_)
        positions = self._positions.get(cell, [])
        if isinstance(positions, np.ndarray):
            return int(np.searchsorted(positions, quota_, side="left"))
        return bisect_left(positions, quota_)

    def share(self, quota_: int) -> dict[str, int]:
        """Every cell's share of a stratum quota: `seats` for each cell, counted in one pass over the first seats
        (the fit asks for every cell of a stratum at once, a city's strata have thousands of cells)."""
        if len(self.sizes) <= 1:
            return {c: min(quota_, n) for c, n in self.sizes.items()}
        self._extend(quota_)
        if self.exact:
            counts = Counter(self.order[:quota_])
            return {c: counts.get(c, 0) for c in self.sizes}
        counted = np.bincount(self._seat_cells[:quota_], minlength=len(self.sizes)).tolist()
        return dict(zip(self.sizes, counted, strict=True))


class _Shares:
    """Every cell's `cell_quota` share (before its floor) at a factor λ·κ, a stratum at a time: the stratum's quota
    and its SeatOrder shares are computed once per (stratum, factor), not once per cell; the last few factors of
    each stratum are kept (the λ search tries one item's next step while the others stay where they are)."""

    KEEP = 4

    def __init__(
        self,
        sizes: Mapping[tuple[str, str], int],
        ratios: Mapping[tuple[str, str], Fraction],
        orders: Mapping[tuple[str, str], SeatOrder],
    ) -> None:
        self.sizes, self.ratios, self.orders = sizes, ratios, orders
        self._memo: dict[tuple[str, str], dict[Fraction, dict[str, int]]] = {}

    def of(self, key: tuple[str, str], factor: Fraction) -> dict[str, int]:
        kept = self._memo.setdefault(key, {})
        got = kept.get(factor)
        if got is None:
            if len(kept) >= self.KEEP:
                del kept[next(iter(kept))]
            got = kept[factor] = self.orders[key].share(quota(factor * self.ratios[key], self.sizes[key]))
        return got


def _exact_ties(
    ranked: np.ndarray, priority: np.ndarray, num: np.ndarray, den: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """`ranked` (positions sorted by float priority, highest first, then by cell index) in the exact order of
    num/den, highest first, then cell index.

    num and den are integers below 2⁵³, so each float priority is num/den correctly rounded, and rounding is
    monotone: two seats can only be out of order when their floats are equal. Equal floats of equal fractions are
    a true tie, already in cell order; equal floats of different fractions (a double's 2⁻⁵² cannot separate them)
    are sorted again on exact fractions. Integer cross products stay far below 2⁶³ for cells of a country."""
    p = priority[ranked]
    pairs = np.flatnonzero(p[1:] == p[:-1])  # positions i with the same float as i + 1
    if pairs.size == 0:
        return ranked
    x, y = ranked[pairs], ranked[pairs + 1]
    wrong = num[x] * den[y] != num[y] * den[x]
    if not wrong.any():
        return ranked
    out = ranked.copy()
    starts = np.flatnonzero(np.diff(np.concatenate(([0], (p[1:] == p[:-1]).astype(np.int8), [0]))) == 1)
    for start in starts.tolist():
        end = start + 1
        while end < p.size and p[end] == p[start]:
            end += 1
        group = out[start:end].tolist()
        if all(num[g] * den[group[0]] == num[group[0]] * den[g] for g in group):
            continue
        group.sort(key=lambda g: (-Fraction(int(num[g]), int(den[g])), int(idx[g])))
        out[start:end] = group
    return out


def cell_quota(
    stratum_size: int, ratio: Fraction, factor: Fraction, seats: SeatOrder, cell: str, floor_quota: int
) -> int:
    """A cell's draw for one item at λ·κ = factor: its share of the stratum's quota, never below its floor.

    The stratum quota is `sampling.quota(factor·ratio, stratum size)`, the same rule as an unfitted plan's; a third
    party recomputes every published cell from λ, κ, the asked ratio, the cell sizes and the floor. Non-decreasing
    in factor, ratio and floor_quota.
    """
    return max(floor_quota, seats.seats(cell, quota(factor * ratio, stratum_size)))


# ── demand ───────────────────────────────────────────────────────────────────────────────────────────────────


class _Pools:
    """Capacity per pool as Hall constraints over the qualifications any item or frequency visit needs."""

    def __init__(self, inspectors: pl.DataFrame, quals: Sequence[str]) -> None:
        self.quals = tuple(quals)
        self.index = {q: i for i, q in enumerate(self.quals)}
        # Every nonempty set of qualifications, as a tuple of indices; the empty set stands for ALL slots.
        self.subsets: list[tuple[int, ...]] = [()]
        for size in range(1, len(self.quals) + 1):
            self.subsets.extend(combinations(range(len(self.quals)), size))
        self.capacity: dict[str, list[int]] = {}
        by_pool: dict[str, list[tuple[int, frozenset[int]]]] = {}
        for _, pool, cap, held in inspectors.iter_rows():
            mask = frozenset(self.index[q] for q in held or () if q in self.index)
            by_pool.setdefault(pool, []).append((cap, mask))
        for pool, people in by_pool.items():
            caps = []
            for s in self.subsets:
                wanted = set(s)
                caps.append(sum(c for c, m in people if not wanted or m & wanted))
            self.capacity[pool] = caps
        self.used: dict[str, list[int]] = {}
        # loads() as one matrix product: row k sums the vector's entries constraint k covers (a city has 2^q
        # constraints and the λ search asks tens of thousands of times). Integers, exact like the sums they replace.
        self._matrix = np.zeros((len(self.subsets), 1 + len(self.quals)), dtype=np.int64)
        for k, s in enumerate(self.subsets):
            for i in s or (-1,):
                self._matrix[k, 1 + i] = 1

    def caps(self, pool: str) -> list[int]:
        return self.capacity.get(pool) or [0] * len(self.subsets)

    def loads(self, vec: Sequence[int]) -> list[int]:
        """Per constraint, the load a demand vector (slots, then one count per qualification) puts on it."""
        return (self._matrix @ np.asarray(vec, dtype=np.int64)).tolist()

    def fits(self, pool: str, vec: Sequence[int]) -> bool:
        used = self.used.get(pool) or [0] * len(self.subsets)
        return all(u + x <= c for u, x, c in zip(used, self.loads(vec), self.caps(pool), strict=True))

    def take(self, pool: str, vec: Sequence[int]) -> None:
        used = self.used.setdefault(pool, [0] * len(self.subsets))
        for k, x in enumerate(self.loads(vec)):
            used[k] += x

    def most(self, pool: str, per_visit: Sequence[int]) -> int:
        """How many identical visits still fit in the pool."""
        used = self.used.get(pool) or [0] * len(self.subsets)
        best: int | None = None
        for u, x, c in zip(used, self.loads(per_visit), self.caps(pool), strict=True):
            if x > 0:
                n = max(0, (c - u) // x)
                best = n if best is None else min(best, n)
        return best if best is not None else 0


def _visit_vector(needs: Mapping[int, int], team_size: int, width: int) -> list[int]:
    vec = [0] * width
    vec[0] = max(team_size, sum(needs.values()))
    for q, k in needs.items():
        vec[1 + q] = k
    return vec


def _cell_demand(entries: Sequence[tuple[int, Mapping[int, int]]], team_size: int, width: int) -> tuple[int, list[int]]:
    """Visits and demand vector of one cell whose items have these quotas (nested draws: rank k has the items
    whose quota is at least k)."""
    ordered = sorted((q for q in entries if q[0] > 0), key=lambda e: -e[0])
    total = [0] * width
    active: dict[int, int] = {}
    for j, (q, needs) in enumerate(ordered):
        for k, v in needs.items():
            active[k] = max(active.get(k, 0), v)
        below = ordered[j + 1][0] if j + 1 < len(ordered) else 0
        count = q - below
        if count:
            vec = _visit_vector(active, team_size, width)
            for i in range(width):
                total[i] += vec[i] * count
    return (ordered[0][0] if ordered else 0), total


def _minus(a: Sequence[int], b: Sequence[int]) -> list[int]:
    return [x - y for x, y in zip(a, b, strict=True)]


# ── inputs ───────────────────────────────────────────────────────────────────────────────────────────────────


def _frame(frame: pl.DataFrame | None, schema: Mapping[str, Any], what: str) -> pl.DataFrame:
    if frame is None:
        return pl.DataFrame(schema=schema)
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"{what} must be a polars DataFrame, not {type(frame).__name__}")
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: no column {missing[0]!r} (needs {', '.join(schema)})")
    try:
        return frame.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        raise InputError(f"{what}: a column has the wrong type ({str(exc).splitlines()[0]})") from None


@dataclass
class _Entry:
    item: str
    ratio: Fraction | None
    mandatory: bool
    needs: dict[int, int]
    floor_quota: int = 0
    mandatory_covered: int = 0
    floor_on: bool = False
    asked_quota: int = 0  # at λ = 1


@dataclass
class _Cell:
    cell: str
    pool: str
    size: int
    risk: int
    entries: list[_Entry]

    def quotas(self, draw: Mapping[str, int]) -> list[tuple[int, Mapping[int, int]]]:
        out: list[tuple[int, Mapping[int, int]]] = []
        for e in self.entries:
            out.append((max(e.mandatory_covered, draw.get(e.item, 0)), e.needs))
        return out


def cells_of(
    subjects: pl.DataFrame, item_codes: Sequence[str], split_by: Sequence[str] = ()
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Split subjects into cells of identical pattern: (cells, cell_items, membership uscc → cell) for `fit`; the
    membership's cell is an Enum of the cell ids, sorted.

    `subjects` has one row per eligible-or-mandatory subject: uscc, pool, risk, and per item code c the columns
    `stratum:c` (str, null when the subject is not in c's draw), `ratio:c` (the stratum's asked ratio, null
    likewise) and `mandatory:c` (bool). Subjects in neither the draw nor the mandatory work of any item are
    dropped. `split_by` names more columns that must be equal inside a cell (e.g. the per-domain frequencies,
    so that each cell has one frequency per domain for the `frequency` frame). A cell id is "<pool>/<12 hex of
    SHA-256 of the pattern>": stable whatever the row order, and the same pattern gets the same id in every plan,
    so a published cell can be looked up by a third party.
    """
    need = ["uscc", "pool", "risk", *split_by]
    need += [f"{k}:{c}" for c in item_codes for k in ("stratum", "ratio", "mandatory")]
    missing = [c for c in need if c not in subjects.columns]
    if missing:
        raise InputError(f"subjects for the fitting: no column {missing[0]!r}")
    parts: list[pl.Expr] = [pl.col("pool").cast(pl.String), pl.col("risk").cast(pl.String)]  # pool: Enum or String
    parts += [pl.concat_str([pl.lit(c), pl.col(c).cast(pl.String).fill_null("-")], separator="=") for c in split_by]
    for c in sorted(item_codes):
        parts.append(
            pl.concat_str(
                [
                    pl.lit(c),
                    pl.col(f"stratum:{c}").cast(pl.String).fill_null("-"),  # Enum or String
                    pl.col(f"ratio:{c}").cast(pl.String).fill_null("-"),
                    pl.when(pl.col(f"mandatory:{c}").fill_null(False)).then(pl.lit("M")).otherwise(pl.lit("-")),
                ],
                separator="=",
            )
        )
    active = pl.lit(False)
    for c in item_codes:
        active = active | pl.col(f"stratum:{c}").is_not_null() | pl.col(f"mandatory:{c}").fill_null(False)
    # The pattern text is built once per distinct row of the key columns, not per subject (a city has millions
    # of subjects and a few thousand patterns). One group_by gives each distinct row (in the order of its first
    # subject) with its subjects, so nothing is joined back on the ~40 key columns (that cost ~1 KB a subject).
    keys = need[1:]
    # Grouped on one integer per distinct key row (row_ids), not on the ~40 key columns: a group_by on those
    # row-encodes every subject's keys (~1 GB at guangzhou, 3.2 M subjects, the plan's peak); the groups, their
    # order of first appearance and their key values are the same.
    # The groups hold their subjects' row positions (4 bytes each), not their USCCs: the members' USCCs are
    # gathered once at the end (string views sharing the subjects' bytes), where exploding and sorting lists of
    # USCCs copied a province's 9.7 M strings twice (~0.7 GB at 10 M subjects, the plan's peak).
    picked = subjects.select(
        row_ids(subjects, keys).alias("_row"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("_at")
    )
    picked = picked.filter(subjects.select(active).to_series())
    groups = picked.group_by("_row", maintain_order=True).agg(pl.col("_at"))
    del picked
    groups = pl.concat(
        [groups.select("_at"), subjects.select(keys)[groups.get_column("_at").list.first()]], how="horizontal"
    ).select(*keys, "_at")
    groups = groups.with_columns(pl.concat_str(parts, separator="|").alias("_pattern"))
    patterns = groups.get_column("_pattern").unique().sort().to_list()
    ids = {p: f"{p.split('|', 1)[0]}/{hashlib.sha256(p.encode('utf-8')).hexdigest()[:12]}" for p in patterns}
    # The members' cell is an Enum of the cell ids in their sorted order (so it sorts, compares and reads as the
    # text): 2 bytes a subject instead of a 35-byte string, in a frame that lives to the plan's end (~330 MB at 10 M
    # subjects). The cells' own column is text.
    cell_type = pl.Enum(sorted(set(ids.values()))) if ids else pl.String()
    groups = groups.with_columns(
        pl.col("_pattern").replace_strict(ids, return_dtype=pl.String).cast(cell_type).alias("cell")
    )
    cells = (
        groups.group_by("cell", maintain_order=True)
        .agg(
            pl.col("pool").first().cast(pl.String),
            pl.col("_at").list.len().sum().cast(pl.Int64).alias("size"),
            pl.col("risk").first().cast(pl.Int64),
        )
        .sort("cell")
        .with_columns(pl.col("cell").cast(pl.String))
    )
    firsts = groups.unique("cell", keep="first", maintain_order=True).sort("cell")
    rows = []
    for row in firsts.iter_rows(named=True):
        for c in sorted(item_codes):
            stratum, ratio, mandatory = row[f"stratum:{c}"], row[f"ratio:{c}"], bool(row[f"mandatory:{c}"])
            if stratum is not None or mandatory:
                rows.append((row["cell"], c, stratum, ratio, mandatory))
    cell_items = pl.DataFrame(rows, schema=CELL_ITEMS_SCHEMA, orient="row")
    at = groups.select("_at", "cell").explode("_at").sort("_at")
    members = pl.DataFrame([subjects.get_column("uscc").gather(at.get_column("_at")), at.get_column("cell")])
    del at
    # Row order is USCC order when the subjects are sorted by it (the planner's frame is): sorted again otherwise.
    return cells, cell_items, members if members.get_column("uscc").is_sorted() else members.sort("uscc")


def row_ids(frame: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """One UInt64 per row, equal for two rows exactly when their values in `columns` are equal (nulls equal to
    nulls, not to any value): each column as a small code (Enum/Categorical: its physical id; Boolean: 0/1; others:
    dense rank), nulls one above its largest, folded in one at a time (numpy, in place) and re-ranked densely
    before the product could overflow. It holds a few integer arrays, where a group_by on the columns row-encodes all of them."""
    ids = np.zeros(frame.height, dtype=np.uint64)
    top = 1  # every id is < top
    for name in columns:
        col = frame.get_column(name)
        if isinstance(col.dtype, pl.Enum | pl.Categorical):
            code = col.to_physical()
        elif col.dtype == pl.Boolean:
            code = col.cast(pl.UInt8)
        else:
            code = col.rank("dense")
        high: Any = code.max()
        null = 0 if high is None else int(high) + 1  # above every value: nulls are one code of their own
        values = (code.fill_null(null) if code.null_count() else code).to_numpy()
        card = null + 1
        if top * card >= 2**63:
            ids = pl.Series(ids).rank("dense").cast(pl.UInt64).to_numpy() - np.uint64(1)
            top = int(ids.max(initial=0)) + 1
        ids *= np.uint64(card)
        ids += values
        top *= card
    return pl.Series("_row", ids, dtype=pl.UInt64)


def frequency_runs(size: int, per_period: Mapping[str, Fraction], have: Mapping[str, int]) -> list[tuple[int, int]]:
    """A cell's frequency visits beyond the visits already planned, subject by subject in ticket order.

    Subject p (0-based, smallest ticket first) is due t_d(p) = ⌊f_d⌋ + [p < ⌈frac(f_d)·size⌉] visits of domain d
    in the period (f_d visits per subject per period: the domain's total is ⌈f_d·size⌉, given to the smallest
    tickets), and already has one of them when p < have_d (its drawn or mandatory visit covers the domain). Its
    domains' visits are merged (one entry, several domains), so it needs E(p) = max_d (t_d(p) − [p < have_d])
    more visits. Returned as runs (subjects, E) in ticket order; the planner gives them in that order.
    """
    cuts = {0, size}
    for d, f in per_period.items():
        cuts.add(min(size, math.ceil((f - math.floor(f)) * size)))
        cuts.add(min(size, have.get(d, 0)))
    points = sorted(cuts)
    runs: list[tuple[int, int]] = []
    for lo, hi in zip(points, points[1:], strict=False):
        if hi <= lo:
            continue
        extra = 0
        for d, f in per_period.items():
            t = math.floor(f) + (1 if lo < math.ceil((f - math.floor(f)) * size) else 0)
            extra = max(extra, t - (1 if lo < have.get(d, 0) else 0))
        if runs and runs[-1][1] == extra:
            runs[-1] = (runs[-1][0] + hi - lo, extra)
        else:
            runs.append((hi - lo, extra))
    return runs


def fit(
    cells: pl.DataFrame,
    cell_items: pl.DataFrame,
    items: Sequence[FitItem],
    inspectors: pl.DataFrame,
    *,
    team_size: int,
    general_cap: Fraction | str | None,
    frequency: pl.DataFrame | None = None,
    frequency_rules: Sequence[FrequencyRule] = (),
    item_seeds: str = "shared",
    grid: int = 1000,
) -> Fit:
    """Fit the period's quotas to capacity, layer by layer (see the module docstring for the contract)."""
    if item_seeds != "shared":
        raise InputError(
            "a fitted plan draws every item with one seed (item_seeds: shared): with per-item seeds the visits a "
            "cell needs are not known before the draw"
        )
    if isinstance(team_size, bool) or not isinstance(team_size, int) or team_size < 1:
        raise InputError(f"team size must be a whole number of at least 1, not {team_size!r}")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise InputError(f"the λ grid needs at least 1 step, not {grid!r}")
    cap = None if general_cap is None else parse_ratio(general_cap)
    cells = _frame(cells, CELLS_SCHEMA, "cells").sort("cell")
    cell_items = _frame(cell_items, CELL_ITEMS_SCHEMA, "cell items").sort("cell", "item")
    inspectors = _frame(inspectors, INSPECTORS_SCHEMA, "inspectors").sort("id")
    frequency = _frame(frequency, FREQUENCY_SCHEMA, "frequency").sort("cell", "domain")
    by_code: dict[str, FitItem] = {}
    for it in items:
        if it.code in by_code:
            raise InputError(f"fit: item {it.code} is given twice")
        if not 0 <= it.floor <= 1:
            raise InputError(f"item {it.code}: floor {it.floor} is outside 0..1")
        for q, k in it.needs.items():
            if k < 1:
                raise InputError(f"item {it.code}: needs {k} holders of {q}; give at least 1")
        by_code[it.code] = it
    rules = {r.domain: r for r in frequency_rules}
    if cells["cell"].is_duplicated().any():
        raise InputError(f"cells: cell {cells.filter(pl.col('cell').is_duplicated())['cell'][0]!r} is given twice")
    if (cells["size"] < 0).any():
        raise InputError("cells: a size is negative")
    if (inspectors["capacity"] < 0).any():
        raise InputError("inspectors: a capacity is negative")
    if cell_items.select("cell", "item").is_duplicated().any():
        raise InputError("cell items: a (cell, item) pair is given twice")
    unknown = sorted(set(cell_items["item"]) - set(by_code))
    if unknown:
        raise InputError(f"cell items: item {unknown[0]!r} has no FitItem")
    stray = sorted(set(cell_items["cell"]) - set(cells["cell"]))
    if stray:
        raise InputError(f"cell items: cell {stray[0]!r} is not among the cells")
    unknown_domains = sorted(set(frequency["domain"]) - set(rules))
    if unknown_domains:
        raise InputError(f"frequency: domain {unknown_domains[0]!r} has no FrequencyRule")

    quals = sorted({q for it in by_code.values() for q in it.needs} | {q for r in rules.values() for q in r.needs})
    pools = _Pools(inspectors, quals)
    width = 1 + len(quals)

    def needs_of(raw: Mapping[str, int]) -> dict[int, int]:
        return {pools.index[q]: k for q, k in raw.items()}

    # ── cells, floors and κ (public figures only) ─────────────────────────────────────────────────────────
    rows_by_cell: dict[str, list[tuple[str, str | None, str | None, bool]]] = {}
    for c, i, s, r, m in cell_items.iter_rows():
        rows_by_cell.setdefault(c, []).append((i, s, r, bool(m)))
    the_cells: list[_Cell] = []
    eligible: dict[str, int] = {code: 0 for code in by_code}
    for c, pool, size, risk in cells.iter_rows():
        entries = []
        for i, s, r, m in rows_by_cell.get(c, []):
            if (s is None) != (r is None):
                raise InputError(f"cell items: {c}/{i} needs both a stratum and a ratio, or neither")
            ratio = None if r is None else parse_ratio(r)
            if ratio is None and not m:
                raise InputError(f"cell items: {c}/{i} is neither drawn (no ratio) nor mandatory")
            entries.append(_Entry(i, ratio, m, needs_of(by_code[i].needs)))
            if ratio is not None:
                eligible[i] += size
        the_cells.append(_Cell(c, pool, size, risk, entries))
    # Floors: the item's ⌈φ·N⌉ (不少于: at least, so rounded up) shared over its cells in proportion to their
    # sizes by largest remainders (ties to the riskier, then smaller cell id). Rounding up per cell instead would
    # inflate a floor split over many small cells far beyond the law's figure (and past the 一般-item cap).
    by_name_all = {c.cell: c for c in the_cells}
    floor_total: dict[str, int] = {}
    for code, it in by_code.items():
        floor_total[code] = min(eligible[code], math.ceil(it.floor * it.population))
        holders = [(c, e) for c in the_cells for e in c.entries if e.item == code and e.ratio is not None and c.size]
        if not floor_total[code] or not holders:
            continue
        exact = {c.cell: Fraction(floor_total[code] * c.size, eligible[code]) for c, _ in holders}
        for c, e in holders:
            e.floor_quota = math.floor(exact[c.cell])
        left_over = floor_total[code] - sum(e.floor_quota for _, e in holders)
        ranked = sorted(holders, key=lambda ce: (-(exact[ce[0].cell] - ce[1].floor_quota), ce[0].risk, ce[0].cell))
        for _, e in ranked[:left_over]:
            e.floor_quota += 1

    # Strata of each item (the caller's stratum names): one asked ratio each, shared over their cells.
    strata: dict[tuple[str, str], dict[str, int]] = {}
    stratum_ratio: dict[tuple[str, str], Fraction] = {}
    stratum_of: dict[tuple[str, str], tuple[str, str]] = {}  # (cell, item) → (item, stratum)
    for c, i, st_name, _, _ in cell_items.iter_rows():
        if st_name is None:
            continue
        cell = by_name_all[c]
        entry = next(e for e in cell.entries if e.item == i)
        key = (i, st_name)
        assert entry.ratio is not None
        if stratum_ratio.setdefault(key, entry.ratio) != entry.ratio:
            raise InputError(f"cell items: stratum {st_name} of item {i} has two asked ratios; give it one")
        strata.setdefault(key, {})[c] = cell.size
        stratum_of[(c, i)] = key
    seat_orders = {key: SeatOrder(sizes) for key, sizes in strata.items()}
    stratum_size = {key: sum(sizes.values()) for key, sizes in strata.items()}

    shares = _Shares(stratum_size, stratum_ratio, seat_orders)
    # Per cell its drawn entries with their strata, so a cell's quotas are read from the strata's shares.
    drawn_of = {
        c.cell: [(e, stratum_of[(c.cell, e.item)]) for e in c.entries if e.ratio is not None] for c in the_cells
    }

    def draw_quota(cell: _Cell, e: _Entry, factor: Fraction, with_floor: bool = True) -> int:
        # cell_quota's figure, with the stratum's quota and seat shares computed once for all its cells.
        assert e.ratio is not None
        share = shares.of(stratum_of[(cell.cell, e.item)], factor).get(cell.cell, 0)
        return max(e.floor_quota, share) if with_floor else share

    kappa: dict[str, Fraction] = {}
    cap_quota: dict[str, int | None] = {}
    cap_conflict: dict[str, bool] = {}
    drawn_entries = {
        code: [(c, e) for c in the_cells for e in c.entries if e.item == code and e.ratio is not None]
        for code in by_code
    }
    for code, it in by_code.items():
        kappa[code], cap_quota[code], cap_conflict[code] = Fraction(1), None, False
        if not (it.general and cap is not None):
            continue
        limit = math.floor(cap * it.population)
        # Floors count toward the cap; a floor above it wins (law over a [secondary] local figure).
        cap_quota[code] = limit

        def total(k: int, code: str = code) -> int:
            factor = Fraction(k, grid)
            return sum(draw_quota(c, e, factor) for c, e in drawn_entries[code])

        if total(grid) <= limit:
            continue
        lo, hi = 0, grid  # total(lo) ≤ limit < total(hi), unless even the floors exceed it
        if total(0) > limit:
            kappa[code], cap_conflict[code] = Fraction(0), True
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if total(mid) <= limit else (lo, mid)
        kappa[code] = Fraction(lo, grid)
    for cell in the_cells:
        for e in cell.entries:
            if e.ratio is not None:
                e.asked_quota = draw_quota(cell, e, kappa[e.item])

    risk_order = sorted(the_cells, key=lambda c: (c.risk, c.cell))
    layers: list[Layer] = []
    draws: dict[str, dict[str, int]] = {c.cell: {} for c in the_cells}
    state: dict[str, list[int]] = {c.cell: [0] * width for c in the_cells}
    visits: dict[str, int] = {c.cell: 0 for c in the_cells}

    def left_frame(rows: list[tuple[str, str, int, str, int]]) -> pl.DataFrame:
        return pl.DataFrame(
            rows,
            schema={
                "pool": pl.String,
                "cell": pl.String,
                "risk": pl.Int64,
                "what": pl.String,
                "visits": pl.Int64,
            },
            orient="row",
        ).sort("risk", "cell", "what")

    # ── 1. mandatory work ─────────────────────────────────────────────────────────────────────────────────
    demand = covered = 0
    left: list[tuple[str, str, int, str, int]] = []
    short_pools: set[str] = set()
    for cell in risk_order:
        mand = [e for e in cell.entries if e.mandatory]
        if not mand or cell.size == 0:
            continue
        demand += cell.size
        per_visit: dict[int, int] = {}
        for e in mand:
            for qi, k in e.needs.items():
                per_visit[qi] = max(per_visit.get(qi, 0), k)
        vec = _visit_vector(per_visit, team_size, width)
        m = min(cell.size, pools.most(cell.pool, vec))
        if m < cell.size:
            short_pools.add(cell.pool)
            left.append((cell.pool, cell.cell, cell.risk, ",".join(e.item for e in mand), cell.size - m))
        if m:
            for e in mand:
                e.mandatory_covered = m
            visits[cell.cell], state[cell.cell] = _cell_demand(cell.quotas({}), team_size, width)
            pools.take(cell.pool, state[cell.cell])
            covered += m
    layers.append(Layer("mandatory", demand, covered, left_frame(left)))

    # ── 2. random draws at their legal floors ─────────────────────────────────────────────────────────────
    demand = covered = 0
    left, short_pools = [], set()
    for cell in risk_order:
        floors = {e.item: e.floor_quota for e in cell.entries if e.floor_quota > 0}
        if not floors:
            continue
        v, vec = _cell_demand(cell.quotas(floors), team_size, width)
        extra_visits = v - visits[cell.cell]
        demand += extra_visits
        inc = _minus(vec, state[cell.cell])
        if not pools.fits(cell.pool, inc):
            short_pools.add(cell.pool)
            for item, fq in sorted(floors.items()):
                left.append((cell.pool, cell.cell, cell.risk, item, fq))
            continue
        pools.take(cell.pool, inc)
        draws[cell.cell] = dict(floors)
        for e in cell.entries:
            e.floor_on = e.item in floors
        visits[cell.cell], state[cell.cell] = v, vec
        covered += extra_visits
    layers.append(Layer("floors", demand, covered, left_frame(left)))

    # ── 3. frequency work by risk order ───────────────────────────────────────────────────────────────────
    by_name = {c.cell: c for c in the_cells}
    demand = covered = 0
    left, short_pools = [], set()
    freq_rows: list[tuple[str, str, int, int, int]] = []
    freq_vec = {c.cell: [0] * width for c in the_cells}
    # One row per cell: a subject's frequency visits for several domains are merged (进一次门), so the cell needs,
    # per subject, the most any of its domains asks (frequency_runs); riskiest domain first decides its place.
    per_cell: dict[str, list[tuple[str, Fraction, int]]] = {}
    for cid, domain, per_period, risk in frequency.iter_rows():
        if cid not in by_name:
            raise InputError(f"frequency: cell {cid!r} is not among the cells")
        if per_period is None or not math.isfinite(per_period) or per_period < 0:
            raise InputError(f"frequency: {cid}/{domain}: visits per period must be a number ≥ 0, not {per_period!r}")
        if per_period > 0:
            per_cell.setdefault(cid, []).append((domain, Fraction(str(per_period)), risk))
    order = sorted(per_cell.items(), key=lambda kv: (min(r for _, _, r in kv[1]), kv[0]))
    for cid, rows in order:
        cell = by_name[cid]
        risk = min(r for _, _, r in rows)
        domains = sorted(d for d, _, _ in rows)
        # Subjects already visited by a covering item of each domain: the nested draws and mandatory work.
        have = {
            d: max(
                [
                    max(e.mandatory_covered, draws[cid].get(e.item, 0))
                    for e in cell.entries
                    if e.item in rules[d].covering_items
                ],
                default=0,
            )
            for d in domains
        }
        runs = frequency_runs(cell.size, {d: pp for d, pp, _ in rows}, have)
        needed = sum(n * extra for n, extra in runs)
        label = "+".join(domains)
        if needed == 0:
            freq_rows.append((cid, label, risk, 0, 0))
            continue
        demand += needed
        union: dict[str, int] = {}
        for d in domains:
            for q, k in rules[d].needs.items():
                union[q] = max(union.get(q, 0), k)
        vec = _visit_vector(needs_of(union), team_size, width)
        got = min(needed, pools.most(cell.pool, vec))
        if got < needed:
            short_pools.add(cell.pool)
            left.append((cell.pool, cid, risk, label, needed - got))
        if got:
            add = [x * got for x in vec]
            pools.take(cell.pool, add)
            freq_vec[cid] = [a + b for a, b in zip(freq_vec[cid], add, strict=True)]
        covered += got
        freq_rows.append((cid, label, risk, needed, got))
    layers.append(Layer("frequency", demand, covered, left_frame(left)))

    # ── 4. random draws up to the asked ratios, one λ for all ─────────────────────────────────────────────
    # Frequency visits stay counted at their layer-3 size: more draws could only lower them (conservative).
    # One λ per pool (a county bureau's plan, or the whole jurisdiction's when teams are not per county), each
    # searched on the capacity the earlier layers left it.
    by_pool: dict[str, list[_Cell]] = {}
    for c in the_cells:
        by_pool.setdefault(c.pool, []).append(c)
    lam: dict[str, Fraction] = {}
    item_lam: dict[str, dict[str, Fraction]] = {}
    best: dict[str, tuple[dict[str, int], int, list[int]]] = {}
    last_demand: dict[str, tuple[tuple[int, ...], int, list[int]]] = {}  # cell → its last quotas, visits, demand
    for pool, members in sorted(by_pool.items()):
        keys = sorted({k for c in members for _, k in drawn_of[c.cell]})

        def at(
            levels: Mapping[str, int], members: list[_Cell] = members, keys: list[tuple[str, str]] = keys
        ) -> dict[str, tuple[dict[str, int], int, list[int]]]:
            out = {}
            factor = {i: Fraction(k, grid) * kappa[i] for i, k in levels.items()}
            share = {k: shares.of(k, factor[k[0]]) for k in keys}  # draw_quota's shares, one lookup a stratum
            for c in members:
                q = {
                    e.item: max(e.floor_quota if e.floor_on else 0, share[k].get(c.cell, 0))
                    for e, k in drawn_of[c.cell]
                }
                # A small cell's quotas often stay put between two steps of the search: keep its last demand.
                seen = last_demand.get(c.cell)
                quotas_ = tuple(q.values())
                if seen is not None and seen[0] == quotas_:
                    v, vec = seen[1], seen[2]
                else:
                    v, vec = _cell_demand(c.quotas(q), team_size, width)
                    last_demand[c.cell] = (quotas_, v, vec)
                out[c.cell] = (q, v, vec)
            return out

        def extra_of(
            result: Mapping[str, tuple[dict[str, int], int, list[int]]], members: Sequence[_Cell] = members
        ) -> list[int]:
            """The demand these cells add over what the earlier layers gave them."""
            extra = [0] * width
            for c in members:
                inc = _minus(result[c.cell][2], state[c.cell])
                for i in range(width):
                    extra[i] += inc[i]
            return extra

        def feasible(result: Mapping[str, tuple[dict[str, int], int, list[int]]], pool: str = pool) -> bool:
            return pools.fits(pool, extra_of(result))

        def stuck_items(
            level: dict[str, int], lo: int, active: set[str], pool: str = pool, members: list[_Cell] = members
        ) -> set[str]:
            """The active items whose next step (lo + 1, the others staying at `level`) cannot be staffed.
            One step of one item changes only the cells that draw it: the pool's demand is the demand at `level`
            with those cells' part replaced (the same sums as `feasible(at(...))` over every cell)."""
            base = at(level)
            base_extra = extra_of(base)
            out = set()
            for i in sorted(active):
                mine = [c for c in members if any(e.item == i for e, _ in drawn_of[c.cell])]
                trial = at({**level, i: lo + 1}, mine)
                extra = [
                    t + x - y for t, x, y in zip(base_extra, extra_of(trial, mine), extra_of(base, mine), strict=True)
                ]
                if not pools.fits(pool, extra):
                    out.add(i)
            return out

        # Progressive filling on the public grid: every item's λ rises together; an item whose next step cannot
        # be staffed (its qualification's capacity is used up) stops there and the others go on rising, so one
        # scarce qualification does not hold every other item's draw at 0. With nothing scarce, one λ for all.
        names = sorted({e.item for c in members for e in c.entries if e.ratio is not None})
        level = {i: 0 for i in names}  # at level 0 each cell has what the earlier layers gave it: it fits
        active = set(names)
        floor_k = 0
        while active:

            def lifted(
                k: int, active: set[str] = active, level: dict[str, int] = level, names: list[str] = names
            ) -> dict[str, int]:
                return {i: (k if i in active else level[i]) for i in names}

            if feasible(at(lifted(grid))):
                level = lifted(grid)
                break
            lo, hi = floor_k, grid
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if feasible(at(lifted(mid))) else (lo, mid)
            level = lifted(lo)
            stuck = stuck_items(level, lo, active)
            active -= stuck or set(active)
            floor_k = lo
        # The pool's λ is the level every item reached; items whose capacity let them rise further are listed.
        lam[pool] = Fraction(min(level.values(), default=0), grid)
        item_lam[pool] = {i: Fraction(k, grid) for i, k in level.items()}
        best.update(at(level))
    demand = covered = 0
    left = []
    for c in the_cells:
        asked = {e.item: e.asked_quota for e in c.entries if e.ratio is not None}
        v_top = _cell_demand(c.quotas(asked), team_size, width)[0]
        if c.cell in best:
            draws[c.cell], v, state[c.cell] = best[c.cell]
        else:
            v = visits[c.cell]
        demand += v_top - visits[c.cell]
        covered += v - visits[c.cell]
        visits[c.cell] = v
        for e in c.entries:
            got = draws[c.cell].get(e.item, 0)
            if e.ratio is not None and e.asked_quota > got:
                left.append((c.pool, c.cell, c.risk, e.item, e.asked_quota - got))
    # "left out" for this layer: the draws the asked ratios want beyond what was fitted (per cell and item).
    layers.append(Layer("ratios", demand, covered, left_frame(left)))

    # ── results ───────────────────────────────────────────────────────────────────────────────────────────
    pools.used = {}
    for c in the_cells:
        pools.take(c.pool, [a + b for a, b in zip(state[c.cell], freq_vec[c.cell], strict=True)])
    pool_rows = []
    names = [ALL] + ["+".join(pools.quals[i] for i in s) for s in pools.subsets[1:]]
    for pool in sorted(set(pools.used) | set(pools.capacity)):
        used = pools.used.get(pool) or [0] * len(pools.subsets)
        for name, u, capv in zip(names, used, pools.caps(pool), strict=True):
            if name == ALL or u:
                pool_rows.append((pool, name, u, capv))
    cell_rows = []
    for c in the_cells:
        for e in c.entries:
            drawn_quota = draws[c.cell].get(e.item, 0) if e.ratio is not None else 0
            asked_text: str | None = None
            fitted: str | None = None
            if e.ratio is not None:
                asked_text = show_ratio(e.ratio)
                fitted = show_ratio(item_lam[c.pool].get(e.item, Fraction(0)) * kappa[e.item] * e.ratio)
            key_s = stratum_of.get((c.cell, e.item))
            s_size: int | None = None
            s_quota: int | None = None
            if key_s is not None and e.ratio is not None:
                s_size = stratum_size[key_s]
                s_quota = quota(item_lam[c.pool].get(e.item, Fraction(0)) * kappa[e.item] * e.ratio, s_size)
            cell_rows.append(
                (
                    c.cell,
                    c.pool,
                    e.item,
                    key_s[1] if key_s else None,
                    c.size,
                    s_size,
                    s_quota,
                    asked_text,
                    fitted,
                    e.floor_quota,
                    e.floor_quota > 0 and not e.floor_on,
                    drawn_quota,
                    e.mandatory,
                    e.mandatory_covered,
                )
            )
    cells_out = pl.DataFrame(
        cell_rows,
        schema={
            "cell": pl.String,
            "pool": pl.String,
            "item": pl.String,
            "stratum": pl.String,
            "size": pl.Int64,
            "stratum_size": pl.Int64,
            "stratum_quota": pl.Int64,
            "ratio_asked": pl.String,
            "ratio_fitted": pl.String,
            "floor_quota": pl.Int64,
            "floor_cut": pl.Boolean,
            "quota": pl.Int64,
            "mandatory": pl.Boolean,
            "mandatory_covered": pl.Int64,
        },
        orient="row",
    )
    item_rows = []
    for code, it in by_code.items():
        mine = cells_out.filter(pl.col("item") == code)
        item_rows.append(
            (
                code,
                it.population,
                eligible[code],
                math.ceil(it.floor * it.population),
                int(mine["floor_quota"].sum()),
                cap_quota[code],
                show_ratio(kappa[code]),
                int(mine["quota"].sum()),
                cap_conflict[code],
            )
        )
    items_out = pl.DataFrame(
        item_rows,
        schema={
            "item": pl.String,
            "population": pl.Int64,
            "eligible": pl.Int64,
            "floor_required": pl.Int64,
            "floor_quota": pl.Int64,
            "cap_quota": pl.Int64,
            "kappa": pl.String,
            "quota": pl.Int64,
            "cap_conflict": pl.Boolean,
        },
        orient="row",
    )
    freq_out = pl.DataFrame(
        freq_rows,
        schema={
            "cell": pl.String,
            "domain": pl.String,
            "risk": pl.Int64,
            "needed": pl.Int64,
            "covered": pl.Int64,
        },
        orient="row",
    ).sort("cell", "domain")
    return Fit(
        lam=lam,
        item_lam=item_lam,
        grid=grid,
        kappa=kappa,
        cells=cells_out,
        items=items_out,
        frequency=freq_out,
        layers=tuple(layers),
        pools=pl.DataFrame(
            pool_rows,
            schema={"pool": pl.String, "constraint": pl.String, "demand": pl.Int64, "capacity": pl.Int64},
            orient="row",
        ),
    )
