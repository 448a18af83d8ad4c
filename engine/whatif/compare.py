"""What a rule-pack change would do on the store's subjects as of a date, before it takes effect: the pack diff
(engine.whatif.packdiff), then class migrations, changed frequencies and task lists, a sample of changed subjects
with the rules that fired on each side, and (for a period and a seed) the plan made with each pack side by side
(engine.whatif.impact).

    old, new = load_side("rules/national", "old"), load_side("/tmp/national-copy", "new")
    result = compare(conn, old, new, as_of, sample=5, plan=PlanRequest(Period.year(2026), seed))
    result.as_dict()            # the document `suijian rules diff --json` prints; engine.report_html renders it

Read-only: each feature partition is computed once and graded with both packs in memory (engine.grading); nothing
is graded into, or planned into, the store.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
import polars as pl
from sqlalchemy.engine import Connection

from engine.features.compute import feature_partitions
from engine.features.registry import REGISTRY
from engine.grading import Grading, Outcome, label_of, label_order
from engine.ledger import runs
from engine.plan import Plan
from engine.planning import check_items, history, load_policy, roster
from engine.progress import Progress, no_progress
from engine.rules import Pack, PackError, load_pack
from engine.whatif.impact import PlanRequest, plans_side_by_side
from engine.whatif.packdiff import Change, PackDiff, PackSide, diff_packs, plain
from entities import codes, store
from entities.errors import InputError

MAX_CATEGORIES = 12
"""An output with at most this many distinct values (both packs together) gets a migration matrix."""
DEFAULT_SAMPLE = 5
MISSING = "(missing)"
NONE = "(none)"


def load_side(directory: str, role: str) -> PackSide:
    """The pack in `directory` and its policy.yaml; one line naming the side and the first problem otherwise."""
    try:
        pack = load_pack(directory)
        policy = load_policy(pack)
    except PackError as exc:
        raise InputError(f"{role} pack: {exc}") from None
    except InputError as exc:
        raise InputError(f"{role} pack {directory}: {exc}") from None
    return PackSide(directory, pack, policy)


def check_in_force(side: PackSide, role: str, as_of: dt.date) -> None:
    pack = side.pack
    if not pack.in_force(as_of):
        until = pack.effective_to.isoformat() if pack.effective_to else "open-ended"
        raise InputError(
            f"{role} pack {side.directory} ({pack.name} {pack.version}) is in force {pack.effective_from} to {until}, "
            f"not on {as_of}; pass another --as-of"
        )


# ── what the subjects get from each pack ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class OutputChange:
    """One output across the population: its values under each pack, how many subjects' values changed, and how.

    Scalar outputs with few values (classes, grades, levels, frequencies) get a migration matrix; list outputs (task
    lists, mandatory items) count each item, and the subjects that gain or lose it."""

    name: str
    decision: str
    label: str  # what the output means, in the pack's words
    type: str
    changed: int
    old: Mapping[str, int]  # value (list outputs: item) → subjects
    new: Mapping[str, int]
    matrix: tuple[tuple[str, str, int], ...] | None = None  # (old value, new value, subjects), categorical only
    up: int = 0  # numeric outputs: subjects whose value rose / fell
    down: int = 0
    items: tuple[dict[str, Any], ...] = ()  # list outputs: {item, old, new, gained, lost}

    @property
    def categorical(self) -> bool:
        return self.matrix is not None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "decision": self.decision,
            "label": self.label,
            "type": self.type,
            "changed": self.changed,
            "old": dict(self.old),
            "new": dict(self.new),
        }
        if self.matrix is not None:
            out["matrix"] = [{"old": a, "new": b, "subjects": n} for a, b, n in self.matrix]
        if self.type in ("int", "float"):
            out.update(up=self.up, down=self.down)
        if self.type == "list":
            out["items"] = [dict(i) for i in self.items]
        return out


@dataclass(frozen=True)
class SampleSubject:
    """A changed subject: its outputs under each pack, and per changed decision the rules that fired and why."""

    uscc: str
    name: str
    changes: tuple[dict[str, Any], ...]  # {output, old, new}
    decisions: tuple[dict[str, Any], ...]  # {decision, description, old: {outputs, fired}, new: {…}}
    features: Mapping[str, Any]  # the features the fired rules of those decisions read

    def as_dict(self) -> dict[str, Any]:
        return {
            "uscc": self.uscc,
            "name": self.name,
            "changes": list(self.changes),
            "decisions": list(self.decisions),
            "features": dict(self.features),
        }


@dataclass(frozen=True)
class WhatIf:
    """The whole comparison, as `suijian rules diff` reports it."""

    as_of: dt.date
    old: PackSide
    new: PackSide
    regions: tuple[str, ...]
    subjects: int
    diff: PackDiff
    outputs: tuple[OutputChange, ...]
    changed_subjects: int  # any output differs
    fired_changed: int  # the fired rules differ (whether or not an output does)
    errors: tuple[int, int]  # subjects with a rule-pack error (a unique table with two matches), old and new
    fired: tuple[Mapping[str, int], Mapping[str, int]]  # rule id → subjects it fired for, old and new
    sample: tuple[SampleSubject, ...]
    sample_size: int
    plan: dict[str, Any] | None = None  # plan_impact(), when a period and seed were given
    plans: tuple[Plan, Plan] | None = None  # the plans themselves (old, new); not part of the document

    def as_dict(self) -> dict[str, Any]:
        def rule_dict(c: Change) -> dict[str, Any]:
            d = c.as_dict()
            d["fired"] = {
                "old": self.fired[0].get(c.id, 0) if c.old is not None else None,
                "new": self.fired[1].get(c.id, 0) if c.new is not None else None,
            }
            return d

        return {
            "format": "suijian.rules-diff/1",
            "as_of": self.as_of.isoformat(),
            "old": self.old.as_dict(),
            "new": self.new.as_dict(),
            "regions": list(self.regions),
            "subjects": self.subjects,
            "changes": {
                "decisions": [c.as_dict() for c in self.diff.decisions],
                "rules": [rule_dict(c) for c in self.diff.rules],
                "parameters": [c.as_dict() for c in self.diff.parameters],
                "policy": [c.as_dict() for c in self.diff.policy],
            },
            "outputs": [o.as_dict() for o in self.outputs],
            "changed_subjects": self.changed_subjects,
            "fired_changed_subjects": self.fired_changed,
            "subjects_with_errors": {"old": self.errors[0], "new": self.errors[1]},
            "sample_size": self.sample_size,
            "sample": [s.as_dict() for s in self.sample],
            "plan": self.plan,
        }


def _value_key(value: Any) -> Any:
    """What makes two values of one output equal: lists as sets of labels, scalars by label (30 == 30.0)."""
    if isinstance(value, list | tuple):
        return tuple(sorted({label_of(v) for v in value}))
    return MISSING if value is None else label_of(value)


def _differs(a: Outcome, b: Outcome, names: Sequence[str]) -> bool:
    return any(_value_key(a.outputs.get(n)) != _value_key(b.outputs.get(n)) for n in names)


def _output_meta(old: Pack, new: Pack) -> list[tuple[str, str, str, str]]:
    """(output, decision, label, type) for every output of either pack: the new pack's order, then removed ones."""
    seen: dict[str, tuple[str, str, str, str]] = {}
    for pack in (new, old):
        for d in pack.decisions:
            for o in d.outputs:
                if o.name not in seen:
                    text = o.description or (d.description if len(d.outputs) == 1 else "") or o.name
                    seen[o.name] = (o.name, d.id, text, d.result_type(o))
    return list(seen.values())


