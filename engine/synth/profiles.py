"""Synthetic-district profiles: how many of what a real district holds, from the planning documents.

Sources are the seeds summarised in shared/domain/districts.md. Each figure below is marked:

**Real** (read in a seed, used as is)
- jiedong (揭阳市揭东区, seed 003, end of 2020): 53,453 subjects = 企业 7,513 · 农民专业合作社 210 · 个体工商户
  45,730; registered 2016-2020: 企业 4,716 · 农专社 77 · 个体户 31,011 (re-based here as "in the five years
  before as-of"); 77 吊销; 8,037 注销 in five years; abnormal-list entries after inspections 2016-2020: 个体户
  4,105 · 农专社 61 · 企业 899, of which 302 / 2 / 45 were removed again and 97 went on to the 严重违法失信名单;
  special equipment 4,972 = 电梯 2,460 · 起重机械 1,326 · 压力容器 474 · 压力管道 446 · 锅炉 164 · 场车 72 ·
  大型游乐设施 30; 餐饮量化分级 A 58 · B 1,280 · C 500 = 96.7 % of catering units (so ≈ 1,901 catering units);
  228 school canteens; 12315 complaints and reports 2016-2020: 8,437 (≈ 0.032 per subject-year).
- baiyun (广州市白云区, seed 000, end of 2020): 470,700 商事主体, enterprises 55 %, individual businesses 45 %;
  40,000+ special-equipment units at 9,641 使用单位; 190,000+ complaint work orders in 2020 (≈ 0.40 per
  subject-year); the number of subjects doubled 2015-2020; 8,007 counterfeiting cases in five years.
- guangzhou (seed 004 + one public figure): ≈ 3.3 million 经营主体 (public figure); 1,089,000 consumer complaints
  a year (≈ 0.33 per subject-year); 10,000+ 白名单 enterprises; +49,000 enterprises under 包容审慎.

**Assumed** (not in the seeds; the reasoning is next to each number below)
- user units in jiedong: the seeds give none, so baiyun's ratio (40,800 / 9,641 ≈ 4.2 devices per unit) is used.
- baiyun's exact equipment count (40,800 within "40,000+") and every category mix outside jiedong: an urban
  register has more elevators, forklifts and pressure vessels and fewer cranes than industrial 揭东.
- cooperatives in baiyun (≈ 180) and guangzhou (≈ 1,500): the seeds give only the enterprise/individual split;
  both districts have rural towns, so a few hundred co-operatives are counted inside the enterprise share.
- guangzhou's split by district: proportional to each district's population (2020 census, rounded) — subjects
  follow people and commerce, and the census is the only per-district figure at hand.
- food traders (3,200), food producers (≈ 160) and medical-device businesses (≈ 290) in jiedong: seed 003 names
  these sectors but gives no counts; the numbers are sized from typical county shares (≈ 6 % of subjects hold
  a food-trade licence, ≈ 0.5 % a device licence or 备案). Urban profiles scale the jiedong shares by 1.4 (denser
  catering and retail in a city).
- penalties: 0.25 % of subjects a year in jiedong (its seed lists only 121 counterfeiting/substandard-goods cases
  in five years), 0.5 % in baiyun and guangzhou (baiyun alone had 8,007 counterfeiting cases in five years).
- status rates: 注销 subjects stay in the object library for about a year (8,037 / 5 ≈ 1,600 a year ≈ 3 %); 迁出
  0.5 % of enterprises; 撤销 rare (0.02 %).
- overdue equipment: 4 % jiedong, 3 % baiyun, 1 % guangzhou (whose seed reports a 动态清零 campaign): "a few per
  cent" is what a register shows between inspection campaigns.
- inspectors: one per 350 subjects; about 0.3 conflicts of interest per inspector.
- the 白名单 (0.55 % of enterprises) and 包容审慎 (2.7 %) shares are guangzhou's, applied everywhere.
- how things are spread inside a district (industry weights, registration ages beyond five years, which
  subjects draw complaints and penalties, past-check rates and results, food risk points, device ages and
  conclusions) is assumed where it is drawn, in generator.py and vocab.py, and calibrated so the real totals
  above come out (e.g. 5,065 abnormal entries and about 97 serious-violation listings for jiedong). Periodic
  inspection intervals follow shared/domain/regulations.md §3 (elevators: TSG T7001-2023).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from entities.errors import UsageError


@dataclass(frozen=True)
class County:
    """A county-level district of a profile: its code, how many subjects it holds relative to the others."""

    code: str
    name: str
    weight: float
    doc_prefix: str  # the bureau's short name on documents, e.g. 揭东 in 揭东市监罚〔2024〕12号
    city: str  # the city name used in enterprise names
    plate: str  # the province + city letter on registration certificates, e.g. 粤V


@dataclass(frozen=True)
class Profile:
    """How many subjects, devices, food and device businesses a district holds, and its rates."""

    name: str
    label: str
    counties: tuple[County, ...]
    subjects: Mapping[str, int]  # SubjectKind code -> count
    equipment: Mapping[str, int]  # EquipmentCategory code -> count
    user_units: int
    food: Mapping[str, int]  # FoodFormat code -> count
    devices: Mapping[str, int]  # "trade:II", "production:III", … -> count
    # share of each kind registered in the five years before as-of
    recent_share: Mapping[str, float]
    # abnormal-list entries per subject over the five years before as-of, by kind
    abnormal_5y: Mapping[str, float]
    abnormal_removed: Mapping[str, float]  # share of entries removed again (移出)
    complaints_per_subject_year: float
    penalties_per_subject_year: float
    overdue_share: float
    urban: bool
    subjects_per_inspector: int = 350
    conflicts_per_inspector: float = 0.3
    whitelist_share: float = 0.0055
    lenient_share: float = 0.027
    scaled_from: str | None = field(default=None)

    @property
    def total_subjects(self) -> int:
        return sum(self.subjects.values())

    @property
    def total_equipment(self) -> int:
        return sum(self.equipment.values())

    @property
    def inspectors(self) -> int:
        # Two is the smallest team a check needs (令49号 第23条), so even a tiny demo can staff one.
        return max(2, round(self.total_subjects / self.subjects_per_inspector))

    def scaled(self, subjects: int) -> Profile:
        """The same district mix scaled to `subjects` subjects (counts by largest remainder, so totals are exact)."""
        if subjects < 1:
            raise UsageError(f"--subjects must be at least 1, got {subjects}")
        factor = subjects / self.total_subjects
        equipment_total = round(self.total_equipment * factor)
        units = min(round(self.user_units * factor), equipment_total)
        if equipment_total and not units:
            units = 1
        return replace(
            self,
            name=f"{self.name}:{subjects}",
            subjects=apportion(self.subjects, subjects),
            equipment=apportion(self.equipment, equipment_total),
            user_units=units,
            food=apportion(self.food, round(sum(self.food.values()) * factor)),
            devices=apportion(self.devices, round(sum(self.devices.values()) * factor)),
            scaled_from=self.name,
        )


def apportion(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Split `total` in proportion to `weights`, largest remainder first; ties go to the earlier key."""
    keys = list(weights)
    mass = sum(weights.values())
    if total <= 0 or mass <= 0:
        return dict.fromkeys(keys, 0)
    quotas = [weights[k] * total / mass for k in keys]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(keys)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return dict(zip(keys, counts, strict=True))


