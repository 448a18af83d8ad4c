"""How a plan samples: ratios per class and grade, caps, exclusions, seeds, merging and team rules.

Every default names the rule it comes from (shared/domain/regulations.md). Figures that are local practice, not
national law, are defaults only so that a plan runs out of the box; a pack or a bureau sets its own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from engine.sampling import parse_ratio  # the one ratio parser, shared with sampling.quota
from entities.errors import InputError

STATUSES = ("active", "revoked", "cancelled", "moved_out", "annulled")
CHECK_KINDS = ("random", "key", "targeted", "lead", "post_licence")
METHODS = ("onsite", "documents", "online", "sampling")
_POST_LICENCE: tuple[str, ...] = ("post_licence",)


def show_ratio(value: Fraction) -> str:
    """A ratio as people write it: "2%", "2.5%", "100%"; a ratio with no finite decimal stays a fraction ("1/3")."""
    percent = value * 100
    denominator = percent.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    text = format(Decimal(percent.numerator) / Decimal(percent.denominator), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def ratio_value(text: str) -> Fraction:
    """The exact value of a ratio written by `show_ratio`."""
    if text.endswith("%"):
        return Fraction(Decimal(text[:-1])) / 100
    return Fraction(text)


def _canonical_ratio(value: object) -> str:
    try:
        return show_ratio(parse_ratio(value))
    except InputError as exc:
        # pydantic reports ValueError with the field's location; the message stays ours.
        raise ValueError(str(exc)) from None


Ratio = Annotated[str, BeforeValidator(_canonical_ratio)]
"""A sampling ratio: 0.05, "5%", "0.05", Fraction(1, 20) … stored as "5%" and read exactly (sampling.quota's rule)."""


class ItemPolicy(BaseModel):
    """How one check item is sampled; unset fields take the plan policy's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratios: dict[str, Ratio] | None = Field(
        default=None, description="ratio per credit class (A-D, 'none' for unclassified); None: the policy's"
    )
    grade_column: str | None = Field(
        default=None,
        description="a sector-grade column (e.g. food_grade) that also stratifies; a stratum's ratio is the higher "
        "of its class's and its grade's (信用风险分类 does not replace sector grading: combine them)",
    )
    grade_ratios: dict[str, Ratio] = Field(default_factory=dict, description="ratio per sector grade value")
    minimum: int = Field(default=0, ge=0, description="at least this many per stratum (all, if fewer)")
    maximum: int | None = Field(default=None, ge=0, description="at most this many per stratum")
    no_repeat_days: int | None = Field(
        default=None,
        ge=0,
        description="not drawn if checked on this item within so many days before the first day a visit can "
        "happen (the later of the period's start and as-of); None: by domain",
    )
    qualified_members: int | None = Field(
        default=None,
        ge=1,
        description="team members who must hold the item's qualifications; None: by domain",
    )
    # Fitted plans (suijian.plan/2): the legal floor of the item's draw, a share of its population (不少于: rounded
    # up), e.g. 3% for 企业公示信息抽查 (企业公示信息抽查暂行办法 第4条 as revised). Never lowered to fit capacity:
    # a floor the office cannot staff is a named shortfall.
    floor: Ratio | None = Field(default=None, description="legal floor of the item's draw (share of its population)")
    # More sector grades that stratify the item (issue 12: equipment hazard level and key units, device level), each
    # with a ratio per value; a stratum's ratio is the highest of its class's and every grade's. Fitted plans only.
    grade_columns: dict[str, dict[str, Ratio]] = Field(
        default_factory=dict, description="sector-grade column → ratio per value (besides grade_column)"
    )

    @model_validator(mode="after")
    def _bounds(self) -> ItemPolicy:
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError(f"maximum {self.maximum} is below minimum {self.minimum}")
        if self.grade_column is None and self.grade_ratios:
            raise ValueError("grade_ratios given without a grade_column to read them from")
        if self.grade_column is not None and not self.grade_ratios:
            raise ValueError(f"grade_column {self.grade_column!r} needs grade_ratios (a ratio per grade)")
        for column, ratios in self.grade_columns.items():
            if not ratios:
                raise ValueError(f"grade_columns[{column}] needs a ratio per grade")
            if column == self.grade_column:
                raise ValueError(f"grade_columns[{column}] repeats grade_column")
        return self


PlanLevelName = Literal["national", "provincial", "city", "county"]  # entities.enums.CheckLevel, top down
PLAN_LEVEL_DEFAULT: PlanLevelName = "county"

PLAN1_EXCLUDE = ("risk_order", "frequencies", "fit_grid", "batches", "daily_capacity")
"""PlanPolicy fields a suijian.plan/1 document does not record (they came with fitted plans)."""


class PlanPolicy(BaseModel):
    """The sampling rules of one plan. Every default is documented with its source; change them per bureau."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Ratio per credit class. 巴彦淖尔 2022 [secondary] as a working example of 国市监信发〔2022〕6号: A lower,
    # D "sharply raised"; ratios are set locally, so this is configuration, not law.
    credit_ratios: dict[str, Ratio] = Field(default_factory=lambda: {"A": "2%", "B": "5%", "C": "100%", "D": "100%"})
    items: dict[str, ItemPolicy] = Field(default_factory=dict, description="per check-item code")
    # 一般检查事项: ratio strictly limited (总局 2019 notice); one city's figure is ≤ 5 % (石嘴山 2023, [secondary]).
    # 重点检查事项 have no upper limit. None lifts the cap.
    general_cap: Ratio | None = "5%"
    # 国市监信发〔2022〕6号: class A need not get on-site checks apart from leads (无事不扰). Off by default: the
    # low A ratio already lowers their burden, and some provinces exempt no class (山东 2025).
    class_a_leads_only: bool = False
    # 山东 2025 "不免抽": refuse any policy that exempts a credit class (a 0 ratio, or class_a_leads_only).
    no_class_exempt: bool = False
    # The national result codes 注销 / 被吊销 / 被撤销 / 迁出 end a subject's checks (publicity code table).
    excluded_statuses: tuple[str, ...] = ("cancelled", "revoked", "moved_out", "annulled")
    # 令49号 第42条: after a higher level's food check, the lower level 原则上三个月内不再重复检查已检查的项目, except
    # 涉嫌违法或者存在明显食品安全隐患. So only a check of the same item by a level above `plan_level` within the window
    # excludes, and not one that found a problem (engine.plan.select). A check whose level is not recorded counts as
    # a higher one: the conservative reading, which keeps the rule every earlier plan was made with.
    no_repeat_days: dict[str, int] = Field(default_factory=lambda: {"food": 90}, description="per item domain")
    # The level of market supervision making this plan (the no-repeat rule compares past checks' levels with it).
    # County by default: 双随机 annual plans and most food routine checks are the county bureau's (总局 2019 notice
    # [secondary]; stratify_by_county). A city or provincial plan sets its level. Left out of the plan document at
    # its default (document()), so plans recorded before the field existed replay to the same bytes.
    plan_level: PlanLevelName = PLAN_LEVEL_DEFAULT
    # 令57号 第17条: a unit given a 证后 (post-licence) check this year gets no 常规 check the same year.
    same_year_exclusions: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {"special_equipment": _POST_LICENCE},
        description="per item domain: check kinds that, done this calendar year, exclude the subject",
    )
    # 国办发〔2024〕54号 asks for an annual per-enterprise cap on checks; no figure is published yet.
    annual_random_cap: int | None = Field(default=None, ge=1)
    # regulations.md §6: no national rule exempts 白名单 enterprises from draws; lighter touch is local practice.
    whitelist: Literal["none", "exempt", "lower_ratio"] = "none"
    whitelist_ratio: Ratio = "1%"  # local configuration [unsure]; never above the subject's class ratio
    # One seed for every item merges the most visits (a subject's ticket is the same in every item it falls in);
    # "per_item" draws each item with derive_seed(seed, "item/<code>") and spreads the burden over more subjects.
    item_seeds: Literal["shared", "per_item"] = "shared"
    # 优化营商环境条例 第54条, 国办发〔2024〕54号: 进一次门、查多项事 — one visit per subject across departments.
    # "joint_group" merges only items of the same joint group (an item without one is visited on its own).
    merge: Literal["all", "joint_group"] = "all"
    # At least 2 inspectors per check: 令49号 第23条 (food), 令57号 第19条 (special equipment),
    # 令53号 第50条 / 令54号 第49条 (medical devices).
    team_size: int = Field(default=2, ge=1)
    # 令57号 第19条: the two inspectors show the special-equipment enforcement certificate — both hold it.
    qualified_members: dict[str, int] = Field(
        default_factory=lambda: {"special_equipment": 2}, description="per item domain; others need 1 holder"
    )
    # 国发〔2019〕5号: experts may join but do not count toward the quorum. When true, an expert may supply a
    # qualification no free certified inspector holds (always as an extra member, never one of team_size).
    experts_may_cover: bool = False
    # Inspector capacity is per year (年度可承担检查户次); a shorter period gets its share of it.
    capacity: Literal["prorate", "full"] = "prorate"
    # Spread visits over the period: 1 = the whole period; n = n consecutive windows, highest priority first.
    due_windows: int = Field(default=1, ge=1, le=366)
    # Annual plans are made per county bureau (总局 2019 notice): quotas per county, so each bureau's share is exact.
    stratify_by_county: bool = True
    # "county": an inspector only joins visits in their own county (region code's first 6 digits).
    team_pool: Literal["jurisdiction", "county"] = "jurisdiction"
    # Which methods count as an on-site check for class_a_leads_only (and which items cover a frequency visit).
    onsite_methods: tuple[str, ...] = ("onsite", "sampling")
    # ── fitted plans (suijian.plan/2, issue 13); not part of plan/1 documents (PLAN1_EXCLUDE) ──
    # The risk order capacity is shared out in, riskiest first (国市监信发〔2022〕6号: D is checked most, A least);
    # a class not listed (and a subject without one) comes last.
    risk_order: tuple[str, ...] = ("D", "C", "B", "A", "none")
    # Per item domain, the pack output giving each subject's checks per year (e.g. 食品生产经营风险分级管理办法:
    # D-grade four times); a visit by any on-site item of the domain counts toward it.
    frequencies: dict[str, str] = Field(
        default_factory=lambda: {
            "food": "food_checks_per_year",
            "special_equipment": "equipment_checks_per_year",
            "medical_device": "device_checks_per_year",
        },
        description="item domain → the graded output with checks per year",
    )
    # λ, the public share of the asked ratios a plan can staff, is searched on a grid of this many steps.
    fit_grid: int = Field(default=1000, ge=1, le=1_000_000)
    # ── the working-day schedule (engine.plan.dates; issue 13 §4) ──
    # The plan is carried out in batches over the period (总局 2019 notice on 双随机、一公开 annual plans
    # [secondary]): visits are spread over calendar months, quarters, or the whole period ("period"). Local choice.
    batches: Literal["month", "quarter", "period"] = "month"
    # Visits one inspector makes on one day: local practice [unsure], so configuration; at least 1.
    daily_capacity: int = Field(default=4, ge=1, le=20)

    @model_validator(mode="after")
    def _consistent(self) -> PlanPolicy:
        bad = sorted(set(self.excluded_statuses) - set(STATUSES))
        if bad:
            raise ValueError(f"excluded_statuses: unknown status {bad[0]!r} (known: {', '.join(STATUSES)})")
        if "active" in self.excluded_statuses:
            raise ValueError("excluded_statuses must not exclude active subjects")
        for domain, kinds in self.same_year_exclusions.items():
            unknown = sorted(set(kinds) - set(CHECK_KINDS))
            if unknown:
                raise ValueError(
                    f"same_year_exclusions[{domain}]: unknown check kind {unknown[0]!r} (known: {', '.join(CHECK_KINDS)})"
                )
        bad = sorted(set(self.onsite_methods) - set(METHODS))
        if bad:
            raise ValueError(f"onsite_methods: unknown method {bad[0]!r} (known: {', '.join(METHODS)})")
        for domain, days in self.no_repeat_days.items():
            if days < 0:
                raise ValueError(f"no_repeat_days[{domain}] must not be negative")
        for domain, n in self.qualified_members.items():
            if n < 1:
                raise ValueError(f"qualified_members[{domain}] must be at least 1")
        if self.no_class_exempt:
            if self.class_a_leads_only:
                raise ValueError("no_class_exempt forbids class_a_leads_only (it exempts class A from draws)")
            for where, ratios in [("credit_ratios", self.credit_ratios)] + [
                (f"items[{code}].ratios", p.ratios) for code, p in sorted(self.items.items()) if p.ratios
            ]:
                assert ratios is not None
                for cls, r in sorted(ratios.items()):
                    if ratio_value(r) == 0:
                        raise ValueError(f"no_class_exempt forbids a 0 ratio ({where}: class {cls})")
        return self

    def item(self, code: str) -> ItemPolicy:
        return self.items.get(code) or ItemPolicy()

    def document(self, fitted: bool) -> dict[str, Any]:
        """The policy as a plan document records it: a plan/1 document leaves out the fields added after it, so
        a plan recorded by an earlier suijian replays to the same bytes."""
        # plan_level (令49号 第42条) came after both formats: at its default it is left out of either document.
        exclude: dict[str, Any] = {"plan_level": True} if self.plan_level == PLAN_LEVEL_DEFAULT else {}
        if fitted:
            return self.model_dump(mode="json", exclude=exclude)
        exclude.update({f: True for f in PLAN1_EXCLUDE})
        exclude["items"] = {code: {"floor", "grade_columns"} for code in self.items}
        return self.model_dump(mode="json", exclude=exclude)

    @classmethod
    def parse(cls, data: object) -> PlanPolicy:
        """A policy from plain data (a YAML/JSON mapping); one line names the first bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "policy"
            message = str(first["msg"]).removeprefix("Value error, ")
            raise InputError(f"plan policy: {where}: {message}") from None


class Period(BaseModel):
    """The period a plan covers: a year, a quarter or a batch, with its first and last day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["year", "quarter", "batch"]
    label: str = Field(min_length=1)
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"period {self.label} ends ({self.end}) before it starts ({self.start})")
        try:
            year_later = self.start.replace(year=self.start.year + 1)
        except ValueError:  # 29 February
            year_later = self.start.replace(year=self.start.year + 1, day=28)
        if self.end >= year_later:
            raise ValueError(f"period {self.label} is longer than a year; plan year by year")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(kind="year", label=str(year), start=dt.date(year, 1, 1), end=dt.date(year, 12, 31))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if quarter not in (1, 2, 3, 4):
            raise InputError(f"quarter must be 1-4, not {quarter!r}")
        first = dt.date(year, 3 * quarter - 2, 1)
        after = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
        return cls(kind="quarter", label=f"{year}Q{quarter}", start=first, end=after - dt.timedelta(days=1))

    @classmethod
    def batch(cls, label: str, start: dt.date, end: dt.date) -> Period:
        try:
            return cls(kind="batch", label=label, start=start, end=end)
        except ValidationError as exc:
            raise InputError(f"period: {str(exc.errors()[0]['msg']).removeprefix('Value error, ')}") from None


def parse_period(text: str) -> Period:
    """2026 (a year), 2026Q2 (a quarter) or LABEL:YYYY-MM-DD:YYYY-MM-DD (a batch)."""
    t = text.strip()
    try:
        if t.isdigit() and len(t) == 4:
            return Period.year(int(t))
        if len(t) == 6 and t[:4].isdigit() and t[4] in "Qq" and t[5].isdigit():
            return Period.quarter(int(t[:4]), int(t[5]))
        label, start, end = t.split(":")
        return Period.batch(label, dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    except ValueError:
        raise InputError(
            f"period {text!r} is not 2026, 2026Q2 or LABEL:YYYY-MM-DD:YYYY-MM-DD (e.g. 第一批:2026-03-01:2026-05-31)"
        ) from None