def _summarise_outputs(pairs: Counter[tuple[int, int]], old: Grading, new: Grading) -> list[OutputChange]:
    result = []
    for name, decision, text, type_ in _output_meta(old.pack, new.pack):
        old_dist: Counter[str] = Counter()
        new_dist: Counter[str] = Counter()
        matrix: Counter[tuple[str, str]] = Counter()
        gained: Counter[str] = Counter()
        lost: Counter[str] = Counter()
        changed = up = down = 0
        for (a, b), n in pairs.items():
            va, vb = old.outcomes[a].outputs.get(name), new.outcomes[b].outputs.get(name)
            ka, kb = _value_key(va), _value_key(vb)
            if ka != kb:
                changed += n
            if type_ == "list":
                sa_, sb = (set(k) if isinstance(k, tuple) else set() for k in (ka, kb))
                for item in sa_ or {NONE}:
                    old_dist[item] += n
                for item in sb or {NONE}:
                    new_dist[item] += n
                for item in sb - sa_:
                    gained[item] += n
                for item in sa_ - sb:
                    lost[item] += n
                continue
            old_dist[str(ka)] += n
            new_dist[str(kb)] += n
            matrix[(str(ka), str(kb))] += n
            if _is_number(va) and _is_number(vb):
                up += n if vb > va else 0
                down += n if vb < va else 0

        def ordered(c: Counter[str]) -> dict[str, int]:
            return dict(sorted(c.items(), key=lambda kv: label_order(kv[0])))

        labels = sorted(set(old_dist) | set(new_dist), key=label_order)
        if type_ == "list":
            items = tuple(
                {
                    "item": i,
                    "old": old_dist.get(i, 0),
                    "new": new_dist.get(i, 0),
                    "gained": gained.get(i, 0),
                    "lost": lost.get(i, 0),
                }
                for i in labels
            )
            result.append(
                OutputChange(name, decision, text, type_, changed, ordered(old_dist), ordered(new_dist), items=items)
            )
            continue
        cells = None
        if len(labels) <= MAX_CATEGORIES:
            rank = {v: i for i, v in enumerate(labels)}
            cells = tuple(
                (a, b, n) for (a, b), n in sorted(matrix.items(), key=lambda kv: (rank[kv[0][0]], rank[kv[0][1]]))
            )
        result.append(
            OutputChange(
                name,
                decision,
                text,
                type_,
                changed,
                ordered(old_dist),
                ordered(new_dist),
                matrix=cells,
                up=up,
                down=down,
            )
        )
    return result


