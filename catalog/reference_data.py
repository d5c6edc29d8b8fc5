"""Reference data loaded by migration 0002 (and kept here so tests and demo can name it).

Ningxia's 22 county-level divisions (GB/T 2260), with the nine poverty-exited counties (脱贫县,
西海固 and the central arid belt) that the Fujian–Ningxia partnership assists, plus 闽宁镇, the
ecological-migration town in 永宁县 founded by the partnership. A town has no 6-digit county
code, so 闽宁镇 carries the local code `640121MN` (its county's code plus a suffix).
"""

NINGXIA_COUNTIES = [
    # (code, name, prefecture, poverty-exited)
    ("640104", "兴庆区", "银川市", False),
    ("640105", "西夏区", "银川市", False),
    ("640106", "金凤区", "银川市", False),
    ("640121", "永宁县", "银川市", False),
    ("640122", "贺兰县", "银川市", False),
    ("640181", "灵武市", "银川市", False),
    ("640202", "大武口区", "石嘴山市", False),
    ("640205", "惠农区", "石嘴山市", False),
    ("640221", "平罗县", "石嘴山市", False),
    ("640302", "利通区", "吴忠市", False),
    ("640303", "红寺堡区", "吴忠市", True),
    ("640323", "盐池县", "吴忠市", True),
    ("640324", "同心县", "吴忠市", True),
    ("640381", "青铜峡市", "吴忠市", False),
    ("640402", "原州区", "固原市", True),
    ("640422", "西吉县", "固原市", True),
    ("640423", "隆德县", "固原市", True),
    ("640424", "泾源县", "固原市", True),
    ("640425", "彭阳县", "固原市", True),
    ("640502", "沙坡头区", "中卫市", False),
    ("640521", "中宁县", "中卫市", False),
    ("640522", "海原县", "中卫市", True),
    ("640121MN", "闽宁镇", "银川市", False),
]

FUJIAN_CITIES = [
    ("350100", "福州市"),
    ("350200", "厦门市"),
    ("350300", "莆田市"),
    ("350400", "三明市"),
    ("350500", "泉州市"),
    ("350600", "漳州市"),
    ("350700", "南平市"),
    ("350800", "龙岩市"),
    ("350900", "宁德市"),
]

CATEGORIES = [
    # (name, slug, English)
    ("枸杞", "goji", "Goji"),
    ("葡萄酒", "wine", "Wine"),
    ("乳品", "dairy", "Dairy"),
    ("牛肉", "beef", "Beef"),
    ("滩羊", "tan-sheep", "Tan sheep"),
    ("绿色食品", "green-food", "Green food"),
    ("食用菌", "mushrooms", "Mushrooms"),
    ("马铃薯", "potatoes", "Potatoes"),
    ("果蔬", "fruit-vegetables", "Fruit and vegetables"),
    ("小杂粮", "small-grains", "Small grains"),
    ("中药材", "herbs", "Medicinal herbs"),
    ("花卉", "flowers", "Flowers"),
]
