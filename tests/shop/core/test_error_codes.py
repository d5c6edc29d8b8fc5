"""Every error code a service can raise is a member of its domain's enum, so the GraphQL
error type can answer it: a code outside the enum would reach the client as
INTERNAL_SERVER_ERROR. The test walks the source (AST) for each raise site's `code=`: a bare
string is refused, and an enum member must belong to the domain of the package raising it."""

import ast
from enum import StrEnum
from pathlib import Path

import pytest

from catalog.errors import CatalogErrorCode
from procurement.errors import ProcurementErrorCode
from shop.accounts.errors import AccountErrorCode
from shop.core.errors import CommonErrorCode
from shop.notifications.errors import NotificationErrorCode
from shop.payments.errors import PaymentErrorCode

ROOT = Path(__file__).resolve().parents[3]
# Package -> the enum its mutations' errors speak. The base package's codes (CommonErrorCode)
# are shared: every domain enum repeats them (tested below).
DOMAINS: dict[str, type[StrEnum]] = {
    "catalog": CatalogErrorCode,
    "procurement": ProcurementErrorCode,
    "shop/accounts": AccountErrorCode,
    "shop/payments": PaymentErrorCode,
    "shop/notifications": NotificationErrorCode,
    "shop/core": CommonErrorCode,
    "search": CommonErrorCode,
}
ENUMS = {e.__name__: e for e in (*DOMAINS.values(),)}
# Exceptions whose `code` is a domain error code (DomainError and its subclasses).
ERROR_CLASSES = {
    "DomainError",
    "NotFound",
    "InvalidTransition",
    "DocumentRejected",
    "ImageRejected",
    "PaymentFailed",
    "GatewayError",
    "LedgerIsAppendOnly",
}


def domain_of(path: Path) -> type[StrEnum]:
    relative = path.relative_to(ROOT).as_posix()
    return next(enum for prefix, enum in DOMAINS.items() if relative.startswith(prefix + "/"))


def source_files() -> list[Path]:
    files = []
    for prefix in DOMAINS:
        for path in sorted((ROOT / prefix).rglob("*.py")):
            if "migrations" not in path.parts:
                files.append(path)
    return files


def raise_sites(path: Path):
    """(line, code expression) of each `code=` given to a domain error in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        # `super().__init__(..., code=...)` in an error class counts as a raise site too.
        is_super_init = (
            name == "__init__"
            and isinstance(node.func.value, ast.Call)
            and getattr(node.func.value.func, "id", None) == "super"
        )
        if name not in ERROR_CLASSES and not is_super_init:
            continue
        for keyword in node.keywords:
            if keyword.arg == "code":
                yield node.lineno, keyword.value


def _members(path: Path, code: ast.expr) -> list[ast.expr] | None:
    """The member expressions a code expression can take: both arms of a conditional; the
    values (and default) of a module-level table it is looked up in."""
    if isinstance(code, ast.IfExp):
        return [code.body, code.orelse]
    table, default = None, []
    if isinstance(code, ast.Subscript) and isinstance(code.value, ast.Name):
        table = code.value.id
    elif (
        isinstance(code, ast.Call)
        and isinstance(code.func, ast.Attribute)
        and code.func.attr == "get"
        and isinstance(code.func.value, ast.Name)
    ):
        table, default = code.func.value.id, code.args[1:]
    if table is None:
        return None
    tree = ast.parse(path.read_text())
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if getattr(target, "id", None) == table and isinstance(node.value, ast.Dict):
            return [*node.value.values, *default]
    return None


def problems(path: Path) -> list[str]:
    domain = domain_of(path)
    found = []
    sites = list(raise_sites(path))
    while sites:
        line, code = sites.pop()
        where = f"{path.relative_to(ROOT)}:{line}"
        members = _members(path, code)
        if members is not None:
            sites.extend((line, member) for member in members)
        elif isinstance(code, ast.Attribute) and code.attr == "code":
            continue  # another error's code, carried on (DomainErrors takes its first error's)
        elif isinstance(code, ast.Constant):
            found.append(f"{where}: bare string {code.value!r}; use a {domain.__name__} member")
        elif isinstance(code, ast.Attribute) and isinstance(code.value, ast.Name):
            enum = ENUMS.get(code.value.id) or _local_enum(path, code.value.id)
            if enum is None:
                found.append(f"{where}: {code.value.id} is not an error-code enum")
            elif code.attr not in enum.__members__:
                found.append(f"{where}: {enum.__name__} has no {code.attr}")
            elif enum[code.attr].value not in domain._value2member_map_:
                found.append(f"{where}: {code.attr} is not in {domain.__name__}")
        elif not (isinstance(code, ast.Name) and code.id == "code"):
            found.append(f"{where}: give the code as an enum member (or pass `code` through)")
    return found


def _local_enum(path: Path, name: str) -> type[StrEnum] | None:
    """An enum of the file's own module (ImageErrorCode, DocumentErrorCode)."""
    import importlib

    module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    enum = getattr(module, name, None)
    return enum if isinstance(enum, type) and issubclass(enum, StrEnum) else None


@pytest.mark.parametrize("path", source_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_raised_code_is_a_member_of_its_domain_enum(path):
    assert problems(path) == []


def test_the_walk_finds_the_raise_sites():
    # A walk that found nothing would pass every file: it must see the services' codes.
    assert len(list(raise_sites(ROOT / "procurement/services/orders.py"))) > 5


@pytest.mark.parametrize(
    "enum", [AccountErrorCode, CatalogErrorCode, ProcurementErrorCode, NotificationErrorCode]
)
def test_every_domain_enum_repeats_the_common_codes(enum):
    assert {c.value for c in CommonErrorCode} <= set(enum._value2member_map_)
