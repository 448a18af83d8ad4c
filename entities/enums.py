"""Closed vocabularies of the domain, each value with its Chinese label (what users type and read)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema


class LabelledEnum(StrEnum):
    """A StrEnum whose members also have a Chinese label; parsing accepts the code or the label.

    A member is written `CODE = "code", "标签"`: the code is its value (what the store keeps), the label what
    users type and read.
    """

    _value_: str
    label: str

    if TYPE_CHECKING:
        # To callers, `SubjectKind("enterprise")` looks a member up by its code; only the class body builds members.
        def __new__(cls, value: str) -> Self: ...

    else:

        def __new__(cls, code: str, label: str) -> Self:
            member = str.__new__(cls, code)
            member._value_ = code
            member.label = label
            return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {member.value: member.label for member in cls}

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Map a Chinese label (or code, any case) to the member; leave other values for pydantic to reject."""
        if isinstance(value, cls) or not isinstance(value, str):
            return value
        text = value.strip()
        for member in cls:
            if text == member.label or text.lower() == member.value:
                return member
        return text

    @classmethod
    def choices(cls) -> str:
        return ", ".join(f"{c} ({label})" for c, label in cls.labels().items())

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        # Every model field of a labelled type takes the Chinese label as well as the code.
        return core_schema.no_info_before_validator_function(cls.parse, handler(source))


class SubjectKind(LabelledEnum):
    ENTERPRISE = "enterprise", "企业"
    INDIVIDUAL = "individual", "个体工商户"
    COOPERATIVE = "cooperative", "农民专业合作社"
    OTHER = "other", "其他"


class SubjectStatus(LabelledEnum):
    ACTIVE = "active", "存续"
    REVOKED = "revoked", "吊销"
    CANCELLED = "cancelled", "注销"
    MOVED_OUT = "moved_out", "迁出"
    ANNULLED = "annulled", "撤销"


class ListName(LabelledEnum):
    ABNORMAL = "abnormal", "经营异常名录"
    SERIOUS_VIOLATION = "serious_violation", "严重违法失信名单"


class LicenceKind(LabelledEnum):
    FOOD_PRODUCTION = "food_production", "食品生产许可"
    FOOD_TRADE = "food_trade", "食品经营许可"
    SPECIAL_FOOD = "special_food", "特殊食品生产许可"
    SPECIAL_EQUIPMENT_USE = "special_equipment_use", "特种设备使用登记"
    SPECIAL_EQUIPMENT_PRODUCTION = "special_equipment_production", "特种设备生产许可"
    MEDICAL_DEVICE_PRODUCTION = "medical_device_production", "医疗器械生产许可"
    MEDICAL_DEVICE_TRADE = "medical_device_trade", "医疗器械经营许可"
    INDUSTRIAL_PRODUCT = "industrial_product", "工业产品生产许可"


class PenaltySeverity(LabelledEnum):
    WARNING = "warning", "警告"
    FINE = "fine", "罚款"
    CONFISCATION = "confiscation", "没收违法所得"
    SUSPENSION = "suspension", "责令停产停业"
    REVOCATION = "revocation", "吊销许可证照"


class ResultCode(LabelledEnum):
    # The national publicity system's result codes (regulations.md §1); several may apply to one check.
    NO_PROBLEM = "no_problem", "未发现问题"
    UNPUBLISHED_INFO = "unpublished_info", "未按规定公示应当公示的信息"
    FALSE_INFO = "false_info", "公示信息隐瞒真实情况弄虚作假"
    UNREACHABLE = "unreachable", "通过登记的住所（经营场所）无法联系"
    OBSTRUCTED = "obstructed", "不配合检查情节严重"
    FIXED_AFTER_ORDER = "fixed_after_order", "发现问题经责令已改正"
    NO_ACTIVITY = "no_activity", "未发现开展本次抽查涉及的经营活动"
    CLOSED = "closed", "已关闭停业或正在组织清算"
    OTHER_VIOLATION = "other_violation", "违反食品药品、质量技术监督或其他部门相关规定"
    CANCELLED = "cancelled", "注销"
    REVOKED = "revoked", "被吊销"
    ANNULLED = "annulled", "被撤销"
    MOVED_OUT = "moved_out", "迁出"


class CheckKind(LabelledEnum):
    RANDOM = "random", "双随机抽查"
    KEY = "key", "重点检查"
    TARGETED = "targeted", "专项检查"
    LEAD = "lead", "投诉举报核查"
    POST_LICENCE = "post_licence", "证后检查"


class EquipmentCategory(LabelledEnum):
    # 特种设备安全法 第2条: the eight categories.
    BOILER = "boiler", "锅炉"
    PRESSURE_VESSEL = "pressure_vessel", "压力容器"
    PRESSURE_PIPING = "pressure_piping", "压力管道"
    ELEVATOR = "elevator", "电梯"
    CRANE = "crane", "起重机械"
    ROPEWAY = "ropeway", "客运索道"
    RIDE = "ride", "大型游乐设施"
    VEHICLE = "vehicle", "场（厂）内专用机动车辆"


