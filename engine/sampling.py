"""Draw the random check list: each subject's ticket (抽签号) from the public seed, smallest tickets drawn per stratum.

The ticket scheme is Rivest's consistent sampling (arXiv 1808.10016) exactly as the public PyPI package
`consistent-sampler==1.0.10` computes a first-generation ticket, so an auditor can reproduce any ticket and any
draw with that package (`first_ticket(id, seed)`, or `sampler(ids, seed, take=quota)` per stratum):

    seed_hash     = lowercase hex SHA-256 of UTF-8(seed)                       (64 ASCII characters)
    n             = SHA-256 of UTF-8(seed_hash + subject_id), read as a big-endian unsigned integer
    digits        = decimal digits of n, left-padded with zeros to at least 64   (64..78 digits)
    ticket number = "0." + digits reversed

The digits are reversed because the high-order decimal digits of a 256-bit integer are biased (n < 1.16·10^77)
while the low-order ones are uniform. Tickets compare as the package's do: as the tuple (ticket number string,
id, generation), strings compared character by character. Two ids share a ticket number only through a SHA-256
collision; were they to, the smaller id would come first.

This module never imports the package at run time: it is a development dependency that the tests compare
against. Everything here is pure: no I/O, no clock; the seed is an argument.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from entities.errors import InputError

# Recorded with every draw so a ledger entry names the exact public reference that reproduces it.
TICKET_SCHEME = "consistent-sampler==1.0.10 first_ticket"

_SHOW = 60  # how much of a bad value an error message quotes


class Ticket(NamedTuple):
    """A subject's ticket (抽签号) for one seed; the smallest tickets in a stratum are drawn.

    Field names, order, repr and comparison are those of the package's `Ticket`, so
    `ticket(seed, id) == consistent_sampler.first_ticket(id, seed)` holds and sorting either gives one order.
    """

    ticket_number: str
    id: str
    generation: int = 1

    def short(self, digits: int = 9) -> str:
        """The ticket number as the package's `sampler` prints it: `digits` significant digits after any leading 9s.

        Truncated, not rounded. Only for display: comparisons always use the full number.
        """
        number = self.ticket_number
        # A number such as 0.9999999991... needs its run of 9s kept, or it would print as a smaller one.
        padded = number + "0"
        first_below_9 = next(i for i in range(2, len(padded)) if padded[i] != "9")
        return number[: first_below_9 + digits]


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOW else text[: _SHOW - 3] + "..."


def _check_seed(seed: object) -> bytes:
    """Return the seed's UTF-8 bytes, or raise InputError saying why it cannot be one."""
    if not isinstance(seed, str):
        raise InputError(f"seed must be text, not {type(seed).__name__}")
    if not seed:
        raise InputError("seed is empty: give the public seed (e.g. 20 dice digits)")
    try:
        return seed.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"seed {_show(seed)} is not valid Unicode text: {exc.reason}") from None


def _seed_state(seed: str) -> Any:
    """SHA-256 already fed with the seed's hash: every subject's hash continues from here."""
    seed_hash = hashlib.sha256(_check_seed(seed)).hexdigest()
    # The 64-character hex prefix is exactly one SHA-256 block, so copying this state saves half the work per id.
    return hashlib.sha256(seed_hash.encode("ascii"))


def _check_ids(ids: object) -> None:
    if isinstance(ids, str | bytes):
        raise InputError(f"give a list of subject ids, not the single value {_show(ids)}")


def _bad_id(subject_id: object, exc: Exception) -> InputError:
    if isinstance(subject_id, str):
        reason = exc.reason if isinstance(exc, UnicodeEncodeError) else str(exc)
        return InputError(f"subject id {_show(subject_id)} is not valid Unicode text: {reason}")
    return InputError(f"subject id {_show(subject_id)} must be text, not {type(subject_id).__name__}")


def ticket_numbers(seed: str, ids: Iterable[str]) -> list[str]:
    """The ticket number of each id, in the given order (the fast form for a column of ids)."""
    _check_ids(ids)
    state = _seed_state(seed)
    copy = state.copy
    from_bytes = int.from_bytes
    out: list[str] = []
    append = out.append
    subject_id: object = None
    try:
        for subject_id in ids:
            h = copy()
            h.update(subject_id.encode("utf-8"))
            append("0." + str(from_bytes(h.digest(), "big")).zfill(64)[::-1])
    except (AttributeError, UnicodeEncodeError) as exc:
        raise _bad_id(subject_id, exc) from None
    return out


