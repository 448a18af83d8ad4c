"""The world suijian reasons about, as pydantic + sqlmodel models.

Each entity has a `...Base` (fields and validation), a table class (only `entities.store` and the bulk
paths touch it), a `...Create` (what an import row or the generator must satisfy) and a `...Read`.
Enumerations are stored as their English code (VARCHAR, not database enums, so adding a value is not a
schema migration); lists are JSON. Titles are the Chinese column headers used for import and export.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BeforeValidator, ValidationInfo, field_validator, model_validator
from sqlmodel import Field, SQLModel

from entities import codes
from entities.enums import (
    CheckKind,
    CheckLevel,
    CheckMethod,
    ComplaintDomain,
    DeviceActivity,
    DeviceClass,
    EquipmentCategory,
    EquipmentStatus,
    FoodFormat,
    FoodLicenceKind,
    InspectionConclusion,
    ItemKind,
    LicenceKind,
    ListName,
    LocationType,
    PenaltySeverity,
    PlanLevel,
    Qualification,
    ResultCode,
    Scale,
    SubjectKind,
    SubjectStatus,
)
from entities.fields import (
    IMPORTED_ON,
    Bool,
    Date,
    EventDate,
    OptDate,
    OptEventDate,
    OptFloat,
    OptInt,
    OptText,
    Text,
    parse_list,
)


def _str_list(value: Any) -> Any:
    return parse_list(value)


StrList = Annotated[list[str], BeforeValidator(_str_list)]
S = sa.String


def _uscc_validator(*fields: str) -> Any:
    return field_validator(*fields, mode="before")(lambda cls, v: codes.normalise_uscc(v) if isinstance(v, str) else v)


# ── regions ─────────────────────────────────────────────────────────────────────────────────────────────
class RegionBase(SQLModel):
    code: Text = Field(primary_key=True, sa_type=S(9), title="区划代码")
    name: Text = Field(title="名称", min_length=1)
    parent: OptText = Field(default=None, sa_type=S(9), title="上级代码")
    level: Text = Field(sa_type=S(8), title="层级")  # province / city / county / township

    _code = field_validator("code", "parent", mode="before")(
        lambda cls, v: codes.normalise_region(v) if isinstance(v, str) and v.strip() else v
    )


class Region(RegionBase, table=True):
    __tablename__ = "region"


class RegionCreate(RegionBase):
    pass


class RegionRead(RegionBase):
    pass


# ── subjects (经营主体) ──────────────────────────────────────────────────────────────────────────────────
class SubjectBase(SQLModel):
    uscc: Text = Field(primary_key=True, sa_type=S(18), title="统一社会信用代码")
    name: Text = Field(min_length=1, max_length=200, title="名称")
    kind: SubjectKind = Field(sa_type=S(16), title="主体类型")
    industry: Text = Field(sa_type=S(5), title="行业代码")
    region: Text = Field(sa_type=S(9), index=True, title="所在区域")
    address: Text = Field(default="", max_length=300, title="住所")
    registered_on: EventDate = Field(title="成立日期")
    status: SubjectStatus = Field(default=SubjectStatus.ACTIVE, sa_type=S(16), title="登记状态")
    whitelist: Bool = Field(default=False, title="白名单")
    lenient: Bool = Field(default=False, title="包容审慎")

    _uscc = _uscc_validator("uscc")
    _industry = field_validator("industry", mode="before")(
        lambda cls, v: codes.normalise_industry(v) if isinstance(v, str) else v
    )
    _region = field_validator("region", mode="before")(
        lambda cls, v: codes.normalise_region(v) if isinstance(v, str) else v
    )


class Subject(SubjectBase, table=True):
    __tablename__ = "subject"
    # Every column a grade's feature read takes from a subject (engine/features/partition.INPUTS, and region), in
    # USCC order (migration 0012): the rows are stored in load order, so reading a USCC range through the primary
    # key fetched a random table page per subject, most of the table's pages in every partition.
    __table_args__ = (
        sa.Index(
            "ix_subject_features",
            "uscc",
            "registered_on",
            "kind",
            "status",
            "industry",
            "whitelist",
            "lenient",
            "region",
        ),
    )


class SubjectCreate(SubjectBase):
    pass


class SubjectRead(SubjectBase):
    pass


class LicenceBase(SQLModel):
    number: Text = Field(primary_key=True, sa_type=S(40), title="许可证编号")
    uscc: Text = Field(sa_type=S(18), index=True, title="统一社会信用代码")
    kind: LicenceKind = Field(sa_type=S(32), title="许可类型")
    valid_from: Date = Field(title="有效期起")
    valid_to: OptDate = Field(default=None, title="有效期至")

    _uscc = _uscc_validator("uscc")

    @model_validator(mode="after")
    def _order(self) -> LicenceBase:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class Licence(LicenceBase, table=True):
    __tablename__ = "licence"


class LicenceCreate(LicenceBase):
    pass


class LicenceRead(LicenceBase):
    pass


class ListEntryBase(SQLModel):
    """A stay on 经营异常名录 or 严重违法失信名单: listed on a date, removed (移出) on a later one or still listed."""

    uscc: Text = Field(primary_key=True, sa_type=S(18), title="统一社会信用代码")
    list_name: ListName = Field(primary_key=True, sa_type=S(24), title="名录")
    listed_on: EventDate = Field(primary_key=True, title="列入日期")
    removed_on: OptEventDate = Field(default=None, title="移出日期")
    reason: OptText = Field(default=None, title="列入原因")

    _uscc = _uscc_validator("uscc")

    @model_validator(mode="after")
    def _order(self) -> ListEntryBase:
        if self.removed_on is not None and self.removed_on < self.listed_on:
            raise ValueError("removed_on is before listed_on")
        return self


class ListEntry(ListEntryBase, table=True):
    __tablename__ = "list_entry"


class ListEntryCreate(ListEntryBase):
    pass


class ListEntryRead(ListEntryBase):
    pass


class PenaltyBase(SQLModel):
    decision_no: Text = Field(primary_key=True, sa_type=S(80), title="处罚决定书文号")
    uscc: Text = Field(sa_type=S(18), index=True, title="统一社会信用代码")
    decided_on: EventDate = Field(title="处罚决定日期")
    severity: PenaltySeverity = Field(sa_type=S(16), title="处罚种类")
    legal_basis: Text = Field(min_length=1, title="处罚依据")
    amount: OptFloat = Field(default=None, ge=0, title="罚没金额（元）")

    _uscc = _uscc_validator("uscc")


class Penalty(PenaltyBase, table=True):
    __tablename__ = "penalty"


class PenaltyCreate(PenaltyBase):
    pass


class PenaltyRead(PenaltyBase):
    pass


class ComplaintBase(SQLModel):
    ticket_no: Text = Field(primary_key=True, sa_type=S(40), title="工单号")
    uscc: Text = Field(sa_type=S(18), title="统一社会信用代码")  # indexed by ix_complaint_features
    received_on: EventDate = Field(title="受理日期")
    verified: Bool = Field(default=False, title="查证属实")
    domain: ComplaintDomain | None = Field(default=None, sa_type=S(24), title="涉及领域")

    _uscc = _uscc_validator("uscc")
    _blank_domain = field_validator("domain", mode="before")(
        lambda cls, v: None if isinstance(v, str) and not v.strip() else v
    )


class Complaint(ComplaintBase, table=True):
    __tablename__ = "complaint"
    # The USCC index with the columns the features read (migration 0012, see Subject): it replaced the USCC-only
    # ix_complaint_uscc, whose every lookup it serves.
    __table_args__ = (sa.Index("ix_complaint_features", "uscc", "received_on", "verified", "domain"),)


class ComplaintCreate(ComplaintBase):
    pass


class ComplaintRead(ComplaintBase):
    pass


# Short forms people write for a level besides the labels 国家级/省级/市级/县级 (a district bureau is county level).
_LEVEL_ALIASES = {"国家": "national", "总局": "national", "省": "provincial", "市": "city", "地市级": "city"} | {
    k: "county" for k in ("县", "区", "区级", "县区级", "县（区）级", "县(区)级")
}


def _check_level(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return _LEVEL_ALIASES.get(text, text)
    return value


class CheckResultBase(SQLModel):
    """A past check of a subject and what it found (several national result codes may apply)."""

    id: Text = Field(primary_key=True, sa_type=S(40), title="检查编号")
    uscc: Text = Field(sa_type=S(18), index=True, title="统一社会信用代码")
    checked_on: EventDate = Field(title="检查日期")
    item_code: OptText = Field(default=None, sa_type=S(32), title="抽查事项代码")
    kind: CheckKind = Field(default=CheckKind.RANDOM, sa_type=S(16), title="检查类型")
    result_codes: Annotated[list[ResultCode], BeforeValidator(_str_list)] = Field(sa_type=sa.JSON, title="检查结果")
    lead_inspector: OptText = Field(default=None, sa_type=S(32), title="主办检查人员")
    # Which level made the check (migration 0008). Empty: not recorded, which a plan reads as a higher level (the
    # no-repeat rule of 令49号 第42条 then applies as it did before levels were recorded; engine.plan.select).
    level: CheckLevel | None = Field(default=None, sa_type=S(12), title="检查层级")

    _uscc = _uscc_validator("uscc")
    _level = field_validator("level", mode="before")(lambda cls, v: _check_level(v))

    @field_validator("result_codes")
    @classmethod
    def _codes(cls, v: list[Any]) -> list[Any]:
        if not v:
            raise ValueError("at least one result code is needed (e.g. 未发现问题)")
        if "no_problem" in v and len(v) > 1:
            raise ValueError("未发现问题 cannot be combined with other result codes")
        return sorted(set(v))


class CheckResult(CheckResultBase, table=True):
    __tablename__ = "check_result"


class CheckResultCreate(CheckResultBase):
    pass


class CheckResultRead(CheckResultBase):
    pass


# ── special equipment (特种设备) ──────────────────────────────────────────────────────────────────────────
# Categories that carry a 安全状况等级 (1-5) under TSG 21 / TSG D7005.
GRADED_CATEGORIES = frozenset({"pressure_vessel", "pressure_piping"})


class EquipmentBase(SQLModel):
    reg_code: Text = Field(primary_key=True, sa_type=S(20), title="设备注册代码")
    category: EquipmentCategory = Field(sa_type=S(16), title="设备类别")
    sub_type: Text = Field(default="", max_length=40, title="设备品种")
    user_uscc: Text = Field(sa_type=S(18), index=True, title="使用单位统一社会信用代码")
    location_type: LocationType = Field(default=LocationType.OTHER, sa_type=S(16), title="使用场所类型")
    installed_on: EventDate = Field(title="投入使用日期")
    design_life_years: OptInt = Field(default=None, ge=1, le=100, title="设计使用年限")
    last_inspected_on: OptEventDate = Field(default=None, title="上次定期检验日期")
    last_conclusion: InspectionConclusion | None = Field(default=None, sa_type=S(16), title="检验结论")
    next_due_on: OptDate = Field(default=None, index=True, title="下次检验日期")
    safety_grade: OptInt = Field(default=None, ge=1, le=5, title="安全状况等级")
    open_hidden_dangers: int = Field(default=0, ge=0, title="未整改隐患数")
    serious_hidden_dangers: int = Field(default=0, ge=0, title="其中严重隐患数")
    status: EquipmentStatus = Field(default=EquipmentStatus.IN_USE, sa_type=S(12), title="设备状态")

    _code = field_validator("reg_code", mode="before")(
        lambda cls, v: codes.normalise_equipment_code(v) if isinstance(v, str) else v
    )
    _uscc = _uscc_validator("user_uscc")
    _blank = field_validator("last_conclusion", mode="before")(
        lambda cls, v: None if isinstance(v, str) and not v.strip() else v
    )

    @model_validator(mode="after")
    def _consistent(self) -> EquipmentBase:
        if self.safety_grade is not None and self.category not in GRADED_CATEGORIES:
            raise ValueError(f"安全状况等级 applies only to pressure vessels and piping, not {self.category}")
        if self.serious_hidden_dangers > self.open_hidden_dangers:
            raise ValueError("serious_hidden_dangers exceeds open_hidden_dangers")
        if self.last_inspected_on is not None and self.last_inspected_on < self.installed_on:
            raise ValueError("last_inspected_on is before installed_on")
        return self


class Equipment(EquipmentBase, table=True):
    __tablename__ = "equipment"


class EquipmentCreate(EquipmentBase):
    pass


class EquipmentRead(EquipmentBase):
    pass


class AccidentBase(SQLModel):
    id: Text = Field(primary_key=True, sa_type=S(40), title="事故编号")
    reg_code: Text = Field(sa_type=S(20), index=True, title="设备注册代码")
    occurred_on: EventDate = Field(title="发生日期")
    responsible: Bool = Field(default=True, title="使用单位负有责任")
    casualties: int = Field(default=0, ge=0, title="伤亡人数")

    _code = field_validator("reg_code", mode="before")(
        lambda cls, v: codes.normalise_equipment_code(v) if isinstance(v, str) else v
    )


class Accident(AccidentBase, table=True):
    __tablename__ = "accident"


class AccidentCreate(AccidentBase):
    pass


class AccidentRead(AccidentBase):
    pass


# ── food and medical devices ─────────────────────────────────────────────────────────────────────────────
class FoodBusinessBase(SQLModel):
    """Food-business facts for risk grading: static risk (≤ 40 points) + dynamic risk (≤ 60 points)."""

    licence_no: Text = Field(primary_key=True, sa_type=S(40), title="食品许可证编号")
    uscc: Text = Field(sa_type=S(18), index=True, title="统一社会信用代码")
    licence_kind: FoodLicenceKind = Field(sa_type=S(16), title="许可类别")
    format: FoodFormat = Field(sa_type=S(20), title="业态")
    scale: Scale = Field(default=Scale.SMALL, sa_type=S(8), title="规模")
    static_score: float = Field(ge=0, le=40, title="静态风险分")
    dynamic_score: float = Field(ge=0, le=60, title="动态风险分")

    _uscc = _uscc_validator("uscc")


class FoodBusiness(FoodBusinessBase, table=True):
    __tablename__ = "food_business"


class FoodBusinessCreate(FoodBusinessBase):
    pass


class FoodBusinessRead(FoodBusinessBase):
    pass


class DeviceBusinessBase(SQLModel):
    licence_no: Text = Field(primary_key=True, sa_type=S(40), title="医疗器械许可（备案）编号")
    uscc: Text = Field(sa_type=S(18), index=True, title="统一社会信用代码")
    activity: DeviceActivity = Field(sa_type=S(12), title="生产/经营")
    product_class: DeviceClass = Field(sa_type=S(4), title="产品类别")
    key_catalogue: Bool = Field(default=False, title="重点监管目录")

    _uscc = _uscc_validator("uscc")


class DeviceBusiness(DeviceBusinessBase, table=True):
    __tablename__ = "device_business"


class DeviceBusinessCreate(DeviceBusinessBase):
    pass


class DeviceBusinessRead(DeviceBusinessBase):
    pass


# ── inspectors (执法检查人员名录库) ──────────────────────────────────────────────────────────────────────
class InspectorBase(SQLModel):
    id: Text = Field(primary_key=True, sa_type=S(32), title="人员编号")
    name: Text = Field(min_length=1, title="姓名")
    unit: Text = Field(min_length=1, title="所属单位")
    region: Text = Field(sa_type=S(9), title="所在区域")
    certificate_no: OptText = Field(default=None, sa_type=S(40), title="执法证号")
    qualifications: Annotated[list[Qualification], BeforeValidator(_str_list)] = Field(
        default_factory=list, sa_type=sa.JSON, title="资质专长"
    )
    capacity: int = Field(default=60, ge=0, le=1000, title="年度可承担检查户次")
    # Issue 13 (migration 0006). None: derived from the yearly capacity by the scheduler (engine.plan.dates).
    weekly_capacity: OptInt = Field(default=None, ge=0, le=100, title="每周可承担检查户次")
    # The one person ↔ inspector link: the account name that acts as this inspector (`tasks mine`, the web app).
    user_name: OptText = Field(default=None, sa_type=S(64), index=True, unique=True, title="登录账号")
    standing_team: OptText = Field(default=None, sa_type=S(40), title="固定检查组")

    _region = field_validator("region", mode="before")(
        lambda cls, v: codes.normalise_region(v) if isinstance(v, str) else v
    )

    @property
    def is_expert(self) -> bool:
        """Experts hold no enforcement certificate and never count toward a team's quorum."""
        return self.certificate_no is None

    @field_validator("qualifications")
    @classmethod
    def _sorted(cls, v: list[Any]) -> list[Any]:
        return sorted(set(v))


