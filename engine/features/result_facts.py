"""The second vocabulary a rule pack may read: facts about one check item of one recorded result.

Subject features (registry.py) describe a market subject as of a date and feed grading. Result facts describe what
one inspection found for one check item, what was ordered and what has happened since, as of a date; they feed the
pack's follow-up decisions (后续处置: re-checks, the special-equipment ladder, 经营异常名录 and penalty-case
proposals). A decision reads one vocabulary or the other, never both: `suijian rules check` refuses a mix.

Every fact is a plain scalar so the ordinary condition language reads it. Facts that depend on the result-code
table (which codes are a listing cause, which end checks) are computed from `entities/data/result_codes.csv`
(engine/results/codes.py), so the table, not the pack, says what a code means in law; the pack says what to do.
"""

from __future__ import annotations

from engine.features.registry import REGISTRY, Feature

# The catalogue's domains (rules/*/catalogue.yaml); a catalogue domain outside this list reads as "other".
ITEM_DOMAINS = (
    "registration",
    "food",
    "special_equipment",
    "medical_device",
    "product_quality",
    "pricing",
    "advertising",
    "other",
)


def _fact(
    name: str,
    type_: str,
    zh: str,
    en: str,
    *,
    unit: str = "flag",
    nullable: bool = False,
    values: tuple[str, ...] = (),
) -> Feature:
    return Feature(name, type_, unit, zh, en, values, nullable)


RESULT_FACTS: tuple[Feature, ...] = (
    _fact(
        "item_domain",
        "str",
        "检查事项所属领域",
        "the check item's catalogue domain (food, special_equipment, …)",
        unit="label",
        values=ITEM_DOMAINS,
    ),
    _fact(
        "result_ends_checks", "bool", "结果为注销、吊销、撤销或迁出", "a code that ends checks (注销、吊销、撤销、迁出)"
    ),
    _fact("found_problem", "bool", "发现问题", "any result code that is a finding"),
    _fact("problem_open", "bool", "问题未当场改正", "a finding other than 已责令改正且已改正 (E) alone"),
    _fact("listing_cause", "bool", "直接列异情形", "a code that is itself a 经营异常名录 cause (无法联系, code 6)"),
    _fact(
        "publication_listing_cause",
        "bool",
        "限期公示后方可列异情形",
        "a code that is a listing cause only when an ordered publication is missed (未按规定公示, code B)",
    ),
    _fact("penalty_cause", "bool", "立案情形", "a code that is a penalty-case cause (弄虚作假, code C since 2024)"),
    _fact("rectify_ordered", "bool", "已责令改正或发出监察指令", "责令改正 or a 特种设备安全监察指令 was ordered"),
    _fact("directive_issued", "bool", "已发出特种设备安全监察指令", "a 特种设备安全监察指令 was issued"),
    _fact("stop_use_ordered", "bool", "已责令停止使用", "责令停止使用 was ordered"),
    _fact("case_opened", "bool", "已立案", "a penalty case was opened"),
    _fact("publication_ordered", "bool", "已责令限期公示", "publication by a deadline was ordered"),
    _fact(
        "rectification_report_received",
        "bool",
        "已收到整改报告",
        "the subject's rectification report was received on or before the as-of date",
    ),
    _fact(
        "working_days_past_deadline",
        "int",
        "超过整改期限的工作日数",
        "working days since the earliest order deadline (negative: days left; missing: no deadline)",
        unit="working day",
        nullable=True,
    ),
    _fact("rechecked", "bool", "已复查", "a later result of the same subject checks this item"),
    _fact(
        "recheck_corrected",
        "bool",
        "复查已改正",
        "the first re-check found it corrected (missing: not re-checked)",
        nullable=True,
    ),
    _fact(
        "ordered_publication_made",
        "bool",
        "已按期公示",
        "the ordered publication was made by its deadline (missing: not known)",
        nullable=True,
    ),
)

RESULT_REGISTRY: dict[str, Feature] = {f.name: f for f in RESULT_FACTS}

# A name means one thing: a result fact never shadows a subject feature.
assert not set(RESULT_REGISTRY) & set(REGISTRY), "a result fact has the name of a subject feature"

# Every name a rule pack may read, either vocabulary.
VOCABULARY: dict[str, Feature] = {**REGISTRY, **RESULT_REGISTRY}