def tickets(seed: str, ids: Iterable[str]) -> list[Ticket]:
    """Each id's ticket for this seed, in the given order (equal to the package's `first_ticket` for each)."""
    _check_ids(ids)
    ids = ids if isinstance(ids, Sequence) else list(ids)
    numbers = ticket_numbers(seed, ids)
    new = tuple.__new__
    return [new(Ticket, (number, subject_id, 1)) for number, subject_id in zip(numbers, ids, strict=True)]


def ticket(seed: str, subject_id: str) -> Ticket:
    """One subject's ticket for this seed: `consistent_sampler.first_ticket(subject_id, seed)`, computed here."""
    return tickets(seed, (subject_id,))[0]


KEY_DIGITS = 18  # digits of a ticket number a ticket key holds; 10^18 < 2^64
_KEY_MODULUS = 10**KEY_DIGITS
_REV3 = np.array([int(f"{i:03d}"[::-1]) for i in range(1000)], dtype=np.uint64)


def ticket_keys(seed: str, ids: Iterable[str]) -> np.ndarray:
    """A compact sort key per id (unsigned 64-bit): the first 18 digits of its ticket number, as an integer.

    A smaller key always means a smaller ticket; equal keys (expected N²/2·10^-18 pairs among N subjects,
    5·10^-6 for 3.3 M) leave the order to the full ticket, which `draw_frame` computes for exactly those.
    Compute the column once per plan and seed: every item's draw reuses it, at 8 bytes a subject instead of ~130.
    """
    _check_ids(ids)
    state = _seed_state(seed)
    copy = state.copy
    from_bytes = int.from_bytes
    modulus = _KEY_MODULUS
    low: list[int] = []
    append = low.append
    subject_id: object = None
    try:
        for subject_id in ids:
            h = copy()
            h.update(subject_id.encode("utf-8"))
            # A ticket's first digits are n's last digits reversed: keep the last 18, reverse them below.
            append(from_bytes(h.digest(), "big") % modulus)
    except (AttributeError, UnicodeEncodeError) as exc:
        raise _bad_id(subject_id, exc) from None
    rest = np.array(low, dtype=np.uint64)
    key = np.zeros_like(rest)
    thousand = np.uint64(1000)
    for _ in range(KEY_DIGITS // 3):
        rest, last3 = np.divmod(rest, thousand)
        key = key * thousand + _REV3[last3]
    return key


TicketKeys = Callable[[str, Sequence[str]], np.ndarray]
"""Something that computes `ticket_keys(seed, ids)`, in the ids' order: this module's function on one machine, or
engine.spark.plan's on a cluster. A planner takes one so the per-subject hashing can run elsewhere, same results."""


# ── quotas ─────────────────────────────────────────────────────────────────────────────────────────────────────


def parse_ratio(ratio: object) -> Fraction:
    """The ratio as an exact fraction; floats are read as the decimal Python prints for them (0.03 → 3/100)."""
    if isinstance(ratio, bool):
        raise InputError(f"sampling ratio must be a number, not {ratio!r}")
    value: Fraction
    try:
        if isinstance(ratio, Fraction | int):
            value = Fraction(ratio)
        elif isinstance(ratio, float):
            # Fraction(0.03) is 0.0299999999999999988897769753748…, which would round 3 % of 50 down to 1.
            if not math.isfinite(ratio):
                raise InputError(f"sampling ratio must be a finite number, not {ratio!r}")
            value = Fraction(Decimal(repr(ratio)))
        elif isinstance(ratio, Decimal | str):
            percent = False
            number = ratio
            if isinstance(ratio, str):
                text = ratio.strip()
                percent = text.endswith("%")
                number = Decimal(text[:-1].strip() if percent else text)
            assert isinstance(number, Decimal)
            if not number.is_finite():
                raise InputError(f"sampling ratio must be a finite number, not {_show(ratio)}")
            # Compare before converting: Fraction(Decimal("1e999999999")) would build an enormous integer.
            if not 0 <= number <= (100 if percent else 1):
                raise InputError(f"sampling ratio {_show(ratio)} is outside 0..1 (3 % is 0.03 or '3%')")
            if number and number.adjusted() < -30:
                raise InputError(f"sampling ratio {_show(ratio)} is too small to mean anything but 0")
            value = Fraction(number) / (100 if percent else 1) if number else Fraction(0)
        else:
            raise InputError(f"sampling ratio must be a number, not {type(ratio).__name__}")
    except InvalidOperation:
        raise InputError(f"sampling ratio {_show(ratio)} is not a number (write e.g. 0.03 or 3%)") from None
    if not 0 <= value <= 1:
        raise InputError(f"sampling ratio {_show(ratio)} is outside 0..1 (3 % is 0.03 or '3%')")
    return value


def _count(value: object, what: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be a whole number, not {_show(value)}")
    if value < 0:
        raise InputError(f"{what} must not be negative, got {value}")
    return value


def quota(ratio: object, size: int, minimum: int = 0, maximum: int | None = None) -> int:
    """How many subjects to draw from a stratum of `size` at `ratio` — the one rounding rule of every plan.

    1. exact = ratio × size, in exact decimal arithmetic: ratio may be a str ("0.03", "3%"), Decimal, Fraction,
       int, or float (read as the decimal Python prints for it, so 0.03 means exactly 3/100);
    2. round half up: 3 % of 50 = 1.5 → 2; 3 % of 49 = 1.47 → 1; 3 % of 17 = 0.51 → 1;
    3. a ratio above 0 on a non-empty stratum draws at least 1 (3 % of 10 = 0.3 → 1);
    4. clamp to [minimum, maximum], then to size (a minimum above the stratum size draws everyone).
    """
    exact = parse_ratio(ratio)
    n = _count(size, "stratum size")
    low = _count(minimum, "minimum quota")
    high = _count(maximum, "maximum quota", allow_none=True)
    assert n is not None and low is not None
    if high is not None and high < low:
        raise InputError(f"maximum quota {high} is below minimum quota {low}")
    q = math.floor(exact * n + Fraction(1, 2))
    if exact > 0 and n > 0:
        q = max(q, 1)
    q = max(q, low)
    if high is not None:
        q = min(q, high)
    return min(q, n)


# ── child seeds ────────────────────────────────────────────────────────────────────────────────────────────────

_PURPOSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def derive_seed(seed: str, purpose: str) -> str:
    """A child seed for one purpose (e.g. "teams" for the inspector-team draw), derived from the plan's seed.

    child = lowercase hex SHA-256 of UTF-8("suijian:" + purpose + ":" + seed), 64 characters. The purpose is
    letters, digits and . _ / - (no ":"), so the first ":" after it ends it and no two (purpose, seed) pairs
    give the same input. An auditor reproduces it with `printf 'suijian:%s:%s' teams "$SEED" | sha256sum`.
    """
    _check_seed(seed)
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise InputError(
            f"seed purpose {_show(purpose)} must be letters, digits and . _ / - (starting with a letter or digit)"
        )
    return hashlib.sha256(f"suijian:{purpose}:{seed}".encode()).hexdigest()


# ── the draw ───────────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class StratumDraw:
    """One stratum's draw: how many subjects, the quota, who was drawn (ticket order) and who is next in line."""

    stratum: str
    population: int
    quota: int
    drawn: tuple[Ticket, ...]
    next_in_line: Ticket | None  # the smallest ticket not drawn: "why was I not selected" starts here

    @property
    def cutoff(self) -> Ticket | None:
        """The largest drawn ticket: every drawn ticket is ≤ it, every other ticket in the stratum is above it."""
        return self.drawn[-1] if self.drawn else None

    @property
    def drawn_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.drawn)

    def to_dict(self) -> dict[str, Any]:
        def pair(t: Ticket | None) -> dict[str, str] | None:
            return None if t is None else {"id": t.id, "ticket": t.ticket_number}

        return {
            "stratum": self.stratum,
            "population": self.population,
            "quota": self.quota,
            "drawn_count": len(self.drawn),
            "cutoff": pair(self.cutoff),
            "next_in_line": pair(self.next_in_line),
            "drawn": [pair(t) for t in self.drawn],
        }


@dataclass(frozen=True)
class Draw:
    """A whole draw: the seed, the ticket scheme, and one StratumDraw per stratum (sorted by stratum name)."""

    seed: str
    strata: tuple[StratumDraw, ...]
    scheme: str = TICKET_SCHEME

    def stratum(self, name: str) -> StratumDraw:
        for s in self.strata:
            if s.stratum == name:
                return s
        raise InputError(f"no stratum {_show(name)} in this draw")

    @property
    def drawn_ids(self) -> tuple[str, ...]:
        """Every drawn id, stratum by stratum, each stratum in ticket order."""
        return tuple(t.id for s in self.strata for t in s.drawn)

    def explain(self, subject_id: str, stratum: str) -> str:
        """Why this subject was or was not drawn in this stratum, in one line."""
        s = self.stratum(stratum)
        t = ticket(self.seed, subject_id)
        for rank, d in enumerate(s.drawn, 1):
            if d.id == subject_id:
                return (
                    f"{subject_id} drawn in {stratum}: ticket {t.short()} is no. {rank} of {s.quota} "
                    f"(population {s.population})"
                )
        nxt = s.next_in_line
        if nxt is not None and t >= nxt:
            # Whether or not it was among the rows, a ticket this large loses: say so, with the cut-off to check.
            if s.quota == 0:
                return f"{subject_id} not drawn in {stratum}: the quota is 0 (population {s.population})"
            cutoff = s.cutoff
            assert cutoff is not None
            return (
                f"{subject_id} not drawn in {stratum}: ticket {t.short()} is above the cut-off {cutoff.short()} "
                f"of {cutoff.id} (quota {s.quota} of {s.population})"
            )
        # A smaller ticket would have been drawn or be next in line, so the subject was not among the rows.
        return f"{subject_id} was not in the population of {stratum} (it would have ticket {t.short()})"

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "scheme": self.scheme, "strata": [s.to_dict() for s in self.strata]}


