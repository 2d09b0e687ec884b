"""The demo district: a Yaohai-like registry of elders, contacts, devices and duty staff.

Everything is drawn from one seed, so the same seed always gives the same district. Phone
numbers are fictitious (+86138000xxxxx) and names are common Chinese names, not real people.
The shape is the registry file of the operator contract plus the optional keys `address`,
`visit_contact`, `visit_contact_phone` (per elder) and a top-level `duty_roster`.
"""

from __future__ import annotations

import random
from typing import Any

# Streets of 瑶海区 with an id prefix and a few plausible communities each.
STREETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("明光路街道", "mgl", ("东庄社区", "前进社区", "明光社区")),
    ("胜利路街道", "sll", ("胜利社区", "瑶海社区", "卫岗社区")),
    ("三里街街道", "slj", ("三里街社区", "凤阳路社区", "琥珀社区")),
    ("红光街道", "hg", ("红光社区", "铜冠社区", "卫东社区")),
    ("七里站街道", "qlz", ("七里站社区", "纺织社区", "站北社区")),
    ("铜陵路街道", "tll", ("铜陵路社区", "瑶海公园社区", "新海社区")),
    ("城东街道", "cd", ("城东社区", "和平小区社区", "东方社区")),
    ("方庙街道", "fm", ("方庙社区", "大通路社区", "磨店社区")),
    ("和平路街道", "hpl", ("和平路社区", "裕溪路社区", "站前社区")),
    ("长淮街道", "ch", ("长淮社区", "全椒路社区", "临泉路社区")),
    ("大兴镇", "dx", ("大兴社区", "新城社区", "花园社区")),
    ("龙岗开发区", "lg", ("龙岗社区", "经开社区", "临泉东路社区")),
)
ROADS = ("明光路", "胜利路", "长江东路", "铜陵路", "和平路", "临泉路", "凤阳路", "站前路",
         "大通路", "当涂路", "全椒路", "颍上路", "蒙城北路", "新海大道", "郎溪路", "裕溪路")

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
            "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯",
            "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶",
            "程", "魏", "苏", "吕", "丁", "任", "沈", "姚", "卢", "汪", "方", "陆", "范", "金")
ELDER_FEMALE = ("桂兰", "秀英", "玉兰", "凤英", "桂英", "秀兰", "玉珍", "淑珍", "桂芳", "秀珍",
                "兰英", "玉梅", "翠兰", "凤兰", "素珍", "金凤", "玉英", "淑英", "秀芳", "桂珍")
ELDER_MALE = ("德明", "建国", "国华", "志强", "长林", "德福", "文华", "金生", "永福", "国庆",
              "家宝", "宝山", "有才", "明德", "振华", "学文", "志刚", "庆华", "福生", "春生")
YOUNG_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
               "娟", "涛", "明", "超", "霞", "平", "刚", "慧", "红梅", "海燕", "建华", "小军")
STAFF_GIVEN = ("晓燕", "志远", "婷婷", "浩然", "雪梅", "文静", "俊杰", "丽娟", "子涵", "宏伟")

REFERENCE_YEAR = 2026
WEEKDAY_SHIFTS = (("08:30", "12:30"), ("12:30", "17:30"))

# Disjoint ranges of fictitious numbers, one per kind of person.
_PHONE_BASE = {"elder": 10000, "contact": 20000, "visit": 60000, "duty": 70000}


def fake_phone(kind: str, n: int) -> str:
    """An obviously fictitious mobile number (+86138000xxxxx) of one kind of person."""
    return f"+86138000{_PHONE_BASE[kind] + n:05d}"


def demo_registry(households: int = 120, seed: int = 0) -> dict[str, Any]:
    """The demo district with `households` elders (most with devices), drawn from `seed`."""
    if households < 1:
        raise ValueError("households must be at least 1")
    rng = random.Random(f"district:{seed}")
    communities = [
        {"id": f"{prefix}-{i + 1:02d}", "street": street, "name": name}
        for street, prefix, names in STREETS
        for i, name in enumerate(names)
    ]
    elders = []
    contact_n = 0
    for i in range(households):
        community = communities[rng.randrange(len(communities))]
        elder, contact_n = _elder(rng, i + 1, community, contact_n)
        elders.append(elder)
    used = {e["community"] for e in elders}
    kept = [c for c in communities if c["id"] in used]
    return {
        "communities": kept,
        "elders": elders,
        "duty_roster": _duty_roster(rng, kept),
    }


