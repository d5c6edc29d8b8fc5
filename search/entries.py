"""The index data of a product, computed once and stored as a `ProductSearchEntry`.

Every backend indexes the same analysed text (`search.text.index_terms`: jieba words, pinyin,
initials), so 枸杞, 中宁枸杞, `gouqi` and `gq` mean the same thing everywhere. On PostgreSQL the
entry also carries a weighted `tsvector`, built here as a literal so that PostgreSQL's parser never
re-tokenises the Chinese:

- A: the name's words and the compact name;
- B: the name's pinyin and initials;
- C: the name's Han characters and character bigrams (as the `cjk` analyzer makes them: a query
  word that jieba cut differently still matches when all its bigrams are in the name), and the
  pinyin / initials of the tags (category, county, prefecture, province, brands);
- D: the long text's words (tags, description, supplier name).

The query side (search.backends.database.PostgresMatcher) puts no weight restriction or phrase
operator on what must match, so the GIN index answers it exactly (no recheck of every candidate
row); the weights only rank.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from catalog.models import (
    NINGXIA,
    AuthorizationKind,
    Product,
    ProductAuthorization,
    ProductVariant,
    is_poverty_county_product,
)
from search.models import ProductSearchEntry
from search.price_bands import price_band
from search.text import index_terms, normalize, pinyin_full, pinyin_initials

PROVINCE_SHORT_NAMES = {NINGXIA: "宁夏"}
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_HAN_RUN_RE = re.compile(_HAN_RE.pattern + "+")
# Part of every entry's text hash: bump it when the analysis changes, so that `search_reindex`
# analyses every product again instead of reusing stored terms.
ANALYSIS_VERSION = 3
MAX_POSITION = 16383  # PostgreSQL's limit
MAX_POSITIONS_PER_LEXEME = 32
MAX_LEXEME_CHARS = 200

TEXT_FIELDS = ("name_terms", "body_terms", "pinyin", "initials", "name_chars", "autocomplete")
UPDATE_FIELDS = (
    "name",
    *TEXT_FIELDS,
    "document",
    "text_hash",
    "supplier",
    "category",
    "county",
    "poverty",
    "gi",
    "gi_until",
    "min_price",
    "price_band",
    "in_stock",
    "sellable",
    "created_at",
    "indexed_at",
)


def han_chars(text: str) -> list[str]:
    return _HAN_RE.findall(normalize(text))


def han_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each run of Han characters (盐池滩羊 -> 盐池 池滩 滩羊)."""
    return [
        run[i : i + 2] for run in _HAN_RUN_RE.findall(normalize(text)) for i in range(len(run) - 1)
    ]


