"""Operator-booked contributions: imports of purchases on other channels, and adjustments.

Import file (CSV, UTF-8, header row), one purchase per row:

    invoice_number, seller_credit_code, seller_name, buyer_name, buyer_type, buyer_city,
    purchase_date, amount, channel, category, origin_county_code, product_name

`buyer_type` is an AgencyType value (e.g. SCHOOL, SUPERMARKET), `buyer_city` a Fujian city
name (福州市), `purchase_date` YYYY-MM-DD, `amount` yuan with at most two decimals. Every row is
checked before anything is booked; one bad row refuses the whole file with the row numbers.
"""

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from stdnum.cn import uscc

from catalog.models import FUJIAN, NINGXIA, City
from procurement import ledger
from procurement.access import POLICIES
from procurement.errors import ProcurementErrorCode
from procurement.models import (
    ContributionEntry,
    ContributionImport,
    ContributionSource,
    Order,
    Target,
)
from procurement.reports import dimensions
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.errors import BadUserInput, DomainError, DomainErrors
from shop.core.money import quantize_cny
from shop.core.permissions import require_role

# The import file's own columns; the dimensions' are declared in procurement/reports/dimensions.py.
FIXED_IMPORT_COLUMNS = {
    "invoice_number": True,  # name → required
    "seller_credit_code": True,
    "purchase_date": True,
    "amount": True,
    "product_name": False,
}
DIMENSION_IMPORT_COLUMNS = {column.name: column for _d, column in dimensions.import_columns()}
# Where the columns sit in the template (the file is read by name), and what every file's
# header has; a new dimension's column follows the last one, and a file without it (made before
# it was added) still imports, the column empty.
IMPORT_LAYOUT = (
    "invoice_number",
    "seller_credit_code",
    "seller_name",
    "buyer_name",
    "buyer_type",
    "buyer_city",
    "purchase_date",
    "amount",
    "channel",
    "category",
    "origin_county_code",
    "product_name",
)
IMPORT_COLUMNS = dimensions.arranged(
    IMPORT_LAYOUT, FIXED_IMPORT_COLUMNS, list(DIMENSION_IMPORT_COLUMNS)
)
REQUIRED_IMPORT_COLUMNS = tuple(
    name
    for name in IMPORT_COLUMNS
    if FIXED_IMPORT_COLUMNS.get(name)
    or (name in DIMENSION_IMPORT_COLUMNS and DIMENSION_IMPORT_COLUMNS[name].required)
)
MAX_IMPORT_BYTES = 5 * 2**20
MAX_IMPORT_ROWS = 50_000


def invoice_key(seller_credit_code: str, invoice_number: str) -> str:
    return f"invoice:{seller_credit_code}:{invoice_number}"


def invoice_already_counted(seller_credit_code: str, invoice_number: str) -> bool:
    """One invoice (number + seller) is counted once, whether it came from an order or an
    import."""
    return (
        ContributionEntry.objects.filter(
            source_key=invoice_key(seller_credit_code, invoice_number)
        ).exists()
        or Order.objects.filter(
            invoice_seller_credit_code=seller_credit_code, invoice_number=invoice_number
        ).exists()
    )


def _amount(text: str) -> Decimal:
    return validation.money(text, column=validation.column(ContributionEntry, "amount"))


