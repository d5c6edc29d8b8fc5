"""Ledger reads for auditors: summaries by dimension, target progress, entries.

Summaries are answered from the rollups whenever the grouping and the filters together name at
most two non-time dimensions and the date range covers whole months; otherwise they are summed
from the entries (always correct, slower on large ledgers). Of the rollups, the year cells when
the summary is not by MONTH and its range covers whole years (a twelfth of the rows), else the
month cells.

Public values of the dimensions (what a summary's keys carry and what a filter takes, so any row
can be fed back as a filter): CITY is the city's administrative division code (entries snapshot the
city's name, translated here through the City reference table), COUNTY the county's code, AGENCY and
SUPPLIER the database id (the API turns them into global IDs), the others their stored value. An
empty value stands for entries without one (imports have no agency or supplier).
"""

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Count, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, ExtractMonth, ExtractYear, NullIf
from django.utils import timezone

from catalog.models import City
from procurement import access
from procurement.models import ContributionEntry, ContributionRollup, RollupPeriod, Target
from procurement.reports import dimensions, rollups
from procurement.reports.rollups import grouping_key
from shop.accounts.models import Role
from shop.core.errors import BadUserInput
from shop.core.permissions import require_role

TIME_DIMENSIONS = dimensions.TIME_DIMENSIONS
GROUP_DIMENSIONS = dimensions.group_dimensions()
ENTRY_FIELD = {d.name: d.value_attr for d in dimensions.DIMENSIONS}
LABEL_FIELD = {d.name: d.label_attr for d in dimensions.DIMENSIONS}


@dataclass
class LedgerFilter:
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    values: dict[str, list[str]] = field(default_factory=dict)  # dimension → allowed values

    @classmethod
    def of(
        cls, date_from: date | None, date_to: date | None, public: dict[str, list[str]]
    ) -> "LedgerFilter":
        """A filter from public values (see the module's docstring): codes (a city's) become
        the stored values (its name); an unknown code matches nothing."""
        values = dict(public)
        for name, codes in _coded(values).items():
            stored = {code: value for value, code in codes.items()}
            values[name] = [stored.get(code, code) if code else "" for code in values[name]]
        return cls(date_from, date_to, values)


def _coded(names) -> dict[str, dict[str, str]]:
    """Stored value → public code of the coded dimensions among `names`."""
    coded = [dimensions.dimension(n) for n in names if n not in TIME_DIMENSIONS]
    return {d.name: d.public_codes() for d in coded if d.public_codes is not None}


# Dimensions whose stored value is a nullable foreign key: "" selects the entries without one.
NULLABLE_ID_DIMENSIONS = tuple(d.name for d in dimensions.DIMENSIONS if d.id_type)


def city_names() -> dict[str, str]:
    """Division code → name of the cities agencies are in (reference data, a dozen rows)."""
    return dict(City.objects.values_list("code", "name"))


def city_codes() -> dict[str, str]:
    return {name: code for code, name in city_names().items()}


@dataclass(frozen=True)
class SummaryKey:
    dimension: str
    value: str
    label: str


@dataclass(frozen=True)
class SummaryRow:
    keys: list[SummaryKey]
    total: Decimal
    entry_count: int


@dataclass(frozen=True)
class Summary:
    """`total` and `entry_count` cover every group; `rows` is the page asked for (all rows
    when no page size is given), in the order of the grouping's values."""

    total: Decimal
    entry_count: int
    rows: list[SummaryRow]
    from_rollups: bool
    has_more: bool = False
    # The stored values of the page's last group: where the next page starts (`after`).
    end_key: list | None = None
    row_count: Callable[[], int] | None = None  # the number of groups; a query, run on demand


def scoped_filter(acting_user: Any, filters: LedgerFilter | None) -> LedgerFilter:
    """What the caller may read of the ledger (procurement/access.py)."""
    return access.ledger_scope(acting_user, filters or LedgerFilter())


def _month_aligned(filters: LedgerFilter) -> bool:
    starts_ok = filters.date_from is None or filters.date_from.day == 1
    ends_ok = filters.date_to is None or filters.date_to == _month_end(filters.date_to)
    return starts_ok and ends_ok