class Inspector(InspectorBase, table=True):
    __tablename__ = "inspector"


class InspectorCreate(InspectorBase):
    pass


class InspectorRead(InspectorBase):
    pass


class ConflictBase(SQLModel):
    """A conflict of interest: the inspector must withdraw (回避) from checks of this subject."""

    inspector_id: Text = Field(primary_key=True, sa_type=S(32), title="人员编号")
    uscc: Text = Field(primary_key=True, sa_type=S(18), title="统一社会信用代码")
    reason: Text = Field(min_length=1, title="回避事由")

    _uscc = _uscc_validator("uscc")


class Conflict(ConflictBase, table=True):
    __tablename__ = "conflict"


class ConflictCreate(ConflictBase):
    pass


class ConflictRead(ConflictBase):
    pass


# ── organisational units (执法单位, issue 13) ──────────────────────────────────────────────────────────────
class OrgUnitBase(SQLModel):
    """A unit of the office (e.g. a 市场监管所): the townships it serves and the check items it carries out.

    An inspector's `unit` names one. Empty lists mean "no restriction" so rosters without a unit table keep working.
    """

    name: Text = Field(primary_key=True, min_length=1, sa_type=S(80), title="单位名称")
    townships: StrList = Field(default_factory=list, sa_type=sa.JSON, title="负责街镇")
    items: StrList = Field(default_factory=list, sa_type=sa.JSON, title="承担抽查事项")


