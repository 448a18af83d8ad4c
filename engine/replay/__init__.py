"""Replay (回放) and explain recorded runs: recompute a grade run or a plan from the ledger alone
(engine.replay.recompute), and explain one subject as a run decided it (engine.replay.explain_run)."""

from engine.replay.explain_run import (
    ItemFate,
    RunExplanation,
    explain_run,
    item_fates,
    shown_locations,
    ticket_recipe,
    trace_dict,
)
from engine.replay.recompute import (
    REPLAYABLE,
    SHOW,
    Difference,
    PlanInputs,
    ReplayReport,
    entry_of,
    graded_mismatch,
    plan_differences,
    plan_inputs,
    recorded_pack,
    regrade,
    remake_plan,
    replay,
    scope_items,
)

__all__ = [
    "REPLAYABLE",
    "SHOW",
    "Difference",
    "ItemFate",
    "PlanInputs",
    "ReplayReport",
    "RunExplanation",
    "entry_of",
    "explain_run",
    "graded_mismatch",
    "item_fates",
    "plan_differences",
    "plan_inputs",
    "recorded_pack",
    "regrade",
    "remake_plan",
    "replay",
    "scope_items",
    "shown_locations",
    "ticket_recipe",
    "trace_dict",
]
