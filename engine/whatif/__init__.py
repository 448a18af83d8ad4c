"""What a rule-pack change would do, before it takes effect (`suijian rules diff`): the pure pack diff
(engine.whatif.packdiff), the grading of the store's subjects with both packs (engine.whatif.compare) and the
plans made with each side by side (engine.whatif.impact)."""

from engine.whatif.compare import (
    DEFAULT_SAMPLE,
    MAX_CATEGORIES,
    OutputChange,
    SampleSubject,
    WhatIf,
    check_in_force,
    compare,
    load_side,
)
from engine.whatif.impact import (
    PlanRequest,
    plan_impact,
    planning_columns,
    plans_side_by_side,
    subjects_frame,
)
from engine.whatif.packdiff import Change, PackDiff, PackSide, diff_packs, rule_summary, shown, unary_text

__all__ = [
    "DEFAULT_SAMPLE",
    "MAX_CATEGORIES",
    "Change",
    "OutputChange",
    "PackDiff",
    "PackSide",
    "PlanRequest",
    "SampleSubject",
    "WhatIf",
    "check_in_force",
    "compare",
    "diff_packs",
    "load_side",
    "plan_impact",
    "planning_columns",
    "plans_side_by_side",
    "rule_summary",
    "shown",
    "subjects_frame",
    "unary_text",
]
