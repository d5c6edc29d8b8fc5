"""Demo catalog: suppliers of the plan's counties in several states, 48 certified products with
generated images, GI authorisations, trace batches and supplying households. Idempotent."""

import io
import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from PIL import Image, ImageDraw

from catalog.membership import county_member_add, supplier_member_add
from catalog.models import (
    AuthorizationKind,
    Category,
    County,
    FarmerSupply,
    HouseholdStatus,
    InspectionReport,
    LinkageKind,
    Product,
    ProductAuthorization,
    ProductStatus,
    ProductVariant,
    Qualification,
    QualificationKind,
    Supplier,
    SupplierKind,
    SupplierStatus,
    SupplierTransition,
    TierPrice,
    TraceBatch,
)
from catalog.services.products import slug_for
from shop.accounts.demo import DEMO_ACCOUNTS
from shop.accounts.models import Role, User
from shop.accounts.organisations import no_membership

# (credit code, name, kind, county code, status)
SUPPLIERS = [
    (
        "91640521MA76A0001X",
        "宁夏中宁杞乡红枸杞有限公司",
        SupplierKind.ENTERPRISE,
        "640521",
        SupplierStatus.ADMITTED,
    ),
    (
        "93640521MA76A0002X",
        "中宁县舟塔枸杞专业合作社",
        SupplierKind.COOPERATIVE,
        "640521",
        SupplierStatus.ADMITTED,
    ),
    (
        "91640122MA76B0001X",
        "宁夏贺兰山东麓酒庄有限公司",
        SupplierKind.ENTERPRISE,
        "640122",
        SupplierStatus.ADMITTED,
    ),
    (
        "91640105MA76B0002X",
        "西夏区葡萄酒产业有限公司",
        SupplierKind.ENTERPRISE,
        "640105",
        SupplierStatus.ADMITTED,
    ),
    (
        "91640323MA76C0001X",
        "盐池县滩羊肉业有限公司",
        SupplierKind.ENTERPRISE,
        "640323",
        SupplierStatus.ADMITTED,
    ),
    (
        "93640402MA76D0001X",
        "原州区黄牛养殖专业合作社",
        SupplierKind.COOPERATIVE,
        "640402",
        SupplierStatus.ADMITTED,
    ),
    (
        "93640422MA76E0001X",
        "西吉县马铃薯种植专业合作社",
        SupplierKind.COOPERATIVE,
        "640422",
        SupplierStatus.ADMITTED,
    ),
    (
        "91640303MA76F0001X",
        "红寺堡区黄花菜产业有限公司",
        SupplierKind.ENTERPRISE,
        "640303",
        SupplierStatus.ADMITTED,
    ),
    (
        "91640181MA76G0001X",
        "灵武市乳业有限公司",
        SupplierKind.ENTERPRISE,
        "640181",
        SupplierStatus.ADMITTED,
    ),
    (
        "92640424MA76H0001X",
        "泾源县六盘山家庭农场",
        SupplierKind.FAMILY_FARM,
        "640424",
        SupplierStatus.ADMITTED,
    ),
    (
        "93640425MA76J0001X",
        "彭阳县小杂粮专业合作社",
        SupplierKind.COOPERATIVE,
        "640425",
        SupplierStatus.ADMITTED,
    ),
    (
        "93640121MA76K0001X",
        "闽宁镇菌菇产业专业合作社",
        SupplierKind.COOPERATIVE,
        "640121MN",
        SupplierStatus.ADMITTED,
    ),
    (
        "91640522MA76L0001X",
        "海原县华润肉牛有限公司",
        SupplierKind.ENTERPRISE,
        "640522",
        SupplierStatus.SUSPENDED,
    ),
    (
        "93640324MA76M0001X",
        "同心县圆枣专业合作社",
        SupplierKind.COOPERATIVE,
        "640324",
        SupplierStatus.APPLIED,
    ),
    (
        "93640423MA76N0001X",
        "隆德县中药材专业合作社",
        SupplierKind.COOPERATIVE,
        "640423",
        SupplierStatus.RECOMMENDED,
    ),
    (
        "91640502MA76P0001X",
        "沙坡头区硒砂瓜有限公司",
        SupplierKind.ENTERPRISE,
        "640502",
        SupplierStatus.REJECTED,
    ),
    (
        "91640202MA76Q0001X",
        "大武口区农产品贸易有限公司",
        SupplierKind.ENTERPRISE,
        "640202",
        SupplierStatus.EXITED,
    ),
]