class _Top:
    """The smallest `keep` (ticket number, id) pairs seen so far in one stratum, with a cheap rejection test."""

    __slots__ = ("count", "keep", "room", "buf", "last", "head")

    def __init__(self, keep: int) -> None:
        self.count = 0
        self.keep = keep
        # Sorting only when the buffer doubles keeps the work per row constant while memory stays O(quota).
        self.room = keep + max(keep, 1024)
        self.buf: list[tuple[str, str]] = []
        self.last: tuple[str, str] | None = None  # the largest kept pair once the buffer has been trimmed
        self.head = 1000  # first 3 digits of `last`'s number; 1000 rejects nothing until a trim

    def trim(self) -> None:
        buf = self.buf
        buf.sort()
        del buf[self.keep :]
        if buf:
            self.last = buf[-1]
            self.head = int(self.last[0][2:5])


# The first three digits of a ticket are the three lowest decimal digits of n, reversed: REVERSED[n % 1000].
_REVERSED_3 = tuple(int(f"{i:03d}"[::-1]) for i in range(1000))


def _check_quotas(quotas: Mapping[str, int]) -> dict[str, int]:
    checked: dict[str, int] = {}
    for stratum, q in quotas.items():
        if not isinstance(stratum, str):
            raise InputError(f"stratum name {_show(stratum)} must be text")
        n = _count(q, f"quota of stratum {_show(stratum)}")
        assert n is not None
        checked[stratum] = n
    return checked