def _year_aligned(filters: LedgerFilter) -> bool:
    starts_ok = filters.date_from is None or (filters.date_from.month, filters.date_from.day) == (
        1,
        1,
    )
    ends_ok = filters.date_to is None or (filters.date_to.month, filters.date_to.day) == (12, 31)
    return starts_ok and ends_ok


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def contribution_summary(
    *,
    acting_user: Any,
    filters: LedgerFilter | None,
    group_by: list[str],
    first: int | None = None,
    after: list | None = None,
) -> Summary:
    """Totals by the `group_by` dimensions. With `first`, only that many groups, those after
    the group whose stored values are `after` (a previous page's `end_key`): a page is one
    index range of the rollups however many groups there are (issue 15: 15,000 agency ×
    supplier rows took 47 s to answer), and the totals still cover every group."""
    filters = scoped_filter(acting_user, filters)
    unknown = [g for g in group_by if g not in GROUP_DIMENSIONS]
    if unknown or len(set(group_by)) != len(group_by):
        raise BadUserInput(f"Cannot group by {unknown or group_by}.")
    dims = sorted({g for g in group_by if g not in TIME_DIMENSIONS} | set(filters.values))
    if len(dims) <= 2 and _month_aligned(filters):
        return _from_rollups(filters, group_by, dims, first, after)
    return _from_entries(filters, group_by, first, after)


def _checked_key(after: list | None, fields: list[str]) -> list | None:
    """`after` as the values of `fields` (YEAR and MONTH numbers, the others text), or a
    BadUserInput when it cannot be a group of this summary."""
    if after is None:
        return None
    if len(after) == len(fields) and all(
        isinstance(value, int) if name in TIME_DIMENSIONS else isinstance(value, str)
        for name, value in zip(fields, after, strict=True)
    ):
        return after
    raise BadUserInput("`after` is not a cursor of this summary; use the endCursor it handed out.")


def _beyond(fields: list[str], values: list) -> Q:
    """Groups after `values` in the order of `fields`: (f1 > v1) or (f1 = v1 and f2 > v2) …,
    and f1 ≥ v1 besides, which the database can use as an index range."""
    alternatives, equal = [], Q()
    for name, value in zip(fields, values, strict=True):
        alternatives.append(equal & Q(**{f"{name}__gt": value}))
        equal &= Q(**{name: value})
    either = Q()
    for alternative in alternatives:
        either |= alternative
    return Q(**{f"{fields[0]}__gte": values[0]}) & either


def _rollup_cells(filters: LedgerFilter, dims: list[str], by_year: bool) -> QuerySet:
    """The cells of the grouping `dims` (one or two dimensions, or none) within the filter."""
    cells = ContributionRollup.objects.filter(
        dimensions=grouping_key(dims),
        period=RollupPeriod.YEAR if by_year else RollupPeriod.MONTH,
    )
    if filters.date_from:
        cells = cells.filter(month__gte=filters.date_from)
    if filters.date_to:
        cells = cells.filter(month__lte=filters.date_to)
    column = {dim: f"value{n}" for n, dim in enumerate(dims, start=1)}
    for dim, allowed in filters.values.items():
        cells = cells.filter(**{f"{column[dim]}__in": allowed})
    return cells


def _from_rollups(
    filters: LedgerFilter,
    group_by: list[str],
    dims: list[str],
    first: int | None = None,
    after: list | None = None,
) -> Summary:
    """From the cells of the grouping and the entries of the filter not yet folded into them,
    in one statement (rollups.exact_sums); a page is each side's first groups after `after`."""
    by_year = "MONTH" not in group_by and _year_aligned(filters)
    cells = _rollup_cells(filters, dims, by_year)
    column = {dim: f"value{n}" for n, dim in enumerate(dims, start=1)}
    label = {dim: f"label{n}" for n, dim in enumerate(dims, start=1)}
    keys: dict[str, tuple[Any, Any]] = {}
    for g in group_by:
        if g in TIME_DIMENSIONS:
            keys["YEAR"] = (ExtractYear("month"), ExtractYear("business_date"))
        if g == "MONTH":
            keys["MONTH"] = (ExtractMonth("month"), ExtractMonth("business_date"))
        elif g not in TIME_DIMENSIONS:
            keys[f"v_{g}"] = (F(column[g]), _entry_value(g))
    fields = list(keys)
    key = _checked_key(after, fields)
    entries = entries_matching(filters)
    found = rollups.exact_sums(
        cells,
        entries,
        keys,
        {f"l_{g}": (F(label[g]), F(LABEL_FIELD[g])) for g in group_by if g in label},
        beyond=_beyond(fields, key) if key is not None else None,
        limit=first + 1 if first is not None else None,
    )
    page = found[:first] if first is not None else found
    result = [
        SummaryRow(
            keys=[_key(g, row, {d: f"v_{d}" for d in dims}, prefix="l_") for g in group_by],
            total=row["sum_total"],
            entry_count=row["sum_count"],
        )
        for row in page
    ]
    if first is None and key is None:
        return _summary(result, from_rollups=True)
    # The totals of every group: from the cells of the filter's own dimensions, the fewest.
    own = _rollup_cells(filters, sorted(filters.values), by_year)
    totals = rollups.exact_sums(own, entries, {})
    return Summary(
        total=totals[0]["sum_total"] if totals else Decimal("0.00"),
        entry_count=totals[0]["sum_count"] if totals else 0,
        rows=_public_values(result),
        from_rollups=True,
        has_more=len(found) > len(page),
        end_key=[page[-1][f] for f in fields] if page else None,
        row_count=lambda: rollups.exact_group_count(cells, entries, keys),
    )


