"""Product image processing: every image is drawn here with Pillow, hostile ones are then
edited byte by byte (sizes patched into headers, payloads appended, files cut short)."""

import hashlib
import io
import struct
import zipfile
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, ImageOps
from PIL.PngImagePlugin import PngInfo

from catalog import images
from catalog.images import (
    IMAGE_ERROR_CODES,
    MAX_IMAGE_BYTES,
    ImageRejected,
    process_image,
)
from shop.core.errors import DomainError

pytestmark = pytest.mark.smoke

ACCEPTED = [
    ("JPEG", "photo.jpg", "image/jpeg"),
    ("PNG", "photo.png", "image/png"),
    ("WEBP", "photo.webp", "image/webp"),
]
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
FILENAMES = {"JPEG": "photo.jpg", "PNG": "photo.png", "WEBP": "photo.webp"}


def draw(image_format: str, size=(64, 48), mode="RGB", color="red", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, image_format, **options)
    return buffer.getvalue()


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def rejection(data: bytes, filename: str = "photo.png", content_type=None) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        process_image(data, filename=filename, content_type=content_type)
    return caught.value


def camera_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (38.0, 28.0, 0.0),
    }
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    return exif


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims another size (the decompression-bomb shape)."""
    data = bytearray(draw("PNG", (1, 1)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(draw("JPEG", (8, 8)))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    data = bytearray(draw("WEBP", (8, 8), lossless=True))
    assert data[12:16] == b"VP8L"
    (bits,) = struct.unpack_from("<I", data, 21)
    bits = (bits & ~0x0FFFFFFF) | (width - 1) | (height - 1) << 14
    data[21:25] = struct.pack("<I", bits)
    return bytes(data)


def swapped_primaries_profile() -> bytes:
    """Pillow's built-in sRGB profile with the red and blue primaries' tags swapped."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", profile, 128)
    entries = {bytes(profile[132 + 12 * i : 136 + 12 * i]): 136 + 12 * i for i in range(count)}
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    profile[red : red + 8], profile[blue : blue + 8] = (
        profile[blue : blue + 8],
        profile[red : red + 8],
    )
    return bytes(profile)


def refuse_to_decode(*args, **kwargs):
    pytest.fail("Pillow was asked to open the file")


def gradient(mode: str) -> Image.Image:
    """A 300×200 image with varied pixels, so encoders produce real entropy-coded data."""
    grey = Image.linear_gradient("L").resize((300, 200))
    colour = Image.merge("RGB", (grey, grey.transpose(Image.Transpose.ROTATE_180), grey))
    if mode == "RGBA":
        colour.putalpha(grey)  # real transparency: encoders drop an alpha that is all opaque
    return colour.convert(mode)