# ── jiedong ─────────────────────────────────────────────────────────────────────────────────────────────
_JIEDONG_EQUIPMENT = {
    "elevator": 2460,
    "crane": 1326,
    "pressure_vessel": 474,
    "pressure_piping": 446,
    "boiler": 164,
    "vehicle": 72,
    "ride": 30,
    "ropeway": 0,
}
# Catering: 1,901 units (the graded 1,838 are 96.7 %), of which 228 school canteens (real); the split of the
# rest by format is assumed. Trade and production are assumed (see the module docstring).
_JIEDONG_FOOD = {
    "school_canteen": 228,
    "canteen": 170,
    "central_kitchen": 3,
    "group_catering": 8,
    "restaurant": 680,
    "snack": 812,
    "supermarket": 60,
    "grocery": 2600,
    "wholesale": 420,
    "online": 120,
    "manufacturer": 95,
    "small_workshop": 60,
    "special_food": 2,
}
_JIEDONG_DEVICES = {
    "trade:II": 240,
    "trade:III": 38,
    "production:I": 3,
    "production:II": 5,
    "production:III": 1,
}
_KINDS_RECENT = {"enterprise": 4716 / 7513, "cooperative": 77 / 210, "individual": 31011 / 45730}

JIEDONG = Profile(
    name="jiedong",
    label="揭阳市揭东区",
    counties=(County("445203", "揭东区", 1.0, "揭东", "揭阳市", "粤V"),),
    subjects={"enterprise": 7513, "individual": 45730, "cooperative": 210},
    equipment=_JIEDONG_EQUIPMENT,
    # baiyun's devices-per-unit ratio (assumed): 4,972 / (40,800 / 9,641)
    user_units=1175,
    food=_JIEDONG_FOOD,
    devices=_JIEDONG_DEVICES,
    recent_share=_KINDS_RECENT,
    abnormal_5y={"enterprise": 899 / 7513, "cooperative": 61 / 210, "individual": 4105 / 45730},
    abnormal_removed={"enterprise": 45 / 899, "cooperative": 2 / 61, "individual": 302 / 4105},
    complaints_per_subject_year=8437 / 5 / 53453,
    penalties_per_subject_year=0.0025,
    overdue_share=0.04,
    urban=False,
)

