"""Lifecycles as data, one mover.

A `Lifecycle` is declared beside the statuses it moves between (catalog/models.py for suppliers
and products, procurement/models/orders.py for orders): which status may become which, the
time field each move stamps, where its history goes. `move` is the only way a status changes:
it checks the table (raising the domain's InvalidTransition code), stamps the time, saves,
writes the history row and the audit event, inside the caller's transaction. `enter` records
a subject's first status; `record` writes history rows for events that are not moves."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.apps import apps
from django.db import models
from django.utils import timezone

from shop.core import validation
from shop.core.audit import audit_record
from shop.core.bulk import insert_rows
from shop.core.errors import InvalidTransition
from shop.core.models import TransitionRecord


@dataclass(frozen=True)
class Lifecycle:
    # The subject's model name in lower case: it names the history's foreign key, the audit
    # actions ("order.confirmed") and the refusal's wording.
    subject: str
    statuses: type[models.TextChoices]
    # Status → the statuses it may become. Every status has a row, terminal ones an empty set.
    transitions: Mapping[str, frozenset[str]]
    # "app_label.Model" of the history rows: a label, because the table is declared next to the
    # statuses, above the history model.
    history: str
    invalid_transition: StrEnum
    # Status → the time field a move into it stamps.
    stamps: Mapping[str, str] = field(default_factory=dict)
    # A time field every move stamps (a supplier's `status_changed_at`).
    stamp_every_move: str = ""
    # One audit action for every move ("product.status"); by default "<subject>.<kind>".
    audit_action: str = ""
    # What a move changes outside the row (a supplier's listings leave the storefront),
    # called after the move inside the same transaction.
    on_move: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        # A status added to the enum but not to the table (or the reverse) fails at import.
        known = set(self.statuses.values)
        named = set(self.transitions) | {
            s for targets in self.transitions.values() for s in targets
        }
        if set(self.transitions) != known or not named <= known or not set(self.stamps) <= known:
            raise ValueError(
                f"The {self.subject} lifecycle must name each of {sorted(known)} once as a "
                f"source; it has {sorted(self.transitions)}, stamps {sorted(self.stamps)}."
            )

    def allows(self, from_status: str, to_status: str) -> bool:
        return to_status in self.transitions.get(from_status, frozenset())

    def check(self, from_status: str, to_status: str, *, field: str = "id") -> None:
        """Raise the domain's InvalidTransition unless the table allows the move."""
        if not self.allows(from_status, to_status):
            # Each domain's code (tests/shop/core/test_lifecycle.py checks it is its enum's).
            code = self.invalid_transition
            raise InvalidTransition(
                f"The {self.subject} is {from_status}: it cannot become {to_status}.",
                code=code,
                field=field,
            )

    def history_model(self) -> type[TransitionRecord]:
        return apps.get_model(self.history)


def _actor_fields(actor: Any) -> dict[str, Any]:
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return {"actor": actor if is_user else None, "actor_email": actor.email if is_user else ""}


def record(
    lifecycle: Lifecycle,
    *subjects: models.Model,
    kind: str,
    actor: Any,
    note: str = "",
    from_status: str = "",
    to_status: str = "",
    **extra: Any,
) -> list[TransitionRecord]:
    """History rows of one event for each subject, in one INSERT (no audit event: the caller's
    action says what was done)."""
    model = lifecycle.history_model()
    who = _actor_fields(actor)
    return insert_rows(
        validation.checked_rows(
            model(
                **{lifecycle.subject: subject},
                kind=kind,
                from_status=from_status,
                to_status=to_status,
                note=note,
                **who,
                **extra,
            )
            for subject in subjects
        )
    )


def _write(
    lifecycle: Lifecycle,
    subject: models.Model,
    *,
    kind: str,
    actor: Any,
    note: str,
    from_status: str,
    history: Mapping[str, Any] | None = None,
    audit: Mapping[str, Any] | None = None,
) -> TransitionRecord:
    """The history row and the audit event of `subject` reaching its current status."""
    to_status = subject.status
    (row,) = record(
        lifecycle,
        subject,
        kind=kind,
        actor=actor,
        note=note,
        from_status=from_status,
        to_status=to_status,
        **(history or {}),
    )
    audit_record(
        actor=actor,
        action=lifecycle.audit_action or f"{lifecycle.subject}.{kind}",
        target=subject,
        reason=note,
        data={"from": from_status, "to": to_status, **(audit or {})},
    )
    return row


def enter(
    lifecycle: Lifecycle, subject: models.Model, *, kind: str, actor: Any, note: str = ""
) -> TransitionRecord:
    """Record and audit that a new subject starts its life in its current status."""
    return _write(lifecycle, subject, kind=kind, actor=actor, note=note, from_status="")


def move(
    lifecycle: Lifecycle,
    subject: models.Model,
    to_status: str,
    *,
    actor: Any,
    note: str = "",
    kind: str = "",
    changes: Mapping[str, Any] | None = None,
    history: Mapping[str, Any] | None = None,
    audit: Mapping[str, Any] | None = None,
) -> TransitionRecord:
    """Move `subject` (locked by the caller) to `to_status` by the table: stamp the time, save
    the status with `changes` (other fields the move sets), write the history row (with the
    `history` extra columns) and the audit event (with `audit` added to its data)."""
    from_status = subject.status
    lifecycle.check(from_status, to_status)
    values: dict[str, Any] = {"status": to_status, **(changes or {})}
    now = timezone.now()
    for stamp in (lifecycle.stamps.get(to_status), lifecycle.stamp_every_move):
        if stamp:
            values[stamp] = now
    for name, value in values.items():
        setattr(subject, name, value)
    # An `auto_now` field (a product's `updated_at`) is only written when it is named.
    touched = [f.name for f in subject._meta.concrete_fields if getattr(f, "auto_now", False)]
    subject.save(update_fields=[*values, *touched])
    row = _write(
        lifecycle,
        subject,
        kind=kind or to_status.lower(),
        actor=actor,
        note=note,
        from_status=from_status,
        history=history,
        audit=audit,
    )
    if lifecycle.on_move is not None:
        lifecycle.on_move(subject)
    return row