# (supplier index, category slug, name, spec, unit, price, GI name or "", description)
PRODUCTS = [
    (
        0,
        "goji",
        "中宁枸杞 特级头茬干果",
        "500g×2袋",
        "箱",
        "168.00",
        "中宁枸杞",
        "中宁县核心产区头茬枸杞，颗粒饱满，色泽红润。",
    ),
    (
        0,
        "goji",
        "中宁枸杞 一级干果",
        "250g×4袋",
        "箱",
        "128.00",
        "中宁枸杞",
        "日晒自然干燥，无熏硫。",
    ),
    (0, "goji", "枸杞原浆", "30ml×30袋", "盒", "198.00", "", "鲜果冷榨枸杞原浆，单袋即饮。"),
    (0, "goji", "黑枸杞 精选", "100g×2罐", "盒", "139.00", "", "高海拔黑果枸杞，花青素丰富。"),
    (
        1,
        "goji",
        "舟塔枸杞 合作社直供",
        "1kg",
        "袋",
        "96.00",
        "中宁枸杞",
        "舟塔乡社员基地采摘，订单收购带动农户增收。",
    ),
    (1, "goji", "枸杞芽茶", "50g×3罐", "盒", "88.00", "", "春季枸杞嫩芽制茶。"),
    (1, "goji", "枸杞蜂蜜", "500g", "瓶", "68.00", "", "枸杞花期蜂蜜。"),
    (
        2,
        "wine",
        "贺兰山东麓 赤霞珠干红葡萄酒",
        "750ml×6瓶",
        "箱",
        "1188.00",
        "贺兰山东麓葡萄酒",
        "贺兰山东麓产区，橡木桶陈酿12个月。",
    ),
    (
        2,
        "wine",
        "贺兰山东麓 霞多丽干白葡萄酒",
        "750ml×6瓶",
        "箱",
        "898.00",
        "贺兰山东麓葡萄酒",
        "清爽果香，适合佐餐。",
    ),
    (
        2,
        "wine",
        "蛇龙珠 干红葡萄酒",
        "750ml×2瓶",
        "盒",
        "336.00",
        "贺兰山东麓葡萄酒",
        "宁夏特色品种蛇龙珠。",
    ),
    (3, "wine", "美乐 干红葡萄酒", "750ml×6瓶", "箱", "688.00", "", "西夏区酒庄出品，柔顺易饮。"),
    (3, "wine", "桃红葡萄酒", "750ml×6瓶", "箱", "528.00", "", "果香浓郁的桃红。"),
    (
        4,
        "tan-sheep",
        "盐池滩羊 羊排",
        "2kg",
        "箱",
        "398.00",
        "盐池滩羊",
        "盐池县草原散养滩羊，肉质细嫩无膻味。",
    ),
    (4, "tan-sheep", "盐池滩羊 羊腿", "2.5kg", "只", "458.00", "盐池滩羊", "整只后腿，真空冷冻。"),
    (4, "tan-sheep", "滩羊 羊肉卷", "500g×4袋", "箱", "256.00", "盐池滩羊", "涮锅用羊肉卷。"),
    (4, "tan-sheep", "滩羊 羊蝎子", "1.5kg", "袋", "168.00", "", "炖煮佳品。"),
    (
        5,
        "beef",
        "固原黄牛 牛腱子",
        "1kg×2袋",
        "箱",
        "298.00",
        "固原黄牛",
        "原州区合作社养殖黄牛，冷鲜分割。",
    ),
    (5, "beef", "固原黄牛 牛腩", "1kg×2袋", "箱", "256.00", "固原黄牛", "肥瘦相间，适合红烧。"),
    (5, "beef", "六盘山 牛肉干", "200g×3袋", "盒", "128.00", "", "风干牛肉干，休闲零食。"),
    (
        6,
        "potatoes",
        "西吉马铃薯 精选",
        "10kg",
        "箱",
        "58.00",
        "西吉马铃薯",
        "西吉县冷凉山区种植，淀粉含量高。",
    ),
    (
        6,
        "potatoes",
        "西吉马铃薯 粉条",
        "1kg×2袋",
        "箱",
        "49.00",
        "西吉马铃薯",
        "手工粉条，久煮不烂。",
    ),
    (6, "potatoes", "马铃薯 全粉", "2kg", "袋", "45.00", "", "食堂可用马铃薯全粉。"),
    (
        7,
        "fruit-vegetables",
        "红寺堡黄花菜 干品",
        "500g×2袋",
        "箱",
        "118.00",
        "",
        "红寺堡区移民致富产业，头茬黄花菜。",
    ),
    (7, "fruit-vegetables", "黄花菜 礼盒", "250g×4罐", "盒", "168.00", "", "节日礼盒装。"),
    (8, "dairy", "宁夏 纯牛奶", "250ml×24盒", "箱", "69.00", "", "灵武市牧场奶源，巴氏杀菌。"),
    (8, "dairy", "酸奶 原味", "200g×12杯", "箱", "59.00", "", "冷链配送。"),
    (8, "dairy", "奶粉 全脂", "800g", "罐", "128.00", "", "全脂乳粉。"),
    (9, "herbs", "六盘山 黄芪", "500g", "袋", "86.00", "", "泾源县六盘山区道地药材。"),
    (9, "herbs", "六盘山 蜂蜜", "1kg", "瓶", "98.00", "", "百花蜜。"),
    (10, "small-grains", "彭阳 小米", "2.5kg", "袋", "49.00", "", "彭阳县旱作小米，熬粥香浓。"),
    (10, "small-grains", "彭阳 荞麦面", "1kg×3袋", "箱", "45.00", "", "荞麦挂面。"),
    (10, "small-grains", "燕麦米", "1kg×2袋", "箱", "52.00", "", "高原燕麦。"),
    (10, "small-grains", "红小豆", "1kg", "袋", "26.00", "", "杂粮红豆。"),
    (
        11,
        "mushrooms",
        "闽宁镇 双孢菇",
        "2kg",
        "箱",
        "46.00",
        "",
        "闽宁镇菌菇大棚，闽宁协作产业项目。",
    ),
    (11, "mushrooms", "闽宁镇 香菇干", "500g", "袋", "58.00", "", "香菇烘干。"),
    (11, "mushrooms", "杏鲍菇", "2.5kg", "箱", "39.00", "", "新鲜杏鲍菇。"),
    (11, "green-food", "闽宁 有机菜心", "5kg", "箱", "55.00", "", "绿色食品认证蔬菜。"),
    (6, "green-food", "西吉 西芹", "5kg", "箱", "38.00", "", "冷凉蔬菜。"),
    (7, "green-food", "红寺堡 番茄", "5kg", "箱", "42.00", "", "设施农业番茄。"),
    (9, "flowers", "六盘山 干花礼盒", "1盒", "盒", "88.00", "", "高原干花。"),
    (5, "beef", "黄牛 肉丸", "500g×4袋", "箱", "138.00", "", "冷冻肉丸。"),
    (4, "tan-sheep", "滩羊 羊肉饺子", "1kg×2袋", "箱", "98.00", "", "手工水饺。"),
    (0, "goji", "枸杞 芽菜", "500g", "袋", "28.00", "", "时令蔬菜。"),
    (2, "wine", "贺兰山东麓 白兰地", "500ml", "瓶", "268.00", "", "葡萄蒸馏酒。"),
    (8, "dairy", "奶片", "100g×5袋", "盒", "39.00", "", "儿童零食。"),
    (3, "wine", "葡萄籽油", "500ml×2瓶", "盒", "158.00", "", "冷榨葡萄籽油。"),
    (1, "goji", "枸杞 叶茶", "100g", "罐", "36.00", "", "枸杞叶茶。"),
    (6, "potatoes", "马铃薯 薯片", "60g×20袋", "箱", "68.00", "", "非油炸薯片。"),
]