def _entry_value(dimension: str) -> Coalesce:
    """An entry's value of `dimension` as a cell stores it: text, "" for none."""
    return Coalesce(Cast(ENTRY_FIELD[dimension], CharField()), Value(""))


def _public_values(rows: list[SummaryRow]) -> list[SummaryRow]:
    """Stored values as public ones: a city's name becomes its code (the name stays the label)."""
    coded = _coded([key.dimension for row in rows[:1] for key in row.keys])
    if not coded:
        return rows
    return [
        SummaryRow(
            keys=[
                SummaryKey(
                    key.dimension,
                    coded[key.dimension].get(key.value, key.value),
                    key.label or key.value,
                )
                if key.dimension in coded
                else key
                for key in row.keys
            ],
            total=row.total,
            entry_count=row.entry_count,
        )
        for row in rows
    ]


def _key(dimension: str, row: dict, column: dict[str, str], *, prefix: str) -> SummaryKey:
    if dimension == "YEAR":
        return SummaryKey("YEAR", str(row["YEAR"]), str(row["YEAR"]))
    if dimension == "MONTH":
        value = f"{row['YEAR']:04d}-{row['MONTH']:02d}"
        return SummaryKey("MONTH", value, value)
    value = row[column[dimension]]
    return SummaryKey(
        dimension, "" if value is None else str(value), str(row.get(f"{prefix}{dimension}") or "")
    )


def entries_matching(filters: LedgerFilter) -> QuerySet[ContributionEntry]:
    entries = ContributionEntry.objects.all()
    if filters.date_from:
        entries = entries.filter(business_date__gte=filters.date_from)
    if filters.date_to:
        entries = entries.filter(business_date__lte=filters.date_to)
    for dim, allowed in filters.values.items():
        if dim in NULLABLE_ID_DIMENSIONS and "" in allowed:
            ids = [v for v in allowed if v != ""]
            entries = entries.filter(
                Q(**{f"{ENTRY_FIELD[dim]}__in": ids}) | Q(**{f"{ENTRY_FIELD[dim]}__isnull": True})
            )
        else:
            entries = entries.filter(**{f"{ENTRY_FIELD[dim]}__in": allowed})
    return entries


def _from_entries(
    filters: LedgerFilter,
    group_by: list[str],
    first: int | None = None,
    after: list | None = None,
) -> Summary:
    annotations, fields = {}, []
    column = {}
    for g in group_by:
        if g == "YEAR":
            annotations["YEAR"] = ExtractYear("business_date")
            fields.append("YEAR")
        elif g == "MONTH":
            annotations.setdefault("YEAR", ExtractYear("business_date"))
            annotations["MONTH"] = ExtractMonth("business_date")
            fields += ["YEAR", "MONTH"]
        else:
            column[g] = ENTRY_FIELD[g]
            fields.append(ENTRY_FIELD[g])
    fields = list(dict.fromkeys(fields))
    rows = list(
        entries_matching(filters)
        .annotate(**annotations)
        .values(*fields)
        .annotate(
            sum_total=Sum("amount"),
            sum_count=Count("id"),
            **{f"l_{g}": Max(LABEL_FIELD[g]) for g in column},
        )
        .order_by(*fields)
    )
    summary = _summary(
        [
            SummaryRow(
                keys=[_key(g, row, column, prefix="l_") for g in group_by],
                total=row["sum_total"],
                entry_count=row["sum_count"],
            )
            for row in rows
        ],
        from_rollups=False,
    )
    if first is None and after is None:
        return summary
    # Summed from the entries, every group is at hand: the page is taken here. Group values
    # are stored as they are (ids as numbers), so the cursor compares them as they are.
    keys = [[row[f] for f in fields] for row in rows]
    start = 0
    if after is not None:
        if after not in keys:
            raise BadUserInput(
                "`after` is not a cursor of this summary; use the endCursor it handed out."
            )
        start = keys.index(after) + 1
    stop = len(rows) if first is None else min(start + first, len(rows))
    page = summary.rows[start:stop]
    return Summary(
        total=summary.total,
        entry_count=summary.entry_count,
        rows=page,
        from_rollups=False,
        has_more=stop < len(rows),
        end_key=keys[stop - 1] if page else None,
        row_count=lambda: len(rows),
    )