class LocationType(LabelledEnum):
    SCHOOL = "school", "学校"
    KINDERGARTEN = "kindergarten", "幼儿园"
    HOSPITAL = "hospital", "医院"
    STATION = "station", "车站"
    PORT = "port", "港口码头"
    AIRPORT = "airport", "机场"
    MALL = "mall", "商场"
    STADIUM = "stadium", "体育场馆"
    EXHIBITION = "exhibition", "展览馆"
    PARK = "park", "公园"
    SCENIC = "scenic", "旅游景区"
    RESIDENTIAL = "residential", "住宅小区"
    OFFICE = "office", "办公楼"
    FACTORY = "factory", "工厂"
    # 房屋建筑工地、市政工程工地: cranes and 场车 there are the construction authority's (特种设备安全法 第100条).
    BUILDING_SITE = "building_site", "房屋建筑、市政工程工地"
    OTHER = "other", "其他"


# 公众聚集场所 under 令57号 第9条 / 特种设备安全法 第57条.
PUBLIC_GATHERING = frozenset(
    {
        "school",
        "kindergarten",
        "hospital",
        "station",
        "port",
        "airport",
        "mall",
        "stadium",
        "exhibition",
        "park",
        "scenic",
    }
)


# 使用登记状态: stopped (停用) and scrapped (报废) units are not due for periodic inspection (TSG 08).
class EquipmentStatus(LabelledEnum):
    IN_USE = "in_use", "在用"
    STOPPED = "stopped", "停用"
    SCRAPPED = "scrapped", "报废"


# What a complaint concerns: 令57号 第9条(三) counts only complaints 涉及特种设备安全.
class ComplaintDomain(LabelledEnum):
    SPECIAL_EQUIPMENT = "special_equipment", "特种设备安全"
    FOOD = "food", "食品安全"
    MEDICAL_DEVICE = "medical_device", "医疗器械"
    PRODUCT_QUALITY = "product_quality", "产品质量"
    CONSUMER = "consumer", "消费纠纷"
    OTHER = "other", "其他"


class InspectionConclusion(LabelledEnum):
    PASS = "pass", "合格"
    CONDITIONAL = "conditional", "基本符合要求"
    FAIL = "fail", "不合格"
    RETEST_PASS = "retest_pass", "复检合格"


class FoodLicenceKind(LabelledEnum):
    PRODUCTION = "production", "食品生产"
    TRADE = "trade", "食品销售"
    CATERING = "catering", "餐饮服务"
    SPECIAL_FOOD = "special_food", "特殊食品生产"


class FoodFormat(LabelledEnum):
    MANUFACTURER = "manufacturer", "食品生产企业"
    SMALL_WORKSHOP = "small_workshop", "食品小作坊"
    SUPERMARKET = "supermarket", "商场超市"
    GROCERY = "grocery", "食杂店"
    WHOLESALE = "wholesale", "批发"
    ONLINE = "online", "网络食品销售"
    RESTAURANT = "restaurant", "餐馆"
    SNACK = "snack", "小吃店"
    CANTEEN = "canteen", "单位食堂"
    SCHOOL_CANTEEN = "school_canteen", "学校食堂"
    CENTRAL_KITCHEN = "central_kitchen", "中央厨房"
    GROUP_CATERING = "group_catering", "集体用餐配送单位"
    SPECIAL_FOOD = "special_food", "特殊食品生产企业"


class Scale(LabelledEnum):
    SMALL = "small", "小型"
    MEDIUM = "medium", "中型"
    LARGE = "large", "大型"


class DeviceActivity(LabelledEnum):
    PRODUCTION = "production", "生产"
    TRADE = "trade", "经营"


class DeviceClass(LabelledEnum):
    I = "I", "第一类"  # noqa: E741 (the regulations' own name for the class)
    II = "II", "第二类"
    III = "III", "第三类"


class Qualification(LabelledEnum):
    REGISTRATION = "registration", "登记注册"
    FOOD = "food", "食品"
    SPECIAL_EQUIPMENT = "special_equipment", "特种设备"
    MEDICAL_DEVICE = "medical_device", "医疗器械"
    PRODUCT_QUALITY = "product_quality", "产品质量"
    PRICING = "pricing", "价格"
    ADVERTISING = "advertising", "广告"
    METROLOGY = "metrology", "计量"


# 实施层级 of a check item: which level's plan draws it (e.g. 令53号 第49条: device production is the province's).
class PlanLevel(LabelledEnum):
    PROVINCIAL = "provincial", "省级"
    CITY = "city", "市级"
    COUNTY = "county", "县级"


# 检查层级 of a past check: which level of market supervision made it (令49号 第42条: after a higher level's check, the
# lower level does not repeat it for three months). 区 bureaus are county level. Ordered from the top.
class CheckLevel(LabelledEnum):
    NATIONAL = "national", "国家级"
    PROVINCIAL = "provincial", "省级"
    CITY = "city", "市级"
    COUNTY = "county", "县级"

    @property
    def rank(self) -> int:
        """Higher is higher up: county 1, city 2, provincial 3, national 4."""
        return len(CHECK_LEVELS) - CHECK_LEVELS.index(self.value)


CHECK_LEVELS = tuple(level.value for level in CheckLevel)
"""The levels from the top (national) down (county)."""


class ItemKind(LabelledEnum):
    KEY = "key", "重点检查事项"
    GENERAL = "general", "一般检查事项"


class CheckMethod(LabelledEnum):
    ONSITE = "onsite", "现场检查"
    DOCUMENTS = "documents", "书面检查"
    ONLINE = "online", "网络监测"
    SAMPLING = "sampling", "抽样检验"
