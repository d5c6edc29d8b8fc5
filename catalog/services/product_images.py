"""A product's images: verified uploads stored with their thumbnails."""

from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from catalog import access
from catalog.images import ProcessedImage, process_image
from catalog.models import Product, ProductImage
from catalog.services.products import require_admitted
from shop.core.audit import audit_record


def store_image(product: Product, processed: ProcessedImage, *, alt: str = "") -> ProductImage:
    """Store a verified image and its thumbnails, and its row; no file is left behind when the
    row cannot be written."""
    stem = f"{product.pk}-{processed.sha256[:16]}"
    image = ProductImage(
        product=product,
        format=processed.format,
        width=processed.width,
        height=processed.height,
        sha256=processed.sha256,
        alt=(alt or product.name)[:128],
        sort_order=product.images.count(),
    )
    storage = image.image.storage
    stored: list[str] = []
    try:
        image.image.save(
            f"{stem}.{processed.extension}", ContentFile(processed.content), save=False
        )
        stored.append(image.image.name)
        for size, content in processed.thumbnails.items():
            stored.append(
                storage.save(f"products/thumbnails/{stem}-{size}.webp", ContentFile(content))
            )
        image.thumbnails = dict(
            zip((str(size) for size in processed.thumbnails), stored[1:], strict=True)
        )
        image.save()
    except Exception:
        # Files are not transactional: do not leave any behind for a row that was not written.
        for name in stored:
            storage.delete(name)
        raise
    return image


@transaction.atomic
def product_image_create(
    *,
    acting_user: Any,
    product_id: int | None,
    data: bytes,
    filename: str,
    content_type: str | None,
    alt: str = "",
) -> ProductImage:
    """Verify an upload by decoding it, strip its metadata, store it with WebP thumbnails.
    A refused file stores nothing."""
    product = access.own_product(acting_user, product_id, lock=True)
    require_admitted(product.supplier)
    processed = process_image(data, filename=filename, content_type=content_type)
    image = store_image(product, processed, alt=alt)
    audit_record(
        actor=acting_user, action="product.image_add", target=product, data={"image": image.pk}
    )
    return image