HOUSEHOLDS = ["马有福", "杨秀兰", "李建军", "海金花", "王德明", "苏玉梅", "田志强", "马国华"]
VILLAGES = ["舟塔村", "康滩村", "红宝村", "上桥村", "大坝村", "南关村"]
CATEGORY_COLOURS = {
    "goji": (200, 30, 40),
    "wine": (110, 20, 50),
    "tan-sheep": (230, 220, 200),
    "beef": (150, 60, 40),
    "potatoes": (190, 160, 90),
    "fruit-vegetables": (240, 180, 40),
    "dairy": (245, 245, 240),
    "herbs": (120, 140, 70),
    "small-grains": (220, 190, 90),
    "mushrooms": (170, 140, 110),
    "green-food": (60, 160, 70),
    "flowers": (200, 120, 180),
}


def demo_image(seed: int, colour: tuple[int, int, int]) -> bytes:
    """A small generated product picture (no fonts needed): coloured berries on a field."""
    rng = random.Random(seed)
    image = Image.new("RGB", (640, 480), (250, 246, 238))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 360, 640, 480), fill=(222, 205, 170))
    for _ in range(40):
        x, y, r = rng.randint(40, 600), rng.randint(60, 420), rng.randint(10, 34)
        shade = tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in colour)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=shade, outline=(90, 60, 40))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def demo_scan(seed: int) -> bytes:
    """A small generated "scanned document" as a one-page PDF (no fonts needed)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (420, 300), (246, 246, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 410, 290), outline=(160, 40, 40), width=4)
    for row in range(8):
        draw.rectangle(
            (40, 50 + 28 * row, 40 + rng.randint(120, 330), 62 + 28 * row), fill=(90,) * 3
        )
    draw.ellipse((300, 190, 390, 280), outline=(200, 30, 30), width=5)  # the seal
    out = io.BytesIO()
    image.save(out, format="PDF")
    return out.getvalue()


def _scans(supplier: Supplier) -> None:
    # Through the real verification and private storing path, as an upload would be.
    from catalog.documents import DocumentUpload, attach_document, verify_document

    for qualification in supplier.qualifications.filter(file=""):
        upload = DocumentUpload(demo_scan(qualification.pk), "scan.pdf", "application/pdf")
        attach_document(qualification, verify_document(upload))


def _supplier(code, name, kind, county_code, status) -> Supplier:
    county = County.objects.get(code=county_code)
    supplier, created = Supplier.objects.get_or_create(
        credit_code=_valid_code(code),
        defaults={
            "name": name,
            "kind": kind,
            "county": county,
            "legal_representative": "马" + name[-3:-2],
            "contact_name": "联系人",
            "contact_phone": "0951-5000000",
            "contact_email": f"contact{county_code.lower()}{kind.lower()}@supplier.demo.shanhai.cn",
            "status": status,
            "status_changed_at": timezone.now(),
        },
    )
    if created:
        SupplierTransition.objects.create(supplier=supplier, to_status=status, note="demo data")
        today = timezone.localdate()
        for n, kind_ in enumerate(QualificationKind.values[:3]):
            Qualification.objects.create(
                supplier=supplier,
                kind=kind_,
                number=f"{kind_[:2]}-{code[-6:]}",
                expires_on=today + timedelta(days=60 + 200 * n),
            )
    return supplier


def _valid_code(code: str) -> str:
    from stdnum.cn import uscc

    body = code[:17]
    return body + uscc.calc_check_digit(body)


def _product(index: int, supplier: Supplier, row, store_images: bool) -> Product:
    _, slug_category, name, spec, unit, price, gi, description = row
    category = Category.objects.get(slug=slug_category)
    today = timezone.localdate()
    product, created = Product.objects.get_or_create(
        slug=slug_for(name, suffix=str(index + 1)),
        defaults={
            "supplier": supplier,
            "name": name,
            "description": description,
            "category": category,
            "origin_county": supplier.county,
            "status": ProductStatus.CERTIFIED,
            "certified_until": today + timedelta(days=120 + 5 * index),
        },
    )
    if not created:
        return product
    price = Decimal(price)
    variant = ProductVariant.objects.create(
        product=product,
        sku=f"NX-{index + 1:04d}-A",
        spec=spec,
        unit=unit,
        unit_price=price,
        minimum_order_quantity=2,
        stock=200 + 37 * index,
    )
    TierPrice.objects.create(
        variant=variant,
        min_quantity=50,
        unit_price=(price * Decimal("0.92")).quantize(Decimal("0.01")),
    )
    TierPrice.objects.create(
        variant=variant,
        min_quantity=200,
        unit_price=(price * Decimal("0.85")).quantize(Decimal("0.01")),
    )
    if index % 3 == 0:
        ProductVariant.objects.create(
            product=product,
            sku=f"NX-{index + 1:04d}-B",
            spec=f"{spec}（礼盒）",
            unit="盒",
            unit_price=(price * Decimal("1.2")).quantize(Decimal("0.01")),
            minimum_order_quantity=1,
            stock=0 if index % 6 == 0 else 50,
        )
    if gi:
        ProductAuthorization.objects.create(
            product=product,
            kind=AuthorizationKind.GI,
            name=gi,
            number=f"GI-{index + 1:04d}",
            scope=f"{supplier.county.name}产区",
            expires_on=today + timedelta(days=730),
        )
    report = InspectionReport.objects.create(
        product=product,
        lab="国家枸杞产品质量检验检测中心" if slug_category == "goji" else "宁夏食品检测研究院",
        number=f"JC-{today.year}-{index + 1:05d}",
        items="农药残留, 重金属, 二氧化硫, 微生物",
        tested_on=today - timedelta(days=40),
    )
    _batch(index, product, report)
    if store_images:
        _images(index, product, CATEGORY_COLOURS.get(slug_category, (120, 120, 120)))
    return product


def _batch(index: int, product: Product, report: InspectionReport) -> None:
    rng = random.Random(index)
    batch = TraceBatch.objects.create(
        code=f"NX-{product.category.slug[:3].upper()}-2026-{index + 1:04d}",
        product=product,
        produced_on=timezone.localdate() - timedelta(days=30 + index),
        origin_county=product.origin_county,
        base=f"{product.origin_county.name}核心基地",
        quantity=Decimal(1000 + 50 * index),
        certificate_number=f"HGZ-{product.origin_county.code[:6]}-{index + 1:05d}",
        inspection_report=report,
    )
    FarmerSupply.objects.bulk_create(
        FarmerSupply(
            batch=batch,
            household=rng.choice(HOUSEHOLDS),
            village=rng.choice(VILLAGES),
            poverty_status=rng.choice(HouseholdStatus.values),
            linkage=rng.choice(LinkageKind.values),
            amount_paid=Decimal(rng.randint(1500, 12000)),
        )
        for _ in range(3)
    )


def _images(index: int, product: Product, colour) -> None:
    # Through the real processing and storing path (decode, strip, thumbnails).
    from catalog.images import process_image
    from catalog.services.product_images import store_image

    store_image(product, process_image(demo_image(index, colour), filename=f"demo-{index}.jpg"))


def load(progress, *, store_images: bool = True) -> str:
    suppliers = [_supplier(*row) for row in progress(SUPPLIERS, description="suppliers")]
    staff_email = DEMO_ACCOUNTS[Role.SUPPLIER]
    staff = User.objects.filter(no_membership("supplier"), email=staff_email).first()
    if staff is not None:
        supplier_member_add(staff, suppliers[0])
    if store_images:  # the demo supplier's scans, downloadable through `fileUrl`
        _scans(suppliers[0])
    reviewer_email = DEMO_ACCOUNTS[Role.COUNTY_REVIEWER]
    reviewer = User.objects.filter(no_membership("county"), email=reviewer_email).first()
    if reviewer is not None:
        county_member_add(reviewer, County.objects.get(code="640423"))
    for index, row in enumerate(progress(PRODUCTS, description="products")):
        _product(index, suppliers[row[0]], row, store_images)
    sellable = Product.objects.sellable(timezone.localdate()).count()
    return f"{len(suppliers)} suppliers, {Product.objects.count()} products ({sellable} on sale)"