def _is_number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fired_in(pack: Pack, outcome: Outcome, decision: str) -> list[dict[str, str]]:
    out = []
    for rid in outcome.fired:
        rule = pack.rule(rid)
        if rule.decision == decision:
            out.append({"id": rid, "reason": rule.reason, "at": str(rule.location)})
    return out


def _sample_subject(
    uscc: str, name: str, row: Mapping[str, Any], a: Outcome, b: Outcome, old: Pack, new: Pack
) -> SampleSubject:
    changes = []
    for output, _, _, _ in _output_meta(old, new):
        va, vb = a.outputs.get(output), b.outputs.get(output)
        if _value_key(va) != _value_key(vb):
            changes.append({"output": output, "old": _sorted_plain(va), "new": _sorted_plain(vb)})
    decisions = []
    read: list[str] = []
    old_d = {d.id: d for d in old.decisions}
    new_d = {d.id: d for d in new.decisions}
    for did in [*new_d, *(d for d in old_d if d not in new_d)]:
        both = [d for d in (new_d.get(did), old_d.get(did)) if d is not None]
        names = list(dict.fromkeys(o.name for d in both for o in d.outputs))
        fa = _fired_in(old, a, did) if did in old_d else []
        fb = _fired_in(new, b, did) if did in new_d else []
        if not _differs(a, b, names) and [f["id"] for f in fa] == [f["id"] for f in fb]:
            continue
        decisions.append(
            {
                "decision": did,
                "description": both[0].description,
                "old": {"outputs": {n: _sorted_plain(a.outputs.get(n)) for n in names}, "fired": fa},
                "new": {"outputs": {n: _sorted_plain(b.outputs.get(n)) for n in names}, "fired": fb},
            }
        )
        for pack, fired in ((old, fa), (new, fb)):
            for f in fired:
                for c in pack.rule(f["id"]).conditions:
                    if c.input in REGISTRY and c.input not in read:
                        read.append(c.input)
    features = {n: row.get(n) for n in sorted(read)}
    return SampleSubject(uscc, name, tuple(changes), tuple(decisions), features)


def _sorted_plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return sorted((plain(v) for v in value), key=str)
    return value


# ── the comparison ───────────────────────────────────────────────────────────────────────────────────────────


