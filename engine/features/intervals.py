"""Periodic-inspection intervals of special equipment, per category, each citing its TSG rule and how sure we are.

Why catalogue data here and not a decision in the rule pack: a pack decides per *subject* from the subject's
features; a due date is per *unit* and must be known before the features (overdue count, days overdue, due
within 90 days) exist. Putting the intervals in the pack would make the feature snapshot depend on the pack and
break the "features in, decisions out" contract the ledger records (a grade run stores the features it read).
The price: a province cannot override an interval by a pack parameter; it changes this table (a code change,
reviewed like one) or records the inspection body's date in the store (`next_due_on` is honoured where the rule
leaves the interval to the inspection body). Marks as in shared/domain/regulations-addendum.md §3:
[text] read in the rule, [secondary] read in a secondary source, [unsure] not verified. No TSG full text was
available, so nothing here is better than [secondary].
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """Years between periodic inspections, years to the first one after commissioning, the rule and its mark."""

    years: int | None  # None: no periodic interval (the unit must not be used, or the inspection body sets it)
    first_years: int
    rule: str
    mark: str  # "[secondary]" | "[unsure]"


# TSG T7001-2023 [secondary]: 15 年以内的电梯在第 1、4、7、9、11、13、15 年定期检验, counted from the installation
# 监督检验 date (the store's installed_on stands for it); older than 15 years: every year [unsure].
ELEVATOR_YEARS: tuple[int, ...] = (1, 4, 7, 9, 11, 13, 15)
ELEVATOR_RULE = Interval(
    1,
    1,
    "TSG T7001-2023 电梯监督检验和定期检验规则（第1、4、7、9、11、13、15年；15年以上每年）",
    "[secondary]; 15年以上每年 [unsure]",
)
# An elevator may be inspected up to two months early (TSG T7001-2023 [secondary]); an inspection that early
# still counts for that year's anniversary.
ELEVATOR_EARLY_DAYS = 62

# Per category; a sub-type (设备品种, as in the store's sub_type) overrides its category.
BY_CATEGORY: dict[str, Interval] = {
    "elevator": ELEVATOR_RULE,
    # TSG Q7015-2016 intervals, now cited under TSG 51-2023 [secondary]; whether 51-2023 kept them [unsure].
    "crane": Interval(
        2, 2, "TSG 51-2023 起重机械安全技术规程（周期同 TSG Q7015-2016）", "[secondary]; 51-2023 沿用 [unsure]"
    ),
    # TSG 81-2022 场（厂）内专用机动车辆安全技术规程: annual [unsure].
    "vehicle": Interval(1, 1, "TSG 81-2022 场（厂）内专用机动车辆安全技术规程", "[unsure]"),
    # TSG S7001-2013: 年度检验 every year, 全面检验 every 3 years [secondary]; rule status [unsure].
    "ropeway": Interval(
        1, 1, "TSG S7001-2013 客运索道监督检验和定期检验规则（年度检验每年）", "[secondary]; 现行性 [unsure]"
    ),
    # TSG 71-2023 大型游乐设施安全技术规程 (in force 2024-03-01): annual [unsure].
    "ride": Interval(1, 1, "TSG 71-2023 大型游乐设施安全技术规程", "[unsure]"),
    # TSG 11-2020: 外部检验每年, 内部检验一般每2年, 首次内部检验投用后1年 [secondary]; the soonest (external) governs.
    "boiler": Interval(
        1, 1, "TSG 11-2020 锅炉安全技术规程（外部检验每年1次，内部检验一般每2年1次）", "[secondary]; 条号 [unsure]"
    ),
    # Pressure vessels and piping: by 安全状况等级, see BY_GRADE; first inspection within 3 years of use.
    "pressure_vessel": Interval(
        6, 3, "TSG 21-2016 固定式压力容器安全技术监察规程 8.1.6（首次 3 年内）", "[secondary]; 条号 [unsure]"
    ),
    "pressure_piping": Interval(6, 3, "TSG 31-2025 工业管道安全技术规程（周期暂按 TSG D7005-2018）", "[unsure]"),
}
BY_SUB_TYPE: dict[str, Interval] = {
    # TSG Q7015-2016 [secondary]: 塔式、升降机、流动式 1 年; 桥式、门式、机械式停车设备 2 年.
    "流动式起重机": Interval(1, 1, "TSG 51-2023（周期同 TSG Q7015-2016：流动式每年）", "[secondary]"),
    "塔式起重机": Interval(1, 1, "TSG 51-2023（周期同 TSG Q7015-2016：塔式每年）", "[secondary]"),
    "施工升降机": Interval(1, 1, "TSG 51-2023（周期同 TSG Q7015-2016：升降机每年）", "[secondary]"),
    "冶金桥式起重机": Interval(1, 1, "TSG 51-2023（吊运熔融金属的起重机每年）", "[secondary]"),
}
# 安全状况等级 → interval. TSG 21-2016 [secondary]: 1–2 一般每 6 年; 3 为 3–6 年 (the pack takes the short end);
# 4 监控使用, interval set by the inspection body, cumulative ≤ 3 years (its recorded date governs, else 1 year,
# [unsure]); 5 对缺陷处理，否则不得继续使用 (no periodic interval: use is a 严重事故隐患).
# Piping (TSG D7005-2018 until re-verified against TSG 31-2025 [unsure]): 1–2 ≤ 6 年, 3 ≤ 3 年, 4 判废.
BY_GRADE: dict[tuple[str, int], Interval] = {
    ("pressure_vessel", 1): Interval(6, 3, "TSG 21-2016（安全状况等级 1、2 级一般每 6 年）", "[secondary]"),
    ("pressure_vessel", 2): Interval(6, 3, "TSG 21-2016（安全状况等级 1、2 级一般每 6 年）", "[secondary]"),
    ("pressure_vessel", 3): Interval(3, 3, "TSG 21-2016（安全状况等级 3 级 3–6 年，取 3 年）", "[secondary]"),
    ("pressure_vessel", 4): Interval(
        1, 1, "TSG 21-2016（4 级监控使用，周期由检验机构确定，累计不超过 3 年）", "[unsure]"
    ),
    ("pressure_vessel", 5): Interval(None, 3, "TSG 21-2016（5 级对缺陷处理，否则不得继续使用）", "[secondary]"),
    ("pressure_piping", 1): Interval(6, 3, "TSG D7005-2018（1、2 级不超过 6 年；TSG 31-2025 待核）", "[unsure]"),
    ("pressure_piping", 2): Interval(6, 3, "TSG D7005-2018（1、2 级不超过 6 年；TSG 31-2025 待核）", "[unsure]"),
    ("pressure_piping", 3): Interval(3, 3, "TSG D7005-2018（3 级不超过 3 年；TSG 31-2025 待核）", "[unsure]"),
    ("pressure_piping", 4): Interval(None, 3, "TSG D7005-2018（4 级判废）", "[unsure]"),
}
# Grades whose interval the inspection body sets: a recorded next_due_on is honoured for them.
BODY_SET_GRADES = frozenset({("pressure_vessel", 4)})

# 特种设备安全法 第100条第2款, 特种设备安全监察条例 第3条第3款 [text]: cranes and 场车 on 房屋建筑工地、市政工程工地
# are the construction authority's. Tower cranes and construction hoists are taken to be such equipment wherever
# they are registered (they are built for sites; a factory's tower crane is rare enough to accept the error).
CONSTRUCTION_CATEGORIES = frozenset({"crane", "vehicle"})
CONSTRUCTION_SUB_TYPES = frozenset({"塔式起重机", "施工升降机"})


def interval_for(category: str, sub_type: str | None, grade: int | None) -> Interval | None:
    """The interval a unit follows (None for a category this table does not know)."""
    if grade is not None and (category, grade) in BY_GRADE:
        return BY_GRADE[(category, grade)]
    if sub_type and sub_type in BY_SUB_TYPE:
        return BY_SUB_TYPE[sub_type]
    return BY_CATEGORY.get(category)