def animated(image_format: str) -> bytes:
    buffer = io.BytesIO()
    frames = [Image.new("RGB", (16, 16), color) for color in ("red", "blue")]
    frames[0].save(buffer, image_format, save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.sh", "echo owned\n")
    return buffer.getvalue()


# Accepted images ----------------------------------------------------------------------------


@pytest.mark.parametrize(("image_format", "filename", "content_type"), ACCEPTED)
def test_accepted_format_round_trips(image_format, filename, content_type):
    result = process_image(
        draw(image_format, (1600, 1200)), filename=filename, content_type=content_type
    )
    stored = open_image(result.content)
    assert (result.format, result.width, result.height) == (image_format, 1600, 1200)
    assert (stored.format, stored.size) == (image_format, (1600, 1200))
    assert result.extension == EXTENSIONS[image_format]
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_thumbnails_are_webp_at_each_fixed_size(image_format):
    result = process_image(draw(image_format, (1600, 1200)), filename=FILENAMES[image_format])
    thumbnails = {size: open_image(data) for size, data in result.thumbnails.items()}
    assert {size: (t.format, t.size) for size, t in thumbnails.items()} == {
        120: ("WEBP", (120, 90)),
        400: ("WEBP", (400, 300)),
        800: ("WEBP", (800, 600)),
    }


def test_thumbnails_fit_a_portrait_image_by_its_height():
    result = process_image(draw("PNG", (600, 1200)), filename="tall.png")
    sizes = {size: open_image(data).size for size, data in result.thumbnails.items()}
    assert sizes == {120: (60, 120), 400: (200, 400), 800: (400, 800)}


def test_thumbnails_never_upscale_a_small_image():
    result = process_image(draw("JPEG", (100, 60)), filename="small.jpg")
    sizes = {size: open_image(data).size for size, data in result.thumbnails.items()}
    assert sizes == {120: (100, 60), 400: (100, 60), 800: (100, 60)}


def test_transparency_is_kept_in_the_stored_image_and_thumbnails():
    result = process_image(draw("PNG", mode="RGBA", color=(0, 128, 0, 64)), filename="a.png")
    assert open_image(result.content).getpixel((0, 0)) == (0, 128, 0, 64)
    assert open_image(result.thumbnails[120]).mode == "RGBA"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("PHOTO.JPEG", "image/jpeg"),
        ("scan.jfif", None),
        ("photo.jpg", "image/jpeg; charset=binary"),
        ("photo.jpg", "application/octet-stream"),
        ("photo.jpg", ""),
    ],
)
def test_accepted_names_and_declared_types(filename, content_type):
    result = process_image(draw("JPEG"), filename=filename, content_type=content_type)
    assert result.format == "JPEG"


@pytest.mark.parametrize(
    ("image_format", "mode", "options", "stored_mode"),
    [
        pytest.param("JPEG", "RGB", {"progressive": True}, "RGB", id="progressive-jpeg"),
        pytest.param("JPEG", "RGB", {"restart_marker_blocks": 1}, "RGB", id="jpeg-restarts"),
        pytest.param(
            "JPEG", "RGB", {"comment": b"fake end \xff\xd9 in a segment"}, "RGB", id="jpeg-ffd9"
        ),
        pytest.param("JPEG", "L", {}, "L", id="grey-jpeg"),
        pytest.param("JPEG", "CMYK", {}, "RGB", id="cmyk-jpeg-becomes-rgb"),
        pytest.param("PNG", "P", {"transparency": 0}, "P", id="palette-png"),
        pytest.param("PNG", "I;16", {}, "I;16", id="16-bit-png"),
        pytest.param("PNG", "1", {}, "1", id="1-bit-png"),
        pytest.param("WEBP", "RGB", {"lossless": True}, "RGB", id="lossless-webp"),
        pytest.param("WEBP", "RGBA", {}, "RGBA", id="webp-with-alpha"),
    ],
)
def test_other_encodings_of_the_accepted_formats_round_trip(
    image_format, mode, options, stored_mode
):
    buffer = io.BytesIO()
    gradient(mode).save(buffer, image_format, **options)
    result = process_image(buffer.getvalue(), filename=FILENAMES[image_format])
    stored = open_image(result.content)
    assert (stored.format, stored.mode, stored.size) == (image_format, stored_mode, (300, 200))
    assert open_image(result.thumbnails[120]).size == (120, 80)


def test_a_transparent_palette_colour_stays_transparent():
    upload = draw("PNG", mode="P", color=0, transparency=0)
    result = process_image(upload, filename="clear.png")
    assert open_image(result.content).info["transparency"] == 0
    assert open_image(result.thumbnails[120]).getpixel((0, 0))[3] == 0


def test_sixteen_bit_grey_is_scaled_not_saturated_in_thumbnails():
    upload = draw("PNG", mode="I;16", color=32768)
    result = process_image(upload, filename="grey.png")
    assert open_image(result.thumbnails[120]).getpixel((0, 0)) == (128, 128, 128)


def test_camera_multi_picture_jpeg_keeps_only_the_first_image():
    # An MPO (as written by phone cameras) stores a second JPEG after the first, indexed by MPF.
    buffer = io.BytesIO()
    second = Image.new("RGB", (32, 24), "blue")
    Image.new("RGB", (64, 48), "red").save(buffer, "MPO", save_all=True, append_images=[second])
    result = process_image(buffer.getvalue(), filename="phone.jpg")
    stored = open_image(result.content)
    assert (stored.format, stored.size, result.format) == ("JPEG", (64, 48), "JPEG")
    assert result.content.count(b"\xff\xd8") == 1


