"""One JSON object per log line (LOG_FORMAT=json; docs/operations.md, "Logs").

Every record carries `time` (UTC, ISO-8601), `level`, `logger`, `message` and `request_id`
(from RequestIdLogFilter, "-" outside a request), plus every `extra={...}` field the caller
passed, as top-level keys: the request log (`shanhai.requests`) and the job log
(`shanhai.jobs`: job id, name, attempt, duration_ms, db_queries, outcome) are queried by those
fields.

A last line of defence against leaking secrets and personal data: an extra field whose name
says it holds one (password, token, secret, authorization, cookie, phone, e-mail, name of a
person or household, address, ID card number) is written as "[redacted]". The callers' rule
is still to pass no such field at all.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# The attributes every LogRecord has; anything else on a record came from `extra`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "taskName"}
)
_SENSITIVE = re.compile(
    r"pass(word|wd)?|token|secret|authori[sz]ation|cookie|session|phone|mobile|e_?mail|"
    r"household|recipient|address|id_?card|credit|card_?number|cvc|private",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def _is_sensitive(key: str) -> bool:
    # `request_id`, `remote_address`-like operational keys are not personal data
    return bool(_SENSITIVE.search(key)) and key not in {"request_id", "ip_address"}


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 5:
        return str(value)
    if isinstance(value, dict):
        return {
            str(k): REDACTED if _is_sensitive(str(k)) else _scrub(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(item, depth + 1) for item in value]
    return value


class JsonFormatter(logging.Formatter):
    """Renders a record and its `extra` fields as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRIBUTES or key.startswith("_") or key in entry:
                continue
            entry[key] = REDACTED if _is_sensitive(key) else _scrub(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":"))
