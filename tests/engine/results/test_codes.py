"""The result-code table: the 18 national codes, and what the law in force makes of them."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.results.codes import (
    BUILTIN_CODES,
    CodeKind,
    Listing,
    Penalty,
    default_codes,
    load_codes,
    parse_codes,
    sort_codes,
)
from entities.enums import ResultCode as StoredCode
from entities.errors import InputError

ADDENDUM_CODES = {
    "1": "未发现问题",
    "3": "违反食品药品管理相关规定",
    "4": "违反质量技术监督相关规定",
    "5": "违反其他部门相关规定",
    "6": "通过登记的住所（经营场所）无法联系",
    "7": "已关闭停业或正在组织清算",
    "8": "不配合检查情节严重",
    "9": "注销",
    "10": "被吊销",
    "11": "被撤销",
    "12": "迁出",
    "A": "发现问题待后续处理",
    "B": "未按规定公示应当公示的信息",
    "C": "公示信息隐瞒真实情况弄虚作假",
    "D": "违反其他工商行政管理规定行为",
    "E": "发现问题经责令已改正",
    "F": "未发现开展本次抽查涉及的经营活动",
    "G": "违反公安部门相关规定",
}


def test_the_table_holds_the_18_codes_of_the_addendum_with_their_labels() -> None:
    codes = default_codes()
    assert {c.code: c.label_zh for c in codes} == ADDENDUM_CODES
    assert [c.code for c in codes] == ["1", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", *"ABCDEFG"]


def test_only_code_6_is_a_listing_cause_by_itself_and_b_only_after_a_missed_ordered_deadline() -> None:
    codes = default_codes()
    assert codes.direct_listing_causes == {"6"}
    assert codes.deadline_listing_causes == {"B"}
    assert "管理办法" in codes["6"].basis and "第4条第（四）项" in codes["6"].basis


def test_false_information_is_a_penalty_case_cause_not_a_listing_cause_since_2024() -> None:
    c = default_codes()["C"]
    assert c.penalty is Penalty.CASE and c.listing is Listing.NONE
    assert default_codes().penalty_causes == {"C"}
    assert "2024" in c.basis


def test_every_code_is_marked_secondary_as_the_addendum_says() -> None:
    assert {c.mark for c in default_codes()} == {"secondary"}


def test_cancelled_revoked_annulled_moved_out_end_checks() -> None:
    assert default_codes().ending == {"9", "10", "11", "12"}


def test_no_problem_is_the_one_no_finding_code_and_a_is_a_finding() -> None:
    codes = default_codes()
    assert codes.no_finding == {"1"}
    assert codes["A"].kind is CodeKind.FINDING and codes["A"].problem
    assert not codes["F"].problem and not codes["1"].problem


def test_keys_name_existing_stored_codes_and_problem_flags_agree_with_the_grading_features() -> None:
    from engine.features.compute import PROBLEM_CODES

    stored = {m.value for m in StoredCode}
    codes = default_codes()
    for c in codes:
        if c.key is not None:
            assert c.key in stored, c.code
            assert c.problem == (c.key in PROBLEM_CODES), c.code
    # Every stored code has at least one national code.
    assert stored == {c.key for c in codes if c.key}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("6", "6"),
        ("06", "6"),
        ("６", "6"),
        ("a", "A"),
        ("Ｃ", "C"),
        ("未发现问题", "1"),
        (" 迁出；", "12"),
        ("通过登记的住所（经营场所）无法联系", "6"),
    ],
)
def test_lookup_takes_a_code_or_its_label(text: str, code: str) -> None:
    hit = default_codes().lookup(text)
    assert hit is not None and hit.code == code


def test_lookup_refuses_what_is_not_a_code() -> None:
    codes = default_codes()
    for text in ("2", "H", "", "未发现", "²", "1.0"):
        assert codes.lookup(text) is None, text


def test_split_reads_several_codes_in_one_cell() -> None:
    assert default_codes().split("3；A、6") == ["3", "A", "6"]
    assert default_codes().split("违反食品药品管理相关规定，E") == ["违反食品药品管理相关规定", "E"]


def test_labels_are_joined_in_form_order() -> None:
    assert default_codes().label(["A", "3", "10"]) == "违反食品药品管理相关规定；被吊销；发现问题待后续处理"
    assert sort_codes(["B", "12", "3", "A"]) == ["3", "12", "A", "B"]


HEADER = "code,label_zh,label_en,kind,group,problem,listing,penalty,ends_checks,key,basis,mark"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("1,未发现问题,x,nothing,,false,none,none,false,,,secondary", ":2 [kind]"),
        ("1,未发现问题,x,no_finding,,maybe,none,none,false,,,secondary", ":2 [problem]"),
        ("6,无法联系,x,finding,,true,direct,none,false,,,secondary", ":2 [basis]"),
        (
            "1,a,x,no_finding,,false,none,none,false,,,secondary\n1,b,x,no_finding,,false,none,none,false,,,secondary",
            ":3 [code]",
        ),
        ("1,a,x,no_finding,Z,false,none,none,false,,,secondary", ":2 [group]"),
        ("1,a,x", ":2: expected 12 columns"),
        ("1,a,x,no_finding,,false,none,none,false,,,guessed", ":2 [mark]"),
    ],
)
def test_a_bad_table_is_refused_with_its_row_and_column(body: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_codes(f"{HEADER}\n{body}\n", name="codes.csv")


def test_a_bad_header_is_refused() -> None:
    with pytest.raises(InputError, match="header"):
        parse_codes("code,label\n1,未发现问题\n")


def test_load_reads_the_builtin_file_with_a_bom(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "codes.csv"
    p.write_bytes(BUILTIN_CODES.read_bytes().decode("utf-8").encode("utf-8-sig"))
    assert [c.code for c in load_codes(p)] == [c.code for c in default_codes()]
    with pytest.raises(InputError, match="cannot read"):
        load_codes(tmp_path / "missing.csv")


@given(st.text(max_size=200))
def test_any_text_as_a_code_table_raises_only_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_codes(text)
