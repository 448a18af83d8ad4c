"""What `suijian import KIND FILE` can load: each kind's table, row model, natural key and references.

A reference says which column of a kind must name a row that already exists (a penalty's USCC must be a
subject in the store); `provided_by` is the kind to import first, so the error can say what to run.
A reference to the kind's own table (a region's parent) may also be satisfied by an earlier row of the
same file.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlmodel import SQLModel

from entities import models
from entities.enums import LabelledEnum
from entities.errors import UsageError


@dataclass(frozen=True)
class Reference:
    """Column `column` of this kind must equal `target_column` of some row in `target_table`."""

    column: str
    target_table: str
    target_column: str
    provided_by: str  # the kind whose import fills target_table
    noun: str  # what the referenced row is, in the user's words
    # Checked only once target_table has rows: an optional table (the unit table) binds only when it is used.
    when_used: bool = False


# A check of one row's values beyond its model (a contradiction between two columns): (field, reason) per problem.
RowCheck = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # Chinese name of the data, for help and messages
    table: str
    model: type[SQLModel]  # the Create model every row must satisfy
    key: tuple[str, ...]  # natural key = the table's primary key
    references: tuple[Reference, ...] = ()
    row_check: RowCheck | None = None

    @cached_property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    @cached_property
    def required(self) -> tuple[str, ...]:
        """Columns a file must have (fields without a default)."""
        return tuple(name for name, info in self.model.model_fields.items() if info.is_required())

    def title(self, field: str) -> str:
        """The Chinese column header of a field (the model's `title`), or the field name if it has none."""
        return self.model.model_fields[field].title or field

    @cached_property
    def enums(self) -> dict[str, type[LabelledEnum]]:
        """Fields whose values (or list items) come from a closed vocabulary, with that vocabulary."""
        found: dict[str, type[LabelledEnum]] = {}
        for name, info in self.model.model_fields.items():
            enum_cls = _enum_in(info.annotation)
            if enum_cls is not None:
                found[name] = enum_cls
        return found

    @cached_property
    def text_fields(self) -> frozenset[str]:
        """Fields holding plain text (codes, names), where a number typed in a spreadsheet must become text."""
        return frozenset(
            name
            for name, info in self.model.model_fields.items()
            if name not in self.enums and _strip_none(info.annotation) is str
        )

    @cached_property
    def list_fields(self) -> frozenset[str]:
        """Fields holding a list (a cell writes it as a;b;c)."""
        return frozenset(
            name
            for name, info in self.model.model_fields.items()
            if typing.get_origin(_strip_none(info.annotation)) is list
        )

    @cached_property
    def object_fields(self) -> frozenset[str]:
        """Fields holding a JSON object (CSV and XLSX cells carry it as JSON text)."""
        return frozenset(
            name
            for name, info in self.model.model_fields.items()
            if typing.get_origin(_strip_none(info.annotation)) is dict
        )


def _strip_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _strip_none(args[0]) if len(args) == 1 else annotation
    return annotation


def _enum_in(annotation: Any) -> type[LabelledEnum] | None:
    annotation = _strip_none(annotation)
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation) or (None,)
    if isinstance(annotation, type) and issubclass(annotation, LabelledEnum):
        return annotation
    return None


def _subject(column: str = "uscc") -> Reference:
    return Reference(column, "subject", "uscc", "subjects", "subject (经营主体)")


def _region(column: str) -> Reference:
    return Reference(column, "region", "code", "regions", "region code (区划代码)")


def _capacities(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Weekly and yearly capacity must agree on whether the person is available at all.

    A weekly capacity of 0 with a yearly one above 0 (or the reverse) is a contradiction the scheduler cannot resolve
    (its weekly cap would forbid what the yearly share asks). The rule holds for experts as for certified inspectors.
    A blank weekly capacity is derived from the yearly one by the scheduler.
    """
    weekly, yearly = values.get("weekly_capacity"), values.get("capacity")
    if weekly is None or yearly is None or (weekly == 0) == (yearly == 0):
        return []
    return [
        (
            "weekly_capacity",
            f"每周可承担检查户次 {weekly} contradicts 年度可承担检查户次 {yearly}: leave it blank to derive it from the "
            "yearly capacity, or set both to 0 for someone not available this year",
        )
    ]


_UNIT = Reference("unit", "org_unit", "name", "units", "unit (执法单位)", when_used=True)

_ALL = (
    Kind("regions", "行政区划", "region", models.RegionCreate, ("code",), (_region("parent"),)),
    Kind("subjects", "经营主体", "subject", models.SubjectCreate, ("uscc",), (_region("region"),)),
    Kind("licences", "许可证", "licence", models.LicenceCreate, ("number",), (_subject(),)),
    Kind(
        "lists",
        "经营异常名录/严重违法失信名单",
        "list_entry",
        models.ListEntryCreate,
        ("uscc", "list_name", "listed_on"),
        (_subject(),),
    ),
    Kind("penalties", "行政处罚", "penalty", models.PenaltyCreate, ("decision_no",), (_subject(),)),
    Kind("complaints", "投诉举报", "complaint", models.ComplaintCreate, ("ticket_no",), (_subject(),)),
    Kind("results", "检查结果", "check_result", models.CheckResultCreate, ("id",), (_subject(),)),
    Kind("equipment", "特种设备", "equipment", models.EquipmentCreate, ("reg_code",), (_subject("user_uscc"),)),
    Kind(
        "accidents",
        "特种设备事故",
        "accident",
        models.AccidentCreate,
        ("id",),
        (Reference("reg_code", "equipment", "reg_code", "equipment", "special equipment (特种设备)"),),
    ),
    Kind("food", "食品经营主体", "food_business", models.FoodBusinessCreate, ("licence_no",), (_subject(),)),
    Kind("devices", "医疗器械经营主体", "device_business", models.DeviceBusinessCreate, ("licence_no",), (_subject(),)),
    Kind(
        "inspectors",
        "执法检查人员",
        "inspector",
        models.InspectorCreate,
        ("id",),
        (_region("region"), _UNIT),
        row_check=_capacities,
    ),
    # Before or after the inspectors; once it has rows, every inspector's unit must be in it (engine.plan.units).
    Kind("units", "执法单位", "org_unit", models.OrgUnitCreate, ("name",)),
    Kind(
        "conflicts",
        "回避关系",
        "conflict",
        models.ConflictCreate,
        ("inspector_id", "uscc"),
        (Reference("inspector_id", "inspector", "id", "inspectors", "inspector (执法检查人员)"), _subject()),
    ),
    Kind("items", "抽查事项", "check_item", models.CheckItemCreate, ("code",)),
    Kind("annual_reports", "年度报告", "annual_report", models.AnnualReportCreate, ("uscc", "year"), (_subject(),)),
)

KINDS: dict[str, Kind] = {kind.name: kind for kind in _ALL}


def get(name: str) -> Kind:
    """The kind called `name`, or an error listing the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise UsageError(f"unknown kind {name!r}; known kinds: {', '.join(KINDS)}") from None
