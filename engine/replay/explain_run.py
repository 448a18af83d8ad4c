"""Explain a subject as a recorded run decided it: the features, each decision's trace and the outcome, recomputed
from the run's ledger entry, snapshot and pack version (not today's data), and for a plan each check item's
treatment of the subject with its ticket, the stratum's cut-off and a command that reproduces the ticket.

    x = explain_run(conn, "P2026-0280b38463", "91445203027297473N")
    x.as_dict(why_not=True)     # what `suijian explain USCC --run RUN --json` prints
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from engine.explain import DecisionTrace, RuleTrace
from engine.explain import explain as explain_features
from engine.grading import Grading, canonical_result
from engine.ledger import canonical, outputs, runs
from engine.plan import Plan, PlanPolicy
from engine.plan.fitted import plan_cells
from engine.plan.frames import check_history, check_subjects
from engine.plan.make import PROVINCIAL_NOTE, provincial_items_left_out
from engine.plan.select import History, mandatory_rows, select_item
from engine.planning import policy_for
from engine.replay.recompute import (
    PlanInputs,
    entry_as_of,
    entry_of,
    pack_of,
    plan_inputs,
    recorded_features,
    recorded_pack,
    scope_items,
)
from engine.rules import Pack
from engine.sampling import Ticket, derive_seed, ticket
from entities import codes
from entities.errors import InputError


@dataclass(frozen=True)
class ItemFate:
    """What one check item of a plan did with the subject, and the numbers that let anyone check it."""

    code: str
    name: str
    status: str  # outside_jurisdiction | not_in_population | excluded | drawn | not_drawn
    exclusion: str | None = None  # the reason code (EXCLUSION_REASONS) when excluded
    stratum: str | None = None
    ticket: Ticket | None = None
    cutoff: Ticket | None = None  # the stratum's largest drawn ticket (None: nobody drawn)
    quota: int | None = None
    population: int | None = None  # the stratum's
    ratio: str | None = None  # the ratio the stratum was drawn at (a fitted plan: λ·κ·asked)
    ratio_asked: str | None = None  # the pack's ratio, when the plan drew at another (fitted, or the 一般 cap)
    drawn_in_plan: bool = False  # listed among the stratum's drawn tickets in the plan document
    mandatory: bool = False
    mandatory_reason: str | None = None
    mandatory_gone: str | None = None  # the registration status that keeps mandatory work from being done
    seed: str | None = None  # the seed the item's tickets come from
    visit: Mapping[str, Any] | None = None  # id, team, lead, due_from, due_to
    dropped: Mapping[str, Any] | None = None  # code, reason (capacity, no team…)
    recipe: str | None = None

    @property
    def consistent(self) -> bool:
        """The recorded draw agrees with the ticket: drawn exactly when the ticket is at or below the cut-off."""
        if self.ticket is None:
            return not self.drawn_in_plan
        below = self.cutoff is not None and self.ticket <= self.cutoff
        return below == self.drawn_in_plan

    def as_dict(self) -> dict[str, Any]:
        def t(x: Ticket | None) -> dict[str, str] | None:
            return None if x is None else {"id": x.id, "ticket": x.ticket_number}

        return {
            "code": self.code,
            "name": self.name,
            "status": self.status,
            "exclusion": self.exclusion,
            "stratum": self.stratum,
            "ticket": t(self.ticket),
            "cutoff": t(self.cutoff),
            "quota": self.quota,
            "stratum_population": self.population,
            "ratio": self.ratio,
            "ratio_asked": self.ratio_asked,
            "drawn": self.drawn_in_plan,
            "consistent": self.consistent,
            "mandatory": self.mandatory,
            "mandatory_reason": self.mandatory_reason,
            "mandatory_gone": self.mandatory_gone,
            "seed": self.seed,
            "visit": self.visit,
            "dropped": self.dropped,
            "check": self.recipe,
        }


@dataclass(frozen=True)
class RunExplanation:
    """A subject's decision as made in a recorded run: the features, each decision's trace, what was recorded."""

    run_id: str
    kind: str
    uscc: str
    as_of: str
    pack: Mapping[str, str]
    values: Mapping[str, Any]
    traces: tuple[DecisionTrace, ...]
    grade_run: str  # the grade run whose outputs are recorded (the run itself, or the plan's)
    recorded: Mapping[str, Any] | None  # outputs, fired, errors as stored for the subject
    recorded_matches: bool | None  # recomputed == recorded (None when nothing is recorded)
    seed: str | None = None
    item_seeds: str | None = None
    items: tuple[ItemFate, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def as_dict(self, *, why_not: bool = False) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "subject": self.uscc,
            "as_of": self.as_of,
            "pack": dict(self.pack),
            "features": dict(self.values),
            "decisions": [trace_dict(t, why_not=why_not) for t in self.traces],
            "recorded": {"grade_run": self.grade_run, "outcome": self.recorded, "matches": self.recorded_matches},
            **(
                {"plan": {"seed": self.seed, "item_seeds": self.item_seeds, "items": [i.as_dict() for i in self.items]}}
                if self.kind == "plan"
                else {}
            ),
            "notes": list(self.notes),
        }


def trace_dict(t: DecisionTrace, *, why_not: bool) -> dict[str, Any]:
    return {
        "id": t.id,
        "description": t.description,
        "hit_policy": t.hit_policy,
        "outputs": dict(t.outputs),
        "error": t.error,
        "fired": [{"id": r.id, "reason": r.reason, "basis": r.basis, "at": r.location} for r in t.fired],
        **(
            {
                "not_fired": [
                    {
                        "id": r.id,
                        "at": r.location,
                        "matched": r.matched,
                        "failed": [{"input": c.input, "condition": c.text, "value": c.value} for c in r.failed],
                    }
                    for r in t.rules
                    if not r.fired
                ]
            }
            if why_not
            else {}
        ),
    }


def _pack_root(pack: Pack) -> tuple[Path, str]:
    """The temporary directory a restored pack version was written to, and what to show in its place.

    Pack versions are stored with each layer under its directory name (guangdong/…, national/…); a version
    stored with its files at the top (no directory) is shown under the pack's name, so both read national/….
    """
    here = Path(pack.directory)
    for p in (here, *here.parents):
        if p.name.startswith("suijian-pack-"):
            return p, (pack.name if p == here else "")
    return here, pack.name


def _relative(traces: Sequence[DecisionTrace], root: Path, prefix: str) -> tuple[DecisionTrace, ...]:
    """Rule locations relative to the pack version (national/credit.yaml:12), not a temporary path."""

    def rel(location: str) -> str:
        file, sep, line = location.rpartition(":")
        if not sep or not line.isdigit():
            file, line = location, ""
        try:
            shown = Path(file).relative_to(root).as_posix()
            shown = f"{prefix}/{shown}" if prefix else shown
        except ValueError:
            shown = file
        return f"{shown}:{line}" if line else shown

    def rule(r: RuleTrace) -> RuleTrace:
        return replace(r, location=rel(r.location))

    return tuple(replace(t, rules=tuple(rule(r) for r in t.rules)) for t in traces)


def shown_locations(pack: Pack, traces: Sequence[DecisionTrace]) -> tuple[DecisionTrace, ...]:
    """Traces of a pack restored from the store, with rule locations as national/credit.yaml:12."""
    return _relative(traces, *_pack_root(pack))


def _decide(
    pack: Pack, as_of: dt.date, row: pl.DataFrame
) -> tuple[dict[str, Any], tuple[DecisionTrace, ...], dict[str, Any]]:
    """The features, traces (locations relative to the pack) and the outcome grading gives the one-row frame."""
    values, traces = explain_features(pack, row.row(0, named=True))
    grading = Grading(pack, as_of)
    outcome = grading.outcomes[int(grading.grade_frame(row)[0])]
    result = {"outputs": outcome.outputs, "fired": list(outcome.fired), "errors": list(outcome.errors)}
    return values, _relative(traces, *_pack_root(pack)), result


def _compare(recomputed: Mapping[str, Any], recorded: Mapping[str, Any] | None) -> bool | None:
    if recorded is None:
        return None

    def canon(x: Mapping[str, Any]) -> str:
        return canonical_result(dict(x["outputs"]), list(x["fired"]), list(x["errors"]))

    return canon(recomputed) == canon(recorded)


def ticket_recipe(uscc: str, plan_seed: str, code: str, per_item: bool) -> str:
    """A shell line that prints the subject's ticket for the item with the public consistent-sampler package.

    With per-item seeds the line starts from the item's seed (engine.sampling.derive_seed of the plan's seed,
    which `printf 'suijian:item/CODE:%s' SEED | sha256sum` reproduces)."""
    seed = derive_seed(plan_seed, f"item/{code}") if per_item else plan_seed
    code_text = (
        "from consistent_sampler import first_ticket; "
        f"print(first_ticket({json.dumps(uscc)}, {json.dumps(seed, ensure_ascii=False)}).ticket_number)"
    )
    return f"python -c {shlex.quote(code_text)}"


def item_fates(inputs: PlanInputs, policy: PlanPolicy, plan: Plan, uscc: str) -> tuple[list[ItemFate], list[str]]:
    """Each item's treatment of the subject, recomputed row-wise exactly as make_plan does, checked against the plan.

    Population, exclusions and strata are properties of the subject's own row, its past checks and the policy,
    so select_item on the one-row frame finds the same ones; the draw itself (cut-off) is the plan's.
    """
    notes: list[str] = []
    checked = check_subjects(
        inputs.subjects.filter(pl.col("uscc") == uscc),
        need_status=bool(policy.excluded_statuses),
        need_whitelist=policy.whitelist != "none",
    )
    regions = plan.regions
    region = checked.get_column("region")[0]
    inside = not regions or any(region.startswith(codes.region_prefix(r)) for r in regions)
    past = check_history(inputs.history, inputs.as_of).filter(pl.col("uscc") == uscc)
    start = max(inputs.period.start, inputs.as_of)
    history = History.of(past, start.year)
    left_out = provincial_items_left_out(inputs.items, regions)
    notes.extend(f"check item {code}: {PROVINCIAL_NOTE}" for code in left_out)
    by_code = {i.code: i for i in inputs.items if i.code not in left_out}
    domains = {code: item.domain for code, item in by_code.items()}
    mandatory = mandatory_rows(checked).filter(pl.col("item_code").is_in(list(by_code)))
    per_item = policy.item_seeds == "per_item"
    cell: str | None = None
    if plan.fitted and inside:
        # A fitted plan's strata are cells: the subject's cell follows from its own row, as the planner made it.
        found = plan_cells(checked, by_code, policy, past, mandatory, start=start, period=inputs.period).members
        cell = found.get_column("cell")[0] if found.height else None
    fates: list[ItemFate] = []
    for code, item in sorted(by_code.items()):
        try:
            recorded_item = plan.item(code)
        except KeyError:
            notes.append(f"check item {code} is in the snapshot but not in the plan document")
            continue
        seed = derive_seed(inputs.seed, f"item/{code}") if per_item else inputs.seed
        if recorded_item.seed != seed:
            notes.append(
                f"check item {code}: the plan document records seed {recorded_item.seed[:16]}…, "
                f"not the one the policy derives ({seed[:16]}…)"
            )
        visit, dropped = _visit_of(plan, uscc, code)
        if not inside:
            fates.append(ItemFate(code, item.name, "outside_jurisdiction", seed=seed))
            continue
        sel = select_item(
            item, checked, policy, history, domains, seed=seed, key_column=None, start=start, mandatory=mandatory
        )
        must = sel.mandatory.height > 0
        reason = sel.mandatory.get_column("reason")[0] if must else None
        gone = sel.mandatory_excluded.get_column("status")[0] if sel.mandatory_excluded.height else None
        fate = ItemFate(
            code,
            item.name,
            "not_in_population",
            mandatory=must,
            mandatory_reason=reason,
            mandatory_gone=gone,
            seed=seed,
            visit=visit,
            dropped=dropped,
        )
        if sel.plan.population == 0:
            fates.append(fate)
            continue
        if sel.plan.eligible == 0:
            why = next((k for k, n in sel.plan.exclusions.items() if n), None)
            fates.append(replace(fate, status="excluded", exclusion=why))
            continue
        stratum_name = cell if plan.fitted and cell is not None else sel.plan.strata[0].stratum
        fate = replace(
            fate,
            status="not_drawn",
            stratum=stratum_name,
            ticket=ticket(seed, uscc),
            recipe=ticket_recipe(uscc, inputs.seed, code, per_item),
        )
        stratum = next((s for s in recorded_item.strata if s.stratum == stratum_name), None)
        if stratum is None:
            notes.append(f"check item {code}: stratum {stratum_name} is not in the plan document")
            fates.append(fate)
            continue
        drawn = any(t.id == uscc for t in stratum.draw.drawn)
        fate = replace(
            fate,
            status="drawn" if drawn else "not_drawn",
            cutoff=stratum.draw.cutoff,
            quota=stratum.draw.quota,
            population=stratum.draw.population,
            ratio=stratum.ratio,
            ratio_asked=stratum.ratio_asked,
            drawn_in_plan=drawn,
        )
        if not fate.consistent:
            notes.append(
                f"check item {code}: the plan document says {'drawn' if drawn else 'not drawn'}, but the "
                f"ticket is {'at or below' if not drawn else 'above'} the cut-off"
            )
        fates.append(fate)
    return fates, notes


def _visit_of(plan: Plan, uscc: str, code: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    for v in plan.visits:
        if v.uscc == uscc and code in v.item_codes:
            return {
                "id": v.id,
                "team": list(v.team),
                "lead": v.lead,
                "experts": list(v.experts),
                "due_from": v.due_from.isoformat(),
                "due_to": v.due_to.isoformat(),
                "priority": v.priority,
            }, None
    for d in (*plan.uncovered, *plan.unstaffed):
        if d.uscc == uscc and code in d.items:
            return None, {"code": d.code, "reason": d.reason}
    return None, None


def explain_run(conn: Connection, run_id: str, uscc: str) -> RunExplanation:
    """How the run decided for one subject, from the recorded inputs and pack version (not today's data)."""
    entry = entry_of(conn, run_id)
    uscc = uscc.strip().upper()
    if entry.kind == "grade":
        features = recorded_features(conn, entry)
        rows = features.filter(pl.col("uscc") == uscc)
        if rows.height == 0:
            raise InputError(f"subject {uscc} is not in grade run {entry.run_id} ({features.height:,} subjects graded)")
        with recorded_pack(conn, entry) as pack:
            values, traces, result = _decide(pack, entry_as_of(entry), rows)
        recorded = runs.subject_outcome(conn, entry.run_id, uscc)
        matches = _compare(result, recorded)
        return RunExplanation(
            run_id=entry.run_id,
            kind="grade",
            uscc=uscc,
            as_of=entry.get("as_of"),
            pack=pack_of(entry),
            values=values,
            traces=traces,
            grade_run=entry.run_id,
            recorded=recorded,
            recorded_matches=matches,
            notes=() if matches else (_mismatch(entry.run_id, recorded),),
        )
    document = runs.plan_document(conn, entry.run_id)  # unzipped once
    inputs = plan_inputs(conn, entry, document)
    rows = inputs.subjects.filter(pl.col("uscc") == uscc)
    if rows.height == 0:
        raise InputError(
            f"subject {uscc} is not in plan {entry.run_id} (its snapshot holds {inputs.subjects.height:,} subjects)"
        )
    text = document.text if document is not None else None
    notes: list[str] = []
    if text is None:
        raise InputError(
            f"plan {entry.run_id}: the store holds no readable plan document; run `suijian replay {entry.run_id}`"
        )
    # The document's hash as it reads now: its text's SHA-256 (plan/1, /2) or its content's (plan/3).
    scheme = entry.schemes.get("outputs", canonical.PLAN)
    if document is None or outputs.plan_outputs_digest(document.digest or "", scheme) != entry.get("outputs_hash"):
        notes.append(
            f"the plan document stored as {entry.run_id} does not hash to the ledger's outputs_hash: it was "
            f"edited after the run (see `suijian replay {entry.run_id}`)"
        )
    plan = Plan.from_json(text)
    with recorded_pack(conn, entry) as pack:
        values, traces, result = _decide(pack, entry_as_of(entry), rows)
        policy = policy_for(pack, scope_items(entry))
    grade_run = str(entry.details.get("grade_run") or "")
    recorded = runs.subject_outcome(conn, grade_run, uscc) if grade_run else None
    matches = _compare(result, recorded)
    if matches is False or (matches is None and grade_run):
        notes.append(_mismatch(grade_run, recorded))
    fates, more = item_fates(inputs, policy, plan, uscc)
    return RunExplanation(
        run_id=entry.run_id,
        kind="plan",
        uscc=uscc,
        as_of=entry.get("as_of"),
        pack=pack_of(entry),
        values=values,
        traces=traces,
        grade_run=grade_run,
        recorded=recorded,
        recorded_matches=matches,
        seed=inputs.seed,
        item_seeds=policy.item_seeds,
        items=tuple(fates),
        notes=tuple(notes + more),
    )


def _mismatch(run_id: str, recorded: Mapping[str, Any] | None) -> str:
    if recorded is None:
        return f"the store holds no outcome of this subject for grade run {run_id} any more"
    return (
        f"the outcome stored for this subject in grade run {run_id} differs from the recomputed one "
        f"(see `suijian replay {run_id}`)"
    )
