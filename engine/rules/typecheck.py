"""Type a merged pack against the feature registry: every output declared once with its type, every condition
read and bound to its input's type and closed set, every `$param` replaced by its value, decisions put in
dependency order (cycles reported), and each clean table analysed for overlaps, gaps and unreachable rows.

So a pack that passes can run: neither engine meets a condition it cannot evaluate.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from engine.features.registry import Feature
from engine.features.result_facts import VOCABULARY
from engine.rules import conditions as cond
from engine.rules import reference
from engine.rules.analysis import analyse
from engine.rules.codes import Code
from engine.rules.conditions import ConditionError, did_you_mean
from engine.rules.findings import Findings
from engine.rules.merge import NAME, RawDecision, RawRule
from engine.rules.model import (
    AGGREGATES,
    HIT_POLICIES,
    OUTPUT_TYPES,
    Condition,
    Decision,
    Input,
    Location,
    Output,
    Parameter,
    Rule,
    UnaryTest,
)
from engine.rules.yamlio import LineDict, LineList

MAX_INPUTS = 20
# Units whose values are never negative: tables need not say what happens below zero.
_NON_NEGATIVE_UNITS = {"count", "unit", "day", "point", "class", "grade"}
_OUTPUT_FIELDS = {"type": True, "values": False, "description": False}


def type_decisions(
    raw: list[RawDecision],
    params: Mapping[str, Parameter],
    log: Findings,
    *,
    tainted: Set[str] = frozenset(),
    analyse_tables: bool = True,
) -> tuple[dict[str, Decision], list[str]]:
    """(the decisions that type-check, by id; every decision id in evaluation order). Problems go to `log`;
    `tainted` decisions (an error found while merging) are typed but not analysed."""
    return _Typer(log, tainted, analyse_tables).type_decisions(raw, params)


class _Typer:
    def __init__(self, log: Findings, tainted: Set[str], analyse_tables: bool) -> None:
        self.log = log
        self.tainted = tainted
        self.analyse_tables = analyse_tables
        # Outputs whose declaration was refused: a rule giving them a value is not reported a second time.
        self.rejected_outputs: set[str] = set()

    def type_decisions(
        self, raw: list[RawDecision], params: Mapping[str, Parameter]
    ) -> tuple[dict[str, Decision], list[str]]:
        outputs = self.declare_outputs(raw)
        by_id = {d.id: d for d in raw}
        deps: dict[str, list[str]] = {}
        for d in raw:
            deps[d.id] = self.dependencies(d, outputs, by_id)
        order = self.order(raw, deps)
        built: dict[str, Decision] = {}
        complete: dict[str, bool] = {}
        analysed_ok: set[str] = set()
        for ident in order:
            d = by_id[ident]
            decision, clean = self.decision(d, by_id, params, outputs, built, complete, deps[ident])
            if decision is None:
                continue
            built[ident] = decision
            if clean and ident not in self.tainted and all(x in analysed_ok for x in decision.depends_on):
                analysed_ok.add(ident)
                if self.analyse_tables:
                    result = analyse(decision)
                    self.log.extend(result.findings, breaks=False)
                    complete[ident] = result.complete
        return built, order

    def declare_outputs(self, raw: list[RawDecision]) -> dict[str, tuple[str, Output]]:
        outputs: dict[str, tuple[str, Output]] = {}
        ids = {d.id for d in raw}
        for d in raw:
            file = d.location.file
            if d.id in VOCABULARY:
                self.log.add(
                    file,
                    d.location.line,
                    Code.NAME_CLASH,
                    f"decision '{d.id}' has the name of a catalogue feature; choose another id",
                )
            spec = d.data.get("outputs")
            if spec is None:
                continue
            if not isinstance(spec, LineDict) or not spec:
                self.log.add(
                    file,
                    d.data.value_line("outputs"),
                    Code.NOT_MAPPING,
                    "outputs must map each output name to its type, e.g. credit_class: {type: str, values: [A, B, C, D]}",
                )
                continue
            for name, ospec in spec.items():
                line = spec.key_line(name)
                if not isinstance(name, str) or not NAME.match(name):
                    self.log.add(
                        file, line, Code.BAD_ID, f"output name {name!r} must be lower_snake_case (a-z, 0-9, _)"
                    )
                    continue
                output = self.output(name, ospec, spec, file, line)
                self.rejected_outputs.add(name)
                if output is None:
                    continue
                if name in VOCABULARY:
                    self.log.add(
                        file,
                        line,
                        Code.NAME_CLASH,
                        f"output '{name}' has the name of a catalogue feature; choose another name",
                    )
                    continue
                if name in ids and name != d.id:
                    self.log.add(
                        file,
                        line,
                        Code.NAME_CLASH,
                        f"output '{name}' has the id of another decision; choose another name",
                    )
                    continue
                if name in outputs:
                    other = outputs[name][1].location
                    self.log.add(file, line, Code.DUPLICATE_ID, f"output '{name}' is already produced at {other}")
                    continue
                self.rejected_outputs.discard(name)
                outputs[name] = (d.id, output)
        return outputs

    def output(self, name: str, spec: Any, parent: LineDict, file: str, line: int) -> Output | None:
        type_: Any
        values: Any
        description: Any
        if isinstance(spec, str):
            type_, values, description = spec.strip(), None, ""
        elif isinstance(spec, LineDict):
            self.log.fields(spec, file, _OUTPUT_FIELDS, f"output '{name}'")
            type_ = spec.get("type")
            values = spec.get("values")
            description = spec.get("description") if isinstance(spec.get("description"), str) else ""
            if type_ is None:
                return None
        else:
            self.log.add(file, line, Code.NOT_MAPPING, f"output '{name}' needs a type: int, float, bool, str or list")
            return None
        if type_ not in OUTPUT_TYPES:
            hint = did_you_mean(str(type_), list(OUTPUT_TYPES))
            self.log.add(
                file,
                line,
                Code.UNKNOWN_TYPE,
                f"output '{name}': type must be one of {', '.join(OUTPUT_TYPES)}, got {type_!r}{hint}",
            )
            return None
        typed: tuple[Any, ...] | None = None
        if values is not None:
            vline = spec.value_line("values") if isinstance(spec, LineDict) else line
            if not isinstance(values, LineList) or not values:
                self.log.add(file, vline, Code.NOT_LIST, f"output '{name}': values must be a non-empty list")
                return None
            item_type = "str" if type_ == "list" else type_
            try:
                typed = tuple(cond.coerce(v, name, item_type, None) for v in values)
            except ConditionError as exc:
                self.log.add(file, vline, exc.code, f"output '{name}' values: {exc.message}")
                return None
            if len(set(typed)) != len(typed):
                self.log.add(file, vline, Code.DUPLICATE_VALUE, f"output '{name}': values are listed twice")
                return None
        return Output(name, type_, typed, str(description).strip(), Location(file, line))

    def reference(
        self, ref: str, outputs: dict[str, tuple[str, Output]], by_id: Mapping[str, RawDecision]
    ) -> tuple[str, str | None] | str:
        """(name, producing decision or None for a feature), or an error message."""
        if ref in VOCABULARY:
            return ref, None
        if ref in outputs:
            return ref, outputs[ref][0]
        if ref in by_id:
            mine = [n for n, (owner, _) in outputs.items() if owner == ref]
            if len(mine) == 1:
                return mine[0], ref
            if len(mine) > 1:
                return f"decision '{ref}' has several outputs ({', '.join(mine)}); write {ref}.{mine[0]}"
            return f"decision '{ref}' has no usable output"
        if "." in ref:
            owner, _, out = ref.partition(".")
            if owner in by_id and out in outputs and outputs[out][0] == owner:
                return out, owner
        hint = did_you_mean(ref, [*VOCABULARY, *outputs, *by_id])
        return f"unknown feature '{ref}'{hint or '; a pack reads catalogue features (engine/features/catalogue.py) and its decisions’ outputs'}"

    def referenced_names(self, d: RawDecision) -> list[tuple[str, str, int]]:
        """(name, file, line) of every input reference in the decision: declared inputs, then `when` keys."""
        file = d.location.file
        names: list[tuple[str, str, int]] = []
        inputs = d.data.get("inputs")
        if isinstance(inputs, LineList):
            for i, item in enumerate(inputs):
                if isinstance(item, str):
                    names.append((item, file, inputs.item_line(i)))
                else:
                    self.log.add(
                        file,
                        inputs.item_line(i),
                        Code.NOT_TEXT,
                        "inputs lists feature names or decision outputs",
                    )
        elif inputs is not None:
            self.log.add(file, d.data.value_line("inputs"), Code.NOT_LIST, "inputs must be a list of names")
        for r in d.rules:
            when = r.data.get("when")
            if isinstance(when, LineDict):
                for key in when:
                    if isinstance(key, str) and not key.startswith("$param."):
                        names.append((key, r.location.file, when.key_line(key)))
        return names

    def dependencies(
        self, d: RawDecision, outputs: dict[str, tuple[str, Output]], by_id: Mapping[str, RawDecision]
    ) -> list[str]:
        deps: list[str] = []
        for ref, _, _ in self.referenced_names(d):
            found = self.reference(ref, outputs, by_id)
            if isinstance(found, tuple) and found[1] is not None and found[1] not in deps:
                deps.append(found[1])
        return deps

    def order(self, raw: list[RawDecision], deps: dict[str, list[str]]) -> list[str]:
        """Decisions in evaluation order (declaration order among equals); report cycles."""
        position = {d.id: n for n, d in enumerate(raw)}
        for cycle in _cycles([d.id for d in raw], deps):
            first = min(cycle, key=position.__getitem__)
            k = cycle.index(first)
            path = [*cycle[k:], *cycle[:k], first]
            where = next(d for d in raw if d.id == first).location
            if len(cycle) == 1:
                message = f"decision '{first}' reads its own output"
            else:
                message = f"decisions {' → '.join(path)} read each other's outputs; a decision can only read decisions evaluated before it"
            self.log.add(where.file, where.line, Code.CYCLE, message)
        done: list[str] = []
        placed: set[str] = set()
        pending = [d.id for d in raw]
        progress = True
        while pending and progress:
            progress = False
            for ident in list(pending):
                if all(dep in placed for dep in deps[ident]):
                    done.append(ident)
                    placed.add(ident)
                    pending.remove(ident)
                    progress = True
                    break
        return done

    def decision(
        self,
        d: RawDecision,
        by_id: Mapping[str, RawDecision],
        params: Mapping[str, Parameter],
        outputs: dict[str, tuple[str, Output]],
        built: Mapping[str, Decision],
        complete: Mapping[str, bool],
        deps: list[str],
    ) -> tuple[Decision | None, bool]:
        """The typed decision (None if it cannot be built) and whether it is clean enough to analyse."""
        errors_before = self.log.errors()
        file = d.location.file
        hit_policy = d.data.get("hit_policy")
        if hit_policy is not None and hit_policy not in HIT_POLICIES:
            hint = did_you_mean(str(hit_policy), list(HIT_POLICIES))
            self.log.add(
                file,
                d.data.value_line("hit_policy"),
                Code.UNKNOWN_HIT_POLICY,
                f"hit_policy must be one of {', '.join(HIT_POLICIES)}, got {hit_policy!r}{hint}",
            )
            hit_policy = None
        aggregate = d.data.get("aggregate")
        if aggregate is not None:
            if hit_policy != "collect":
                self.log.add(
                    file,
                    d.data.key_line("aggregate"),
                    Code.AGGREGATE_NOT_COLLECT,
                    "aggregate (sum, min, max, count) only applies to a collect table",
                )
                aggregate = None
            elif aggregate not in AGGREGATES:
                hint = did_you_mean(str(aggregate), list(AGGREGATES))
                self.log.add(
                    file,
                    d.data.value_line("aggregate"),
                    Code.UNKNOWN_AGGREGATE,
                    f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}{hint}",
                )
                aggregate = None
        mine = tuple(o for n, (owner, o) in outputs.items() if owner == d.id)
        if aggregate in ("sum", "min", "max"):
            for o in mine:
                if o.type not in ("int", "float"):
                    self.log.add(
                        o.location.file,
                        o.location.line,
                        Code.TYPE_ERROR,
                        f"output '{o.name}' is {o.type}; aggregate {aggregate} needs int or float outputs",
                    )
        if hit_policy == "priority" and mine and not any(o.values for o in mine):
            self.log.add(
                file,
                d.data.key_line("hit_policy"),
                Code.UNORDERED_PRIORITY,
                "a priority table needs an output with an ordered 'values' list (first listed wins)",
            )
        # Inputs, in the declared order or in the order rules first mention them.
        inputs: dict[str, Input] = {}
        declared = isinstance(d.data.get("inputs"), LineList)
        refs = self.referenced_names(d)
        resolved: dict[str, str] = {}
        for ref, rfile, line in refs:
            found = self.reference(ref, outputs, by_id)
            if isinstance(found, str):
                self.log.add(rfile, line, Code.UNKNOWN_FEATURE, found)
                continue
            name, source = found
            resolved[ref] = name
            if source == d.id:
                continue  # reported as a cycle
            if name not in inputs:
                inp = self.input(name, source, built, complete)
                if inp is None:
                    continue
                inputs[name] = inp
        declared_names = {resolved.get(x) for x in d.data["inputs"] if isinstance(x, str)} if declared else None
        if len(inputs) > MAX_INPUTS:
            self.log.add(
                file,
                d.location.line,
                Code.TOO_COMPLEX,
                f"decision '{d.id}' reads {len(inputs)} inputs; split it (at most {MAX_INPUTS})",
            )
        rules: list[Rule] = []
        else_seen: RawRule | None = None
        for index, r in enumerate(d.rules):
            if else_seen is not None:
                self.log.add(
                    r.location.file,
                    r.location.line,
                    Code.ELSE_NOT_LAST,
                    f"rule '{r.id}' comes after the else rule '{else_seen.id}'; the else rule must be last",
                )
            if r.is_else:
                else_seen = r
            rule = self.rule(r, d.id, index, mine, inputs, resolved, declared_names, params)
            if rule is not None:
                rules.append(rule)
        errors_after = self.log.errors()
        if hit_policy is None or not mine or len(rules) != len(d.rules):
            return None, False
        decision = Decision(
            id=d.id,
            description=d.description,
            hit_policy=hit_policy,
            aggregate=aggregate,
            inputs=tuple(inputs.values()),
            outputs=mine,
            rules=tuple(rules),
            location=d.location,
            depends_on=tuple(x for x in deps if x != d.id),
        )
        return decision, errors_after == errors_before and bool(rules)

    def input(
        self, name: str, source: str | None, built: Mapping[str, Decision], complete: Mapping[str, bool]
    ) -> Input | None:
        if source is None:
            f: Feature = VOCABULARY[name]
            lower = getattr(f, "min", None)
            upper = getattr(f, "max", None)
            if lower is None and f.type in ("int", "float") and f.unit in _NON_NEGATIVE_UNITS:
                lower = 0
            values: tuple[Any, ...] | None = tuple(f.values) if f.type == "str" and f.values else None
            dom: tuple[Any, ...] | None = values if f.type == "str" else ((False, True) if f.type == "bool" else None)
            return Input(name, f.type, values, f.nullable, None, lower, upper, dom)
        upstream = built.get(source)
        if upstream is None:
            return None  # upstream failed to build: its errors are reported there
        output = next(o for o in upstream.outputs if o.name == name)
        type_ = upstream.result_type(output)
        enabled = [r for r in upstream.rules if r.enabled]
        possible = tuple(dict.fromkeys(r.outputs[name] for r in enabled)) if enabled else ()
        if upstream.hit_policy == "collect":
            if upstream.aggregate in ("min", "max"):
                nullable = not complete.get(source, False)
                return Input(name, type_, output.values, nullable, source, domain=possible)
            lower = 0 if upstream.aggregate == "count" else None
            return Input(name, type_, None, False, source, lower=lower)
        nullable = not complete.get(source, False)
        # Labels a table can give form a closed set (a typo in a later condition is caught); numbers do not.
        closed = output.values or (possible if type_ == "str" else None) or None
        return Input(name, type_, closed, nullable, source, domain=possible)

    def rule(
        self,
        r: RawRule,
        decision: str,
        index: int,
        outputs: tuple[Output, ...],
        inputs: Mapping[str, Input],
        resolved: Mapping[str, str],
        declared: set[str | None] | None,
        params: Mapping[str, Parameter],
    ) -> Rule | None:
        file = r.location.file
        data = r.data
        ok = True
        reason = data.get("reason")
        basis = data.get("basis")
        for key, value in (("reason", reason), ("basis", basis)):
            if value is not None and not isinstance(value, str):
                self.log.add(file, data.value_line(key), Code.NOT_TEXT, f"'{key}' of rule '{r.id}' must be text")
                ok = False
        if not isinstance(reason, str) or not reason.strip() or not isinstance(basis, str) or not basis.strip():
            ok = False
        conditions: list[Condition] = []
        enabled, disabled_by = True, None
        when = data.get("when")
        if r.is_else:
            if when is not None:
                self.log.add(
                    file,
                    data.key_line("when"),
                    Code.ELSE_WITH_WHEN,
                    f"else rule '{r.id}' has no conditions; remove 'when'",
                )
                ok = False
        elif when is None:
            self.log.add(
                file,
                data.line,
                Code.MISSING_FIELD,
                f"rule '{r.id}' has no 'when' (use when: {{}} for a rule that always matches, or else: true)",
            )
            ok = False
        elif not isinstance(when, LineDict):
            self.log.add(
                file,
                data.value_line("when"),
                Code.NOT_MAPPING,
                f"'when' of rule '{r.id}' must map inputs to tests, e.g. when: {{penalties_3y: \">= 3\"}}",
            )
            ok = False
        else:
            for key, cell in when.items():
                line = when.value_line(key)
                loc = Location(file, when.key_line(key))
                if not isinstance(key, str):
                    self.log.add(file, line, Code.NOT_TEXT, f"{key!r} is not an input name")
                    ok = False
                    continue
                try:
                    alts, text = cond.from_yaml(cell)
                    if key.startswith("$param."):
                        pname = key[len("$param.") :]
                        param = params.get(pname)
                        if param is None:
                            raise ConditionError(Code.UNKNOWN_PARAMETER, cond.unknown_parameter_message(pname, params))
                        ptype = "str" if param.type == "list" else param.type
                        tests = cond.bind(alts, key, ptype, None, params)
                        if not any(_static_holds(t, param.value) for t in tests):
                            enabled, disabled_by = False, f"{key} = {cond._plain(param.value)}"
                        continue
                    name = resolved.get(key)
                    if name is None:
                        ok = False
                        continue
                    if declared is not None and name not in declared:
                        self.log.add(
                            file,
                            loc.line,
                            Code.UNDECLARED_INPUT,
                            f"rule '{r.id}' tests '{key}', which is not among the decision's inputs",
                        )
                        ok = False
                        continue
                    inp = inputs.get(name)
                    if inp is None:
                        ok = False
                        continue
                    tests = cond.bind(alts, key, inp.type, inp.values, params)
                    if any(c.input == name for c in conditions):
                        self.log.add(
                            file,
                            loc.line,
                            Code.DUPLICATE_KEY,
                            f"rule '{r.id}' tests '{name}' twice; join the tests with 'or'",
                        )
                        ok = False
                        continue
                    conditions.append(Condition(name, tests, text, loc))
                except ConditionError as exc:
                    self.log.add(file, line, exc.code, exc.message)
                    ok = False
        then = data.get("then")
        values: dict[str, Any] = {}
        if then is None:
            ok = False
        elif not isinstance(then, LineDict):
            self.log.add(
                file,
                data.value_line("then"),
                Code.NOT_MAPPING,
                f"'then' of rule '{r.id}' must map outputs to values",
            )
            ok = False
        else:
            names = {o.name for o in outputs}
            for key in then:
                if key not in names and key not in self.rejected_outputs:
                    hint = did_you_mean(str(key), list(names))
                    self.log.add(
                        file,
                        then.key_line(key),
                        Code.UNKNOWN_OUTPUT,
                        f"'{key}' is not an output of decision '{decision}'{hint}",
                    )
                    ok = False
            for o in outputs:
                if o.name not in then:
                    self.log.add(
                        file,
                        then.line,
                        Code.MISSING_OUTPUT,
                        f"rule '{r.id}' gives no value for output '{o.name}'",
                    )
                    ok = False
                    continue
                try:
                    values[o.name] = _output_value(o, then[o.name], params)
                except ConditionError as exc:
                    self.log.add(file, then.value_line(o.name), exc.code, exc.message)
                    ok = False
        if not ok:
            return None
        order = {name: n for n, name in enumerate(inputs)}
        conditions.sort(key=lambda c: order[c.input])
        return Rule(
            id=r.id,
            decision=decision,
            index=index,
            conditions=tuple(conditions),
            outputs=values,
            reason=str(reason).strip(),
            basis=str(basis).strip(),
            location=r.location,
            is_else=r.is_else,
            enabled=enabled,
            disabled_by=disabled_by,
            pack=r.pack,
        )


def _output_value(o: Output, raw: Any, params: Mapping[str, Parameter]) -> Any:
    if isinstance(raw, str) and raw.strip().startswith("$param."):
        pname = raw.strip()[len("$param.") :]
        param = params.get(pname)
        if param is None:
            raise ConditionError(Code.UNKNOWN_PARAMETER, cond.unknown_parameter_message(pname, params))
        raw = list(param.value) if param.type == "list" else param.value
    if o.type == "list":
        if not isinstance(raw, list):
            raise ConditionError(
                Code.TYPE_ERROR, f"output '{o.name}' is a list (e.g. [FOOD-01, FOOD-02]), got {cond._plain(raw)}"
            )
        items: list[Any] = []
        for item in raw:
            if isinstance(item, str) and item.strip().startswith("$param."):
                pname = item.strip()[len("$param.") :]
                param = params.get(pname)
                if param is None:
                    raise ConditionError(Code.UNKNOWN_PARAMETER, cond.unknown_parameter_message(pname, params))
                expanded = list(param.value) if param.type == "list" else [param.value]
            else:
                expanded = [item]
            items.extend(cond.coerce(x, o.name, "str", o.values) for x in expanded)
        return tuple(dict.fromkeys(items))
    return cond.coerce(raw, o.name, o.type, o.values)


def _static_holds(test: UnaryTest, value: Any) -> bool:
    # One meaning of a test everywhere: the reference interpreter's.
    return reference.holds(test, value)


def _cycles(nodes: list[str], deps: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that are cycles (Tarjan), each as a path in dependency order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in deps.get(v, []):
            if w not in deps:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in deps.get(v, []):
                found.append(_as_path(component, deps))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def _as_path(component: list[str], deps: Mapping[str, list[str]]) -> list[str]:
    # Walk the cycle along "reads" edges so the message reads a → b → a.
    members = set(component)
    start = sorted(component)[0]
    path = [start]
    while len(path) < len(component):
        nxt = next((w for w in deps[path[-1]] if w in members and w not in path), None)
        if nxt is None:
            break
        path.append(nxt)
    return path
