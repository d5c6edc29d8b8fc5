"""Private documents (qualification scans, identity documents, inspection reports): verify an
upload by its content and store it privately under a generated name.

Accepted: PDF, verified by its header at byte 0, nothing after its last `%%EOF`, and a full parse
of its cross-reference table, trailer and page tree by pypdf; and JPEG, PNG or WebP, verified and
re-encoded exactly as product images are (catalog.images), so a scan keeps no EXIF or GPS data.
Everything else is refused: HTML, SVG, office files, archives, and files that are two formats at
once (bytes before the PDF header or after its end, data appended to an image).

The name the uploader gave is never used on disk: a file is stored as
`<folder>/<year>/<random>.<ext>` in the private storage (shop.core.storage), and its extension,
chosen here from the verified type, is what its content type is served by.
"""

import io
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Model
from django.db.models.fields.files import FieldFile

from catalog.images import (
    ImageErrorCode,
    ImageRejected,
    check_byte_size,
    is_image_signature,
    process_image,
)
from shop.core.errors import DomainError

if TYPE_CHECKING:
    from pypdf import PdfReader

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024  # setting CATALOG_MAX_DOCUMENT_BYTES
MAX_DOCUMENT_PAGES = 200  # setting CATALOG_MAX_DOCUMENT_PAGES; scans and lab reports are short
PDF_CONTENT_TYPE = "application/pdf"


class DocumentErrorCode(StrEnum):
    DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
    DOCUMENT_UNSUPPORTED_TYPE = "DOCUMENT_UNSUPPORTED_TYPE"
    DOCUMENT_INVALID = "DOCUMENT_INVALID"
    DOCUMENT_EXTENSION_MISMATCH = "DOCUMENT_EXTENSION_MISMATCH"
    DOCUMENT_POLYGLOT = "DOCUMENT_POLYGLOT"
    DOCUMENT_ACTIVE_CONTENT = "DOCUMENT_ACTIVE_CONTENT"


class DocumentRejected(DomainError):
    """An upload that is not an acceptable document; always reported on field `file`."""

    def __init__(self, message: str, *, code: DocumentErrorCode):
        super().__init__(message, code=code, field="file")


@dataclass(frozen=True)
class DocumentUpload:
    """An uploaded file as the API received it, not yet verified."""

    data: bytes = field(repr=False)
    filename: str
    content_type: str | None


@dataclass(frozen=True)
class VerifiedDocument:
    content: bytes = field(repr=False)  # what is stored: the PDF as sent, an image re-encoded
    extension: str  # a key of CONTENT_TYPES_BY_EXTENSION


def max_document_bytes() -> int:
    """The largest accepted upload; callers may stop reading one byte past it."""
    return getattr(settings, "CATALOG_MAX_DOCUMENT_BYTES", MAX_DOCUMENT_BYTES)


def verify_document(upload: DocumentUpload) -> VerifiedDocument:
    """Verify an uploaded document by its content; raise DocumentRejected if it is not a
    plain PDF or a plain JPEG, PNG or WebP image."""
    data, filename, content_type = upload.data, upload.filename, upload.content_type
    with _image_errors_as_document_errors():
        check_byte_size(data, max_document_bytes())
    if data.startswith(b"%PDF-"):
        return _verify_pdf(data, filename, content_type)
    if is_image_signature(data):
        with _image_errors_as_document_errors():
            image = process_image(
                data, filename=filename, content_type=content_type, thumbnails=False
            )
        return VerifiedDocument(content=image.content, extension=image.extension)
    raise DocumentRejected(
        "Only PDF documents and JPEG, PNG or WebP scans are accepted.",
        code=DocumentErrorCode.DOCUMENT_UNSUPPORTED_TYPE,
    )


def verify_if_given(
    upload: DocumentUpload | None, errors: list[DomainError]
) -> VerifiedDocument | None:
    """Verify an optional upload. A refusal is appended to `errors`, for the caller to report
    with its other field errors before it writes anything."""
    if upload is None:
        return None
    try:
        return verify_document(upload)
    except DocumentRejected as error:
        errors.append(error)
        return None