def valid_quotas(quotas: Mapping[str, int]) -> dict[str, int]:
    """The quota per stratum, or InputError naming the first stratum or quota that is not text / a count ≥ 0."""
    return _check_quotas(quotas)


def valid_seed(seed: object) -> str:
    """The seed, or InputError saying why it cannot be one (not text, empty, not valid Unicode)."""
    _check_seed(seed)
    assert isinstance(seed, str)
    return seed


def draw(
    population: Iterable[tuple[str, str]],
    quotas: Mapping[str, int],
    seed: str,
    *,
    check_unique: bool = True,
) -> Draw:
    """Draw each stratum's `quota` subjects with the smallest tickets; rows are (subject id, stratum).

    The result does not depend on the order of the rows, and `merge` of draws over disjoint parts of the
    population equals the draw over the whole. Memory stays proportional to the quotas, not the population
    (the rows may be a generator), except the duplicate check, which remembers every id; a caller whose ids are
    already unique (store keys) may pass check_unique=False to save that memory. Every stratum that occurs must
    have a quota; a stratum with a quota but no rows is reported with population 0. A polars frame with
    columns "id" and "stratum" is passed to `draw_frame`.
    """
    if isinstance(population, pl.DataFrame):
        # Iterating a frame yields its columns, not rows: take the frame path instead.
        return draw_frame(population, quotas, seed, check_unique=check_unique)
    checked = _check_quotas(quotas)
    state = _seed_state(seed)
    copy = state.copy
    from_bytes = int.from_bytes
    reversed_3 = _REVERSED_3
    # Keep quota + 1 per stratum: the drawn and the next in line.
    tops = {stratum: _Top(q + 1) for stratum, q in checked.items()}
    get_top = tops.get
    seen: set[str] = set()
    remember = seen.add
    subject_id: object = None
    stratum: object = None
    try:
        for subject_id, stratum in population:
            top = get_top(stratum)
            if top is None:
                raise InputError(f"stratum {_show(stratum)} has subjects (e.g. {_show(subject_id)}) but no quota")
            if check_unique:
                if subject_id in seen:
                    raise InputError(f"subject {_show(subject_id)} occurs more than once in the population")
                remember(subject_id)
            top.count += 1
            h = copy()
            h.update(subject_id.encode("utf-8"))
            n = from_bytes(h.digest(), "big")
            # Most rows lose on their first three digits: skip building the 64-78 digit string for them.
            if reversed_3[n % 1000] > top.head:
                continue
            pair = ("0." + str(n).zfill(64)[::-1], subject_id)
            if top.last is not None and pair > top.last:
                continue
            buf = top.buf
            buf.append(pair)
            if len(buf) >= top.room:
                top.trim()
    except (AttributeError, UnicodeEncodeError) as exc:
        raise _bad_id(subject_id, exc) from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"population rows must be (subject id, stratum) pairs of text: {exc}") from None
    strata = []
    for name in sorted(tops):
        top = tops[name]
        top.trim()
        strata.append(_stratum(name, top.count, checked[name], top.buf))
    return Draw(seed=seed, strata=tuple(strata))