# ── baiyun ──────────────────────────────────────────────────────────────────────────────────────────────
_URBAN_EQUIPMENT_MIX = {
    "elevator": 0.58,
    "pressure_vessel": 0.16,
    "crane": 0.12,
    "vehicle": 0.08,
    "pressure_piping": 0.035,
    "boiler": 0.018,
    "ride": 0.0066,
    "ropeway": 0.0004,
}
_URBAN = 1.4  # urban catering/retail density relative to jiedong (assumed)


def _urban_counts(base: Mapping[str, int], subjects: int) -> dict[str, int]:
    per_subject = sum(base.values()) / JIEDONG.total_subjects * _URBAN
    return apportion(base, round(per_subject * subjects))


_BAIYUN_SUBJECTS = {"enterprise": 258_705, "individual": 211_815, "cooperative": 180}
BAIYUN = Profile(
    name="baiyun",
    label="广州市白云区",
    counties=(County("440111", "白云区", 1.0, "穗云", "广州市", "粤A"),),
    subjects=_BAIYUN_SUBJECTS,
    equipment=apportion(_URBAN_EQUIPMENT_MIX, 40_800),
    user_units=9641,
    food=_urban_counts(_JIEDONG_FOOD, 470_700),
    devices=_urban_counts(_JIEDONG_DEVICES, 470_700),
    # doubled since 2015 (real) → about 60 % registered in the last five years (assumed split by kind)
    recent_share={"enterprise": 0.62, "cooperative": 0.35, "individual": 0.58},
    abnormal_5y=JIEDONG.abnormal_5y,
    abnormal_removed=JIEDONG.abnormal_removed,
    complaints_per_subject_year=190_000 / 470_700,
    penalties_per_subject_year=0.005,
    overdue_share=0.03,
    urban=True,
)

# ── guangzhou ───────────────────────────────────────────────────────────────────────────────────────────
# 2020 census population in 10,000s (rounded), the assumed proxy for where subjects are.
_GZ_DISTRICTS = (
    ("440103", "荔湾区", 124, "穗荔"),
    ("440104", "越秀区", 104, "穗越"),
    ("440105", "海珠区", 181, "穗海"),
    ("440106", "天河区", 224, "穗天"),
    ("440111", "白云区", 374, "穗云"),
    ("440112", "黄埔区", 126, "穗埔"),
    ("440113", "番禺区", 280, "穗番"),
    ("440114", "花都区", 164, "穗花"),
    ("440115", "南沙区", 85, "穗南"),
    ("440117", "从化区", 72, "穗从"),
    ("440118", "增城区", 147, "穗增"),
)
_GZ_TOTAL = 3_300_000
_GZ_COOPERATIVES = 1_500
_GZ_ENTERPRISES = round(_GZ_TOTAL * 0.55) - _GZ_COOPERATIVES
_GZ_EQUIPMENT = round(40_800 / 470_700 * _GZ_TOTAL)

GUANGZHOU = Profile(
    name="guangzhou",
    label="广州市",
    counties=tuple(County(code, name, float(w), prefix, "广州市", "粤A") for code, name, w, prefix in _GZ_DISTRICTS),
    subjects={
        "enterprise": _GZ_ENTERPRISES,
        "individual": _GZ_TOTAL - round(_GZ_TOTAL * 0.55),
        "cooperative": _GZ_COOPERATIVES,
    },
    equipment=apportion(_URBAN_EQUIPMENT_MIX, _GZ_EQUIPMENT),
    user_units=round(9641 / 470_700 * _GZ_TOTAL),
    food=_urban_counts(_JIEDONG_FOOD, _GZ_TOTAL),
    devices=_urban_counts(_JIEDONG_DEVICES, _GZ_TOTAL),
    recent_share=BAIYUN.recent_share,
    abnormal_5y=JIEDONG.abnormal_5y,
    abnormal_removed=JIEDONG.abnormal_removed,
    complaints_per_subject_year=1_089_000 / _GZ_TOTAL,
    penalties_per_subject_year=0.005,
    overdue_share=0.01,
    urban=True,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (JIEDONG, BAIYUN, GUANGZHOU)}


def get_profile(name: str = "jiedong", subjects: int | None = None) -> Profile:
    """The named profile, scaled to `subjects` subjects when given (same mix, same district)."""
    if name not in PROFILES:
        raise UsageError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    profile = PROFILES[name]
    if subjects is not None and subjects != profile.total_subjects:
        return profile.scaled(subjects)
    return profile
