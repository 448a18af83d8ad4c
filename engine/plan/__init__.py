"""Plan the 双随机 checks of a period: draws per check item, mandatory work, joint visits, teams under capacity.

    from engine.plan import make_plan, PlanPolicy, Period, subjects_frame, history_frame
    plan = make_plan(subjects, items, PlanPolicy(), inspectors, conflicts, history,
                     seed="01382438112797316654", period=Period.year(2025), as_of=date(2025, 1, 2))
    plan.to_json(); plan.summary()

Exports of the visit lists (CSV, XLSX, JSON) are in engine.plan.export.
"""

from engine.plan.frames import HISTORY_SCHEMA, PLANNING_COLUMNS, history_frame, subjects_frame
from engine.plan.make import MIN_SEED_LENGTH, check_seed, make_plan
from engine.plan.model import Dropped, InspectorLoad, ItemPlan, Plan, StratumPlan, Visit, VisitItem
from engine.plan.policy import ItemPolicy, Period, PlanPolicy
from engine.plan.select import EXCLUSION_REASONS

__all__ = [
    "EXCLUSION_REASONS",
    "HISTORY_SCHEMA",
    "MIN_SEED_LENGTH",
    "PLANNING_COLUMNS",
    "Dropped",
    "InspectorLoad",
    "ItemPlan",
    "ItemPolicy",
    "Period",
    "Plan",
    "PlanPolicy",
    "StratumPlan",
    "Visit",
    "VisitItem",
    "check_seed",
    "history_frame",
    "make_plan",
    "subjects_frame",
]