# Images -------------------------------------------------------------------------------------

_FROM_IMAGE_CODE = {
    ImageErrorCode.IMAGE_TOO_LARGE: DocumentErrorCode.DOCUMENT_TOO_LARGE,
    ImageErrorCode.IMAGE_TOO_MANY_PIXELS: DocumentErrorCode.DOCUMENT_TOO_LARGE,
    ImageErrorCode.IMAGE_UNSUPPORTED_FORMAT: DocumentErrorCode.DOCUMENT_UNSUPPORTED_TYPE,
    ImageErrorCode.IMAGE_INVALID: DocumentErrorCode.DOCUMENT_INVALID,
    ImageErrorCode.IMAGE_EXTENSION_MISMATCH: DocumentErrorCode.DOCUMENT_EXTENSION_MISMATCH,
    ImageErrorCode.IMAGE_POLYGLOT: DocumentErrorCode.DOCUMENT_POLYGLOT,
}


@contextmanager
def _image_errors_as_document_errors() -> Iterator[None]:
    try:
        yield
    except ImageRejected as error:
        raise DocumentRejected(error.message, code=_FROM_IMAGE_CODE[error.code]) from error


# PDF ----------------------------------------------------------------------------------------

_PDF_HEADER = re.compile(rb"%PDF-[12]\.[0-9][\r\n\t\f\x00 %]")
# After the last end-of-file marker only line ends and padding may follow (some writers add NULs).
_PDF_END = re.compile(rb"%%EOF[\r\n\t\f\x00 ]*\Z")
_UNDECLARED_CONTENT_TYPES = ("", "application/octet-stream")


def _verify_pdf(data: bytes, filename: str, content_type: str | None) -> VerifiedDocument:
    if not _PDF_HEADER.match(data):
        raise _invalid_pdf("The PDF header is malformed.")
    _check_pdf_declared_type(filename, content_type)
    end = data.rfind(b"%%EOF")
    if end < 0:
        raise _invalid_pdf("The PDF file is truncated (no end-of-file marker).")
    if not _PDF_END.match(data, end):
        # Bytes after the end are ignored by PDF readers but make the file also a ZIP, an HTML
        # page or a script: a polyglot.
        raise DocumentRejected(
            "The file has data after the end of the PDF.",
            code=DocumentErrorCode.DOCUMENT_POLYGLOT,
        )
    reader = _parse_pdf(data)
    _check_no_active_content(reader)
    return VerifiedDocument(content=data, extension="pdf")


def _check_pdf_declared_type(filename: str, content_type: str | None) -> None:
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    declared = (content_type or "").split(";")[0].strip().lower()
    if extension != "pdf" or declared not in (*_UNDECLARED_CONTENT_TYPES, PDF_CONTENT_TYPE):
        raise DocumentRejected(
            f"The file is a PDF but is named {filename!r} and sent as {declared or 'no type'!r}; "
            "expected a .pdf name.",
            code=DocumentErrorCode.DOCUMENT_EXTENSION_MISMATCH,
        )


def _parse_pdf(data: bytes) -> "PdfReader":
    # Imported here: pypdf costs each app process ~6 MB that only document uploads need.
    from pypdf import PdfReader

    try:
        # strict: a broken cross-reference table or trailer is an error, not something to
        # reconstruct by scanning the bytes (which is how a disguised file gets read as a PDF).
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise DocumentRejected(
                "Encrypted PDFs are not accepted.", code=DocumentErrorCode.DOCUMENT_INVALID
            )
        pages = _count_pages(reader.trailer["/Root"].get_object()["/Pages"], max_document_pages())
    except DocumentRejected:
        raise
    except Exception as error:
        # pypdf signals bad input with many exception types; for an upload each means the same.
        raise _invalid_pdf("The file could not be read as a PDF.") from error
    if pages < 1:
        raise _invalid_pdf("The PDF has no pages.")
    return reader


def max_document_pages() -> int:
    return getattr(settings, "CATALOG_MAX_DOCUMENT_PAGES", MAX_DOCUMENT_PAGES)