def _stratum(name: str, population: int, q: int, smallest: list[tuple[str, str]]) -> StratumDraw:
    """Build the report from the sorted quota + 1 smallest pairs (fewer if the stratum is small)."""
    new = tuple.__new__
    kept = [new(Ticket, (number, subject_id, 1)) for number, subject_id in smallest[: q + 1]]
    for a, b in zip(kept, kept[1:], strict=False):
        if a == b:
            # Equal pairs mean the same id twice (SHA-256 does not collide): a data error, never a tie to break.
            raise InputError(f"subject {_show(a.id)} occurs more than once in stratum {_show(name)}")
    return StratumDraw(
        stratum=name,
        population=population,
        quota=q,
        drawn=tuple(kept[:q]),
        next_in_line=kept[q] if len(kept) > q else None,
    )


def merge(draws: Iterable[Draw]) -> Draw:
    """Combine draws made over disjoint parts of one population (same seed and quotas) into the whole draw.

    Each part keeps its quota + 1 smallest tickets per stratum, which always contain the whole population's
    quota + 1 smallest, so merge(draw(part) for part in parts) == draw(all rows). Parts must not share
    subjects; a shared subject is caught only if it is among the kept tickets.
    """
    parts = list(draws)
    if not parts:
        raise InputError("nothing to merge: give at least one draw")
    seed = parts[0].seed
    scheme = parts[0].scheme
    populations: dict[str, int] = {}
    quotas: dict[str, int] = {}
    kept: dict[str, list[tuple[str, str]]] = {}
    for part in parts:
        if part.seed != seed:
            raise InputError(f"cannot merge draws made with different seeds ({_show(seed)} and {_show(part.seed)})")
        if part.scheme != scheme:
            raise InputError(f"cannot merge draws made with different ticket schemes ({scheme} and {part.scheme})")
        for s in part.strata:
            if quotas.setdefault(s.stratum, s.quota) != s.quota:
                raise InputError(
                    f"cannot merge draws with different quotas for stratum {_show(s.stratum)} "
                    f"({quotas[s.stratum]} and {s.quota})"
                )
            populations[s.stratum] = populations.get(s.stratum, 0) + s.population
            pairs = kept.setdefault(s.stratum, [])
            pairs.extend((t.ticket_number, t.id) for t in s.drawn)
            if s.next_in_line is not None:
                pairs.append((s.next_in_line.ticket_number, s.next_in_line.id))
    strata = []
    for name in sorted(quotas):
        pairs = sorted(kept[name])
        strata.append(_stratum(name, populations[name], quotas[name], pairs))
    return Draw(seed=seed, strata=tuple(strata), scheme=scheme)


