"""Word lists and code tables the generator draws from: industries, names, places, legal bases, equipment.

Industry codes are GB/T 4754-2017 classes (4 digits) or groups (3 digits) where the class split does not matter.
Weights are relative shares within a subject kind; they are assumptions shaped by the seeds (揭东: stainless-steel
kitchenware, plastics, garments, food; 白云: cosmetics, leather goods, wholesale, logistics) and by what individual
businesses mostly are (shops, eateries, barbers and repairers).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    code: str
    words: tuple[str, ...]  # what the name says the business does
    unit: str  # the kind of special-equipment user it would be (see UNIT_TYPES)
    ent_rural: float
    ent_urban: float
    individual: float
    cooperative: float
    complaints: float  # relative propensity to draw complaints
    penalty: str  # which family of legal bases a penalty cites (see LEGAL_BASES)


def _i(
    code: str, words: str, unit: str, er: float, eu: float, ind: float, coop: float, cf: float, pen: str
) -> Industry:
    return Industry(code, tuple(words.split()), unit, er, eu, ind, coop, cf, pen)


INDUSTRIES: tuple[Industry, ...] = (
    # agriculture (co-operatives mostly)
    _i("A0111", "稻谷种植 粮食种植", "shop", 0.3, 0.05, 0.1, 10, 0.1, "registration"),
    _i("A0141", "蔬菜种植 果蔬种植", "shop", 0.5, 0.1, 0.5, 22, 0.1, "registration"),
    _i("A0153", "柑橘种植 果业", "shop", 0.2, 0.05, 0.2, 10, 0.1, "registration"),
    _i("A0159", "青梅种植 水果种植 荔枝种植", "shop", 0.3, 0.05, 0.3, 16, 0.1, "registration"),
    _i("A0164", "茶叶种植 茶业", "shop", 0.2, 0.05, 0.1, 8, 0.1, "registration"),
    _i("A0313", "生猪养殖 养猪", "shop", 0.3, 0.05, 0.3, 12, 0.1, "registration"),
    _i("A0321", "家禽养殖 养鸡", "shop", 0.2, 0.05, 0.3, 8, 0.1, "registration"),
    _i("A0412", "水产养殖", "shop", 0.2, 0.05, 0.2, 8, 0.1, "registration"),
    _i("A0511", "种苗培育 农业技术", "shop", 0.1, 0.05, 0.0, 6, 0.1, "registration"),
    _i("A0512", "农机服务 农业机械", "shop", 0.1, 0.02, 0.1, 8, 0.1, "registration"),
    # manufacturing
    _i("C1311", "米业 粮食加工", "factory", 0.6, 0.1, 0.2, 0.5, 0.5, "food"),
    _i("C1353", "肉类加工 食品", "factory", 0.4, 0.1, 0.2, 0.3, 0.6, "food"),
    _i("C1411", "食品 饼业 糕点", "factory", 1.2, 0.4, 0.8, 0, 0.8, "food"),
    _i("C1491", "食品 营养食品", "factory", 0.5, 0.3, 0.2, 0, 0.8, "food"),
    _i("C1530", "茶业 茶叶加工", "factory", 0.4, 0.1, 0.3, 1, 0.4, "food"),
    _i("C1810", "服装 制衣", "factory", 3.0, 1.0, 1.0, 0, 0.3, "quality"),
    _i("C1922", "皮具 箱包", "factory", 0.6, 1.6, 0.3, 0, 0.3, "quality"),
    _i("C1952", "鞋业 制鞋", "factory", 1.0, 0.6, 0.3, 0, 0.3, "quality"),
    _i("C2231", "纸品 包装", "factory", 1.2, 0.4, 0.2, 0, 0.2, "quality"),
    _i("C2319", "印刷 包装印刷", "factory", 0.8, 0.5, 0.2, 0, 0.2, "quality"),
    _i("C2682", "化妆品 日化 生物科技", "factory", 0.4, 2.2, 0.1, 0, 0.8, "cosmetics"),
    _i("C2927", "塑料制品 塑胶", "factory", 3.0, 0.7, 0.6, 0, 0.2, "quality"),
    _i("C2929", "塑料 塑胶五金", "factory", 1.5, 0.5, 0.3, 0, 0.2, "quality"),
    _i("C3311", "金属结构 钢构", "factory", 1.0, 0.3, 0.2, 0, 0.2, "quality"),
    _i("C3381", "不锈钢制品 五金制品 厨具", "factory", 7.0, 0.5, 2.0, 0, 0.3, "quality"),
    _i("C3389", "五金 金属制品", "factory", 3.0, 0.5, 0.8, 0, 0.3, "quality"),
    _i("C3421", "机械 机械设备", "factory", 1.2, 0.4, 0.2, 0, 0.2, "quality"),
    _i("C3584", "医疗器械 医用材料", "factory", 0.2, 0.2, 0.0, 0, 0.4, "medical_device"),
    _i("C3854", "电器 家用电器", "factory", 1.0, 0.5, 0.1, 0, 0.5, "quality"),
    _i("C3982", "电子 电子元件", "factory", 0.6, 0.8, 0.1, 0, 0.2, "quality"),
    _i("C4119", "日用品 工艺品", "factory", 0.8, 0.3, 1.0, 0, 0.3, "quality"),
    # utilities and construction
    _i("D4411", "电力 能源", "utility", 0.1, 0.05, 0, 0, 0.3, "registration"),
    _i("D4511", "燃气 天然气", "utility", 0.15, 0.1, 0, 0, 1.0, "special_equipment"),
    _i("E4710", "建筑工程 建设", "construction", 2.0, 1.6, 0.3, 0, 0.5, "registration"),
    _i("E4813", "市政工程 路桥工程", "construction", 0.6, 0.5, 0.1, 0, 0.4, "registration"),
    _i("E5011", "装饰工程 装饰设计", "construction", 1.5, 2.5, 2.0, 0, 1.5, "consumer"),
    # wholesale
    _i("F5121", "粮油 粮油贸易", "logistics", 1.0, 1.0, 0.8, 0.5, 0.6, "food"),
    _i("F5123", "果蔬 农产品", "logistics", 0.8, 1.0, 1.5, 2, 0.5, "food"),
    _i("F5127", "酒业 茶业 饮料", "logistics", 0.6, 0.8, 0.5, 0, 0.6, "food"),
    _i("F5132", "服装 服饰贸易", "logistics", 1.0, 2.5, 1.0, 0, 0.5, "wholesale"),
    _i("F5139", "皮具 箱包贸易", "logistics", 0.2, 1.5, 0.3, 0, 0.5, "wholesale"),
    _i("F5134", "化妆品贸易 日化贸易", "logistics", 0.1, 1.2, 0.3, 0, 1.0, "cosmetics"),
    _i("F5151", "医药 药业", "logistics", 0.2, 0.4, 0.0, 0, 0.8, "medical_device"),
    _i("F5154", "医疗器械 医疗用品", "logistics", 0.2, 0.6, 0.1, 0, 0.8, "medical_device"),
    _i("F5165", "建材 建筑材料", "logistics", 1.0, 1.5, 0.8, 0, 0.4, "wholesale"),
    _i("F5174", "五金 五金机电", "logistics", 2.0, 2.0, 1.5, 0, 0.4, "wholesale"),
    _i("F5199", "贸易 商贸 供应链", "logistics", 4.0, 7.0, 1.0, 0, 0.6, "wholesale"),
    # retail
    _i("F5211", "百货 商场 购物中心", "mall", 0.3, 0.4, 0.1, 0, 2.0, "retail"),
    _i("F5212", "超市 购物广场", "mall", 0.6, 0.6, 0.8, 0, 2.5, "food"),
    _i("F5219", "商店 便利店 士多 商行", "shop", 1.0, 1.5, 13.0, 0, 1.0, "food"),
    _i("F5221", "粮油店 米行", "shop", 0.1, 0.1, 3.0, 0, 0.8, "food"),
    _i("F5223", "果蔬店 水果店", "shop", 0.1, 0.2, 5.5, 0, 0.8, "food"),
    _i("F5224", "肉档 海鲜档 冻品店", "shop", 0.1, 0.2, 5.0, 0, 1.0, "food"),
    _i("F5226", "茶行 酒行 烟酒店", "shop", 0.2, 0.3, 3.0, 0, 0.8, "food"),
    _i("F5232", "服装店 时装店", "shop", 0.3, 0.8, 6.0, 0, 1.0, "retail"),
    _i("F5234", "化妆品店 日化店", "shop", 0.1, 0.5, 1.5, 0, 1.5, "cosmetics"),
    _i("F5251", "药店 大药房", "shop", 0.3, 0.5, 1.0, 0, 1.2, "medical_device"),
    _i("F5254", "医疗器械店 康复用品", "shop", 0.05, 0.2, 0.3, 0, 1.2, "medical_device"),
    _i("F5265", "加油站 石油", "utility", 0.1, 0.1, 0, 0, 1.0, "quality"),
    _i("F5274", "通讯店 手机店", "shop", 0.2, 0.4, 2.0, 0, 1.5, "retail"),
    _i("F5281", "五金店 建材店", "shop", 0.2, 0.3, 3.0, 0, 0.6, "retail"),
    _i("F5283", "家具店 家私", "shop", 0.2, 0.4, 1.5, 0, 1.5, "retail"),
    _i("F5292", "网店 电子商务 电商", "office", 0.8, 3.0, 2.0, 0, 3.0, "ecommerce"),
    _i("F5299", "商行 杂货店", "shop", 0.2, 0.3, 3.0, 0, 1.0, "retail"),
    # transport and storage
    _i("G5431", "物流 运输 货运", "logistics", 1.5, 2.5, 2.0, 0, 0.5, "registration"),
    _i("G5441", "客运站 汽车客运", "station", 0.03, 0.05, 0, 0, 1.0, "consumer"),
    _i("G5531", "客运港 码头", "port", 0.02, 0.02, 0, 0, 0.5, "registration"),
    _i("G5631", "机场 航空服务", "airport", 0, 0.005, 0, 0, 2.0, "consumer"),
    _i("G5920", "仓储 仓库", "logistics", 0.4, 1.2, 0.1, 0, 0.3, "registration"),
    _i("G6020", "快递 速递", "logistics", 0.2, 0.6, 0.3, 0, 1.5, "consumer"),
    # lodging and catering
    _i("H6110", "大酒店 酒店", "hotel", 0.15, 0.2, 0, 0, 2.0, "consumer"),
    _i("H6121", "连锁酒店 商务酒店", "hotel", 0.15, 0.3, 0.1, 0, 2.0, "consumer"),
    _i("H6129", "旅馆 宾馆 旅店", "hotel", 0.2, 0.3, 1.0, 0, 1.5, "consumer"),
    _i("H6210", "酒家 饭店 餐厅 食府", "shop", 0.6, 1.0, 3.0, 0, 3.0, "food"),
    _i("H6220", "快餐店 餐饮", "shop", 0.3, 0.8, 3.0, 0, 3.0, "food"),
    _i("H6231", "茶餐厅 茶馆", "shop", 0.1, 0.3, 1.0, 0, 2.0, "food"),
    _i("H6241", "餐饮管理 膳食服务 团餐", "shop", 0.2, 0.4, 0.2, 0, 2.0, "food"),
    _i("H6291", "小吃店 粉面店 肠粉店 粿店", "shop", 0.1, 0.2, 6.0, 0, 2.5, "food"),
    _i("H6299", "大排档 烧烤店 糖水店", "shop", 0.05, 0.2, 2.0, 0, 2.5, "food"),
    # information, finance, real estate, business services
    _i("I6513", "软件 网络科技 信息技术", "office", 0.8, 5.0, 0.2, 0, 0.8, "advertising"),
    _i("I6450", "网络科技 互联网", "office", 0.3, 2.0, 0.2, 0, 1.5, "advertising"),
    _i("J6940", "金融信息服务 投资", "office", 0.2, 1.0, 0, 0, 1.0, "advertising"),
    _i("K7010", "房地产开发 置业 地产", "property", 0.8, 1.0, 0, 0, 3.0, "price"),
    _i("K7020", "物业管理 物业服务", "property", 1.0, 1.6, 0, 0, 5.0, "price"),
    _i("K7030", "房地产经纪 地产代理", "office", 0.3, 1.2, 0.5, 0, 3.0, "price"),
    _i("L7113", "设备租赁 机械租赁", "construction", 0.3, 0.6, 0.2, 0, 0.3, "registration"),
    _i("L7211", "企业管理 控股", "office", 0.5, 2.0, 0, 0, 0.3, "registration"),
    _i("L7243", "咨询 商务咨询", "office", 0.8, 3.0, 0.3, 0, 0.8, "advertising"),
    _i("L7259", "广告 文化传播 传媒", "office", 0.6, 3.0, 0.5, 0, 1.5, "advertising"),
    _i("L7263", "人力资源 劳务派遣", "office", 0.3, 1.2, 0, 0, 1.5, "registration"),
    _i("L7281", "会展 展览", "exhibition", 0.05, 0.2, 0, 0, 0.8, "registration"),
    _i("M7519", "科技 生物科技 技术推广", "office", 0.8, 3.5, 0.1, 0.5, 0.5, "advertising"),
    # parks and scenic areas
    _i("N7850", "公园管理 园林", "park", 0.03, 0.05, 0, 0, 0.8, "consumer"),
    _i("N7861", "旅游开发 景区管理", "scenic", 0.03, 0.04, 0, 0.2, 1.0, "consumer"),
    # residents' services and repairs
    _i("O8010", "家政服务 保洁", "shop", 0.2, 1.0, 1.0, 0, 1.5, "consumer"),
    _i("O8030", "洗衣店 干洗店", "shop", 0.05, 0.1, 1.0, 0, 1.0, "consumer"),
    _i("O8040", "理发店 发型屋 美容院", "shop", 0.2, 0.8, 5.5, 0, 2.5, "consumer"),
    _i("O8051", "沐足 洗浴 养生馆", "shop", 0.1, 0.3, 1.0, 0, 2.0, "consumer"),
    _i("O8060", "摄影 影楼", "shop", 0.05, 0.2, 0.8, 0, 1.5, "consumer"),
    _i("O8111", "汽车维修 汽修厂", "shop", 0.3, 0.5, 2.5, 0, 1.5, "consumer"),
    _i("O8113", "摩托车维修 车行", "shop", 0.05, 0.1, 2.0, 0, 1.0, "consumer"),
    _i("O8199", "家电维修 维修部", "shop", 0.05, 0.2, 1.5, 0, 1.0, "consumer"),
    # education, health, culture
    _i("P8310", "幼儿园", "kindergarten", 0.2, 0.3, 0, 0, 2.0, "price"),
    _i("P8321", "实验学校 学校", "school", 0.05, 0.05, 0, 0, 2.0, "price"),
    _i("P8336", "职业培训学校 技工学校", "school", 0.05, 0.1, 0, 0, 2.0, "price"),
    _i("P8391", "职业培训 技能培训", "school", 0.2, 0.8, 0.2, 0, 3.0, "advertising"),
    _i("P8393", "文化艺术培训 教育咨询", "office", 0.3, 1.5, 0.8, 0, 4.0, "advertising"),
    _i("Q8415", "专科医院 医院", "hospital", 0.05, 0.1, 0, 0, 3.0, "medical_device"),
    _i("Q8425", "门诊部 诊所", "shop", 0.1, 0.4, 0.5, 0, 2.0, "medical_device"),
    _i("R8921", "体育场馆 体育发展", "stadium", 0.03, 0.08, 0, 0, 1.0, "consumer"),
    _i("R9011", "歌舞厅 KTV", "shop", 0.1, 0.2, 0.3, 0, 2.0, "consumer"),
    _i("R9013", "网吧 网咖", "shop", 0.05, 0.1, 0.4, 0, 1.5, "consumer"),
    _i("R9020", "游乐园 游乐场", "park", 0.03, 0.05, 0.05, 0, 2.0, "consumer"),
)

# Special-equipment user types: how likely a subject of that type uses special equipment, how many devices it
# has relative to others, where the devices stand, and which categories it has (relative affinity, assumed).
CATEGORIES = ("elevator", "crane", "pressure_vessel", "pressure_piping", "boiler", "vehicle", "ride", "ropeway")


@dataclass(frozen=True)
class UnitType:
    propensity: float
    size: float
    locations: tuple[tuple[str, float], ...]
    affinity: tuple[float, ...]  # in CATEGORIES order


UNIT_TYPES: dict[str, UnitType] = {
    # Property companies run most lifts, most of them in housing estates (assumed: no 揭东 location figures).
    "property": UnitType(
        0.6, 7.0, (("residential", 0.85), ("office", 0.10), ("mall", 0.05)), (10, 0.05, 0.1, 0.05, 0.1, 0.02, 0.01, 0)
    ),
    "mall": UnitType(0.35, 2.5, (("mall", 1.0),), (10, 0.05, 0.3, 0.1, 0.2, 0.3, 0.5, 0)),
    "hotel": UnitType(0.3, 1.5, (("other", 1.0),), (10, 0.02, 0.6, 0.3, 1.5, 0.02, 0, 0)),
    "hospital": UnitType(0.7, 2.5, (("hospital", 1.0),), (8, 0.05, 3, 1, 1.5, 0.05, 0, 0)),
    "school": UnitType(0.35, 1.2, (("school", 1.0),), (6, 0.02, 0.3, 0.1, 1, 0.02, 0, 0)),
    "kindergarten": UnitType(0.1, 0.5, (("kindergarten", 1.0),), (3, 0, 0.1, 0, 0.2, 0, 0.5, 0)),
    "station": UnitType(0.6, 1.5, (("station", 1.0),), (6, 0.5, 0.5, 0.2, 0.2, 0.5, 0, 0)),
    "port": UnitType(0.7, 2.0, (("port", 1.0),), (1, 8, 1, 1, 0.2, 3, 0, 0)),
    "airport": UnitType(0.9, 4.0, (("airport", 1.0),), (8, 1, 2, 1, 0.5, 4, 0, 0)),
    "stadium": UnitType(0.5, 1.5, (("stadium", 1.0),), (6, 0.1, 0.3, 0.1, 0.5, 0.1, 0.5, 0)),
    "exhibition": UnitType(0.5, 2.0, (("exhibition", 1.0),), (8, 0.5, 0.3, 0.1, 0.3, 1, 0, 0)),
    "park": UnitType(0.6, 2.0, (("park", 1.0),), (0.5, 0.05, 0.1, 0, 0.1, 0.3, 20, 2)),
    "scenic": UnitType(0.7, 1.5, (("scenic", 1.0),), (1, 0.05, 0.1, 0, 0.1, 0.5, 10, 20)),
    "factory": UnitType(0.18, 1.2, (("factory", 1.0),), (1, 10, 6, 4, 2, 3, 0, 0)),
    "utility": UnitType(0.6, 2.0, (("factory", 1.0),), (0.5, 2, 8, 12, 3, 1, 0, 0)),
    "logistics": UnitType(0.12, 1.0, (("other", 1.0),), (2, 5, 1, 0.5, 0.2, 10, 0, 0)),
    "construction": UnitType(0.12, 1.0, (("other", 1.0),), (0.5, 12, 0.2, 0.1, 0.1, 1, 0, 0)),
    "office": UnitType(0.01, 1.0, (("office", 1.0),), (10, 0.05, 0.2, 0.1, 0.3, 0.05, 0, 0)),
    "shop": UnitType(0.003, 0.3, (("other", 1.0),), (1, 1, 1, 0.5, 1, 2, 0.1, 0)),
}

# 特种设备目录 varieties: (code, 品种 name, weight, periodic-inspection interval in years where it differs).
VARIETIES: dict[str, tuple[tuple[str, str, float, int], ...]] = {
    "elevator": (
        ("3110", "曳引驱动乘客电梯", 0.72, 0),
        ("3120", "曳引驱动载货电梯", 0.10, 0),
        ("3210", "液压乘客电梯", 0.01, 0),
        ("3310", "自动扶梯", 0.08, 0),
        ("3320", "自动人行道", 0.01, 0),
        ("3430", "杂物电梯", 0.08, 0),
    ),
    # bridge/gantry cranes and parking systems every 2 years, the rest every year (regulations.md §3). Tower
    # cranes and construction hoists work on building sites and are registered with the construction authority
    # (特种设备安全法 第100条): weight 0, kept so the codes stay known.
    "crane": (
        ("4110", "通用桥式起重机", 0.55, 2),
        ("4210", "通用门式起重机", 0.20, 2),
        ("4300", "塔式起重机", 0.0, 1),
        ("4400", "流动式起重机", 0.08, 1),
        ("4860", "施工升降机", 0.0, 1),
        ("4D00", "机械式停车设备", 0.17, 2),
    ),
    "pressure_vessel": (
        ("2100", "储存压力容器", 0.45, 0),
        ("2100", "换热压力容器", 0.25, 0),
        ("2100", "反应压力容器", 0.15, 0),
        ("2100", "分离压力容器", 0.14, 0),
        ("2400", "医用氧舱", 0.01, 0),
    ),
    "pressure_piping": (
        ("8310", "工艺管道", 0.6, 0),
        ("8320", "动力管道", 0.15, 0),
        ("8330", "制冷管道", 0.1, 0),
        ("8210", "燃气管道", 0.15, 0),
    ),
    "boiler": (
        ("1100", "承压蒸汽锅炉", 0.6, 1),
        ("1200", "承压热水锅炉", 0.3, 1),
        ("1300", "有机热载体锅炉", 0.1, 1),
    ),
    "vehicle": (("5110", "叉车", 0.9, 1), ("5200", "非公路用旅游观光车辆", 0.1, 1)),
    "ride": (
        ("6100", "观览车类", 0.12, 1),
        ("6200", "滑行车类", 0.15, 1),
        ("6400", "陀螺类", 0.08, 1),
        ("6600", "转马类", 0.2, 1),
        ("6A00", "碰碰车类", 0.15, 1),
        ("6D00", "水上游乐设施", 0.1, 1),
        ("6E00", "无动力游乐设施", 0.2, 1),
    ),
    "ropeway": (("9100", "客运架空索道", 0.8, 1), ("9200", "客运缆车", 0.2, 1)),
}
# The character that starts a 使用登记证 number, per category.
CERTIFICATE_CHAR = {
    "elevator": "梯",
    "crane": "起",
    "pressure_vessel": "容",
    "pressure_piping": "管",
    "boiler": "锅",
    "vehicle": "车",
    "ride": "游",
    "ropeway": "索",
}
# Typical design life in years per category; None = the register often leaves it blank (assumed).
DESIGN_LIFE: dict[str, tuple[tuple[int | None, float], ...]] = {
    "elevator": ((15, 0.2), (20, 0.45), (25, 0.2), (None, 0.15)),
    "crane": ((10, 0.3), (15, 0.4), (20, 0.25), (None, 0.05)),
    "pressure_vessel": ((10, 0.2), (15, 0.35), (20, 0.35), (None, 0.1)),
    "pressure_piping": ((15, 0.3), (20, 0.4), (30, 0.25), (None, 0.05)),
    "boiler": ((15, 0.5), (20, 0.4), (None, 0.1)),
    "vehicle": ((8, 0.5), (10, 0.45), (None, 0.05)),
    "ride": ((10, 0.4), (15, 0.4), (20, 0.2)),
    "ropeway": ((20, 0.4), (30, 0.6)),
}
# Typical age of devices in the register (mean years, max years): elevators boomed in the 2010s (assumed).
AGE: dict[str, tuple[float, float]] = {
    "elevator": (8, 30),
    "crane": (8, 30),
    "pressure_vessel": (9, 35),
    "pressure_piping": (10, 35),
    "boiler": (11, 35),
    "vehicle": (5, 15),
    "ride": (6, 20),
    "ropeway": (15, 35),
}

# ── people and places ───────────────────────────────────────────────────────────────────────────────────
# Guangdong surnames with rough relative frequencies (潮汕 and 广府 both represented).
SURNAMES = (
    ("陈", 12),
    ("李", 7),
    ("黄", 7),
    ("林", 6),
    ("张", 5),
    ("梁", 4),
    ("吴", 4),
    ("刘", 4),
    ("郑", 3.5),
    ("蔡", 3),
    ("许", 2.5),
    ("何", 2.5),
    ("谢", 2.5),
    ("杨", 2.5),
    ("王", 2.5),
    ("罗", 2),
    ("周", 2),
    ("曾", 2),
    ("邓", 1.8),
    ("叶", 1.5),
    ("洪", 1.5),
    ("卢", 1.5),
    ("苏", 1.4),
    ("冯", 1.3),
    ("郭", 1.3),
    ("庄", 1.2),
    ("姚", 1.1),
    ("魏", 1),
    ("詹", 1),
    ("翁", 1),
    ("钟", 1),
    ("朱", 1),
    ("麦", 0.8),
    ("潘", 0.8),
    ("彭", 0.8),
    ("余", 0.8),
    ("方", 0.7),
    ("柯", 0.6),
    ("袁", 0.6),
    ("邱", 0.6),
    ("孙", 0.6),
    ("江", 0.6),
    ("温", 0.5),
    ("赖", 0.5),
    ("丁", 0.4),
    ("欧阳", 0.2),
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚华建国文辉志丹萍玲婷燕鹏斌宇浩俊凯晓嘉锦泽雄坤鸿锐彬佳怡欣颖"
    "琳茵振家铭楚瑞雅思梓煜子轩睿洁慧锋海波永德松伟荣生卫东雪梅春兰淑珍少娟妙纯銮佩璇婉"
)
BRAND_FIRST = "宏恒鑫华金永联广盛富新德兴顺利源丰泰达昌荣隆鼎创佳锦嘉瑞祥美航粤榕汇诚信百万中天益和安"
BRAND_SECOND = "达丰源美龙利兴信发顺泰昌盛隆通辉海宇晟业星和安鹏腾博润森科记"
ROADS = (
    "人民路",
    "建设路",
    "中山路",
    "新华路",
    "解放路",
    "工业大道",
    "环城路",
    "东风路",
    "向阳路",
    "沿江路",
    "站前路",
    "广场路",
    "朝阳路",
    "文化路",
    "育才路",
    "康宁路",
    "和平路",
    "民主路",
    "胜利路",
    "新兴路",
    "商业街",
    "兴业路",
    "振兴路",
    "金山大道",
    "华侨路",
    "望江北路",
)
VILLAGES = (
    "东山",
    "西湖",
    "新寨",
    "大埔",
    "上围",
    "下围",
    "塘边",
    "溪头",
    "埔前",
    "石桥",
    "后洋",
    "新乡",
    "仙美",
    "湖心",
)
ENTERPRISE_FORMS = (("有限公司", 0.86), ("有限责任公司", 0.04), ("股份有限公司", 0.02), ("厂", 0.05), ("经营部", 0.03))
# What an individual business adds to its name when the trade word is not already a shop word.
SHOP_ENDINGS = tuple("店行部厂档馆院房所屋站园场吧坊室府")
INDIVIDUAL_SUFFIX = {"F": "商行", "C": "加工厂", "H": "店", "O": "店", "A": "场", "E": "工程部"}
# An enterprise is not called a shop: it takes the first non-shop word of its trade, else one of these.
ENTERPRISE_WORD = {"F": "商贸", "H": "餐饮", "O": "服务", "R": "文化娱乐"}

# ── list entries, penalties, checks ─────────────────────────────────────────────────────────────────────
# 经营异常名录 reasons after inspections (seed 003: 无法联系 / 未公示 / 公示不实) and the check result that led there.
ABNORMAL_REASONS = (
    ("通过登记的住所或者经营场所无法联系", "unreachable"),
    ("未按照规定公示应当公示的信息", "unpublished_info"),
    ("公示信息隐瞒真实情况、弄虚作假", "false_info"),
)
ABNORMAL_REASON_MIX = {
    "individual": (0.85, 0.14, 0.01),
    "enterprise": (0.55, 0.38, 0.07),
    "cooperative": (0.60, 0.35, 0.05),
}
SERIOUS_REASON = "被列入经营异常名录届满3年仍未履行相关义务"

LEGAL_BASES: dict[str, tuple[tuple[str, float], ...]] = {
    "food": (
        ("《中华人民共和国食品安全法》第一百二十四条", 0.25),
        ("《中华人民共和国食品安全法》第一百二十六条", 0.35),
        ("《中华人民共和国食品安全法》第一百二十二条", 0.10),
        ("《中华人民共和国食品安全法》第一百二十五条", 0.10),
        ("《中华人民共和国价格法》第四十二条", 0.10),
        ("《中华人民共和国消费者权益保护法》第五十六条", 0.10),
    ),
    "quality": (
        ("《中华人民共和国产品质量法》第四十九条", 0.45),
        ("《中华人民共和国产品质量法》第五十条", 0.10),
        ("《中华人民共和国产品质量法》第五十三条", 0.10),
        ("《中华人民共和国商标法》第六十条", 0.15),
        ("《中华人民共和国特种设备安全法》第八十三条", 0.10),
        ("《中华人民共和国市场主体登记管理条例》第四十六条", 0.10),
    ),
    "cosmetics": (
        ("《化妆品监督管理条例》第六十条", 0.40),
        ("《中华人民共和国广告法》第五十五条", 0.35),
        ("《中华人民共和国产品质量法》第四十九条", 0.10),
        ("《中华人民共和国商标法》第六十条", 0.15),
    ),
    "medical_device": (
        ("《医疗器械监督管理条例》第八十六条", 0.35),
        ("《医疗器械监督管理条例》第八十九条", 0.35),
        ("《中华人民共和国价格法》第四十二条", 0.15),
        ("《中华人民共和国广告法》第五十八条", 0.15),
    ),
    "retail": (
        ("《中华人民共和国产品质量法》第四十九条", 0.30),
        ("《中华人民共和国价格法》第四十二条", 0.20),
        ("《中华人民共和国消费者权益保护法》第五十六条", 0.15),
        ("《中华人民共和国商标法》第六十条", 0.20),
        ("《无证无照经营查处办法》第十三条", 0.15),
    ),
    "wholesale": (
        ("《中华人民共和国产品质量法》第四十九条", 0.30),
        ("《中华人民共和国商标法》第六十条", 0.30),
        ("《中华人民共和国反不正当竞争法》第二十条", 0.20),
        ("《中华人民共和国市场主体登记管理条例》第四十六条", 0.20),
    ),
    "ecommerce": (
        ("《中华人民共和国电子商务法》第七十六条", 0.40),
        ("《中华人民共和国广告法》第五十五条", 0.30),
        ("《中华人民共和国产品质量法》第四十九条", 0.30),
    ),
    "advertising": (
        ("《中华人民共和国广告法》第五十五条", 0.40),
        ("《中华人民共和国反不正当竞争法》第二十条", 0.30),
        ("《中华人民共和国市场主体登记管理条例》第四十六条", 0.30),
    ),
    "price": (
        ("《中华人民共和国价格法》第四十二条", 0.50),
        ("《中华人民共和国广告法》第五十五条", 0.20),
        ("《中华人民共和国特种设备安全法》第八十三条", 0.30),
    ),
    "consumer": (
        ("《中华人民共和国消费者权益保护法》第五十六条", 0.45),
        ("《中华人民共和国价格法》第四十二条", 0.30),
        ("《无证无照经营查处办法》第十三条", 0.25),
    ),
    "special_equipment": (
        ("《中华人民共和国特种设备安全法》第八十三条", 0.50),
        ("《中华人民共和国特种设备安全法》第八十四条", 0.30),
        ("《中华人民共和国特种设备安全法》第八十六条", 0.20),
    ),
    "registration": (
        ("《中华人民共和国市场主体登记管理条例》第四十六条", 0.50),
        ("《中华人民共和国市场主体登记管理条例》第四十三条", 0.20),
        ("《无证无照经营查处办法》第十三条", 0.30),
    ),
}
PENALTY_FAMILIES = tuple(LEGAL_BASES)
# PenaltySeverity shares (assumed): most decisions are fines; suspensions and revocations are rare.
SEVERITIES = (("warning", 0.15), ("fine", 0.72), ("confiscation", 0.08), ("suspension", 0.03), ("revocation", 0.02))

# Problems found by a check, by subject kind (shares of the checks that found something; assumed).
PROBLEM_CODES = (
    "unreachable",
    "unpublished_info",
    "false_info",
    "obstructed",
    "fixed_after_order",
    "no_activity",
    "closed",
    "other_violation",
)
PROBLEM_MIX = {
    "individual": (0.30, 0.03, 0.01, 0.01, 0.30, 0.15, 0.10, 0.10),
    "enterprise": (0.20, 0.20, 0.03, 0.01, 0.30, 0.08, 0.06, 0.12),
    "cooperative": (0.25, 0.20, 0.03, 0.01, 0.25, 0.15, 0.06, 0.05),
}
CHECK_KINDS = (("random", 0.72), ("key", 0.10), ("targeted", 0.08), ("post_licence", 0.02))
# Which level made a past check (check_result.level; 令49号 第42条 reads it). Assumed shares, no published figures
# [unsure]: routine checks are mostly the county bureau's, with some city and provincial ones (e.g. 飞行检查) and a
# few national; 专项 campaigns are more often organised higher up. Complaint follow-ups are the local bureau's.
CHECK_LEVEL_MIX = {
    "routine": (("county", 0.80), ("city", 0.13), ("provincial", 0.06), ("national", 0.01)),
    "targeted": (("county", 0.55), ("city", 0.28), ("provincial", 0.14), ("national", 0.03)),
    "lead": (("county", 1.0),),
}

# ── inspectors ──────────────────────────────────────────────────────────────────────────────────────────
# Bureau departments: name (股 in a county, 科 in a city district), core qualification, share of the staff.
DEPARTMENTS = (
    ("登记注册{u}", ("registration",), 0.05),
    ("信用监督管理{u}", ("registration",), 0.06),
    ("食品生产监督管理{u}", ("food",), 0.05),
    ("食品经营监督管理{u}", ("food",), 0.08),
    ("特种设备安全监察{u}", ("special_equipment",), 0.08),
    ("药品医疗器械监督管理{u}", ("medical_device",), 0.05),
    ("产品质量安全监督管理{u}", ("product_quality",), 0.05),
    ("价格监督检查和反不正当竞争{u}", ("pricing",), 0.04),
    ("广告监督管理{u}", ("advertising",), 0.03),
    ("计量标准化{u}", ("metrology",), 0.03),
    ("综合行政执法大队", (), 0.13),
)
TOWNSHIP_OFFICE_SHARE = 0.35  # the rest of the staff sit in the 市场监督管理所 of the townships
# Chance that an inspector also holds each qualification (bureau staff, township office staff).
EXTRA_QUALIFICATIONS = (
    ("registration", 0.45, 0.8),
    ("food", 0.30, 0.7),
    ("product_quality", 0.25, 0.35),
    ("pricing", 0.15, 0.25),
    ("advertising", 0.15, 0.2),
    ("special_equipment", 0.10, 0.12),
    ("medical_device", 0.10, 0.15),
    ("metrology", 0.08, 0.1),
)
EXPERT_UNITS = (
    ("{city}特种设备检测研究院（外聘专家）", "special_equipment", 0.5),
    ("{city}食品检验所（外聘专家）", "food", 0.3),
    ("医疗器械行业协会（外聘专家）", "medical_device", 0.2),
)
CAPACITIES = ((40, 0.15), (60, 0.35), (80, 0.3), (100, 0.15), (120, 0.05))
CONFLICT_REASONS = (
    ("近亲属为该主体法定代表人或负责人", 0.35),
    ("曾在该主体任职，离职未满三年", 0.2),
    ("本人或近亲属持有该主体股份", 0.15),
    ("曾办理该主体行政处罚案件，当事人申请回避", 0.15),
    ("其他可能影响公正执法的情形", 0.15),
)