class OrgUnit(OrgUnitBase, table=True):
    __tablename__ = "org_unit"


class OrgUnitCreate(OrgUnitBase):
    pass


class OrgUnitRead(OrgUnitBase):
    pass


# ── check items (抽查事项清单) ────────────────────────────────────────────────────────────────────────────
class CheckItemBase(SQLModel):
    code: Text = Field(primary_key=True, sa_type=S(32), title="事项代码")
    name: Text = Field(min_length=1, title="抽查事项")
    domain: Text = Field(sa_type=S(32), title="抽查领域")
    kind: ItemKind = Field(sa_type=S(8), title="事项类别")
    initiating_department: Text = Field(min_length=1, title="发起部门")
    cooperating_departments: StrList = Field(default_factory=list, sa_type=sa.JSON, title="配合部门")
    target: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, title="检查对象")
    method: CheckMethod = Field(default=CheckMethod.ONSITE, sa_type=S(12), title="检查方式")
    legal_basis: Text = Field(min_length=1, title="法律依据")
    contents: StrList = Field(default_factory=list, sa_type=sa.JSON, title="检查内容")
    required_qualifications: Annotated[list[Qualification], BeforeValidator(_str_list)] = Field(
        default_factory=list, sa_type=sa.JSON, title="所需资质"
    )
    joint_group: OptText = Field(default=None, sa_type=S(32), title="联合检查组别")
    # None: any level's plan may draw the item; provincial: only the province's plan (a county plan skips it).
    level: PlanLevel | None = Field(default=None, sa_type=S(12), title="实施层级")