def _row_entry(number: int, row: dict[str, str], seen: set[str], refs: dict) -> ContributionEntry:
    """Validate one row; raise ValueError with what is wrong."""
    values = {k: (row.get(k) or "").strip() for k in IMPORT_COLUMNS}
    missing = [k for k in REQUIRED_IMPORT_COLUMNS if not values[k]]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    try:
        seller = uscc.validate(values["seller_credit_code"])
    except Exception as error:  # stdnum raises several ValidationError subclasses
        raise ValueError(
            f"seller credit code {values['seller_credit_code']!r} is invalid"
        ) from error
    if not seller[2:4] == "64":
        # Division code of the registering authority: only purchases from Ningxia suppliers
        # count, and only the first Fujian buyer's (a reseller's resale does not).
        raise ValueError(
            "the seller is not registered in Ningxia; only the first purchase from a "
            "Ningxia supplier counts"
        )
    key = invoice_key(seller, values["invoice_number"])
    if key in seen:
        raise ValueError("the same invoice appears twice in the file")
    if invoice_already_counted(seller, values["invoice_number"]):
        raise ValueError(f"invoice {values['invoice_number']} of {seller} is already counted")
    seen.add(key)
    try:
        purchased = validation.check_date(date.fromisoformat(values["purchase_date"]))
    except ValueError as error:
        raise ValueError("purchase_date must be YYYY-MM-DD") from error
    except BadUserInput as error:
        raise ValueError(f"purchase_date: {error}") from error
    if purchased > timezone.localdate():
        raise ValueError("purchase_date is in the future")
    try:
        amount = _amount(values["amount"])
    except BadUserInput as error:
        raise ValueError(
            "amount must be a positive number of yuan with at most 2 decimals"
        ) from error
    fields: dict[str, Any] = {}
    for name in IMPORT_COLUMNS:
        if name in DIMENSION_IMPORT_COLUMNS:
            fields.update(DIMENSION_IMPORT_COLUMNS[name].parse(values[name], refs.get(name)))
    entry = ContributionEntry(
        kind=ledger.kind_for(fields["agency_type"]),
        source=ContributionSource.IMPORT,
        amount=quantize_cny(amount),
        business_date=purchased,
        source_key=key,
        invoice_number=values["invoice_number"],
        seller_credit_code=seller,
        buyer_province=FUJIAN,
        origin_province=NINGXIA,
        product_name=values["product_name"][:128],
        **fields,
    )
    try:
        validation.check_columns(entry)
    except DomainError as error:
        raise ValueError("; ".join(f"{e.field}: {e.message}" for e in error.as_errors())) from error
    return entry


def _reference_data() -> dict:
    """What the dimensions' columns are checked against, loaded once per file."""
    columns = DIMENSION_IMPORT_COLUMNS.items()
    return {name: column.reference() for name, column in columns if column.reference}


@transaction.atomic
def contribution_import(*, acting_user: Any, filename: str, data: bytes) -> ContributionImport:
    """Book purchases made on other channels (e.g. the 832 platform), all or nothing."""
    require_role(acting_user, *POLICIES["contributionImport"])
    if len(data) > MAX_IMPORT_BYTES:
        raise DomainError(
            f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB.",
            code=ProcurementErrorCode.INVALID,
            field="file",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DomainError(
            "The file is not UTF-8 text.", code=ProcurementErrorCode.INVALID, field="file"
        ) from error
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in IMPORT_LAYOUT if c not in (reader.fieldnames or [])]
    if missing:
        raise DomainError(
            f"The header lacks {', '.join(missing)}.",
            code=ProcurementErrorCode.INVALID,
            field="file",
        )
    refs, seen = _reference_data(), set()
    entries, errors = [], []
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        if number - 1 > MAX_IMPORT_ROWS:
            errors.append(
                DomainError(
                    f"More than {MAX_IMPORT_ROWS} rows.",
                    code=ProcurementErrorCode.INVALID,
                    field="file",
                )
            )
            break
        try:
            entries.append(_row_entry(number, row, seen, refs))
        except ValueError as error:
            errors.append(
                DomainError(
                    f"Row {number}: {error}.", code=ProcurementErrorCode.INVALID, field="file"
                )
            )
    if errors:
        raise DomainErrors(errors[:100])
    if not entries:
        raise DomainError("The file has no rows.", code=ProcurementErrorCode.INVALID, field="file")
    batch = ContributionImport.objects.create(
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        row_count=len(entries),
        total=sum((e.amount for e in entries), Decimal("0.00")),
        created_by=acting_user,
    )
    for entry in entries:
        entry.import_batch, entry.created_by = batch, acting_user
    ledger.append(entries)
    audit_record(
        actor=acting_user,
        action="ledger.import",
        target=batch,
        data={"rows": batch.row_count, "total": str(batch.total)},
    )
    return batch


@dataclass
class AdjustmentInput:
    amount: Any
    business_date: date
    reason: str
    kind: str = "PURCHASE"
    channel: str = "ADJUSTMENT"
    agency_city: str = ""  # deprecated: a city name
    category: str = ""
    agency_city_code: str = ""


