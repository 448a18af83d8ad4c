"""Per-field validation of the entity models: what a user may type, and the exact reason for what is refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from entities import codes
from entities.models import (
    CheckResultCreate,
    EquipmentCreate,
    InspectorCreate,
    LicenceCreate,
    ListEntryCreate,
    SubjectCreate,
)

USCC = "91110000600037341L"


def subject(**kw: Any) -> dict[str, Any]:
    base = {
        "uscc": USCC,
        "name": "揭阳市某某五金制品有限公司",
        "kind": "企业",
        "industry": "C3389",
        "region": "445203001",
        "registered_on": "2015-03-02",
    }
    base.update(kw)
    return base


def reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


def test_subject_accepts_chinese_labels_and_date_notations() -> None:
    s = SubjectCreate(**subject(kind="个体工商户", status="注销", registered_on="2015/3/2", whitelist="是"))
    assert (s.kind, s.status, s.registered_on, s.whitelist) == ("individual", "cancelled", dt.date(2015, 3, 2), True)
    assert SubjectCreate(**subject(registered_on="20150302")).registered_on == dt.date(2015, 3, 2)
    assert SubjectCreate(**subject(registered_on="2015年3月2日")).registered_on == dt.date(2015, 3, 2)
    assert SubjectCreate(**subject(uscc=" 91110000600037341l ")).uscc == USCC


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "uscc",
            "91110000600037341A",
            "Value error, USCC '91110000600037341A' fails its check digit (the 18th character would be 'L')",
        ),
        ("uscc", "9111000060003734", "Value error, USCC '9111000060003734' must have 18 characters"),
        (
            "uscc",
            "A1110000600037341L",
            "Value error, USCC 'A1110000600037341L' is malformed (8 digits, then 10 of 0-9 and A-Y without I, O, S, V, Z)",
        ),
        ("kind", "公司", "Input should be 'enterprise', 'individual', 'cooperative' or 'other'"),
        ("industry", "F99", "Value error, industry 'F99': division 99 is not in section F (51-52)"),
        (
            "industry",
            "52",
            "Value error, industry '52' is not a GB/T 4754 code (a letter A-T, then 2-4 digits, e.g. F5211)",
        ),
        ("region", "4452", "Value error, region '4452' is not a 6-digit GB/T 2260 code or a 9-digit 街镇 code"),
        ("registered_on", "2015-02-30", "Value error, '2015-02-30' is not a real date"),
        ("registered_on", "02/03/2015", "Value error, '02/03/2015' is not a date (write YYYY-MM-DD)"),
        ("whitelist", "maybe", "Value error, 'maybe' is not yes/no (write 是/否, true/false or 1/0)"),
        ("name", "", "String should have at least 1 character"),
    ],
)
def test_subject_refuses_with_a_reason(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        SubjectCreate(**subject(**{field: value}))
    assert reason(info.value) == f"{field}: {message}"


def test_uscc_check_digit_matches_stdnum() -> None:
    assert codes.uscc_check_digit(USCC[:17]) == "L"


def test_result_codes() -> None:
    r = CheckResultCreate(
        id="C1", uscc=USCC, checked_on="2025-05-01", result_codes="发现问题经责令已改正;未按规定公示应当公示的信息"
    )
    assert r.result_codes == ["fixed_after_order", "unpublished_info"]
    with pytest.raises(ValidationError, match="未发现问题 cannot be combined"):
        CheckResultCreate(id="C1", uscc=USCC, checked_on="2025-05-01", result_codes="no_problem;unreachable")
    with pytest.raises(ValidationError, match="at least one result code"):
        CheckResultCreate(id="C1", uscc=USCC, checked_on="2025-05-01", result_codes="")


def test_a_number_where_a_list_of_codes_belongs_is_refused_not_a_crash() -> None:
    # A JSONL row can carry `"result_codes": 7`; it used to escape validation as a TypeError (a traceback on import).
    with pytest.raises(ValidationError) as caught:
        CheckResultCreate(id="C1", uscc=USCC, checked_on="2025-05-01", result_codes=7)
    assert reason(caught.value) == "result_codes: Input should be a valid list"
    with pytest.raises(ValidationError) as caught:
        InspectorCreate(id="J001", name="陈伟", unit="执法大队", region="445203", qualifications=3)
    assert reason(caught.value) == "qualifications: Input should be a valid list"


def test_equipment_consistency() -> None:
    base = {
        "reg_code": "31104452032018000001",
        "category": "电梯",
        "user_uscc": USCC,
        "installed_on": "2018-06-01",
        "location_type": "学校",
    }
    e = EquipmentCreate(**base)
    assert (e.category, e.location_type) == ("elevator", "school")
    with pytest.raises(ValidationError, match="安全状况等级 applies only to pressure vessels and piping, not elevator"):
        EquipmentCreate(**base, safety_grade=2)
    assert EquipmentCreate(**{**base, "category": "压力容器"}, safety_grade="3").safety_grade == 3
    with pytest.raises(ValidationError, match="last_inspected_on is before installed_on"):
        EquipmentCreate(**base, last_inspected_on="2017-01-01")
    with pytest.raises(ValidationError, match="serious_hidden_dangers exceeds open_hidden_dangers"):
        EquipmentCreate(**base, open_hidden_dangers=1, serious_hidden_dangers=2)


def test_inspector_expert_and_qualifications() -> None:
    i = InspectorCreate(
        id="J001", name="陈伟", unit="揭东区市场监管局特种设备科", region="445203", qualifications="特种设备、食品"
    )
    assert i.is_expert and i.qualifications == ["food", "special_equipment"]
    assert not InspectorCreate(
        id="J002", name="林芳", unit="执法大队", region="445203", certificate_no="44520300123"
    ).is_expert


def test_date_order_rules() -> None:
    with pytest.raises(ValidationError, match="valid_to is before valid_from"):
        LicenceCreate(number="JY1", uscc=USCC, kind="食品经营许可", valid_from="2024-01-01", valid_to="2023-01-01")
    with pytest.raises(ValidationError, match="removed_on is before listed_on"):
        ListEntryCreate(uscc=USCC, list_name="经营异常名录", listed_on="2024-01-01", removed_on="2023-01-01")