class CheckItem(CheckItemBase, table=True):
    __tablename__ = "check_item"


class CheckItemCreate(CheckItemBase):
    pass


class CheckItemRead(CheckItemBase):
    pass


# ── annual reports (年度报告, migration 0005) ─────────────────────────────────────────────────────────────
class AnnualReportBase(SQLModel):
    """A subject's annual report for one year: when it was filed (企业信息公示暂行条例 第8条: 1 January – 30 June of
    the next year), or no date when it was due and not filed."""

    uscc: Text = Field(primary_key=True, sa_type=S(18), title="统一社会信用代码")
    year: int = Field(primary_key=True, ge=1990, le=2100, title="年度")
    filed_on: OptEventDate = Field(default=None, title="报送日期")

    _uscc = _uscc_validator("uscc")

    @model_validator(mode="after")
    def _filed_after_the_year(self) -> AnnualReportBase:
        # A year's report is filed from 1 January of the next year on (late filing has no end date); a date
        # inside the report year is a wrong year or a wrong date.
        if self.filed_on is not None and self.filed_on.year <= self.year:
            raise ValueError(
                f"filed_on {self.filed_on.isoformat()} is not after year {self.year}: the annual report for "
                f"{self.year} is filed from 1 January {self.year + 1} on (企业信息公示暂行条例 第8条); check both columns"
            )
        return self

    @field_validator("year")
    @classmethod
    def _year_ended(cls, year: int, info: ValidationInfo) -> int:
        # The import's date comes in the validation context: a report for a year not yet over cannot exist.
        day = (info.context or {}).get(IMPORTED_ON)
        if day is not None and year >= day.year:
            raise ValueError(
                f"report year {year} has not ended on the import date {day.isoformat()}; the latest year that can "
                f"have a report is {day.year - 1}"
            )
        return year


