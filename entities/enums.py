"""Closed vocabularies of the domain, each value with its Chinese label (what users type and read)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class LabelledEnum(StrEnum):
    """A StrEnum whose members also have a Chinese label; parsing accepts the code or the label."""

    _labels: dict[str, str]

    @property
    def label(self) -> str:
        return type(self).labels()[self.value]

    @classmethod
    def labels(cls) -> dict[str, str]:
        return cls._labels_.value  # type: ignore[attr-defined, no-any-return]

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Map a Chinese label (or code, any case) to the member; leave other values for pydantic to reject."""
        if isinstance(value, cls) or not isinstance(value, str):
            return value
        text = value.strip()
        for code, label in cls.labels().items():
            if text == label or text.lower() == code:
                return cls(code)
        return text

    @classmethod
    def choices(cls) -> str:
        return ", ".join(f"{c} ({label})" for c, label in cls.labels().items())


def _labelled(name: str, pairs: dict[str, str]) -> type[LabelledEnum]:
    members: dict[str, Any] = {k.upper(): k for k in pairs}
    enum_cls = LabelledEnum(name, members)  # type: ignore[call-overload]
    # Stored on the class (not a member) so iteration shows only real values.
    type.__setattr__(enum_cls, "_labels_", type("L", (), {"value": dict(pairs)}))
    return enum_cls  # type: ignore[no-any-return]


SubjectKind = _labelled(
    "SubjectKind",
    {"enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社", "other": "其他"},
)
SubjectStatus = _labelled(
    "SubjectStatus",
    {"active": "存续", "revoked": "吊销", "cancelled": "注销", "moved_out": "迁出", "annulled": "撤销"},
)
ListName = _labelled(
    "ListName",
    {"abnormal": "经营异常名录", "serious_violation": "严重违法失信名单"},
)
LicenceKind = _labelled(
    "LicenceKind",
    {
        "food_production": "食品生产许可",
        "food_trade": "食品经营许可",
        "special_food": "特殊食品生产许可",
        "special_equipment_use": "特种设备使用登记",
        "special_equipment_production": "特种设备生产许可",
        "medical_device_production": "医疗器械生产许可",
        "medical_device_trade": "医疗器械经营许可",
        "industrial_product": "工业产品生产许可",
    },
)
PenaltySeverity = _labelled(
    "PenaltySeverity",
    {"warning": "警告", "fine": "罚款", "confiscation": "没收违法所得", "suspension": "责令停产停业", "revocation": "吊销许可证照"},
)
ResultCode = _labelled(
    "ResultCode",
    # The national publicity system's result codes (regulations.md §1); several may apply to one check.
    {
        "no_problem": "未发现问题",
        "unpublished_info": "未按规定公示应当公示的信息",
        "false_info": "公示信息隐瞒真实情况弄虚作假",
        "unreachable": "通过登记的住所（经营场所）无法联系",
        "obstructed": "不配合检查情节严重",
        "fixed_after_order": "发现问题经责令已改正",
        "no_activity": "未发现开展本次抽查涉及的经营活动",
        "closed": "已关闭停业或正在组织清算",
        "other_violation": "违反食品药品、质量技术监督或其他部门相关规定",
        "cancelled": "注销",
        "revoked": "被吊销",
        "annulled": "被撤销",
        "moved_out": "迁出",
    },
)
CheckKind = _labelled(
    "CheckKind",
    {"random": "双随机抽查", "key": "重点检查", "targeted": "专项检查", "lead": "投诉举报核查", "post_licence": "证后检查"},
)
EquipmentCategory = _labelled(
    "EquipmentCategory",
    # 特种设备安全法 第2条: the eight categories.
    {
        "boiler": "锅炉",
        "pressure_vessel": "压力容器",
        "pressure_piping": "压力管道",
        "elevator": "电梯",
        "crane": "起重机械",
        "ropeway": "客运索道",
        "ride": "大型游乐设施",
        "vehicle": "场（厂）内专用机动车辆",
    },
)
LocationType = _labelled(
    "LocationType",
    {
        "school": "学校",
        "kindergarten": "幼儿园",
        "hospital": "医院",
        "station": "车站",
        "port": "港口码头",
        "airport": "机场",
        "mall": "商场",
        "stadium": "体育场馆",
        "exhibition": "展览馆",
        "park": "公园",
        "scenic": "旅游景区",
        "residential": "住宅小区",
        "office": "办公楼",
        "factory": "工厂",
        # 房屋建筑工地、市政工程工地: cranes and 场车 there are the construction authority's (特种设备安全法 第100条).
        "building_site": "房屋建筑、市政工程工地",
        "other": "其他",
    },
)
# 公众聚集场所 under 令57号 第9条 / 特种设备安全法 第57条.
PUBLIC_GATHERING = frozenset(
    {"school", "kindergarten", "hospital", "station", "port", "airport", "mall", "stadium", "exhibition", "park", "scenic"}
)
# 使用登记状态: stopped (停用) and scrapped (报废) units are not due for periodic inspection (TSG 08).
EquipmentStatus = _labelled(
    "EquipmentStatus",
    {"in_use": "在用", "stopped": "停用", "scrapped": "报废"},
)
# What a complaint concerns: 令57号 第9条(三) counts only complaints 涉及特种设备安全.
ComplaintDomain = _labelled(
    "ComplaintDomain",
    {
        "special_equipment": "特种设备安全",
        "food": "食品安全",
        "medical_device": "医疗器械",
        "product_quality": "产品质量",
        "consumer": "消费纠纷",
        "other": "其他",
    },
)
InspectionConclusion = _labelled(
    "InspectionConclusion",
    {"pass": "合格", "conditional": "基本符合要求", "fail": "不合格", "retest_pass": "复检合格"},
)
FoodLicenceKind = _labelled(
    "FoodLicenceKind",
    {"production": "食品生产", "trade": "食品销售", "catering": "餐饮服务", "special_food": "特殊食品生产"},
)
FoodFormat = _labelled(
    "FoodFormat",
    {
        "manufacturer": "食品生产企业",
        "small_workshop": "食品小作坊",
        "supermarket": "商场超市",
        "grocery": "食杂店",
        "wholesale": "批发",
        "online": "网络食品销售",
        "restaurant": "餐馆",
        "snack": "小吃店",
        "canteen": "单位食堂",
        "school_canteen": "学校食堂",
        "central_kitchen": "中央厨房",
        "group_catering": "集体用餐配送单位",
        "special_food": "特殊食品生产企业",
    },
)
Scale = _labelled("Scale", {"small": "小型", "medium": "中型", "large": "大型"})
DeviceActivity = _labelled("DeviceActivity", {"production": "生产", "trade": "经营"})
DeviceClass = _labelled("DeviceClass", {"I": "第一类", "II": "第二类", "III": "第三类"})
Qualification = _labelled(
    "Qualification",
    {
        "registration": "登记注册",
        "food": "食品",
        "special_equipment": "特种设备",
        "medical_device": "医疗器械",
        "product_quality": "产品质量",
        "pricing": "价格",
        "advertising": "广告",
        "metrology": "计量",
    },
)
# 实施层级 of a check item: which level's plan draws it (e.g. 令53号 第49条: device production is the province's).
PlanLevel = _labelled("PlanLevel", {"provincial": "省级", "city": "市级", "county": "县级"})
ItemKind = _labelled("ItemKind", {"key": "重点检查事项", "general": "一般检查事项"})
CheckMethod = _labelled(
    "CheckMethod",
    {"onsite": "现场检查", "documents": "书面检查", "online": "网络监测", "sampling": "抽样检验"},
)