@transaction.atomic
def contribution_adjust(*, acting_user: Any, data: AdjustmentInput) -> ContributionEntry:
    """A signed correction with a mandatory reason (operator). History is never edited."""
    require_role(acting_user, *POLICIES["contributionAdjust"])
    reason = (data.reason or "").strip()
    errors = []
    if not reason:
        errors.append(
            DomainError(
                "An adjustment needs a reason.", code=ProcurementErrorCode.REQUIRED, field="reason"
            )
        )
    try:
        amount = validation.money(
            data.amount,
            column=validation.column(ContributionEntry, "amount"),
            field="amount",
            code=ProcurementErrorCode.INVALID_AMOUNT,
            sign="nonzero",
        )
    except DomainError as error:
        errors.append(error)
    if data.kind not in ("PURCHASE", "HELPED_SALES"):
        errors.append(DomainError("Unknown kind.", code=ProcurementErrorCode.INVALID, field="kind"))
    agency_city = _city_name(
        code=data.agency_city_code,
        name=data.agency_city,
        province=FUJIAN,
        fields=("cityCode", "city"),
        errors=errors,
    )
    if errors:
        raise DomainErrors(errors)
    (entry,) = ledger.append(
        [
            ContributionEntry(
                kind=data.kind,
                source=ContributionSource.ADJUSTMENT,
                amount=amount,
                business_date=data.business_date,
                source_key=f"adjustment:{uuid.uuid4().hex}",
                reason=reason,
                channel=(data.channel or "ADJUSTMENT")[:32],
                buyer_province=FUJIAN,
                agency_city=agency_city,
                origin_province=NINGXIA,
                category=data.category,
                created_by=acting_user,
            )
        ]
    )
    audit_record(
        actor=acting_user,
        action="ledger.adjust",
        target=entry,
        reason=reason,
        data={"amount": str(entry.amount)},
    )
    return entry


def _city_name(
    *, code: str, name: str, province: str, fields: tuple[str, str], errors: list[DomainError]
) -> str:
    """The name (what entries and targets store) of a city given by its division code or, the
    deprecated way, by its name; appends an error naming the field at fault otherwise."""
    code_field, name_field = fields
    if code and name:
        errors.append(
            DomainError(
                "Give the city's code or its name, not both.",
                code=ProcurementErrorCode.INVALID,
                field=code_field,
            )
        )
        return ""
    if not code and not name:
        return ""
    lookup = {"code": code} if code else {"name": name}
    found = City.objects.filter(province=province, **lookup).values_list("name", flat=True).first()
    if found is None:
        errors.append(
            DomainError(
                f"Not a city of {province}.",
                code=ProcurementErrorCode.NOT_FOUND,
                field=code_field if code else name_field,
            )
        )
        return ""
    return found


@dataclass
class TargetInput:
    code: str
    name: str
    amount: Any
    start_date: date
    end_date: date
    buyer_province: str = FUJIAN
    origin_province: str = NINGXIA
    buyer_city: str = ""  # deprecated: a city name
    parent_code: str = ""
    buyer_city_code: str = ""


@transaction.atomic
def target_create(*, acting_user: Any, data: TargetInput) -> Target:
    """Add a target: the next plan's, or a yearly or per-city sub-target (operator)."""
    require_role(acting_user, *POLICIES["targetCreate"])
    errors = []
    code = (data.code or "").strip()
    if not code or Target.objects.filter(code=code).exists():
        errors.append(
            DomainError(
                "A new, unique code is required.", code=ProcurementErrorCode.UNIQUE, field="code"
            )
        )
    try:
        amount = validation.money(
            data.amount,
            column=validation.column(Target, "amount"),
            field="amount",
            code=ProcurementErrorCode.INVALID_AMOUNT,
        )
    except DomainError as error:
        errors.append(error)
    if data.end_date < data.start_date:
        errors.append(
            DomainError(
                "The period ends before it starts.",
                code=ProcurementErrorCode.INVALID,
                field="endDate",
            )
        )
    buyer_city = _city_name(
        code=data.buyer_city_code,
        name=data.buyer_city,
        province=data.buyer_province,
        fields=("buyerCityCode", "buyerCity"),
        errors=errors,
    )
    parent = None
    if data.parent_code:
        parent = Target.objects.filter(code=data.parent_code).first()
        if parent is None:
            errors.append(
                DomainError(
                    "No such parent target.",
                    code=ProcurementErrorCode.NOT_FOUND,
                    field="parentCode",
                )
            )
    if errors:
        raise DomainErrors(errors)
    target = Target.objects.create(
        code=code,
        name=(data.name or code).strip(),
        amount=quantize_cny(amount),
        start_date=data.start_date,
        end_date=data.end_date,
        buyer_province=data.buyer_province,
        origin_province=data.origin_province,
        buyer_city=buyer_city,
        parent=parent,
    )
    audit_record(
        actor=acting_user,
        action="target.create",
        target=target,
        data={"amount": str(target.amount)},
    )
    return target