class AnnualReport(AnnualReportBase, table=True):
    __tablename__ = "annual_report"
    # A grade reads one report year for a USCC range: by year first, the range is one run of index pages holding
    # every column read (migration 0012, see Subject).
    __table_args__ = (sa.Index("ix_annual_report_features", "year", "uscc", "filed_on"),)


class AnnualReportCreate(AnnualReportBase):
    pass


class AnnualReportRead(AnnualReportBase):
    pass


# ── bookkeeping (migration 0002) ─────────────────────────────────────────────────────────────────────────
class ImportLog(SQLModel, table=True):
    """One row per import run: what file (by content hash) went in and what it changed."""

    __tablename__ = "import_log"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=S(24))
    file_name: str
    sha256: str = Field(sa_type=S(64), index=True)
    rows: int
    inserted: int
    updated: int
    unchanged: int
    imported_at: dt.datetime = Field(sa_type=sa.DateTime)


# ── grading (migration 0003) ─────────────────────────────────────────────────────────────────────────────
class GradeRun(SQLModel, table=True):
    """One grading of the population with one rule pack as of one date."""

    __tablename__ = "grade_run"

    id: str = Field(primary_key=True, sa_type=S(40))
    as_of: dt.date
    pack_name: str = Field(sa_type=S(80))
    pack_version: str = Field(sa_type=S(40))
    pack_hash: str = Field(sa_type=S(64))
    engine_version: str = Field(sa_type=S(40))
    subjects: int
    outcomes: int
    created_at: dt.datetime = Field(sa_type=sa.DateTime)


