"""Private file storage: uploads that only some users may read (identity documents,
qualification scans, inspection reports).

The files live under PRIVATE_MEDIA_ROOT, a folder that no web server or URL route serves; the
only way out is a view that checks who is asking (catalog.views.document_download). Public
uploads (product images) stay in MEDIA_ROOT.
"""

import os
from urllib.parse import urljoin

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.http import HttpRequest
from django.utils.encoding import filepath_to_uri


class PrivateStorage(FileSystemStorage):
    """FileSystemStorage rooted at settings.PRIVATE_MEDIA_ROOT, read at each use (so that tests
    and deployments may change it), and without URLs: `url()` refuses."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no public URL; they are served by a checked view.")


_private_storage = PrivateStorage()


def private_storage() -> PrivateStorage:
    """The storage of private FileFields, given as a callable so migrations name this function
    rather than a folder."""
    return _private_storage


def public_url(request: HttpRequest, storage: Storage, name: str) -> str:
    """The absolute URL of a public upload. The absolute base (scheme, host checked against
    ALLOWED_HOSTS, MEDIA_URL) is built once per request rather than once per image: a listing
    page of 50 products has hundreds of image and thumbnail URLs."""
    base_url = getattr(storage, "base_url", None)
    if base_url is None:  # a storage with its own URLs (a CDN, say)
        return request.build_absolute_uri(storage.url(name))
    bases = request.__dict__.setdefault("_media_bases", {})
    base = bases.get(base_url)
    if base is None:
        base = bases[base_url] = request.build_absolute_uri(base_url)
    path = filepath_to_uri(name).lstrip("/")
    if base.endswith("/") and ":" not in path and "/." not in "/" + path:
        # What urljoin returns for a relative path with no scheme and no dot segments, without
        # its parsing (hundreds of URLs per listing page: ~10 % of its CPU).
        return base + path
    return urljoin(base, path)
