"""Stripe's request parameters: form-encoded with brackets (`metadata[order]=A1`,
`expand[0]=latest_charge`), decoded into nested dicts and lists, then read with Stripe's
validation errors. Unknown parameters are refused, as Stripe does, so a gateway bug that sends
a misspelt parameter fails here instead of passing silently."""

import re
from typing import Any
from urllib.parse import parse_qsl

from shop.payments.mock.errors import StripeApiError, parameter_missing, parameter_unknown

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
MAX_AMOUNT = 99_999_999  # Stripe's limit: eight digits in the smallest unit


def decode(query: str) -> dict[str, Any]:
    """`a[b]=1&c[0]=x&c[1]=y&d=` → `{"a": {"b": "1"}, "c": ["x", "y"], "d": ""}`."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY.match(raw_key)
        if match is None:
            raise StripeApiError(f"Invalid parameter name: {raw_key}", param=raw_key)
        path = [match.group(1), *_PART.findall(match.group(2))]
        node = root
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if part == "":  # `c[]=x`: append
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise StripeApiError(f"Invalid parameter: {raw_key}", param=path[0])
                node = child
    return {key: _listify(value) for key, value in root.items()}


def _listify(value: Any) -> Any:
    """Dicts whose keys are all indexes become lists, in index order."""
    if not isinstance(value, dict):
        return value
    converted = {key: _listify(child) for key, child in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


class Params:
    """Typed access to one request's parameters; refuses any name not in `allowed`."""

    def __init__(self, data: dict[str, Any], *, allowed: set[str]):
        for name in data:
            if name not in allowed:
                raise parameter_unknown(name)
        self.data = data

    def _scalar(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise StripeApiError(f"Invalid {name}: expected a single value.", param=name)
        return value

    def string(
        self, name: str, *, required: bool = False, choices: list[str] | None = None
    ) -> str | None:
        value = self._scalar(name)
        if value in (None, ""):
            if required:
                raise parameter_missing(name)
            return None
        if choices is not None and value not in choices:
            raise StripeApiError(f"Invalid {name}: must be one of {', '.join(choices)}", param=name)
        return value

    def amount(self, name: str, *, required: bool = False) -> int | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        if not value.isdigit():
            raise StripeApiError(
                f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
            )
        amount = int(value)
        if amount < 1:
            raise StripeApiError(
                "Amount must be at least 1 fen.", code="amount_too_small", param=name
            )
        if amount > MAX_AMOUNT:
            raise StripeApiError(
                f"Amount must be no more than {MAX_AMOUNT}.", code="amount_too_large", param=name
            )
        return amount

    def boolean(self, name: str) -> bool:
        value = self.string(name)
        if value is None:
            return False
        if value not in ("true", "false"):
            raise StripeApiError(f"Invalid boolean: {value}", param=name)
        return value == "true"

    def string_list(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None or value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise StripeApiError(f"Invalid array: {name}", param=name)
        return value

    def metadata(self, name: str = "metadata") -> dict[str, str]:
        value = self.data.get(name)
        if value is None or value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise StripeApiError(f"Invalid object: {name}", param=name)
        if len(value) > 50 or any(len(k) > 40 or len(v) > 500 for k, v in value.items()):
            raise StripeApiError(
                "Metadata may have up to 50 keys of up to 40 characters, "
                "with values of up to 500 characters.",
                param=name,
            )
        # Stripe drops keys set to an empty string.
        return {key: item for key, item in value.items() if item != ""}

    def expand(self, *, expandable: set[str]) -> set[str]:
        fields = set(self.string_list("expand"))
        for field in sorted(fields - expandable):
            raise StripeApiError(f"This property cannot be expanded ({field}).", param="expand")
        return fields