class GradeOutcome(SQLModel, table=True):
    """A distinct result of a run (outputs of every decision and the rule ids that fired), shared by subjects."""

    __tablename__ = "grade_outcome"

    run_id: str = Field(primary_key=True, sa_type=S(40))
    outcome: int = Field(primary_key=True)
    outputs: dict[str, Any] = Field(sa_type=sa.JSON)
    fired: list[str] = Field(sa_type=sa.JSON)
    errors: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # e.g. a UNIQUE table with two matching rows


class GradeResult(SQLModel, table=True):
    """Which outcome each subject got in a run."""

    __tablename__ = "grade_result"

    run_id: str = Field(primary_key=True, sa_type=S(40))
    uscc: str = Field(primary_key=True, sa_type=S(18))
    outcome: int


class PlanRecord(SQLModel, table=True):
    """A committed plan: its scope, seed and inputs, and the whole plan document (zlib-compressed canonical JSON)."""

    __tablename__ = "plan"

    id: str = Field(primary_key=True, sa_type=S(40))
    regions: str = Field(sa_type=S(200))
    period: str = Field(sa_type=S(40))
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date
    seed: str = Field(sa_type=S(200))
    grade_run_id: str = Field(sa_type=S(40))
    pack_hash: str = Field(sa_type=S(64))
    visits: int
    sha256: str = Field(sa_type=S(64))
    document: bytes = Field(sa_type=sa.LargeBinary)
    created_at: dt.datetime = Field(sa_type=sa.DateTime)


class PlanVisit(SQLModel, table=True):
    """One visit of a committed plan as a row (issue 13): what results, the schedule and the web app refer to.

    The plan document (and its hash in the ledger) stays the record; these rows are written from it in the same
    transaction and can be rebuilt from it. `status` is the only column that changes after the commit.
    """

    __tablename__ = "plan_visit"

    plan_id: str = Field(primary_key=True, sa_type=S(40))
    visit_id: str = Field(primary_key=True, sa_type=S(64))
    uscc: str = Field(sa_type=S(18), index=True)
    region: str = Field(sa_type=S(9))
    items: list[str] = Field(sa_type=sa.JSON)
    team: list[str] = Field(sa_type=sa.JSON)  # lead first
    lead: str = Field(sa_type=S(32), index=True)
    scheduled_on: dt.date | None = None
    due_on: dt.date | None = None
    status: str = Field(default="planned", sa_type=S(16))  # planned | done | cancelled


class LedgerEntry(SQLModel, table=True):
    """One run in the append-only decision ledger (决策台账), chained to the entry before it by hash.

    Everything that is hashed lives in `body` (canonical JSON); the other columns are there to find entries
    and are checked against the body by `suijian audit verify`.
    """

    __tablename__ = "ledger"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # 1, 2, 3… no gaps
    run_id: str = Field(sa_type=S(60), unique=True)
    kind: str = Field(sa_type=S(16))  # engine.ledger.chain.KINDS
    created_at: dt.datetime = Field(sa_type=sa.DateTime)
    body: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(sa_type=S(64), unique=True)  # one successor per entry: the chain cannot fork
    entry_hash: str = Field(sa_type=S(64), unique=True)


