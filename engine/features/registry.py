"""The feature registry: every name a rule pack may read, with its type, unit and meaning.

A pack that reads a name not listed here is rejected by `suijian rules check`. Adding a feature is one
entry here, its expression in engine/features/partition.py (any new column it reads in partition.INPUTS) and the
same as SQL in engine/features/reference.py (tests/engine/test_feature_frames.py holds the two equal). Types: int,
float, bool, str (with its closed set of values where it has one). `nullable` features may be missing (a rule tests them with `missing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # "int" | "float" | "bool" | "str"
    unit: str
    zh: str
    en: str
    values: tuple[str, ...] = field(default=())  # closed vocabulary for str features
    nullable: bool = False
    min: float | None = None  # lowest possible value (numbers); the checker's gap analysis reads it
    max: float | None = None  # highest possible value (numbers)


def _f(
    name: str,
    type_: str,
    unit: str,
    zh: str,
    en: str,
    values: tuple[str, ...] = (),
    nullable: bool = False,
    min: float | None = None,
    max: float | None = None,  # noqa: A002 - the field names the checker reads
) -> Feature:
    return Feature(name, type_, unit, zh, en, values, nullable, min, max)


_KINDS = ("enterprise", "individual", "cooperative", "other")
_STATUSES = ("active", "revoked", "cancelled", "moved_out", "annulled")
_SECTIONS = tuple("ABCDEFGHIJKLMNOPQRST")
_FOOD_KINDS = ("production", "trade", "catering", "special_food")
_FOOD_FORMATS = (
    "manufacturer",
    "small_workshop",
    "supermarket",
    "grocery",
    "wholesale",
    "online",
    "restaurant",
    "snack",
    "canteen",
    "school_canteen",
    "central_kitchen",
    "group_catering",
    "special_food",
)
_SCALES = ("small", "medium", "large")

FEATURES: tuple[Feature, ...] = (
    # who the subject is
    _f("subject_kind", "str", "", "主体类型", "kind of subject", _KINDS),
    _f("status", "str", "", "登记状态", "registration status", _STATUSES),
    _f("industry_section", "str", "", "行业门类（GB/T 4754）", "industry section (GB/T 4754 letter)", _SECTIONS),
    _f("days_since_registration", "int", "day", "成立天数", "days since registration"),
    _f("whitelist", "bool", "", "白名单企业", "on the local whitelist (白名单)"),
    _f("lenient", "bool", "", "包容审慎监管", "under 包容审慎 (inclusive, prudent) supervision"),
    _f(
        "has_industrial_product_licence",
        "bool",
        "",
        "持有有效的工业产品生产许可证",
        "holds a valid industrial-product licence",
    ),
    # credit record
    _f("on_abnormal_list", "bool", "", "在经营异常名录", "currently on the abnormal-operations list"),
    _f("on_serious_violation_list", "bool", "", "在严重违法失信名单", "currently on the serious-violation list"),
    _f(
        "abnormal_unreachable",
        "bool",
        "",
        "因通过登记的住所无法联系列入经营异常名录",
        "on the abnormal list because the registered address cannot be reached",
    ),
    _f(
        "annual_report_late",
        "bool",
        "",
        "上一年度年度报告未于6月30日前报送",
        "last year's annual report not filed by 30 June (missing: the store holds no reports)",
        nullable=True,
    ),
    _f("abnormal_listings_3y", "int", "count", "近3年列入经营异常名录次数", "abnormal-list entries in 3 years"),
    _f("penalties_1y", "int", "count", "近1年行政处罚次数", "administrative penalties in the last year"),
    _f("penalties_3y", "int", "count", "近3年行政处罚次数", "administrative penalties in the last 3 years"),
    _f(
        "severe_penalties_3y",
        "int",
        "count",
        "近3年责令停产停业或吊销许可次数",
        "suspensions or revocations in 3 years",
    ),
    _f("device_penalties_1y", "int", "count", "近1年医疗器械行政处罚次数", "medical-device penalties in the last year"),
    _f("complaints_12m", "int", "count", "近12个月投诉举报件数", "complaints and reports in 12 months"),
    _f("verified_complaints_12m", "int", "count", "近12个月查证属实投诉件数", "verified complaints in 12 months"),
    _f(
        "equipment_verified_complaints_12m",
        "int",
        "count",
        "近12个月涉及特种设备安全的查证属实投诉件数",
        "verified complaints about special-equipment safety in 12 months",
    ),
    _f("checks_3y", "int", "count", "近3年检查次数", "checks in the last 3 years"),
    _f("problem_checks_3y", "int", "count", "近3年发现问题的检查次数", "checks in 3 years that found a problem"),
    _f("days_since_last_check", "int", "day", "距上次检查天数", "days since the last check", nullable=True),
    _f(
        "days_since_full_food_check",
        "int",
        "day",
        "距上次覆盖全部检查要点的食品检查天数",
        "days since the last food check covering every check point",
        nullable=True,
    ),
    _f("last_check_found_problem", "bool", "", "上次检查发现问题", "the last check found a problem"),
    # food (食品)
    _f("has_food_licence", "bool", "", "持有食品许可", "holds a food licence"),
    _f("food_licence_kind", "str", "", "食品许可类别", "food licence kind", _FOOD_KINDS, nullable=True),
    _f("food_format", "str", "", "食品业态", "food business format", _FOOD_FORMATS, nullable=True),
    _f("food_scale", "str", "", "食品经营规模", "food business scale", _SCALES, nullable=True),
    _f(
        "food_static_score",
        "float",
        "point",
        "食品静态风险分（≤40）",
        "food static risk score (max 40)",
        nullable=True,
        min=0,
        max=40,
    ),
    _f(
        "food_dynamic_score",
        "float",
        "point",
        "食品动态风险分（≤60）",
        "food dynamic risk score (max 60)",
        nullable=True,
        min=0,
        max=60,
    ),
    _f(
        "food_risk_score",
        "float",
        "point",
        "食品风险总分（静态+动态）",
        "food risk score, static + dynamic",
        nullable=True,
        min=0,
        max=100,
    ),
    # medical devices (医疗器械)
    _f("has_device_business", "bool", "", "从事医疗器械生产经营", "produces or trades medical devices"),
    _f("device_producer", "bool", "", "医疗器械生产企业", "medical-device producer"),
    _f(
        "device_max_class",
        "int",
        "class",
        "医疗器械最高管理类别（1-3）",
        "highest medical-device class (1-3)",
        nullable=True,
        min=1,
        max=3,
    ),
    _f(
        "device_key_catalogue",
        "bool",
        "",
        "生产重点监管目录产品",
        "produces a product on the key-supervision catalogue",
    ),
    # special equipment (特种设备), the subject as user unit (使用单位)
    # Equipment features count units in use (在用) only, outside construction sites (特种设备安全法 第100条).
    _f("equipment_count", "int", "unit", "在用特种设备台数", "special equipment in use"),
    _f("elevator_count", "int", "unit", "电梯台数", "elevators"),
    _f(
        "public_gathering_equipment_count",
        "int",
        "unit",
        "公众聚集场所设备台数",
        "equipment at public-gathering places",
    ),
    _f("equipment_overdue_count", "int", "unit", "超期未检设备台数", "equipment overdue for periodic inspection"),
    _f("equipment_max_days_overdue", "int", "day", "最长超期天数", "most days any equipment is overdue (0 if none)"),
    _f("equipment_due_90d_count", "int", "unit", "90天内到期设备台数", "equipment due for inspection within 90 days"),
    _f("equipment_failed_count", "int", "unit", "检验不合格设备台数", "equipment whose last inspection failed"),
    _f("equipment_over_design_life_count", "int", "unit", "超设计使用年限设备台数", "equipment past its design life"),
    _f("equipment_hidden_dangers", "int", "count", "未整改隐患数", "open hidden dangers"),
    _f("equipment_serious_hidden_dangers", "int", "count", "未整改严重隐患数", "open serious hidden dangers"),
    _f(
        "pressure_vessel_worst_grade",
        "int",
        "grade",
        "压力容器最差安全状况等级",
        "worst 安全状况等级 of its vessels",
        nullable=True,
        min=1,
        max=5,
    ),
    _f(
        "equipment_unusable_in_use_count",
        "int",
        "unit",
        "在用但不得继续使用（容器5级、管道判废）的设备台数",
        "units in use that must not be used (vessel grade 5, piping condemned)",
    ),
    _f(
        "responsible_accidents_2y",
        "int",
        "count",
        "近2年负有责任的特种设备事故",
        "accidents in 2 years it was responsible for",
    ),
)

REGISTRY: dict[str, Feature] = {f.name: f for f in FEATURES}