def _summary(rows: list[SummaryRow], *, from_rollups: bool) -> Summary:
    rows = _public_values(rows)
    total = sum((row.total for row in rows), Decimal("0.00"))
    return Summary(
        total=total,
        entry_count=sum(r.entry_count for r in rows),
        rows=rows,
        from_rollups=from_rollups,
        row_count=lambda: len(rows),
    )


# --- Targets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearAmount:
    year: int
    amount: Decimal


@dataclass(frozen=True)
class TargetProgress:
    target: Target
    achieved: Decimal
    percent: Decimal
    elapsed_percent: Decimal
    projected_total: Decimal
    on_track: bool
    by_year: list[YearAmount]


def targets_visible_to(*, acting_user: Any) -> QuerySet[Target]:
    require_role(acting_user, Role.OPERATOR, Role.AUDITOR, Role.AGENCY)
    return Target.objects.order_by("start_date", "code")


def covers(target: Target, day: date) -> bool:
    return target.start_date <= day <= target.end_date


@dataclass(frozen=True)
class TargetCoverage:
    """Which target today's bookings count toward, or that none does."""

    date: date
    current: Target | None  # the widest target covering `date`
    covering: list[Target]
    last_ended: Target | None  # the latest target that ended before `date`
    next_starting: Target | None  # the earliest target starting after `date`

    @property
    def message(self) -> str:
        day = self.date.isoformat()
        if self.current is not None:
            target = self.current
            return (
                f"Today ({day}) counts toward {target.name} ({target.code}, "
                f"{target.start_date.isoformat()} to {target.end_date.isoformat()})."
            )
        parts = [
            f"No target covers today ({day}): new ledger entries are booked but count toward "
            "no target."
        ]
        if self.last_ended is not None:
            parts.append(
                f"The latest target, {self.last_ended.name} ({self.last_ended.code}), ended on "
                f"{self.last_ended.end_date.isoformat()}."
            )
        if self.next_starting is not None:
            parts.append(
                f"The next, {self.next_starting.name} ({self.next_starting.code}), starts on "
                f"{self.next_starting.start_date.isoformat()}."
            )
        parts.append(
            "An operator adds the next plan's target with the targetCreate mutation "
            "(code, name, amount, startDate, endDate)."
        )
        return " ".join(parts)


def target_coverage(*, acting_user: Any, today: date | None = None) -> TargetCoverage:
    """The targets whose period includes today (Asia/Shanghai). The current one is the widest:
    a top-level, province-wide target before a sub-target or a per-city one."""
    today = today or timezone.localdate()
    targets = list(targets_visible_to(acting_user=acting_user))
    covering = [t for t in targets if covers(t, today)]
    covering.sort(key=lambda t: (t.parent_id is not None, bool(t.buyer_city), t.start_date, t.code))
    ended = [t for t in targets if t.end_date < today]
    upcoming = [t for t in targets if t.start_date > today]
    return TargetCoverage(
        date=today,
        current=covering[0] if covering else None,
        covering=covering,
        last_ended=max(ended, key=lambda t: (t.end_date, t.code), default=None),
        next_starting=min(upcoming, key=lambda t: (t.start_date, t.code), default=None),
    )


def _scope_values(target: Target) -> dict[str, list[str]]:
    values = {"ORIGIN_PROVINCE": [target.origin_province]}
    if target.buyer_city:
        values["CITY"] = [target.buyer_city]
    else:
        values["BUYER_PROVINCE"] = [target.buyer_province]
    return values


