"""Validators for the national codes the store holds: USCC, GB/T 4754 industry, GB/T 2260 region."""

from __future__ import annotations

import re

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import uscc as stdnum_uscc

# GB/T 4754-2017: each section letter owns a range of two-digit divisions.
INDUSTRY_SECTIONS: dict[str, tuple[int, int, str]] = {
    "A": (1, 5, "农、林、牧、渔业"),
    "B": (6, 12, "采矿业"),
    "C": (13, 43, "制造业"),
    "D": (44, 46, "电力、热力、燃气及水生产和供应业"),
    "E": (47, 50, "建筑业"),
    "F": (51, 52, "批发和零售业"),
    "G": (53, 60, "交通运输、仓储和邮政业"),
    "H": (61, 62, "住宿和餐饮业"),
    "I": (63, 65, "信息传输、软件和信息技术服务业"),
    "J": (66, 69, "金融业"),
    "K": (70, 70, "房地产业"),
    "L": (71, 72, "租赁和商务服务业"),
    "M": (73, 75, "科学研究和技术服务业"),
    "N": (76, 79, "水利、环境和公共设施管理业"),
    "O": (80, 82, "居民服务、修理和其他服务业"),
    "P": (83, 83, "教育"),
    "Q": (84, 85, "卫生和社会工作"),
    "R": (86, 90, "文化、体育和娱乐业"),
    "S": (91, 97, "公共管理、社会保障和社会组织"),
    "T": (98, 98, "国际组织"),
}
_INDUSTRY = re.compile(r"^([A-T])(\d{2}(\d(\d)?)?)?$")
_REGION = re.compile(r"^\d{6}(\d{3})?$")
_EQUIPMENT_CODE = re.compile(r"^[0-9A-Z]{10,20}$")


def normalise_uscc(value: str) -> str:
    """Return the canonical USCC or raise ValueError saying what is wrong with it (python-stdnum checks it)."""
    try:
        return str(stdnum_uscc.validate(value))
    except stdnum_exceptions.InvalidChecksum:
        expected = stdnum_uscc.calc_check_digit(stdnum_uscc.compact(value)[:17])
        raise ValueError(f"USCC {value!r} fails its check digit (the 18th character would be {expected!r})") from None
    except stdnum_exceptions.InvalidLength:
        raise ValueError(f"USCC {value!r} must have 18 characters") from None
    except stdnum_exceptions.ValidationError:
        raise ValueError(
            f"USCC {value!r} is malformed (8 digits, then 10 of 0-9 and A-Y without I, O, S, V, Z)"
        ) from None


def uscc_check_digit(first17: str) -> str:
    return str(stdnum_uscc.calc_check_digit(first17))


def normalise_industry(value: str) -> str:
    """A GB/T 4754-2017 code: section letter, optionally division, group and class digits (e.g. F5211)."""
    code = value.strip().upper()
    match = _INDUSTRY.match(code)
    if not match:
        raise ValueError(f"industry {value!r} is not a GB/T 4754 code (a letter A-T, then 2-4 digits, e.g. F5211)")
    if match.group(2):
        low, high, _ = INDUSTRY_SECTIONS[code[0]]
        division = int(code[1:3])
        if not low <= division <= high:
            raise ValueError(
                f"industry {value!r}: division {division:02d} is not in section {code[0]} ({low:02d}-{high:02d})"
            )
    return code


def normalise_region(value: str) -> str:
    """A GB/T 2260 county code (6 digits) or a 街镇 code (9 digits: county + 3-digit township)."""
    code = value.strip()
    if not _REGION.match(code):
        raise ValueError(f"region {value!r} is not a 6-digit GB/T 2260 code or a 9-digit 街镇 code")
    return code


def normalise_equipment_code(value: str) -> str:
    code = value.strip().upper()
    if not _EQUIPMENT_CODE.match(code):
        raise ValueError(f"equipment registration code {value!r} must be 10-20 digits or capital letters")
    return code


def region_prefix(code: str) -> str:
    """A region code as a prefix of its subjects' codes: 440100 (a city) → 4401, 440000 (a province) → 44."""
    prefix = code
    if len(prefix) == 6:
        while len(prefix) > 2 and prefix.endswith("00"):
            prefix = prefix[:-2]
    return prefix