class Blob(SQLModel, table=True):
    """Content-addressed, compressed bytes: input snapshots and rule-pack versions, keyed by their content hash."""

    __tablename__ = "blob"

    hash: str = Field(primary_key=True, sa_type=S(64))
    kind: str = Field(sa_type=S(16))  # snapshot | pack
    size: int  # bytes stored
    data: bytes = Field(sa_type=sa.LargeBinary)


# ── results, 公示 and follow-ups (migration 0007, issue 14) ─────────────────────────────────────────────────────
class ResultBatch(SQLModel, table=True):
    """One recording run (`results record` or `results import`): who recorded, as of which date, from what file.

    Its id is the run id of the `results` ledger entry that hashes the batch's result rows."""

    __tablename__ = "result_batch"

    id: str = Field(primary_key=True, sa_type=S(40))
    source: str = Field(sa_type=S(16))  # record | import
    file_name: str | None = Field(default=None, sa_type=S(200))
    file_sha256: str | None = Field(default=None, sa_type=S(64))
    recorded_on: dt.date
    recorded_by: str = Field(sa_type=S(120))
    role: str = Field(sa_type=S(16))
    visits: int
    items: int
    created_at: dt.datetime = Field(sa_type=sa.DateTime)


class ResultItem(SQLModel, table=True):
    """One version of one item's result of one plan visit (engine.results.model.VisitResult.rows()).

    Append-only: a correction is the next version with its reason; earlier versions are never updated."""

    __tablename__ = "result_item"
    __table_args__ = (sa.ForeignKeyConstraint(["plan_id", "visit_id"], ["plan_visit.plan_id", "plan_visit.visit_id"]),)

    plan_id: str = Field(primary_key=True, sa_type=S(40))
    visit_id: str = Field(primary_key=True, sa_type=S(64))
    version: int = Field(primary_key=True)
    item_code: str = Field(primary_key=True, sa_type=S(32))
    batch_id: str = Field(sa_type=S(40), foreign_key="result_batch.id", index=True)
    uscc: str = Field(sa_type=S(18), index=True)
    completed_on: dt.date
    team: list[str] = Field(sa_type=sa.JSON)  # lead first
    result_codes: list[str] = Field(sa_type=sa.JSON)  # the national codes (1, 3…12, A…G), sorted
    findings: str = Field(default="", sa_type=sa.Text)
    measures: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    rectification_report_on: dt.date | None = None
    recorded_on: dt.date
    recorded_by: str = Field(sa_type=S(120))
    correction_reason: str | None = Field(default=None, sa_type=sa.Text)
    fingerprint: str = Field(sa_type=S(71))  # of the visit's whole version (what a re-import compares)


class Publication(SQLModel, table=True):
    """One 公示 run: which results went out on which date, and the hashes of the files written."""

    __tablename__ = "publication"

    id: str = Field(primary_key=True, sa_type=S(40))
    published_on: dt.date
    published_by: str = Field(sa_type=S(120))
    plan_id: str | None = Field(default=None, sa_type=S(40))
    until: dt.date | None = None
    records: int
    csv_sha256: str = Field(sa_type=S(64))
    xlsx_sha256: str = Field(sa_type=S(64))
    created_at: dt.datetime = Field(sa_type=sa.DateTime)


class PublicationItem(SQLModel, table=True):
    """A visit's result (one version) as one publication carried it, with its 20-working-day deadline."""

    __tablename__ = "publication_item"
    __table_args__ = (
        sa.ForeignKeyConstraint(["plan_id", "visit_id"], ["plan_visit.plan_id", "plan_visit.visit_id"]),
        sa.Index("ix_publication_item_visit", "plan_id", "visit_id"),
    )

    publication_id: str = Field(primary_key=True, sa_type=S(40), foreign_key="publication.id")
    plan_id: str = Field(primary_key=True, sa_type=S(40))
    visit_id: str = Field(primary_key=True, sa_type=S(64))
    version: int
    uscc: str = Field(sa_type=S(18))
    completed_on: dt.date
    deadline: dt.date
    result_codes: list[str] = Field(sa_type=sa.JSON)
    on_time: bool


