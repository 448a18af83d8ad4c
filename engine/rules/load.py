"""Check a rule-pack directory and build the `Pack`, reporting every problem at once as `file:line: code: message`.

`check_pack(dir)` lists the findings; `load_pack(dir)` returns the checked `Pack` or raises `PackError`, so a
pack with any error can never be used. `read_pack(dir)` gives both (the pack is None after a structural error;
a pack with only table-analysis errors such as overlaps is still built, for tools that must look at it).

The check runs by stage, each a module testable alone, all reporting to one `Findings`:
read.py (layers from disk) → merge.py (parents and children) → typecheck.py (types, order, analysis) →
reasons.py (reasons that state numbers the conditions no longer use, warnings) → cases.py (given/expect cases) →
data.py (policy.yaml and catalogue.yaml, with the validators planning uses); this module assembles the Pack and
its semantic hash (which covers the decisions and parameters, not the data files: a new hash scheme that covers
them must be versioned, so that ledger entries under the old one keep verifying).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from engine.ledger import canonical
from engine.rules.cases import read_cases
from engine.rules.codes import Code
from engine.rules.data import check_data
from engine.rules.findings import Findings
from engine.rules.merge import RawDecision, RawParam, merge_decisions, merge_parameters
from engine.rules.model import Finding, Pack, Parameter
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
    outputs = {o.name for d in pack.decisions for o in d.outputs} if pack is not None else None
    check_data(layers, outputs, log)
    return pack, log.sorted()


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
    decisions = tuple(built[i] for i in order if i in built)
    check_reasons(decisions, params, log)
    pack_features = sorted({i.name for d in decisions for i in d.inputs if i.source is None})
    cases = read_cases(top.tests, built, log)
    if log.broken or start is None or len(decisions) != len(raw):
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
    )
    return _with_hash(pack)


def _with_hash(pack: Pack) -> Pack:
    """The pack with its content hash: everything that decides or explains a result, not file positions."""
    document = {
        "name": pack.name,
        "version": pack.version,
        "jurisdiction": pack.jurisdiction,
        "effective_from": pack.effective_from,
        "effective_to": pack.effective_to,
        "layers": pack.layers,
        "parameters": {p.name: [p.type, p.value] for p in pack.parameters.values()},
        "decisions": [
            {
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
                            [
                                c.input,
                                [[t.op, t.value, t.values, t.lo, t.hi, t.lo_closed, t.hi_closed] for t in c.tests],
                            ]
                            for c in r.conditions
                        ],
                        "then": r.outputs,
                        "reason": r.reason,
                        "basis": r.basis,
                    }
                    for r in d.rules
                ],
            }
            for d in pack.decisions
        ],
    }
    return dataclasses.replace(pack, hash=canonical.pack_hash(document, canonical.PACK))
