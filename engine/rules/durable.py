"""The durable-rules adapter: a checked pack compiled onto durable-rules 2.0.28, the inference core.

Each pitfall in shared/domain/durable-rules-notes.md is neutralised here:

- one Host for the process, its two background timer threads disabled (`_run` does nothing), every call under
  one lock, so no action can run outside the call that caused it;
- rulesets are named by the SHA-256 of their definition and registered once (the registry has no delete and no
  redefinition); `set_rulesets` deletes the `run` keys of what it is given, so it gets a fresh dict each time;
- one fact per call, each call on a fresh session id, deleted afterwards (≤ 1 live sid, far below 1,024; no
  content de-duplication or 32-bit id clash can bite with one fact per session);
- values never reach the engine raw: each input is cut into cells (cells.py) and the fact carries the cell
  number, an int — loose typing ("9" > 5, True == 1) and null-never-matches cannot apply; a missing value is
  the explicit cell 0;
- the 64-entry alpha stack (events.c, MAX_STACK_SIZE, "error code: 303") holds at most one entry per matched
  alpha node; cells are exclusive, so every node is pushed at most once, and each ruleset is kept under 64
  nodes by splitting a table into chunks — no table can overflow it, however many rows match;
- a catch-all rule in every ruleset fires on every fact, so "nothing matched" is a recorded outcome and not
  MessageNotHandledException; it must fire exactly once per call, which proves the action loop ran to the end;
- the returned state is checked for `exception` (swallowed action errors) after every call;
- actions only append the row number to a list; hit policies are applied here in Python, never with `pri`;
- decisions run in DAG order, each decision's outputs feeding later decisions; decisions of one DAG level
  (none reads another) share each fact, which keeps engine calls per subject to a few.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import durable.engine

from engine.rules.cells import Axis, decision_axes, key_of, key_spec
from engine.rules.model import Decision, DecisionResult, Pack, Result, Rule
from engine.rules.records import normalise
from entities.errors import EngineFault

NODE_BUDGET = 56
"""Alpha nodes per ruleset (the catch-all and the root come on top); the engine's stack holds 64."""
EXPRESSION_BUDGET = 28
"""Entries of one rule's expression sequence ($and/$or open and close); the engine allows fewer than 32."""
CATCH_ALL = (-1, -1)
MAX_FIELDS = 200
"""Input cells per fact (the engine reads at most 255 properties of a message)."""


class _QuietHost(durable.engine.Host):
    """A Host without its two timer threads, which could run a pending action before our call returns."""

    def _run(self) -> None:
        return None


_LOCK = threading.RLock()
_HOST: _QuietHost | None = None
_REGISTERED: set[str] = set()
_FIRED: list[tuple[int, int]] = []
_SIDS = itertools.count(1)


def _host() -> _QuietHost:
    global _HOST
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


def _field(k: int) -> str:
    return f"x{k}"


def _fnv1a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode():
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def property_names_distinct(count: int) -> bool:
    """Whether the fact's property names have distinct 32-bit hashes (the engine compares hashes, not names)."""
    names = ["sid", "id", "k", "$s", "$forward", *(_field(k) for k in range(count))]
    return len({_fnv1a(n) for n in names}) == len(names)


# -----------------------------------------------------------------------------------------------------------
# Compilation


Row = tuple[int, int]
"""(position of the decision in its level, index of the row in the decision's table)."""


@dataclass(frozen=True)
class _Piece:
    """One durable-rules rule: a table row, or part of one when a row is split to fit the engine's limits."""

    row: Row
    expression: dict[str, Any]
    nodes: int