def _escape(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(parts: Sequence[tuple[str, Iterable[str]]]) -> str:
    """`'枸杞':1A,7D '中宁':2A ...` from `[(weight, tokens), ...]`; positions run on across the
    parts in order, so consecutive tokens of one part are adjacent (phrase queries)."""
    positions: dict[str, list[str]] = {}
    position = 0
    for weight, tokens in parts:
        suffix = "" if weight == "D" else weight
        for token in tokens:
            if not token or len(token) > MAX_LEXEME_CHARS:
                continue
            position += 1
            if position > MAX_POSITION:
                break
            slots = positions.setdefault(token, [])
            if len(slots) < MAX_POSITIONS_PER_LEXEME:
                slots.append(f"{position}{suffix}")
    return " ".join(f"{_escape(lexeme)}:{','.join(slots)}" for lexeme, slots in positions.items())


# What buyers type for a product's authorisations; indexed as long text (weight D), so a name
# match still ranks first.
AUTHORIZATION_PHRASES = {
    AuthorizationKind.GI: "地理标志 国家地理标志产品 地标产品",
    AuthorizationKind.REGIONAL_BRAND: "区域公用品牌",
}


def _source(
    product: Product, brands: list[str], kinds: list[str], specs: list[str]
) -> tuple[str, str, list[str]]:
    """(name, long text, tags) analysed for `product`: the tags are the category (and its
    English name), the counties and the GI / brand names; the long text the description, the
    supplier, the variant specs (礼盒, 家庭装, 500g) and the authorisation phrases."""
    county = product.origin_county
    tags = [
        product.category.name,
        product.category.english_name,
        county.name,
        county.prefecture,
        PROVINCE_SHORT_NAMES.get(county.province, county.province),
        *brands,
    ]
    other = " ".join(
        filter(
            None,
            [
                product.description,
                product.supplier.name,
                *specs,
                *(AUTHORIZATION_PHRASES.get(kind, "") for kind in kinds),
            ],
        )
    )
    return product.name, other, [tag for tag in dict.fromkeys(tags) if tag]


def _text_columns(name: str, other: str, tags: list[str]) -> dict[str, str]:
    terms = index_terms(name, other, tags=tags)
    terms["name_chars"] = " ".join(han_chars(name))
    if connection.vendor == "postgresql":
        tag_text = " ".join(tags)
        name_pinyin = set(pinyin_full(name)) | set(pinyin_initials(name))
        tag_pinyin = [
            t for t in pinyin_full(tag_text) + pinyin_initials(tag_text) if t not in name_pinyin
        ]
        name_side = [
            t for t in terms["pinyin"].split() + terms["initials"].split() if t not in tag_pinyin
        ]
        terms["document"] = tsvector_literal(
            [
                ("A", terms["autocomplete"].split()),  # compact name, then the name's words
                ("B", name_side),
                ("C", terms["name_chars"].split()),
                ("C", han_bigrams(name)),
                ("C", tag_pinyin),
                ("D", terms["body_terms"].split()),
            ]
        )
    else:
        terms["document"] = None
    return terms


def _hash(name: str, other: str, tags: list[str]) -> str:
    payload = json.dumps(
        [ANALYSIS_VERSION, name, other, tags, connection.vendor], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def indexable_products(ids: Iterable[int] | None = None):
    """Products with what the index needs: relations, lowest price, latest GI expiry, whether a
    variant is in stock, and `is_sellable` from `Product.objects.sellable` (the one rule)."""
    today = timezone.localdate()
    variants = ProductVariant.objects.filter(product=OuterRef("pk"))
    products = (
        Product.objects.select_related("supplier__county", "category", "origin_county")
        .annotate(
            index_min_price=Subquery(variants.order_by("unit_price").values("unit_price")[:1]),
            index_gi_until=Subquery(
                ProductAuthorization.objects.filter(
                    product=OuterRef("pk"), kind=AuthorizationKind.GI
                )
                .order_by("-expires_on")
                .values("expires_on")[:1]
            ),
            index_in_stock=Exists(variants.filter(stock__gte=F("minimum_order_quantity"))),
            is_sellable=Exists(Product.objects.sellable(today).filter(pk=OuterRef("pk"))),
        )
        .order_by("pk")
    )
    if ids is not None:
        products = products.filter(pk__in=list(ids))
    return products


def sync_entries(ids: Iterable[int]) -> tuple[list[ProductSearchEntry], list[int]]:
    """Rewrite the entries of these products from the catalog. Returns the entries written and
    the ids that no longer exist (their entries went with the product)."""
    ids = sorted(set(ids))
    if not ids:
        return [], []
    today = timezone.localdate()
    products = list(indexable_products(ids))
    brands: dict[int, list[str]] = {}
    kinds: dict[int, list[str]] = {}
    for product_id, brand, kind, expires_on in (
        ProductAuthorization.objects.filter(product_id__in=ids)
        .order_by("product_id", "kind", "name")
        .values_list("product_id", "name", "kind", "expires_on")
    ):
        brands.setdefault(product_id, []).append(brand)
        if expires_on >= today:
            kinds.setdefault(product_id, []).append(kind)
    specs: dict[int, list[str]] = {}
    for product_id, spec in (
        ProductVariant.objects.filter(product_id__in=ids)
        .order_by("product_id", "pk")
        .values_list("product_id", "spec")
    ):
        specs.setdefault(product_id, []).append(spec)
    previous = {
        entry.pk: entry
        for entry in ProductSearchEntry.objects.filter(product_id__in=ids).only(
            "product_id", "text_hash", *TEXT_FIELDS, "document"
        )
    }
    now = timezone.now()
    entries = []
    for product in products:
        name, other, tags = _source(
            product,
            list(dict.fromkeys(brands.get(product.pk, []))),
            list(dict.fromkeys(kinds.get(product.pk, []))),
            list(dict.fromkeys(specs.get(product.pk, []))),
        )
        digest = _hash(name, other, tags)
        old = previous.get(product.pk)
        if old is not None and old.text_hash == digest:
            text = {key: getattr(old, key) for key in (*TEXT_FIELDS, "document")}
        else:
            text = _text_columns(name, other, tags)
        county = product.origin_county
        gi_until = product.index_gi_until
        entries.append(
            ProductSearchEntry(
                product_id=product.pk,
                name=product.name,
                **text,
                text_hash=digest,
                supplier_id=product.supplier_id,
                category_id=product.category_id,
                county_id=product.origin_county_id,
                poverty=is_poverty_county_product(county, product.supplier.county),
                gi=gi_until is not None and gi_until >= today,
                gi_until=gi_until,
                min_price=product.index_min_price,
                price_band=price_band(product.index_min_price) or "",
                in_stock=product.index_in_stock,
                sellable=product.is_sellable,
                created_at=product.created_at,
                indexed_at=now,
            )
        )
    if entries:
        ProductSearchEntry.objects.bulk_create(
            entries,
            update_conflicts=True,
            unique_fields=["product"],
            update_fields=list(UPDATE_FIELDS),
        )
    found = {entry.product_id for entry in entries}
    return entries, [pk for pk in ids if pk not in found]