def draw_frame(
    frame: pl.DataFrame,
    quotas: Mapping[str, int],
    seed: str,
    *,
    id_column: str = "id",
    stratum_column: str = "stratum",
    key_column: str | None = None,
    check_unique: bool = True,
) -> Draw:
    """The same draw as `draw`, over a polars frame of subjects: the fast path for many items over one population.

    `frame` has a text column of subject ids and one of strata; `key_column`, if given, names a column of
    `ticket_keys(seed, ids)` computed once for the plan, so each item's draw hashes only the few rows that can
    be drawn. The result equals `draw(zip(ids, strata), quotas, seed)`. Keys are checked against the seed on
    those rows, which catches keys from another seed or rows out of step with their keys. A caller drawing many
    items from one population already checked for repeated ids may pass check_unique=False.
    """
    checked = _check_quotas(quotas)
    _check_seed(seed)
    id, stratum, key = id_column, stratum_column, key_column
    for column in (id, stratum):
        if column not in frame.columns:
            raise InputError(f"the population has no column {column!r} (columns: {', '.join(frame.columns)})")
        if frame.schema[column] != pl.String:
            raise InputError(f"population column {column!r} must be text, not {frame.schema[column]}")
        if frame[column].null_count():
            raise InputError(f"population column {column!r} has empty (null) values")
    if key is not None:
        if key not in frame.columns or frame.schema[key] != pl.UInt64 or frame[key].null_count():
            raise InputError(f"ticket key column {key!r} must exist and hold ticket_keys (unsigned 64-bit)")
        keys = frame[key]
    else:
        keys = pl.Series(ticket_keys(seed, frame[id].to_list()), dtype=pl.UInt64)
    rows = pl.DataFrame({"id": frame[id], "stratum": frame[stratum], "key": keys}).lazy()
    sizes = dict(frame.group_by(stratum).len().iter_rows())
    missing = sorted(set(sizes) - set(checked))
    if missing:
        raise InputError(f"stratum {_show(missing[0])} has subjects but no quota")
    if frame[id].n_unique() != frame.height:
        repeated = frame.filter(pl.col(id).is_duplicated())[id][0]
        raise InputError(f"subject {_show(repeated)} occurs more than once in the population")
    # Keep quota + 1 per stratum: the drawn and the next in line.
    keep = pl.DataFrame(
        {"stratum": list(checked), "keep": [q + 1 for q in checked.values()]},
        schema={"stratum": pl.String, "keep": pl.UInt64},
    ).lazy()
    # Per stratum, the largest of the `keep` smallest keys; every row at or below it (ties included) is a candidate.
    bounds = (
        rows.join(keep, on="stratum")
        .group_by("stratum")
        .agg(pl.col("key").bottom_k(pl.col("keep").first()).max().alias("bound"))
    )
    candidates = (
        rows.join(bounds, on="stratum")
        .filter(pl.col("key") <= pl.col("bound"))
        .select("id", "stratum", "key")
        .collect()
    )
    cand_ids = candidates["id"].to_list()
    numbers = ticket_numbers(seed, cand_ids)
    for number, k in zip(numbers, candidates["key"].to_list(), strict=True):
        if int(number[2 : 2 + KEY_DIGITS]) != k:
            raise InputError(f"ticket key column {key!r} was not computed with this seed")
    pairs: dict[str, list[tuple[str, str]]] = {s: [] for s in checked}
    for number, subject_id, s in zip(numbers, cand_ids, candidates["stratum"].to_list(), strict=True):
        pairs[s].append((number, subject_id))
    strata = [_stratum(name, sizes.get(name, 0), checked[name], sorted(pairs[name])) for name in sorted(checked)]
    return Draw(seed=seed, strata=tuple(strata))
