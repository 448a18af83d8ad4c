"""Rule packs: load and check them, test them, and evaluate them on durable-rules or the reference interpreter.

pack = load_pack("rules/national")                 # PackError (every finding) if the pack has any error
findings = check_pack("rules/national")            # [Finding]: file:line: code: message, sorted; code is a Code
durable.evaluate(pack, features) -> Result         # the inference core
durable.evaluate_many(pack, records) -> [Result]   # each distinct rule-relevant input evaluated once
reference.evaluate(pack, features) -> Result       # the independent interpreter it is checked against
relevant_key(pack, record) -> tuple[int, ...]      # the bucket a subject falls in
run_cases(pack) -> CaseReport                      # the pack's given/expect cases and row coverage
"""

from engine.rules import durable, reference
from engine.rules.cases import CaseOutcome, CaseReport, Coverage, run_cases
from engine.rules.codes import Code
from engine.rules.keys import key_spec, relevant_key, relevant_keys
from engine.rules.load import check_pack, load_pack, read_pack
from engine.rules.model import (
    Case,
    Condition,
    Decision,
    DecisionResult,
    Finding,
    Input,
    Location,
    Output,
    Pack,
    Parameter,
    Result,
    Rule,
    UnaryTest,
)
from entities.errors import EngineFault, PackError, RecordError

__all__ = [
    "Case",
    "CaseOutcome",
    "CaseReport",
    "Code",
    "Condition",
    "Coverage",
    "Decision",
    "DecisionResult",
    "EngineFault",
    "Finding",
    "Input",
    "Location",
    "Output",
    "Pack",
    "PackError",
    "Parameter",
    "RecordError",
    "Result",
    "Rule",
    "UnaryTest",
    "check_pack",
    "durable",
    "key_spec",
    "load_pack",
    "read_pack",
    "reference",
    "relevant_key",
    "relevant_keys",
    "run_cases",
]
