"""令53号 第49条: an item with `level: provincial` (device production, YL-SC-01) is drawn only by a plan whose
regions are province codes; a county, city or whole-store plan leaves it out and says so in the summary."""

from __future__ import annotations

import json

import pytest

from engine.catalogue import load_catalogue
from engine.plan import subjects_frame
from engine.plan.make import provincial_items_left_out
from entities.errors import InputError
from tests.engine.plan.world import item, plan, uscc

PROVINCIAL = item("YL-SC-01", domain="medical_device", level="provincial", joint_group="medical-device")
GENERAL = item("DJ-GS-01")


def _frame() -> object:
    return subjects_frame({"uscc": uscc(k), "region": "440111001", "credit_class": "D"} for k in range(20))


def test_the_rule() -> None:
    items = [PROVINCIAL, GENERAL]
    assert provincial_items_left_out(items, ()) == ("YL-SC-01",)  # whole store: not taken for a province
    assert provincial_items_left_out(items, ("440111",)) == ("YL-SC-01",)  # a county
    assert provincial_items_left_out(items, ("440100",)) == ("YL-SC-01",)  # a city
    assert provincial_items_left_out(items, ("440000", "440111")) == ("YL-SC-01",)  # not all provinces
    assert provincial_items_left_out(items, ("440000",)) == ()
    assert provincial_items_left_out(items, ("440000", "450000")) == ()


def test_the_national_catalogue_marks_device_production_provincial() -> None:
    assert provincial_items_left_out(load_catalogue(), ("440111",)) == ("YL-SC-01",)


def test_a_county_plan_drops_the_provincial_draw_and_lists_it() -> None:
    p = plan(_frame(), items=[PROVINCIAL, GENERAL], regions=["440111"])
    assert [i.code for i in p.items] == ["DJ-GS-01"]
    assert all(i.code != "YL-SC-01" for v in p.visits for i in v.items)
    assert p.summary()["not_drawn_at_this_level"] == {"YL-SC-01": "provincial item, not drawn at this level"}
    assert "not_drawn_at_this_level" not in json.loads(p.to_json())


def test_the_plan_document_changes_only_by_the_dropped_draw() -> None:
    county = plan(_frame(), items=[PROVINCIAL, GENERAL], regions=["440111"])
    without = plan(_frame(), items=[GENERAL], regions=["440111"])
    assert county.to_json() == without.to_json()
    assert "not_drawn_at_this_level" not in without.summary()


def test_a_province_plan_draws_it() -> None:
    p = plan(_frame(), items=[PROVINCIAL, GENERAL], regions=["440000"])
    assert [i.code for i in p.items] == ["DJ-GS-01", "YL-SC-01"]
    assert "not_drawn_at_this_level" not in p.summary()


def test_only_provincial_items_at_county_level_is_refused() -> None:
    with pytest.raises(
        InputError,
        match=r"^check item YL-SC-01 is a provincial item \(level: provincial\): only a plan of a province "
        r"\(--region 440000\) draws it$",
    ):
        plan(_frame(), items=[PROVINCIAL], regions=["440111"])
