"""Check a rule-pack directory and build the `Pack`, reporting every problem at once as `file:line: code: message`.

`check_pack(dir)` lists the findings; `load_pack(dir)` returns the checked `Pack` or raises `PackError`, so a
pack with any error can never be used. `read_pack(dir)` gives both (the pack is None after a structural error;
a pack with only table-analysis errors such as overlaps is still built, for tools that must look at it).

The check runs by stage, each a module testable alone, all reporting to one `Findings`:
read.py (layers from disk) → merge.py (parents and children) → typecheck.py (types, order, analysis) →
reasons.py (reasons that state numbers the conditions no longer use, warnings) → cases.py (given/expect cases) →
data.py (policy.yaml and catalogue.yaml, with the validators planning uses); this module assembles the Pack and
its semantic hash under every pack scheme: `suijian-pack-1` covers the decisions and parameters, `suijian-pack-2`
(what new entries record and users see) also the plan policy and the check-item catalogue. Ledger entries made
under pack-1 keep verifying and replaying against `Pack.hashes`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.features.result_facts import RESULT_REGISTRY
from engine.ledger import canonical
from engine.rules.cases import read_cases
from engine.rules.codes import Code
from engine.rules.data import CATALOGUE, POLICY, check_data
from engine.rules.findings import Findings
from engine.rules.merge import RawDecision, RawParam, merge_decisions, merge_parameters
from engine.rules.model import Case, Decision, Finding, Pack, Parameter
from engine.rules.read import MANIFEST, Layer, date, read_layers, text
from engine.rules.reasons import check_reasons
from engine.rules.typecheck import MAX_INPUTS, type_decisions
from entities.errors import PackError

__all__ = ["MAX_INPUTS", "check_pack", "load_pack", "read_pack"]


def check_pack(directory: str | os.PathLike[str]) -> list[Finding]:
    """Every problem in the pack at `directory` (and its parents), sorted by file and line."""
    return read_pack(directory)[1]


def load_pack(directory: str | os.PathLike[str]) -> Pack:
    """The checked pack at `directory`; PackError (with every finding) if it has any error."""
    pack, findings = read_pack(directory)
    if pack is None or any(f.severity == "error" for f in findings):
        raise PackError(findings)
    return pack


def read_pack(directory: str | os.PathLike[str], *, analyse_tables: bool = True) -> tuple[Pack | None, list[Finding]]:
    """(pack or None, findings). The pack is None when a structural error makes it impossible to build."""
    log = Findings()
    layers = read_layers(Path(directory), _display(directory), log)
    if not layers or any(layer.manifest is None for layer in layers):
        log.broken = True
    params = merge_parameters(layers, log)
    decisions, tainted = merge_decisions(layers, log)
    pack = _build(layers, params, decisions, tainted, log, analyse_tables)
    data = check_data(layers, pack.decisions if pack is not None else None, log)
    return (_with_hash(pack, data) if pack is not None else None), log.sorted()


def _display(directory: str | os.PathLike[str]) -> str:
    text = os.fspath(directory)
    return os.path.normpath(text) if text else "."


def _build(
    layers: list[Layer],
    raw_params: dict[str, RawParam],
    raw: list[RawDecision],
    tainted: set[str],
    log: Findings,
    analyse_tables: bool,
) -> Pack | None:
    params = {p.name: Parameter(p.name, p.type, p.value, p.comment, p.location) for p in raw_params.values()}
    built, order = type_decisions(raw, params, log, tainted=tainted, analyse_tables=analyse_tables)
    top = layers[-1] if layers else None
    manifest = top.manifest if top else None
    if manifest is None or top is None:
        return None
    file = os.path.join(top.display, MANIFEST)
    name = text(log, manifest, "name", file)
    version = text(log, manifest, "version", file)
    jurisdiction = text(log, manifest, "jurisdiction", file)
    description = text(log, manifest, "description", file)
    start = date(log, manifest, "effective_from", file)
    end = date(log, manifest, "effective_to", file)
    if start and end and end < start:
        log.add(
            file,
            manifest.value_line("effective_to"),
            Code.DATE_ORDER,
            "effective_to is before effective_from",
        )
    if not raw and not log.broken:
        log.add(
            file,
            manifest.line,
            Code.EMPTY_TABLE,
            "the pack has no decisions; add a rule file with a 'decisions' list",
        )
    typed = tuple(built[i] for i in order if i in built)
    check_reasons(typed, params, log)
    on_results = _followup_ids(typed, log)
    decisions = tuple(d for d in typed if d.id not in on_results)
    followups = tuple(d for d in typed if d.id in on_results)
    pack_features = sorted({i.name for d in decisions for i in d.inputs if i.source is None})
    cases, followup_cases = _split_cases(read_cases(top.tests, built, log), followups, log)
    if log.broken or start is None or len(typed) != len(raw):
        return None
    pack = Pack(
        name=name,
        version=version,
        jurisdiction=jurisdiction,
        effective_from=start,
        effective_to=end,
        description=description,
        directory=top.display,
        layers=tuple(layer.name for layer in layers),
        parameters=params,
        decisions=decisions,
        cases=cases,
        features=tuple(pack_features),
        followups=followups,
        followup_cases=followup_cases,
    )
    return pack


def _followup_ids(decisions: tuple[Decision, ...], log: Findings) -> set[str]:
    """The decisions on result facts: those reading a result fact or another such decision's output (DAG order,
    so one pass suffices). One that also reads a subject feature or a grading output is reported: a follow-up is
    decided on what an inspection found, and grading never sees result facts."""
    on_results: set[str] = set()
    for d in decisions:
        results = [
            i.name for i in d.inputs if (i.source is None and i.name in RESULT_REGISTRY) or i.source in on_results
        ]
        if not results:
            continue
        on_results.add(d.id)
        subject = [i.name for i in d.inputs if i.name not in results]
        if subject:
            log.add(
                d.location.file,
                d.location.line,
                Code.MIXED_VOCABULARY,
                f"decision '{d.id}' reads result facts ({', '.join(results)}) and subject features or grading outputs "
                f"({', '.join(subject)}); a follow-up decision reads only result facts and other follow-up outputs",
            )
    return on_results


def _split_cases(
    cases: tuple[Case, ...], followups: tuple[Decision, ...], log: Findings
) -> tuple[tuple[Case, ...], tuple[Case, ...]]:
    """(grading cases, follow-up cases), by what a case expects; a case expecting both kinds is reported."""
    outputs = {o.name for d in followups for o in d.outputs}
    grading: list[Case] = []
    followup: list[Case] = []
    for case in cases:
        mine = [k for k in case.expect if k in outputs]
        given_results = [k for k in case.given if k in RESULT_REGISTRY]
        if mine and len(mine) < len(case.expect):
            log.add(
                case.location.file,
                case.location.line,
                Code.MIXED_VOCABULARY,
                f"case '{case.name}' expects follow-up outputs ({', '.join(mine)}) and grading outputs; split it in two",
            )
        elif not mine and given_results:
            log.add(
                case.location.file,
                case.location.line,
                Code.MIXED_VOCABULARY,
                f"case '{case.name}' gives result facts ({', '.join(given_results)}) but expects grading outputs",
            )
        else:
            (followup if mine else grading).append(case)
    return tuple(grading), tuple(followup)


def _with_hash(pack: Pack, data: Mapping[str, Any]) -> Pack:
    """The pack with its data files and its hash under every pack scheme: everything that decides or explains a
    result, not file positions. PACK_1 covers the decisions and parameters; PACK_2 also the plan policy and the
    check-item catalogue, so a policy-only or catalogue-only change shows as a new hash."""
    document: dict[str, Any] = {
        "name": pack.name,
        "version": pack.version,
        "jurisdiction": pack.jurisdiction,
        "effective_from": pack.effective_from,
        "effective_to": pack.effective_to,
        "layers": pack.layers,
        "parameters": {p.name: [p.type, p.value] for p in pack.parameters.values()},
        "decisions": [_decision_document(d) for d in pack.decisions],
    }
    if pack.followups:
        # Only a pack with follow-up decisions has this key, so every pack written before them hashes as it did.
        document["followups"] = [_decision_document(d) for d in pack.followups]
    hashes = {canonical.PACK_1: canonical.pack_hash(document, canonical.PACK_1)}
    document["data"] = {name: _plain(data.get(name)) for name in (POLICY, CATALOGUE)}
    hashes[canonical.PACK_2] = canonical.pack_hash(document, canonical.PACK_2)
    return dataclasses.replace(
        pack,
        hash=hashes[canonical.PACK],
        data={name: document["data"][name] for name in (POLICY, CATALOGUE)},
        hashes=hashes,
    )


def _plain(value: Any) -> Any:
    """YAML as read (line-remembering mappings and lists) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _decision_document(d: Decision) -> dict[str, Any]:
    """What a decision contributes to the pack hash: everything that decides or explains, not file positions."""
    return {
        "id": d.id,
        "hit_policy": d.hit_policy,
        "aggregate": d.aggregate,
        "inputs": [[i.name, i.type] for i in d.inputs],
        "outputs": [[o.name, o.type, o.values] for o in d.outputs],
        "rules": [
            {
                "id": r.id,
                "else": r.is_else,
                "enabled": r.enabled,
                "when": [
                    [c.input, [[t.op, t.value, t.values, t.lo, t.hi, t.lo_closed, t.hi_closed] for t in c.tests]]
                    for c in r.conditions
                ],
                "then": r.outputs,
                "reason": r.reason,
                "basis": r.basis,
            }
            for r in d.rules
        ],
    }