def _region_usccs(conn: Connection, regions: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    chosen = []
    for r in regions:
        try:
            chosen.append(codes.normalise_region(r))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    chosen = sorted(set(chosen))
    known = store.existing_values(conn, "region", "code", chosen)
    bad = [c for c in chosen if c not in known]
    if bad:
        raise InputError(f"unknown region {bad[0]} (not in the region table); check the GB/T 2260 code")
    usccs = runs.subjects_in_regions(conn, chosen)
    if not usccs:
        raise InputError(f"no subject in region {', '.join(chosen)}; check --region")
    return tuple(chosen), usccs


def compare(
    conn: Connection,
    old: PackSide,
    new: PackSide,
    as_of: dt.date,
    *,
    regions: Sequence[str] | None = None,
    sample: int = DEFAULT_SAMPLE,
    plan: PlanRequest | None = None,
    partition_size: int = 200_000,
    on_partition: Callable[[int], None] | None = None,
    url: str | None = None,
    workers: int = 1,
    progress: Progress = no_progress,
) -> WhatIf:
    """Grade the store's subjects (in `regions`, if given) as of `as_of` with both packs and compare; with `plan`,
    also make the period's plan with each pack's outcomes and policy. Reads the store, writes nothing.

    With `workers` > 1 and the store's `url`, feature partitions are computed in that many processes (as `suijian
    grade` does for large stores); the result is the same. `progress` hears of each graded partition (as `on_partition`
    does) and of the two plans."""
    check_in_force(old, "old", as_of)
    check_in_force(new, "new", as_of)
    diff = diff_packs(old, new)
    chosen: tuple[str, ...] = ()
    usccs: list[str] | None = None
    if regions:
        chosen, usccs = _region_usccs(conn, regions)
    if plan is not None:  # refused before any feature is computed
        items = check_items(conn)
        inspectors, conflicts = roster(conn)
        past = history(conn, as_of)

    go, gn = Grading(old.pack, as_of), Grading(new.pack, as_of)
    names = [n for n, _, _, _ in _output_meta(old.pack, new.pack)]
    pairs: Counter[tuple[int, int]] = Counter()
    differs: dict[tuple[int, int], bool] = {}
    candidates: list[tuple[str, int, int, dict[str, Any]]] = []
    frames: list[pl.DataFrame] = []
    ids_old: list[np.ndarray] = []
    ids_new: list[np.ndarray] = []
    for frame in feature_partitions(conn, as_of, partition_size=partition_size, usccs=usccs, url=url, workers=workers):
        a, b = go.grade_frame(frame), gn.grade_frame(frame)
        if frame.height == 0:
            continue
        keys = (a.astype(np.int64) << 32) | b.astype(np.int64)
        uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        flags = np.zeros(len(uniq), dtype=bool)
        for k, (key, n) in enumerate(zip(uniq.tolist(), counts.tolist(), strict=True)):
            pair = (key >> 32, key & 0xFFFFFFFF)
            pairs[pair] += n
            if pair not in differs:
                differs[pair] = _differs(go.outcomes[pair[0]], gn.outcomes[pair[1]], names)
            flags[k] = differs[pair]
        if sample:
            usccs_in_batch = frame.get_column("uscc")
            for r in np.flatnonzero(flags[inverse])[:sample].tolist():
                candidates.append((usccs_in_batch[r], int(a[r]), int(b[r]), frame.row(r, named=True)))
        if plan is not None:
            frames.append(frame)
            ids_old.append(a)
            ids_new.append(b)
        if on_partition is not None:
            on_partition(frame.height)
        progress("grading with both packs", sum(pairs.values()), None)
    subjects = sum(pairs.values())
    if subjects == 0:
        raise InputError("no subjects to compare: the store holds none; import them or run `suijian demo`")

    outputs = _summarise_outputs(pairs, go, gn)
    changed = sum(n for pair, n in pairs.items() if differs[pair])
    fired_changed = sum(
        n for (a_, b_), n in pairs.items() if sorted(go.outcomes[a_].fired) != sorted(gn.outcomes[b_].fired)
    )
    errors = (
        sum(n for (a_, _), n in pairs.items() if go.outcomes[a_].errors),
        sum(n for (_, b_), n in pairs.items() if gn.outcomes[b_].errors),
    )
    fired_old: Counter[str] = Counter()
    fired_new: Counter[str] = Counter()
    for (a_, b_), n in pairs.items():
        for rid in go.outcomes[a_].fired:
            fired_old[rid] += n
        for rid in gn.outcomes[b_].fired:
            fired_new[rid] += n

    candidates.sort(key=lambda c: c[0])
    chosen_sample = candidates[:sample]
    info = runs.subject_info(conn, [c[0] for c in chosen_sample]) if chosen_sample else None
    name_of = dict(zip(info.get_column("uscc"), info.get_column("name"), strict=True)) if info is not None else {}
    sampled = tuple(
        _sample_subject(u, name_of.get(u, ""), row, go.outcomes[a_], gn.outcomes[b_], old.pack, new.pack)
        for u, a_, b_, row in chosen_sample
    )

    impact = None
    plans: tuple[Plan, Plan] | None = None
    if plan is not None:
        impact, plans = plans_side_by_side(
            pl.concat(frames, how="vertical"),
            runs.subject_info(conn, usccs),
            (("old", old, go, np.concatenate(ids_old)), ("new", new, gn, np.concatenate(ids_new))),
            items,
            inspectors,
            conflicts,
            past,
            request=plan,
            as_of=as_of,
            regions=chosen,
            region_names=runs.region_names(conn),
            progress=progress,
        )

    return WhatIf(
        as_of=as_of,
        old=old,
        new=new,
        regions=chosen,
        subjects=subjects,
        diff=diff,
        outputs=tuple(outputs),
        changed_subjects=changed,
        fired_changed=fired_changed,
        errors=errors,
        fired=(dict(sorted(fired_old.items())), dict(sorted(fired_new.items()))),
        sample=sampled,
        sample_size=sample,
        plan=impact,
        plans=plans,
    )
