"""Product images: verify an upload and turn it into clean stored bytes plus thumbnails.

Pure functions, no models. `process_image` refuses anything that is not a plain, complete,
still JPEG, PNG or WebP within the size limits; what it returns was re-encoded from decoded
pixels, so no byte of the upload (EXIF, GPS, comments, appended payloads) reaches storage.

The checks run cheapest first and each assumes the ones before it passed: size in bytes,
file signature, declared name and type, container structure (read by hand, so that the pixel
count is known before any decoder allocates memory and bytes after the end marker are found),
pixel count, then a full decode by Pillow restricted to the one sniffed format.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from django.conf import settings

from shop.core.errors import DomainError

# Pillow (~4 MB) is imported where an upload is processed, not by every process at start-up:
# the app's other requests serve stored bytes and never decode an image.
if TYPE_CHECKING:
    from PIL import Image

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # setting CATALOG_MAX_IMAGE_BYTES
MAX_IMAGE_PIXELS = 40_000_000  # setting CATALOG_MAX_IMAGE_PIXELS
THUMBNAIL_SIZES = (120, 400, 800)  # longest edge, in pixels
THUMBNAIL_QUALITY = 80
STORED_QUALITY = 90  # JPEG and WebP originals are re-encoded lossily; keep them close


class ImageErrorCode(StrEnum):
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_TOO_MANY_PIXELS = "IMAGE_TOO_MANY_PIXELS"
    IMAGE_UNSUPPORTED_FORMAT = "IMAGE_UNSUPPORTED_FORMAT"
    IMAGE_INVALID = "IMAGE_INVALID"
    IMAGE_EXTENSION_MISMATCH = "IMAGE_EXTENSION_MISMATCH"
    IMAGE_POLYGLOT = "IMAGE_POLYGLOT"


IMAGE_ERROR_CODES: tuple[str, ...] = tuple(code.value for code in ImageErrorCode)


class ImageRejected(DomainError):
    """An upload that is not an acceptable product image; always reported on field `image`."""

    def __init__(self, message: str, *, code: ImageErrorCode):
        super().__init__(message, code=code, field="image")


@dataclass(frozen=True)
class ProcessedImage:
    """A verified image, upright and without metadata, ready to store.

    `width`/`height` are those of `content`, i.e. after the EXIF orientation was applied.
    `thumbnails` maps each of THUMBNAIL_SIZES to WebP bytes whose longest edge is at most
    that size (a smaller image keeps its own size: thumbnails never upscale).
    """

    format: str  # "JPEG" | "PNG" | "WEBP"
    width: int
    height: int
    content: bytes = field(repr=False)
    extension: str  # "jpg" | "png" | "webp", without the dot
    thumbnails: dict[int, bytes] = field(repr=False)
    sha256: str  # hex digest of `content`


@dataclass(frozen=True)
class _Layout:
    """What the container header says, read before Pillow decodes anything."""

    format: str
    width: int
    height: int
    end: int  # offset just past the image's end marker; anything after it is appended data


_SIGNATURES = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG\r\n\x1a\n"}
_EXTENSIONS = {"JPEG": ("jpg", "jpeg", "jfif", "jpe"), "PNG": ("png",), "WEBP": ("webp",)}
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Clients that do not know a file's type send one of these; they claim nothing to disagree with.
_UNDECLARED_CONTENT_TYPES = ("", "application/octet-stream")
_ENCODE_OPTIONS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": STORED_QUALITY, "optimize": True},
    "PNG": {},
    "WEBP": {"quality": STORED_QUALITY},
}


def process_image(
    data: bytes, *, filename: str, content_type: str | None = None, thumbnails: bool = True
) -> ProcessedImage:
    """Verify an uploaded image and re-encode it; raise ImageRejected if it is not acceptable.
    Without `thumbnails` (a scanned document, never shown in a listing) none are made."""
    check_byte_size(data)
    image_format = _sniff_format(data)
    _check_declared_type(image_format, filename, content_type)
    layout = _read_layout(data, image_format)
    _check_pixel_count(layout)
    _check_nothing_appended(data, layout)
    image = _decode(data, layout)
    clean = _normalise(image, image_format)
    content = _encode(clean, image_format, **_ENCODE_OPTIONS[image_format])
    return ProcessedImage(
        format=image_format,
        width=clean.width,
        height=clean.height,
        content=content,
        extension=_EXTENSIONS[image_format][0],
        thumbnails=_thumbnails(clean) if thumbnails else {},
        sha256=hashlib.sha256(content).hexdigest(),
    )


def is_image_signature(data: bytes) -> bool:
    """Whether `data` starts like one of the accepted image formats (nothing is verified)."""
    try:
        _sniff_format(data)
    except ImageRejected:
        return False
    return True


# Limits -------------------------------------------------------------------------------------


def max_image_bytes() -> int:
    """The largest accepted upload; callers may stop reading one byte past it."""
    return getattr(settings, "CATALOG_MAX_IMAGE_BYTES", MAX_IMAGE_BYTES)


def max_image_pixels() -> int:
    """The most pixels (width × height, as declared in the header) an image may have."""
    configured = getattr(settings, "CATALOG_MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS)
    # Pillow warns above its own global limit (and refuses at twice it). Never allowing more
    # than that means an image that passed here cannot trip Pillow's warning while decoding.
    from PIL import Image

    pillow_limit = Image.MAX_IMAGE_PIXELS
    return configured if pillow_limit is None else min(configured, pillow_limit)


def check_byte_size(data: bytes, limit: int | None = None) -> None:
    """Refuse an empty upload or one over `limit` bytes (by default the image limit)."""
    if not data:
        raise ImageRejected("The file is empty.", code=ImageErrorCode.IMAGE_INVALID)
    limit = max_image_bytes() if limit is None else limit
    if len(data) > limit:
        raise ImageRejected(
            f"The file is larger than the {_megabytes(limit)} limit.",
            code=ImageErrorCode.IMAGE_TOO_LARGE,
        )


def _check_pixel_count(layout: _Layout) -> None:
    limit = max_image_pixels()
    if layout.width * layout.height > limit:
        raise ImageRejected(
            f"The image is {layout.width}×{layout.height} pixels; "
            f"the limit is {limit / 1_000_000:g} megapixels.",
            code=ImageErrorCode.IMAGE_TOO_MANY_PIXELS,
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


# Format and declared type ------------------------------------------------------------------


def _sniff_format(data: bytes) -> str:
    # Decide by signature, never by name: Pillow is then told to try this one format only,
    # so none of its other (larger, riskier) parsers ever sees the upload.
    for image_format, signature in _SIGNATURES.items():
        if data.startswith(signature):
            return image_format
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise ImageRejected(
        "Only JPEG, PNG and WebP images are accepted.",
        code=ImageErrorCode.IMAGE_UNSUPPORTED_FORMAT,
    )


def _check_declared_type(image_format: str, filename: str, content_type: str | None) -> None:
    # A mismatch means a mislabelled or disguised file; refusing it keeps what users see in
    # their file list honest about what we store.
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension not in _EXTENSIONS[image_format]:
        raise ImageRejected(
            f"The file is a {image_format} image but is named {filename!r}; "
            f"expected a .{_EXTENSIONS[image_format][0]} name.",
            code=ImageErrorCode.IMAGE_EXTENSION_MISMATCH,
        )
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in _UNDECLARED_CONTENT_TYPES and declared != _CONTENT_TYPES[image_format]:
        raise ImageRejected(
            f"The file is a {image_format} image but was sent as {declared!r}.",
            code=ImageErrorCode.IMAGE_EXTENSION_MISMATCH,
        )


# Container structure ------------------------------------------------------------------------


def _read_layout(data: bytes, image_format: str) -> _Layout:
    reader = {"JPEG": _jpeg_layout, "PNG": _png_layout, "WEBP": _webp_layout}[image_format]
    try:
        layout = reader(data)
    except (IndexError, struct.error) as error:  # a field read past the end of the data
        raise _truncated() from error
    if layout.width < 1 or layout.height < 1:
        raise _invalid("The image header declares no pixels.")
    return layout


def _check_nothing_appended(data: bytes, layout: _Layout) -> None:
    # Bytes after the end marker are invisible to image viewers but make the file also a ZIP,
    # HTML page or script (a polyglot); there is no reason for a product photo to carry them.
    if layout.end != len(data):
        raise ImageRejected(
            f"The file has {len(data) - layout.end} bytes after the end of the image.",
            code=ImageErrorCode.IMAGE_POLYGLOT,
        )


def _truncated() -> ImageRejected:
    return _invalid("The image file is truncated.")


def _invalid(message: str) -> ImageRejected:
    return ImageRejected(message, code=ImageErrorCode.IMAGE_INVALID)


# Real files stay far below these counts (encoders write IDAT in chunks of 8 KiB or more; a
# JPEG has tens of segments), but Pillow reads each chunk or segment in Python: a 10 MB file
# of empty ones costs it seconds of CPU. Padding 0xFF bytes before JPEG markers count as well.
_MAX_PNG_CHUNKS = 20_000
_MAX_JPEG_STEPS = 1_000


def _png_layout(data: bytes) -> _Layout:
    # Chunks are length, type, data, CRC; the first is IHDR, the last is IEND.
    position, size = len(_SIGNATURES["PNG"]), None
    for _ in range(_MAX_PNG_CHUNKS):
        length, kind = struct.unpack_from(">I4s", data, position)
        chunk_end = position + 12 + length
        if chunk_end > len(data):
            raise _truncated()
        if size is None:
            if kind != b"IHDR" or length != 13:
                raise _invalid("The PNG file does not start with its header chunk.")
            size = struct.unpack_from(">II", data, position + 8)
        if kind == b"IEND":
            return _Layout("PNG", *size, end=chunk_end)
        position = chunk_end
    raise _invalid("The PNG file has too many chunks.")


def _webp_layout(data: bytes) -> _Layout:
    # RIFF gives the file's length; the first chunk (VP8, VP8L or VP8X) gives the canvas size.
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    if end > len(data):
        raise _truncated()
    return _Layout("WEBP", *_webp_canvas(data), end=end)


def _webp_canvas(data: bytes) -> tuple[int, int]:
    kind = data[12:16]
    if kind == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if kind == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise _invalid("The WebP file has no image header.")


_EOI, _SOS, _APP2 = 0xD9, 0xDA, 0xE2
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # C4/C8/CC are not frames
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM carry no length
# Inside entropy-coded data 0xFF is followed by 0x00 (a stuffed byte), RSTn or more 0xFF fill;
# anything else is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_layout(data: bytes) -> _Layout:
    (width, height), end, has_mpf = _walk_jpeg(data, 0)
    # Phone cameras (MPO, Ultra HDR gain maps) store further complete JPEGs after the first one
    # and index them in an APP2 "MPF" segment; accept exactly those, nothing else.
    while has_mpf and data.startswith(b"\xff\xd8", end):
        _, end, _ = _walk_jpeg(data, end)
    return _Layout("JPEG", width, height, end=end)


def _walk_jpeg(data: bytes, start: int) -> tuple[tuple[int, int], int, bool]:
    """Follow the segments of the JPEG at `start` to its EOI marker.

    Returns (width, height) from the frame header, the offset after EOI, and whether an
    MPF index is present. Only lengths are trusted here; Pillow validates the contents.
    """
    position, size, has_mpf = start + 2, None, False
    for _ in range(_MAX_JPEG_STEPS):
        if data[position] != 0xFF:
            raise _invalid("The JPEG file is corrupt.")
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte: any number may pad before a marker
            position += 1
            continue
        if marker == _EOI:
            if size is None:
                raise _invalid("The JPEG file has no frame header.")
            return size, position + 2, has_mpf
        if marker in _STANDALONE_MARKERS:
            position += 2
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        segment_end = position + 2 + length
        if length < 2 or segment_end > len(data):
            raise _truncated()
        if marker in _SOF_MARKERS and size is None:
            height, width = struct.unpack_from(">HH", data, position + 5)
            size = (width, height)
        has_mpf = has_mpf or (marker == _APP2 and data.startswith(b"MPF\x00", position + 4))
        position = segment_end
        if marker == _SOS:
            match = _NEXT_MARKER.search(data, position)
            if match is None:
                raise _truncated()
            position = match.start()
    raise _invalid("The JPEG file has too many segments.")


# Decoding and re-encoding -------------------------------------------------------------------


@contextmanager
def _pillow_errors() -> Iterator[None]:
    """Turn whatever Pillow raises on a hostile or broken file into a rejection."""
    from PIL import Image

    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # The warning arrives as an exception only where warnings are errors (the test suite).
        raise ImageRejected(
            "The image has too many pixels.", code=ImageErrorCode.IMAGE_TOO_MANY_PIXELS
        ) from error
    except Exception as error:
        # Pillow's decoders signal bad input with many exception types (OSError, SyntaxError,
        # ValueError, EOFError, ...); for an upload each one means the same thing.
        raise _invalid("The file could not be decoded as an image.") from error


def _decode(data: bytes, layout: _Layout) -> Image.Image:
    from PIL import Image

    with _pillow_errors():
        image = Image.open(io.BytesIO(data), formats=[layout.format])
    if image.size != (layout.width, layout.height):
        raise _invalid("The image header is inconsistent.")
    # MPO frames are the camera's extra images, not an animation; only the first is used.
    if layout.format != "JPEG" and getattr(image, "is_animated", False):
        raise _invalid("Animated images are not accepted.")
    # load() decodes every pixel, so a truncated or corrupt body fails here rather than later.
    # ImageFile.LOAD_TRUNCATED_IMAGES is left False so that Pillow does not pad missing data.
    with _pillow_errors():
        image.load()
    return image


def _normalise(image: Image.Image, image_format: str) -> Image.Image:
    from PIL import ImageOps

    with _pillow_errors():  # reading the orientation parses the upload's EXIF
        ImageOps.exif_transpose(image, in_place=True)
    image = _to_srgb(image)
    if image_format == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # CMYK without a usable profile: approximate for the web
    # Pillow's encoders copy some of `info` (ICC profile, comments) into the output; keep only
    # the PNG transparency colour, which is pixel data rather than metadata.
    image.info = {key: value for key, value in image.info.items() if key == "transparency"}
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    from PIL import ImageCms

    # The embedded colour profile is dropped with the rest of the metadata, so bake it into the
    # pixels first; otherwise wide-gamut (Display P3) phone photos would look washed out.
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        return ImageCms.profileToProfile(
            image,
            ImageCms.ImageCmsProfile(io.BytesIO(profile)),
            ImageCms.createProfile("sRGB"),
            outputMode="RGBA" if image.mode == "RGBA" else "RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # an unusable profile is simply dropped; colours stay as decoded


def _thumbnails(image: Image.Image) -> dict[int, bytes]:
    from PIL import Image

    source = _webp_ready(image)
    thumbnails = {}
    for size in THUMBNAIL_SIZES:
        thumbnail = source.copy()
        thumbnail.thumbnail((size, size), Image.Resampling.LANCZOS)  # keeps ratio, never grows
        thumbnails[size] = _encode(thumbnail, "WEBP", quality=THUMBNAIL_QUALITY)
    return thumbnails


def _webp_ready(image: Image.Image) -> Image.Image:
    # WebP holds only 8-bit RGB(A); 16-bit greyscale would saturate to white without scaling.
    if image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()