# Metadata -----------------------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_exif_is_stripped(image_format):
    upload = draw(image_format, exif=camera_exif())
    assert dict(open_image(upload).getexif())[ExifTags.Base.Make] == "Canon"

    result = process_image(upload, filename=FILENAMES[image_format])

    assert dict(open_image(result.content).getexif()) == {}
    assert b"Canon" not in result.content


def test_exif_orientation_is_applied_before_stripping():
    # Stored sideways: red on the left, blue on the right; orientation 6 means "turn 90° right".
    sideways = Image.new("RGB", (300, 100), "blue")
    sideways.paste("red", (0, 0, 150, 100))
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", exif=camera_exif(orientation=6))

    result = process_image(buffer.getvalue(), filename="photo.jpg")

    upright = open_image(result.content)
    assert (result.width, result.height) == (100, 300)
    assert upright.getpixel((50, 20))[0] > 200  # red is now on top
    assert upright.getpixel((50, 280))[2] > 200  # blue at the bottom
    assert ImageOps.exif_transpose(upright).size == (100, 300)  # nothing left to rotate


def test_png_text_chunks_are_stripped():
    text = PngInfo()
    text.add_text("Comment", "seller phone 13800000000")
    result = process_image(draw("PNG", pnginfo=text), filename="photo.png")
    assert b"tEXt" not in result.content
    assert b"13800000000" not in result.content


def test_jpeg_comment_is_stripped():
    result = process_image(draw("JPEG", comment=b"made with a secret tool"), filename="a.jpg")
    assert "comment" not in open_image(result.content).info
    assert b"secret tool" not in result.content


def test_colour_profile_is_baked_into_the_pixels_then_dropped():
    # Under a profile whose red and blue primaries are swapped, pure red means sRGB blue.
    upload = draw("JPEG", color=(255, 0, 0), icc_profile=swapped_primaries_profile())
    result = process_image(upload, filename="photo.jpg")
    stored = open_image(result.content)
    assert "icc_profile" not in stored.info
    red, _, blue = stored.getpixel((0, 0))
    assert (red < 30, blue > 220) == (True, True)


def test_a_colour_profile_on_a_palette_image_is_dropped():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = draw("PNG", mode="P", icc_profile=srgb)
    assert open_image(upload).info["icc_profile"] == srgb
    result = process_image(upload, filename="photo.png")
    assert "icc_profile" not in open_image(result.content).info


# Rejections: size ---------------------------------------------------------------------------


def test_a_file_over_ten_mebibytes_is_too_large():
    data = b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES - 7)
    error = rejection(data)
    assert (error.code, error.message) == (
        "IMAGE_TOO_LARGE",
        "The file is larger than the 10 MB limit.",
    )


def test_the_byte_limit_is_a_setting(settings):
    data = draw("PNG")
    settings.CATALOG_MAX_IMAGE_BYTES = len(data) - 1
    assert rejection(data).code == "IMAGE_TOO_LARGE"


def test_a_file_exactly_at_the_byte_limit_is_accepted(settings):
    data = draw("PNG")
    settings.CATALOG_MAX_IMAGE_BYTES = len(data)
    assert process_image(data, filename="photo.png").format == "PNG"


@pytest.mark.parametrize(
    ("upload", "filename", "size"),
    [
        (png_declaring(20_000, 20_000), "bomb.png", "20000×20000"),
        (jpeg_declaring(8_000, 6_000), "bomb.jpg", "8000×6000"),
        (webp_declaring(10_000, 10_000), "bomb.webp", "10000×10000"),
    ],
    ids=["png", "jpeg", "webp"],
)
def test_a_small_file_declaring_too_many_pixels_is_refused_before_decoding(
    upload, filename, size, monkeypatch
):
    # Pillow's WebP reader allocates the whole canvas on open, so even opening is too late.
    monkeypatch.setattr(Image, "open", refuse_to_decode)
    error = rejection(upload, filename)
    assert len(upload) < 1024
    assert (error.code, error.message) == (
        "IMAGE_TOO_MANY_PIXELS",
        f"The image is {size} pixels; the limit is 40 megapixels.",
    )