def _count_pages(tree: Any, limit: int) -> int:
    """Walk the page tree by hand, refusing loops, nodes that are neither a page nor a page
    list, and more than `limit` pages, before pypdf's own walk would spend seconds on a file
    with tens of thousands of (tiny) pages."""
    pages, seen, stack = 0, set(), [tree]
    while stack:
        reference = stack.pop()
        key = (reference.idnum, reference.generation) if hasattr(reference, "idnum") else None
        if key in seen:
            raise _invalid_pdf("The PDF's page tree loops.")
        seen.add(key)
        node = reference.get_object()
        kind = node.get("/Type")
        if kind == "/Pages":
            stack.extend(node["/Kids"])
        elif kind == "/Page":
            pages += 1
            if pages > limit:
                raise DocumentRejected(
                    f"The PDF has more than {limit} pages.",
                    code=DocumentErrorCode.DOCUMENT_TOO_LARGE,
                )
        else:
            raise _invalid_pdf("The PDF's page tree is malformed.")
        if len(seen) > 2 * limit + 100:  # page lists without pages
            raise _invalid_pdf("The PDF's page tree is malformed.")
    return pages


def _check_no_active_content(reader: "PdfReader") -> None:
    from pypdf.generic import DictionaryObject

    # A scan or a lab report has no reason to run scripts, launch programs or carry other
    # files; where a PDF viewer would do so on opening, refuse.
    try:
        root = reader.trailer["/Root"].get_object()
        names = root.get("/Names")
        names = names.get_object() if names is not None else DictionaryObject()
        form = root.get("/AcroForm")
        form = form.get_object() if form is not None else DictionaryObject()
        open_action = root.get("/OpenAction")
        open_action = open_action.get_object() if open_action is not None else None
    except Exception as error:
        raise _invalid_pdf("The PDF's document catalog is malformed.") from error
    active = (
        "/AA" in root
        or "/JavaScript" in names
        or "/EmbeddedFiles" in names
        or "/XFA" in form
        or (isinstance(open_action, DictionaryObject) and open_action.get("/S") != "/GoTo")
    )
    if active:
        raise DocumentRejected(
            "The PDF runs scripts or actions, or carries embedded files; "
            "upload a plain scan or report.",
            code=DocumentErrorCode.DOCUMENT_ACTIVE_CONTENT,
        )


def _invalid_pdf(message: str) -> DocumentRejected:
    return DocumentRejected(message, code=DocumentErrorCode.DOCUMENT_INVALID)


# Reading and storing ----------------------------------------------------------------------


def read_upload(upload: Any) -> DocumentUpload:
    """Read a multipart upload, at most one byte past the limit (so an oversized file is
    refused without holding all of it); anything that is not a file reads as empty."""
    data = upload.read(max_document_bytes() + 1) if hasattr(upload, "read") else b""
    return DocumentUpload(
        data=data,
        filename=getattr(upload, "name", "") or "",
        content_type=getattr(upload, "content_type", None),
    )


def attach_document(instance: Model, document: VerifiedDocument) -> None:
    """Store `document` as the `file` of `instance` under a generated name (the field's
    upload_to gives the folder) and save the row; no file is left behind when the row cannot
    be written."""
    file: FieldFile = instance.file
    name = f"{secrets.token_urlsafe(24)}.{document.extension}"
    file.save(name, ContentFile(document.content), save=False)
    try:
        instance.save()
    except Exception:
        file.storage.delete(file.name)
        raise


# What a stored document is served as, by the extension attach_document gave it.
CONTENT_TYPES_BY_EXTENSION = {
    "pdf": PDF_CONTENT_TYPE,
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}


def stored_content_type(name: str) -> tuple[str, str]:
    """(content type, extension) of a stored document by the extension this module gave it.
    A file stored before uploads were verified gets a type no browser renders."""
    extension = name.rpartition(".")[2].lower()
    if extension in CONTENT_TYPES_BY_EXTENSION:
        return CONTENT_TYPES_BY_EXTENSION[extension], extension
    return "application/octet-stream", "bin"