class FollowupProposal(SQLModel, table=True):
    """A follow-up a result calls for (engine.results.followups.Proposal): a re-check, or a decision to take."""

    __tablename__ = "followup_proposal"

    id: str = Field(primary_key=True, sa_type=S(200))  # Proposal.key: kind:plan:visit:item
    kind: str = Field(sa_type=S(24))
    plan_id: str = Field(sa_type=S(40))
    visit_id: str = Field(sa_type=S(64))
    uscc: str = Field(sa_type=S(18), index=True)
    item_code: str = Field(sa_type=S(32))
    reason: str = Field(sa_type=sa.Text)
    basis: str = Field(sa_type=sa.Text)
    earliest: dt.date | None = None
    latest: dt.date | None = None
    needs_decision: bool
    proposed_on: dt.date


class FollowupDecision(SQLModel, table=True):
    """A supervisor's decision on a proposal: one per proposal, never changed (its ledger entry is `run_id`)."""

    __tablename__ = "followup_decision"

    proposal_id: str = Field(primary_key=True, sa_type=S(200), foreign_key="followup_proposal.id")
    decision: str = Field(sa_type=S(8))  # confirm | reject
    decided_by: str = Field(sa_type=S(120))
    decided_on: dt.date
    reason: str = Field(sa_type=sa.Text)
    run_id: str = Field(sa_type=S(60))


# ── re-check visits (migration 0009, issue 14 item 3) ──────────────────────────────────────────────────────
class RecheckVisit(SQLModel, table=True):
    """A re-check (复查) scheduled from a `recheck` follow-up proposal: its plan_visit row (plan_id, visit_id) is a new
    row under the plan of the visit it follows up — not derived from the plan document — so results are recorded
    against it like any visit. Insert only; the scheduling run is the `recheck` ledger entry `run_id`."""

    __tablename__ = "recheck_visit"
    __table_args__ = (
        sa.ForeignKeyConstraint(["plan_id", "visit_id"], ["plan_visit.plan_id", "plan_visit.visit_id"]),
        sa.UniqueConstraint("proposal_id", name="uq_recheck_visit_proposal"),
    )

    plan_id: str = Field(primary_key=True, sa_type=S(40))
    visit_id: str = Field(primary_key=True, sa_type=S(64))
    proposal_id: str = Field(sa_type=S(200), foreign_key="followup_proposal.id")
    of_visit_id: str = Field(sa_type=S(64))  # the visit it follows up (same plan)
    item_code: str = Field(sa_type=S(32))
    earliest: dt.date  # the proposal's window
    latest: dt.date
    team_rule: str = Field(sa_type=S(16))  # original | restaffed (engine.results.rechecks)
    note: str = Field(sa_type=sa.Text)  # how the team and the day were chosen, for people
    run_id: str = Field(sa_type=S(40), index=True)


# ── four-eyes rule-pack publication (migration 0011, issue 16 item 4) ──────────────────────────────────────
class PackProposal(SQLModel, table=True):
    """A supervisor's proposal to make a stored rule-pack version active (kind publish), or to go back to an earlier
    published one (kind rollback). Insert only; its `pack-proposal` ledger entry has the run id `id`."""

    __tablename__ = "pack_proposal"

    id: str = Field(primary_key=True, sa_type=S(60))
    kind: str = Field(sa_type=S(8))  # publish | rollback
    name: str = Field(sa_type=S(120))
    version: str = Field(sa_type=S(60))
    files_hash: str = Field(sa_type=S(64), index=True)  # the stored version (blob) proposed
    pack_hash: str = Field(sa_type=S(64))
    previous: str | None = Field(default=None, sa_type=S(60))  # the active publication when proposed
    proposed_by: str = Field(sa_type=S(120))
    reason: str = Field(sa_type=sa.Text)
    created_at: dt.datetime = Field(sa_type=sa.DateTime)


class PackReview(SQLModel, table=True):
    """A second supervisor's approval or rejection of a pack proposal: one per proposal, never changed (its
    `pack-review` ledger entry is `run_id`)."""

    __tablename__ = "pack_review"

    proposal_id: str = Field(primary_key=True, sa_type=S(60), foreign_key="pack_proposal.id")
    decision: str = Field(sa_type=S(8))  # approve | reject
    reviewed_by: str = Field(sa_type=S(120))
    reason: str = Field(sa_type=sa.Text)
    created_at: dt.datetime = Field(sa_type=sa.DateTime)
    run_id: str = Field(sa_type=S(60))
