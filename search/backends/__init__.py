"""Search backends, chosen by settings (see `search.conf`), in the manner of Wagtail's.

    from search.backends import get_search_backend
    results = get_search_backend().search(SearchRequest(text="枸杞"))

`get_search_backend()` returns one shared instance per configuration; it is rebuilt when a
search setting changes (tests override them).
"""

from __future__ import annotations

import threading

from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from search import conf
from search.backends.base import EngineUnavailable, SearchBackend

_lock = threading.Lock()
_backends: dict[str, SearchBackend] = {}


def get_search_backend(path: str | None = None) -> SearchBackend:
    """The configured backend (or the one at `path`: an alias such as `"database"` or a
    dotted class path)."""
    path = conf.BACKEND_ALIASES.get((path or "").lower(), path) or conf.backend_path()
    backend = _backends.get(path)
    if backend is None:
        with _lock:
            backend = _backends.get(path)
            if backend is None:
                backend = _backends[path] = import_string(path)()
    return backend


def reset_backends() -> None:
    with _lock:
        for backend in _backends.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        _backends.clear()
    from search import correction, synonyms

    correction.forget()  # what was learnt of the index those backends served
    synonyms.forget()


def _on_setting_changed(setting, **kwargs):
    if setting in conf.SETTING_NAMES:
        reset_backends()


setting_changed.connect(_on_setting_changed)

__all__ = ["EngineUnavailable", "SearchBackend", "get_search_backend", "reset_backends"]


def search_is_current_at_commit() -> bool:
    """Whether a search answers from what is committed. The database backend's index is
    rewritten in the transaction that empties the outbox (which bumps the version); an engine
    shows new documents only after its refresh interval unless SEARCH_ENGINE_REFRESH makes each
    update wait for it, and an answer cached in that interval would outlive it."""
    from search.backends.database import DatabaseSearchBackend

    return isinstance(get_search_backend(), DatabaseSearchBackend) or conf.engine_refresh()