def test_the_pixel_limit_is_a_setting_and_inclusive(settings):
    settings.CATALOG_MAX_IMAGE_PIXELS = 64 * 48
    assert process_image(draw("PNG", (64, 48)), filename="a.png").width == 64
    assert rejection(draw("PNG", (65, 48))).code == "IMAGE_TOO_MANY_PIXELS"


def test_pillows_own_lower_pixel_limit_is_honoured(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    error = rejection(draw("PNG", (40, 40)))
    assert (error.code, error.message) == (
        "IMAGE_TOO_MANY_PIXELS",
        "The image is 40×40 pixels; the limit is 0.001 megapixels.",
    )


def test_pillows_decompression_bomb_error_becomes_too_many_pixels(monkeypatch):
    # Should our header reading ever let a bomb through, Pillow's own check still answers.
    monkeypatch.setattr(images, "max_image_pixels", lambda: 10**12)
    error = rejection(png_declaring(20_000, 20_000))
    assert (error.code, error.message) == (
        "IMAGE_TOO_MANY_PIXELS",
        "The image has too many pixels.",
    )


# Rejections: format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upload", "filename"),
    [
        (draw("GIF"), "photo.gif"),
        (draw("BMP"), "photo.bmp"),
        (draw("TIFF"), "photo.tiff"),
        (draw("PDF"), "photo.pdf"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg"),
        (b"<!DOCTYPE html><html><body>hello</body></html>", "photo.html"),
        (b"just some text\n", "photo.txt"),
    ],
)
def test_other_formats_are_unsupported(upload, filename):
    error = rejection(upload, filename)
    assert (error.code, error.message) == (
        "IMAGE_UNSUPPORTED_FORMAT",
        "Only JPEG, PNG and WebP images are accepted.",
    )


def test_a_gif_named_jpg_is_unsupported_rather_than_mismatched():
    assert rejection(draw("GIF"), "photo.jpg").code == "IMAGE_UNSUPPORTED_FORMAT"


def test_a_png_named_jpg_is_an_extension_mismatch():
    error = rejection(draw("PNG"), "photo.jpg")
    assert (error.code, error.message) == (
        "IMAGE_EXTENSION_MISMATCH",
        "The file is a PNG image but is named 'photo.jpg'; expected a .png name.",
    )


def test_a_name_without_extension_is_an_extension_mismatch():
    assert rejection(draw("WEBP"), "photo").code == "IMAGE_EXTENSION_MISMATCH"


def test_a_jpeg_sent_as_png_is_an_extension_mismatch():
    error = rejection(draw("JPEG"), "photo.jpg", content_type="image/png")
    assert (error.code, error.message) == (
        "IMAGE_EXTENSION_MISMATCH",
        "The file is a JPEG image but was sent as 'image/png'.",
    )


# Rejections: broken files -------------------------------------------------------------------


def test_an_empty_file_is_invalid():
    error = rejection(b"")
    assert (error.code, error.message) == ("IMAGE_INVALID", "The file is empty.")


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_a_file_cut_in_half_is_invalid(image_format):
    data = draw(image_format, (256, 256), color="orange")
    error = rejection(data[: len(data) // 2], FILENAMES[image_format])
    assert (error.code, error.message) == ("IMAGE_INVALID", "The image file is truncated.")


def test_a_jpeg_missing_only_its_end_marker_is_invalid():
    assert rejection(draw("JPEG")[:-2], "photo.jpg").code == "IMAGE_INVALID"


def test_a_png_signature_alone_is_invalid():
    assert rejection(b"\x89PNG\r\n\x1a\n").code == "IMAGE_INVALID"


def test_a_truncated_jpeg_is_invalid_even_if_pillow_is_told_to_pad_it(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = draw("JPEG", (256, 256))
    assert rejection(data[: len(data) // 2], "photo.jpg").code == "IMAGE_INVALID"


def test_pillow_leaves_truncated_images_refused():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_png_with_corrupt_pixel_data_is_invalid():
    data = bytearray(draw("PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 2 : start + 10] = b"\xde\xad\xbe\xef" * 2  # CRC left wrong as well
    error = rejection(bytes(data))
    assert (error.code, error.message) == (
        "IMAGE_INVALID",
        "The file could not be decoded as an image.",
    )


def test_a_jpeg_padded_with_empty_segments_is_invalid():
    jpeg = draw("JPEG")
    upload = jpeg[:2] + b"\xff\xfe\x00\x02" * 1_000 + jpeg[2:]  # 1,000 empty comments
    error = rejection(upload, "photo.jpg")
    assert (error.code, error.message) == ("IMAGE_INVALID", "The JPEG file has too many segments.")


def test_a_jpeg_padded_with_fill_bytes_is_invalid():
    jpeg = draw("JPEG")
    error = rejection(jpeg[:2] + b"\xff" * 1_000 + jpeg[2:], "photo.jpg")
    assert (error.code, error.message) == ("IMAGE_INVALID", "The JPEG file has too many segments.")


def test_a_png_padded_with_empty_chunks_is_invalid():
    png = draw("PNG")
    empty_chunk = struct.pack(">I4sI", 0, b"abCd", zlib.crc32(b"abCd"))
    error = rejection(png[:33] + empty_chunk * 20_000 + png[33:])
    assert (error.code, error.message) == ("IMAGE_INVALID", "The PNG file has too many chunks.")


@pytest.mark.parametrize(("image_format", "filename"), [("PNG", "a.png"), ("WEBP", "a.webp")])
def test_an_animated_image_is_invalid(image_format, filename):
    error = rejection(animated(image_format), filename)
    assert (error.code, error.message) == ("IMAGE_INVALID", "Animated images are not accepted.")


# Rejections: appended payloads --------------------------------------------------------------


def test_a_jpeg_with_a_zip_appended_is_a_polyglot():
    archive = zip_archive()
    assert zipfile.is_zipfile(io.BytesIO(draw("JPEG") + archive))
    error = rejection(draw("JPEG") + archive, "photo.jpg")
    assert (error.code, error.message) == (
        "IMAGE_POLYGLOT",
        f"The file has {len(archive)} bytes after the end of the image.",
    )


def test_a_png_with_html_after_iend_is_a_polyglot():
    html = b"<html><script>alert(document.cookie)</script></html>"
    error = rejection(draw("PNG") + html)
    assert (error.code, error.message) == (
        "IMAGE_POLYGLOT",
        f"The file has {len(html)} bytes after the end of the image.",
    )


def test_a_webp_with_bytes_beyond_its_riff_size_is_a_polyglot():
    assert rejection(draw("WEBP") + b"PK\x03\x04", "photo.webp").code == "IMAGE_POLYGLOT"


def test_two_jpegs_without_a_multi_picture_index_are_a_polyglot():
    upload = draw("JPEG") + draw("JPEG", color="blue")
    assert rejection(upload, "photo.jpg").code == "IMAGE_POLYGLOT"


# Error shape --------------------------------------------------------------------------------


def test_a_rejection_is_a_domain_error_on_the_image_field():
    error = rejection(b"")
    assert isinstance(error, DomainError)
    assert (error.field, error.as_errors()) == ("image", [error])


def test_error_codes_are_exported_for_the_catalog_enum():
    assert IMAGE_ERROR_CODES == (
        "IMAGE_TOO_LARGE",
        "IMAGE_TOO_MANY_PIXELS",
        "IMAGE_UNSUPPORTED_FORMAT",
        "IMAGE_INVALID",
        "IMAGE_EXTENSION_MISMATCH",
        "IMAGE_POLYGLOT",
    )