def _elder(
    rng: random.Random, n: int, community: dict[str, str], contact_n: int
) -> tuple[dict[str, Any], int]:
    female = rng.random() < 0.62  # women outlive men; most elders living alone are women
    surname = rng.choice(SURNAMES)
    name = surname + rng.choice(ELDER_FEMALE if female else ELDER_MALE)
    birth_year = rng.randint(1929, 1961)
    categories = _categories(rng, REFERENCE_YEAR - birth_year)
    contacts = []
    lost_child = "计划生育特殊家庭" in categories
    relations = (["侄子", "外甥女", "邻居"] if lost_child
                 else ["儿子", "女儿", "儿媳", "女婿", "孙子", "孙女"])
    for relation in rng.sample(relations, k=rng.randint(1, 3 if not lost_child else 2)):
        if relation in ("儿子", "孙子", "孙女") and not female:
            family_name = surname
        else:
            family_name = rng.choice(SURNAMES)
        contacts.append({"name": family_name + rng.choice(YOUNG_GIVEN), "relation": relation,
                         "phone": fake_phone("contact", contact_n)})
        contact_n += 1
    elder_id = f"E{n:04d}"
    elder: dict[str, Any] = {
        "id": elder_id,
        "name": name,
        "community": community["id"],
        "birth_year": birth_year,
        "categories": categories,
        "phone": fake_phone("elder", n),
        "address": (f"合肥市瑶海区{community['street']}{community['name']}"
                    f"{rng.choice(ROADS)}{rng.randint(1, 399)}号{rng.randint(1, 30)}栋"
                    f"{rng.randint(1, 4)}单元{rng.randint(1, 7)}0{rng.randint(1, 4)}室"),
        "visit_contact": rng.choice(SURNAMES) + rng.choice(STAFF_GIVEN),
        "visit_contact_phone": fake_phone("visit", n),
        "contacts": contacts,
        "devices": _devices(rng, n, categories),
    }
    return elder, contact_n


def _categories(rng: random.Random, age: int) -> list[str]:
    cats: list[str] = []
    if age >= 80:
        cats.append("高龄")
    cats.append(rng.choices(["独居", "空巢", "留守"], weights=[5, 4, 1])[0])
    roll = rng.random()
    if roll < 0.08:
        cats.append("失能")
    elif roll < 0.14:
        cats.append("残疾")
    elif roll < 0.17:
        cats.append("重残")
    if rng.random() < 0.05:
        cats.append("计划生育特殊家庭")
    return cats


def _devices(rng: random.Random, n: int, categories: list[str]) -> list[dict[str, str]]:
    if rng.random() < 0.05:
        return []  # a few elders have no device: visits only
    devices = [{"id": f"btn-{n:04d}", "type": "call_button"},
               {"id": f"wm-{n:04d}", "type": "water_meter"}]
    if rng.random() < 0.8:
        devices.append({"id": f"pm-{n:04d}", "type": "power_meter"})
    if "独居" in categories or rng.random() < 0.4:
        devices.append({"id": f"ms-{n:04d}", "type": "motion_sensor"})
    if "高龄" in categories or "失能" in categories or rng.random() < 0.3:
        devices.append({"id": f"wb-{n:04d}", "type": "wearable"})
    if rng.random() < 0.45:
        devices.append({"id": f"sd-{n:04d}", "type": "smoke_detector"})
    if rng.random() < 0.2:
        devices.append({"id": f"gd-{n:04d}", "type": "gas_detector"})
    return devices


def _duty_roster(rng: random.Random, communities: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Two staff per community split weekdays; one of them covers the weekend days. Outside
    those hours the district's night desk (two officers on alternate nights, no community)
    is on duty, so an SOS at 3 a.m. reaches a person on duty too."""
    roster: list[dict[str, Any]] = []
    n = 0
    for community in communities:
        staff = []
        for _ in range(2):
            staff.append((rng.choice(SURNAMES) + rng.choice(STAFF_GIVEN), fake_phone("duty", n)))
            n += 1
        for weekday in range(7):  # 0 = Monday ... 6 = Sunday, as the registry loader reads it
            for k, (starts, ends) in enumerate(_day_shifts(weekday)):
                name, phone = staff[(k + weekday) % 2]
                roster.append({"community": community["id"], "name": name, "phone": phone,
                               "weekday": weekday, "starts": starts, "ends": ends})
    desk = [(rng.choice(SURNAMES) + rng.choice(STAFF_GIVEN), fake_phone("duty", n + k))
            for k in range(2)]
    for weekday in range(7):  # from the end of the day's community hours to the next start
        tomorrow = (weekday + 1) % 7
        name, phone = desk[weekday % 2]
        roster.append({"community": None, "name": name, "phone": phone, "weekday": weekday,
                       "starts": _day_shifts(weekday)[-1][1],
                       "ends": _day_shifts(tomorrow)[0][0]})
    return roster


def _day_shifts(weekday: int) -> tuple[tuple[str, str], ...]:
    return WEEKDAY_SHIFTS if weekday < 5 else (("09:00", "17:00"),)