@dataclass(frozen=True)
class _Chunk:
    name: str
    definition_json: str
    # Per decision with rows here (its position in the level), the fact properties those rows test: which of
    # its rows match depends on these cells alone.
    parts: tuple[tuple[int, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class CompiledDecision:
    decision: Decision
    axes: tuple[Axis, ...]
    fields: tuple[str, ...]  # the fact property carrying each input's cell
    rank: Mapping[int, tuple[int, ...]]
    by_index: Mapping[int, Rule]


@dataclass(frozen=True)
class _Level:
    """Decisions that read no output of each other, asserted together: one fact per chunk of their rules."""

    decisions: tuple[CompiledDecision, ...]
    chunks: tuple[_Chunk, ...]


@dataclass(frozen=True)
class CompiledPack:
    """A pack's decisions as registered durable-rules rulesets (named by content hash), by DAG level."""

    hash: str
    levels: tuple[_Level, ...]
    order: tuple[str, ...]  # decision ids in the pack's evaluation order

    @property
    def calls(self) -> int:
        """Engine calls per evaluated input."""
        return sum(len(level.chunks) for level in self.levels)


_COMPILED: dict[str, CompiledPack] = {}


def compile_pack(pack: Pack) -> CompiledPack:
    """Compile and register every decision of `pack` (once per pack hash; rulesets are shared by content)."""
    with _LOCK:
        compiled = _COMPILED.get(pack.hash)
        if compiled is None:
            compiled = _compile(pack)
            if len(_COMPILED) > 64:
                _COMPILED.clear()
            _COMPILED[pack.hash] = compiled
        return compiled


def _compile(pack: Pack) -> CompiledPack:
    depth: dict[str, int] = {}
    for d in pack.decisions:
        depth[d.id] = 1 + max((depth[x] for x in d.depends_on), default=-1)
    levels = []
    for n in range(max(depth.values(), default=-1) + 1):
        batch: list[Decision] = []
        for d in (d for d in pack.decisions if depth[d.id] == n):
            # A fact holds at most 255 properties; decisions of one level can be asserted in several facts.
            if batch and sum(len(x.inputs) for x in batch) + len(d.inputs) > MAX_FIELDS:
                levels.append(_compile_level(batch))
                batch = []
            batch.append(d)
        if batch:
            levels.append(_compile_level(batch))
    return CompiledPack(pack.hash, tuple(levels), tuple(d.id for d in pack.decisions))


def _runs(cells: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for c in sorted(cells):
        if runs and runs[-1][1] == c - 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return runs


def _run_terms(name: str, run: tuple[int, int], size: int) -> list[dict[str, Any]]:
    lo, hi = run
    if lo == hi:
        return [{name: lo}]
    terms = []
    if lo > 0:
        terms.append({"$gte": {name: lo}})
    if hi < size - 1:
        terms.append({"$lte": {name: hi}})
    return terms


@dataclass(frozen=True)
class _InputTest:
    field: str
    runs: tuple[tuple[int, int], ...]
    size: int


def _expression(tests: list[_InputTest]) -> tuple[dict[str, Any], int, int]:
    """(expression, alpha nodes, expression-sequence entries) for a conjunction of input tests."""
    terms: list[dict[str, Any]] = []
    nodes = 0
    entries = 0
    for t in tests:
        if len(t.runs) == 1:
            part = _run_terms(t.field, t.runs[0], t.size)
            terms.extend(part)
            nodes += len(part)
        else:
            options = []
            for run in t.runs:
                part = _run_terms(t.field, run, t.size)
                nodes += len(part)
                if len(part) == 1:
                    options.append(part[0])
                else:
                    options.append({"$and": part})
                    entries += 2
            terms.append({"$or": options})
            nodes += 1  # the forward node the engine adds behind every $or
            entries += 2
    if not terms:
        return {"k": 1}, 1, 0
    if len(terms) == 1:
        return terms[0], nodes, entries
    return {"$and": terms}, nodes, entries + 2


def _pieces(row: Row, tests: list[_InputTest]) -> list[_Piece]:
    expression, nodes, entries = _expression(tests)
    if nodes <= NODE_BUDGET and entries <= EXPRESSION_BUDGET:
        return [_Piece(row, expression, nodes)]
    # Too big for one engine rule: split on the input with the most runs; the runs are disjoint cells, so at
    # most one piece of the row can match a fact.
    widest = max(range(len(tests)), key=lambda k: len(tests[k].runs))
    t = tests[widest]
    if len(t.runs) == 1:
        raise EngineFault(f"a rule of {len(tests)} conditions does not fit the inference engine's limits")
    out: list[_Piece] = []
    for run in t.runs:
        narrowed = [*tests[:widest], _InputTest(t.field, (run,), t.size), *tests[widest + 1 :]]
        out.extend(_pieces(row, narrowed))
    return out


def _compile_level(decisions: list[Decision]) -> _Level:
    compiled: list[CompiledDecision] = []
    pieces: list[_Piece] = []
    next_field = 0
    for k, decision in enumerate(decisions):
        rows = [r for r in decision.rules if r.enabled and not r.is_else]
        axes = decision_axes(decision.inputs, [c for r in rows for c in r.conditions])
        fields = tuple(_field(next_field + n) for n in range(len(decision.inputs)))
        next_field += len(fields)
        position = {inp.name: n for n, inp in enumerate(decision.inputs)}
        for r in rows:
            tests: list[_InputTest] = []
            for c in r.conditions:
                n = position[c.input]
                cells = axes[n].condition_cells(c)
                if len(cells) == axes[n].size:
                    continue
                if not cells:
                    break  # a contradictory row never matches: leave it out of the engine
                tests.append(_InputTest(fields[n], tuple(_runs(cells)), axes[n].size))
            else:
                pieces.extend(_pieces((k, r.index), tests))
        rank = {r.index: _priority_rank(decision, r) for r in decision.rules}
        compiled.append(CompiledDecision(decision, axes, fields, rank, {r.index: r for r in decision.rules}))
    if not property_names_distinct(next_field):
        raise EngineFault("fact property names collide in the engine's 32-bit hash")
    chunks: list[_Chunk] = []
    current: list[_Piece] = []
    used = 0
    for piece in pieces:
        if current and used + piece.nodes > NODE_BUDGET:
            chunks.append(_register(current))
            current, used = [], 0
        current.append(piece)
        used += piece.nodes
    chunks.append(_register(current))
    return _Level(tuple(compiled), tuple(chunks))


def _tested(expression: Any) -> set[str]:
    """The fact properties an expression compares (every key that names an input cell, at any depth)."""
    found: set[str] = set()
    if isinstance(expression, dict):
        for key, value in expression.items():
            if key.startswith("x") and key[1:].isdigit():
                found.add(key)
            found |= _tested(value)
    elif isinstance(expression, list):
        for item in expression:
            found |= _tested(item)
    return found


def _priority_rank(decision: Decision, rule: Rule) -> tuple[int, ...]:
    key: list[int] = []
    for o in decision.outputs:
        if not o.values:
            continue
        value = rule.outputs[o.name]
        position = len(o.values)
        for k, candidate in enumerate(o.values):
            if type(candidate) is type(value) and candidate == value:
                position = k
                break
        key.append(position)
    return tuple(key)


def _definition(pieces: list[_Piece]) -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    counts: dict[Row, int] = {}
    for piece in pieces:
        n = counts.get(piece.row, 0)
        counts[piece.row] = n + 1
        rules[f"d{piece.row[0]}_r{piece.row[1]}_{n}"] = {"all": [{"m": piece.expression}]}
    rules["catch_all"] = {"all": [{"m": {"k": 1}}]}
    return rules


def _recorder(row: Row) -> Callable[[Any], None]:
    def action(c: Any) -> None:
        _FIRED.append(row)

    return action


def _row_of(rule_name: str) -> Row:
    if rule_name == "catch_all":
        return CATCH_ALL
    decision, row, _ = rule_name.split("_")
    return int(decision[1:]), int(row[1:])


def _register(pieces: list[_Piece]) -> _Chunk:
    tested: dict[int, set[str]] = {}
    for p in pieces:
        tested.setdefault(p.row[0], set()).update(_tested(p.expression))
    parts = tuple((k, tuple(sorted(f, key=lambda name: int(name[1:])))) for k, f in sorted(tested.items()))
    definition = _definition(pieces)
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    name = "suijian_" + hashlib.sha256(text.encode()).hexdigest()[:40]
    with _LOCK:
        if name not in _REGISTERED:
            fresh = json.loads(text)
            for rule_name, rule in fresh.items():
                rule["run"] = _recorder(_row_of(rule_name))
            _host().set_rulesets({name: fresh})
            _REGISTERED.add(name)
    return _Chunk(name, text, parts)


# -----------------------------------------------------------------------------------------------------------
# Evaluation


def _call(ruleset: str, fact: dict[str, Any]) -> set[Row]:
    """Assert one fact on a fresh session; the rows whose rules fired."""
    host = _host()
    with _LOCK:
        _FIRED.clear()
        sid = str(next(_SIDS))
        message = dict(fact)
        message["sid"] = sid
        state: Any = None
        failure: str | None = None
        try:
            state = host.assert_fact(ruleset, message)
        except Exception as exc:  # noqa: BLE001 - every engine failure becomes an EngineFault below
            failure = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        finally:
            try:
                host.delete_state(ruleset, sid)
            except Exception as exc:  # noqa: BLE001
                failure = failure or f"delete_state failed: {exc}"
        fired = list(_FIRED)
        _FIRED.clear()
    if failure is not None:
        raise EngineFault(f"durable-rules call failed on {ruleset}: {failure}")
    if not isinstance(state, dict):
        raise EngineFault(f"durable-rules returned no state on {ruleset}: an action ran outside its call")
    if "exception" in state:
        raise EngineFault(f"a durable-rules action failed on {ruleset}: {state['exception']}")
    if fired.count(CATCH_ALL) != 1:
        raise EngineFault(f"the catch-all rule of {ruleset} fired {fired.count(CATCH_ALL)} times instead of once")
    rows = [r for r in fired if r != CATCH_ALL]
    if len(rows) != len(set(rows)):
        raise EngineFault(f"a rule of {ruleset} fired twice for one fact")
    return set(rows)


def _decide(compiled: CompiledDecision, hits: set[int]) -> DecisionResult:
    """Apply the hit policy to the rows durable-rules found matching."""
    decision = compiled.decision
    matched = [compiled.by_index[i] for i in sorted(hits)]
    matched_ids = tuple(r.id for r in matched)
    if decision.hit_policy == "unique" and len(matched) >= 2:
        error = "unique violation: rules " + ", ".join(matched_ids) + " all match"
        return DecisionResult(decision.id, dict.fromkeys(o.name for o in decision.outputs), matched_ids, (), error)
    if not matched:
        fallback = decision.else_rule
        fired = [fallback] if fallback is not None else []
    elif decision.hit_policy == "first":
        fired = [matched[0]]
    elif decision.hit_policy == "priority":
        best = matched[0]
        for candidate in matched[1:]:
            if compiled.rank[candidate.index] < compiled.rank[best.index]:
                best = candidate
        fired = [best]
    else:
        fired = matched
    outputs = {o.name: _combine(decision, o.name, o.type, fired) for o in decision.outputs}
    return DecisionResult(decision.id, outputs, matched_ids, tuple(r.id for r in fired), None)


def _combine(decision: Decision, name: str, type_: str, fired: list[Rule]) -> Any:
    values = [r.outputs[name] for r in fired]
    if decision.hit_policy != "collect":
        return values[0] if values else None
    aggregate = decision.aggregate
    if aggregate == "count":
        return len(values)
    if aggregate == "sum":
        return sum(values, 0 if type_ == "int" else 0.0)
    if aggregate in ("min", "max"):
        if not values:
            return None
        return min(values) if aggregate == "min" else max(values)
    if type_ == "list":
        return tuple(dict.fromkeys(item for v in values for item in v))
    return tuple(dict.fromkeys(values))


class ChunkMemo:
    """Which rows of each decision matched, by ruleset, decision and the cells of the properties its rows test.

    Which rows of a decision match depends on those cells alone (the engine compares nothing else), so inputs
    that differ only in cells a decision does not test share its answer: an engine call is made only when some
    decision of the ruleset meets cells it has not met, and its answer is kept for every decision. Grading a
    city so makes a few thousand calls, not one per chunk of every distinct input of the whole pack. `calls`
    counts the engine calls made through it."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int, tuple[int, ...]], tuple[int, ...]] = {}
        self._decided: dict[tuple[str, str, frozenset[int]], DecisionResult] = {}
        self.calls = 0

    def hits(self, chunk: _Chunk, fact: dict[str, Any]) -> list[Row]:
        keys = [(chunk.name, k, tuple(fact[f] for f in fields)) for k, fields in chunk.parts]
        known = [self._rows.get(key) for key in keys]
        if any(rows is None for rows in known):
            fired = _call(chunk.name, fact)
            self.calls += 1
            found = [tuple(sorted(r for d, r in fired if d == k)) for k, _ in chunk.parts]
            for key, rows in zip(keys, found, strict=True):
                self._rows[key] = rows
        else:
            found = [rows or () for rows in known]
        return [(k, r) for (k, _), rows in zip(chunk.parts, found, strict=True) for r in rows]

    def decide(self, pack_hash: str, compiled: CompiledDecision, hits: set[int]) -> DecisionResult:
        """`_decide`, once per decision and set of matching rows (its result is a function of them alone)."""
        key = (pack_hash, compiled.decision.id, frozenset(hits))
        found = self._decided.get(key)
        if found is None:
            found = self._decided[key] = _decide(compiled, hits)
        return found


def _run(compiled: CompiledPack, values: Mapping[str, Any], memo: ChunkMemo | None = None) -> Result:
    env = dict(values)
    failed: set[str] = set()
    results: dict[str, DecisionResult] = {}
    for level in compiled.levels:
        fact: dict[str, Any] = {"k": 1}
        for cd in level.decisions:
            for axis, inp, name in zip(cd.axes, cd.decision.inputs, cd.fields, strict=True):
                fact[name] = axis.cell(env.get(inp.name))
        hits: dict[int, set[int]] = {k: set() for k in range(len(level.decisions))}
        for chunk in level.chunks:
            for k, row in _call(chunk.name, fact) if memo is None else memo.hits(chunk, fact):
                hits[k].add(row)
        for k, cd in enumerate(level.decisions):
            d = cd.decision
            upstream_failed = next((x for x in d.depends_on if x in failed), None)
            if upstream_failed is not None:
                result = DecisionResult(
                    d.id,
                    {o.name: None for o in d.outputs},
                    (),
                    (),
                    f"skipped: it reads decision '{upstream_failed}', which failed",
                )
            else:
                result = _decide(cd, hits[k]) if memo is None else memo.decide(compiled.hash, cd, hits[k])
            if result.error is not None:
                failed.add(d.id)
            results[d.id] = result
        for cd in level.decisions:
            env.update(results[cd.decision.id].outputs)
    return Result(tuple(results[i] for i in compiled.order))


def evaluate(pack: Pack, features: Mapping[str, Any], memo: ChunkMemo | None = None) -> Result:
    """Every decision of `pack` for one subject, computed by durable-rules (one engine call per chunk of rules
    of each DAG level; with a `memo`, only for the chunk inputs it has not seen)."""
    return _run(compile_pack(pack), normalise(pack, features), memo)


def evaluate_many(pack: Pack, records: Iterable[Mapping[str, Any]]) -> list[Result]:
    """One Result per record; each distinct rule-relevant input (see `relevant_key`) is evaluated once on
    durable-rules and its Result shared by every record with the same key (Results are immutable)."""
    compiled = compile_pack(pack)
    spec = key_spec(pack)
    memo: dict[tuple[int, ...], Result] = {}
    out: list[Result] = []
    for record in records:
        values = normalise(pack, record)
        key = key_of(spec, values)
        result = memo.get(key)
        if result is None:
            result = memo[key] = _run(compiled, values)
        out.append(result)
    return out