def _by_year(target: Target) -> dict[int, Decimal]:
    """Counted amounts per year inside the target's period and scope: whole years from the
    year rollups, the other whole months from the month rollups, partial edge months from the
    entries."""
    values = _scope_values(target)
    start, end = target.start_date, target.end_date
    first_full = start if start.day == 1 else _month_end(start) + timedelta(days=1)
    last_full = end if end == _month_end(end) else end.replace(day=1) - timedelta(days=1)
    totals: dict[int, Decimal] = {}
    if first_full <= last_full:
        dims = sorted(values)
        column = {dim: f"value{n}" for n, dim in enumerate(dims, start=1)}
        whole_years = [
            date(year, 1, 1)
            for year in range(first_full.year, last_full.year + 1)
            if date(year, 1, 1) >= first_full and date(year, 12, 31) <= last_full
        ]
        months = Q(period=RollupPeriod.MONTH, month__gte=first_full, month__lte=last_full)
        if whole_years:
            months &= ~Q(month__gte=whole_years[0], month__lte=date(whole_years[-1].year, 12, 1))
        cells = ContributionRollup.objects.filter(
            months | Q(period=RollupPeriod.YEAR, month__in=whole_years),
            dimensions=grouping_key(dims),
            **{f"{column[d]}__in": v for d, v in values.items()},
        )
        entries = entries_matching(LedgerFilter(first_full, last_full, values))
        year = (ExtractYear("month"), ExtractYear("business_date"))
        for row in rollups.exact_sums(cells, entries, {"year": year}):
            totals[row["year"]] = totals.get(row["year"], Decimal(0)) + row["sum_total"]
    edges = []
    if start < first_full:
        edges.append((start, min(end, first_full - timedelta(days=1))))
    if last_full < end and end.replace(day=1) >= first_full:
        edges.append((max(start, end.replace(day=1)), end))
    for edge_from, edge_to in edges:
        partial = entries_matching(LedgerFilter(edge_from, edge_to, values))
        for row in (
            partial.annotate(year=ExtractYear("business_date"))
            .values("year")
            .annotate(total=Sum("amount"))
        ):
            totals[row["year"]] = totals.get(row["year"], Decimal(0)) + row["total"]
    return totals


def target_progress(target: Target, today: date | None = None) -> TargetProgress:
    """Achieved = ledger entries in the target's period and scope; projected = achieved at the
    current run rate over the whole period; on track when the projection reaches the amount."""
    today = today or timezone.localdate()
    by_year = _by_year(target)
    achieved = sum(by_year.values(), Decimal("0.00"))
    total_days = (target.end_date - target.start_date).days + 1
    elapsed_days = min(max((today - target.start_date).days + 1, 0), total_days)
    elapsed_percent = Decimal(elapsed_days * 100) / total_days
    if elapsed_days == 0:
        projected = Decimal("0.00")
    else:
        projected = achieved * total_days / elapsed_days
    hundred = Decimal(100)
    return TargetProgress(
        target=target,
        achieved=achieved.quantize(Decimal("0.01")),
        percent=(achieved * hundred / target.amount).quantize(Decimal("0.01")),
        elapsed_percent=elapsed_percent.quantize(Decimal("0.01")),
        projected_total=projected.quantize(Decimal("0.01")),
        on_track=achieved >= target.amount or (elapsed_days > 0 and projected >= target.amount),
        by_year=[
            YearAmount(year, by_year.get(year, Decimal("0.00")).quantize(Decimal("0.01")))
            for year in range(target.start_date.year, target.end_date.year + 1)
        ],
    )


def contributions_visible_to(
    *, acting_user: Any, filters: LedgerFilter | None
) -> QuerySet[ContributionEntry]:
    """The entries behind the figures, newest first."""
    entries = entries_matching(scoped_filter(acting_user, filters))
    return (
        entries.select_related("order", "import_batch")
        .annotate(invoice=invoice_of_entry())
        .order_by("-position")
    )


def invoice_of_entry() -> Coalesce:
    """The entry's invoice number, or its order's: an order paid and accepted before its invoice
    was attached is booked with none, and the entry (hashed, append-only) cannot be updated."""
    return Coalesce(
        NullIf(F("invoice_number"), Value("")),
        NullIf(F("order__invoice_number"), Value("")),
        Value(""),
    )
