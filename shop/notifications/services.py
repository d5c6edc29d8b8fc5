"""Publishing events, and each organisation's webhook endpoints and each user's e-mails.

`publish` is what the catalog and procurement call, inside the transaction of the change they
report: it records the event and one delivery per subscribed endpoint, stores the in-app
notifications and, only once that transaction commits, queues the jobs that make the network
calls (shop/notifications/jobs.py). Nothing here opens a connection to anything but the
database."""

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from shop.accounts.models import Role
from shop.accounts.organisations import membership_in, organisation_id_path
from shop.core import validation
from shop.core.audit import audit_record
from shop.core.bulk import insert_rows
from shop.core.compiled import CompiledQuery, ids_marker
from shop.core.errors import DomainError, DomainErrors, NotFound, PermissionDenied
from shop.core.jobs import enqueue_on_commit
from shop.core.notifications import Note, notify_many
from shop.core.permissions import require_role
from shop.notifications.access import MANAGER_ROLES, SIGNED_IN
from shop.notifications.delivery import url_problem
from shop.notifications.errors import NotificationErrorCode as Code
from shop.notifications.events import SUBSCRIBABLE, EventType, Organisation, OrganisationKind
from shop.notifications.models import (
    DeliveryStatus,
    EmailPreference,
    OutboundEvent,
    WebhookDelivery,
    WebhookEndpoint,
)

# --- publishing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """The in-app notification and e-mail that go with an event to its organisations' people."""

    subject: str
    body: str
    extra_emails: tuple[str, ...] = ()  # e.g. a supplier's contact address


@dataclass(frozen=True)
class Draft:
    """An event to publish: what happened, to whom, and what their people are told."""

    event_type: EventType
    data: dict[str, Any]
    organisations: tuple[Organisation, ...]
    message: Message | None = None
    # whose people get `message` (default: every organisation of the event)
    message_to: tuple[Organisation, ...] | None = None

    def readers(self) -> tuple[Organisation, ...]:
        return self.organisations if self.message_to is None else self.message_to


@dataclass(frozen=True)
class Published:
    events: list[OutboundEvent]
    deliveries: int
    notified: int  # in-app notifications stored


def _split(organisations: Iterable[Organisation]) -> tuple[set[int], set[int]]:
    suppliers, agencies = set(), set()
    for kind, pk in organisations:
        (suppliers if kind == OrganisationKind.SUPPLIER else agencies).add(pk)
    return suppliers, agencies


def event_body(event: OutboundEvent, data: dict[str, Any]) -> str:
    """The JSON every endpoint receives for `event`."""
    return json.dumps(
        {
            "id": f"evt_{event.public_id.hex}",
            "type": event.event_type,
            "createdAt": event.created_at.isoformat(),
            "data": data,
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        sort_keys=True,
    )


def _new_event(draft: Draft, now) -> OutboundEvent:
    event = OutboundEvent(
        event_type=str(draft.event_type),
        organisations=[[str(kind), pk] for kind, pk in draft.organisations],
        created_at=now,
    )
    event.payload = event_body(event, draft.data)
    return event


def _queue(pairs: list[tuple[OutboundEvent, WebhookEndpoint]]) -> int:
    """One delivery per (event, endpoint), due now; the sending job is queued after commit."""
    if not pairs:
        return 0
    now = timezone.now()
    insert_rows(
        [WebhookDelivery(event=event, endpoint=e, next_attempt_at=now) for event, e in pairs]
    )
    from shop.notifications.jobs import webhooks_deliver_due

    enqueue_on_commit(webhooks_deliver_due)
    return len(pairs)


def _hears(endpoint: WebhookEndpoint, draft: Draft) -> bool:
    if str(draft.event_type) not in endpoint.event_types:
        return False
    if endpoint.supplier_id is None and endpoint.agency_id is None:
        return True  # a platform endpoint
    return (OrganisationKind.SUPPLIER, endpoint.supplier_id) in draft.organisations or (
        OrganisationKind.AGENCY,
        endpoint.agency_id,
    ) in draft.organisations


@dataclass(frozen=True)
class _Person:
    """An active user of an organisation an event concerns, read as values (publishing runs
    in every checkout: no model instances for rows it only reads)."""

    pk: int
    email: str
    supplier_id: int | None
    agency_id: int | None
    email_event_types: list[str] | None  # None: no preference row yet, so every type
    is_active: bool = True

    def wants_email(self, event_type: EventType) -> bool:
        """Whether they are e-mailed about `event_type` (everything, until they choose)."""
        return self.email_event_types is None or str(event_type) in self.email_event_types


def _people_query(suppliers: list[int], agencies: list[int]) -> QuerySet:
    return (
        get_user_model()
        .objects.filter(
            membership_in("supplier", suppliers) | membership_in("agency", agencies),
            is_active=True,
        )
        .order_by("pk")
        .values_list(
            "pk",
            "email",
            organisation_id_path("supplier"),
            organisation_id_path("agency"),
            "email_preference__event_types",
        )
    )


def _endpoints_query(suppliers: list[int], agencies: list[int]) -> QuerySet:
    """The active endpoints that may hear an event of these organisations: theirs and the
    platform's (`_hears` decides by event type)."""
    owners = (
        Q(supplier__isnull=True, agency__isnull=True)
        | Q(supplier_id__in_ids=suppliers)
        | Q(agency_id__in_ids=agencies)
    )
    return WebhookEndpoint.objects.filter(owners, is_active=True).order_by("id")


# Every checkout publishes: these two reads are compiled once per process
# (shop/core/compiled.py).
_PEOPLE_READ = CompiledQuery(
    get_user_model(), _people_query, suppliers=ids_marker(0), agencies=ids_marker(1)
)
_ENDPOINTS_READ = CompiledQuery(
    WebhookEndpoint, _endpoints_query, suppliers=ids_marker(0), agencies=ids_marker(1)
)


def _people(suppliers: set[int], agencies: set[int]) -> list[_Person]:
    rows = _PEOPLE_READ.rows(suppliers=list(suppliers), agencies=list(agencies))
    return [_Person(*row) for row in rows]


def _members(users: list[_Person], organisations: tuple[Organisation, ...]) -> list[_Person]:
    suppliers, agencies = _split(organisations)
    return [u for u in users if u.supplier_id in suppliers or u.agency_id in agencies]


def publish_all(drafts: list[Draft]) -> Published:
    """Record `drafts` in the caller's transaction: each event, one delivery per active endpoint
    of its organisations (and per platform endpoint) subscribed to its type, and its message
    for their people. The deliveries and e-mails leave after commit, as background jobs. A
    constant number of statements however many drafts (a checkout publishes one per order)."""
    if not drafts:
        return Published(events=[], deliveries=0, notified=0)
    now = timezone.now()
    events = insert_rows([_new_event(d, now) for d in drafts])
    suppliers, agencies = _split(o for d in drafts for o in d.organisations)
    # Matched in Python: SQLite (the embedded default) has no JSON containment, and an
    # organisation has a handful of endpoints.
    endpoints = _ENDPOINTS_READ.instances(suppliers=list(suppliers), agencies=list(agencies))
    deliveries = _queue(
        [
            (event, e)
            for event, d in zip(events, drafts, strict=True)
            for e in endpoints
            if _hears(e, d)
        ]
    )
    notified = 0
    with_message = [d for d in drafts if d.message is not None and d.readers()]
    if with_message:
        users = _people(suppliers, agencies)
        notes = []
        for draft in with_message:
            people = _members(users, draft.readers())
            notes.append(
                Note(
                    users=people,
                    subject=draft.message.subject,
                    body=draft.message.body,
                    email_to=[u for u in people if u.wants_email(draft.event_type)],
                    extra_emails=draft.message.extra_emails,
                )
            )
        notified = notify_many(notes)
    return Published(events=events, deliveries=deliveries, notified=notified)


def publish(
    event_type: EventType,
    data: dict[str, Any],
    organisations: Iterable[Organisation],
    *,
    message: Message | None = None,
    message_to: Iterable[Organisation] | None = None,
) -> Published:
    """One event: see `publish_all`."""
    readers = None if message_to is None else tuple(message_to)
    organisations = tuple(dict.fromkeys(organisations))
    return publish_all([Draft(event_type, data, organisations, message, readers)])


# --- endpoints ----------------------------------------------------------------------------


def _owner_of(user: Any) -> dict[str, int]:
    """The organisation a supplier or agency user manages endpoints for."""
    if user.role == Role.SUPPLIER and user.supplier_id:
        return {"supplier_id": user.supplier_id}
    if user.role == Role.AGENCY and user.agency_id:
        return {"agency_id": user.agency_id}
    raise PermissionDenied("Only an organisation's own staff manage its webhooks.")


def managed_endpoints(acting_user: Any):
    """The endpoints the caller may see and change: operators all, others their own."""
    require_role(acting_user, *MANAGER_ROLES)
    endpoints = WebhookEndpoint.objects.all()
    if acting_user.role != Role.OPERATOR:
        endpoints = endpoints.filter(**_owner_of(acting_user))
    return endpoints


def _endpoint_for(acting_user: Any, endpoint_id: int | None) -> WebhookEndpoint:
    endpoint = (
        managed_endpoints(acting_user).select_for_update().filter(pk=endpoint_id or 0).first()
    )
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", field="id", code=Code.NOT_FOUND)
    return endpoint


def _clean_url(url: str | None) -> str:
    url = validation.text(
        (url or "").strip(),
        column=validation.column(WebhookEndpoint, "url"),
        field="url",
        code=Code.INVALID_URL,
    )
    if not url:
        raise DomainError("Give the URL to POST events to.", code=Code.REQUIRED, field="url")
    problem = url_problem(url)
    if problem:
        raise DomainError(problem.message, code=problem.code, field="url")
    return url


def _clean_description(description: str) -> str:
    return validation.text(
        description.strip(),
        column=validation.column(WebhookEndpoint, "description"),
        field="description",
        code=Code.INVALID,
    )


def _clean_event_types(values: Iterable[str] | None) -> list[str]:
    chosen = [str(v) for v in (values or [])]
    if not chosen:
        raise DomainError(
            "Subscribe to at least one event type.", code=Code.REQUIRED, field="eventTypes"
        )
    allowed = {str(t) for t in SUBSCRIBABLE}
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise DomainError(
            f"Unknown event types: {', '.join(unknown)}.",
            code=Code.UNKNOWN_EVENT_TYPE,
            field="eventTypes",
        )
    return sorted(set(chosen), key=[str(t) for t in SUBSCRIBABLE].index)


_CLEANERS = {
    "url": _clean_url,
    "event_types": _clean_event_types,
    "description": _clean_description,
}


def _cleaned(**given: Any) -> dict[str, Any]:
    """The given (not None) fields cleaned, every bad one reported at once."""
    errors: list[DomainError] = []
    cleaned = {
        name: validation.collecting(errors, _CLEANERS[name], value)
        for name, value in given.items()
        if value is not None
    }
    if errors:
        raise DomainErrors(errors)
    return cleaned


def _operator_owner(supplier_id: int | None, agency_id: int | None) -> dict[str, int]:
    """An operator names the supplier or agency (or neither: a platform endpoint)."""
    if supplier_id is not None and agency_id is not None:
        raise DomainError(
            "An endpoint belongs to a supplier or an agency, not both.",
            code=Code.INVALID,
            field="agencyId",
        )
    for field, pk in (("supplier", supplier_id), ("agency", agency_id)):
        if pk is None:
            continue
        model = WebhookEndpoint._meta.get_field(field).related_model
        if not model.objects.filter(pk=pk).exists():
            raise NotFound(f"No such {field}.", field=f"{field}Id", code=Code.NOT_FOUND)
        return {f"{field}_id": pk}
    return {}


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@transaction.atomic
def webhook_endpoint_create(
    *,
    acting_user: Any,
    url: str,
    event_types: list[str],
    description: str = "",
    is_active: bool = True,
    supplier_id: int | None = None,
    agency_id: int | None = None,
) -> WebhookEndpoint:
    """Register an endpoint for the caller's organisation (operators: for any, or the
    platform). Its secret is returned once here, and again only when rotated."""
    require_role(acting_user, *MANAGER_ROLES)
    if acting_user.role == Role.OPERATOR:
        owner = _operator_owner(supplier_id, agency_id)
    else:
        owner = _owner_of(acting_user)
        if supplier_id is not None or agency_id is not None:
            raise PermissionDenied("Only operators register endpoints for others.")
    cleaned = _cleaned(url=url, event_types=event_types, description=description or "")
    # Locks the owner's existing rows so two creations in parallel cannot both pass the limit.
    existing = WebhookEndpoint.objects.select_for_update().filter(**owner)
    if not owner:
        existing = existing.filter(supplier__isnull=True, agency__isnull=True)
    if len(existing) >= settings.WEBHOOKS_MAX_ENDPOINTS:
        raise DomainError(
            f"At most {settings.WEBHOOKS_MAX_ENDPOINTS} endpoints per organisation.",
            code=Code.TOO_MANY_ENDPOINTS,
            field="url",
        )
    endpoint = WebhookEndpoint.objects.create(
        **owner,
        **cleaned,
        secret=new_secret(),
        is_active=bool(is_active),
        created_by=acting_user,
    )
    audit_record(
        actor=acting_user,
        action="webhook_endpoint.create",
        target=endpoint,
        data={"url": endpoint.url, "event_types": endpoint.event_types, **owner},
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *,
    acting_user: Any,
    endpoint_id: int | None,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
    rotate_secret: bool = False,
) -> WebhookEndpoint:
    """Change what was given; `rotate_secret` issues a new secret (the old one stops at once)."""
    endpoint = _endpoint_for(acting_user, endpoint_id)
    changes = _cleaned(url=url, event_types=event_types, description=description)
    if is_active is not None:
        changes["is_active"] = bool(is_active)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if rotate_secret:
        endpoint.secret = new_secret()
    endpoint.save()
    audit_record(
        actor=acting_user,
        action="webhook_endpoint.update",
        target=endpoint,
        data={**changes, "rotated_secret": bool(rotate_secret)},
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, acting_user: Any, endpoint_id: int | None) -> int:
    """Remove an endpoint and its delivery log; its pending deliveries are not sent."""
    endpoint = _endpoint_for(acting_user, endpoint_id)
    pk = endpoint.pk
    audit_record(
        actor=acting_user,
        action="webhook_endpoint.delete",
        target=endpoint,
        data={"url": endpoint.url},
    )
    endpoint.delete()
    return pk


@transaction.atomic
def webhook_test(*, acting_user: Any, endpoint_id: int | None) -> WebhookDelivery:
    """Send a `webhook.test` event to one endpoint, through the same queue as real events."""
    endpoint = _endpoint_for(acting_user, endpoint_id)
    if not endpoint.is_active:
        raise DomainError(
            "Activate the endpoint before testing it.", code=Code.ENDPOINT_INACTIVE, field="id"
        )
    owner = [
        (kind, pk)
        for kind, pk in (
            (OrganisationKind.SUPPLIER, endpoint.supplier_id),
            (OrganisationKind.AGENCY, endpoint.agency_id),
        )
        if pk
    ]
    draft = Draft(
        EventType.WEBHOOK_TEST,
        {"endpointUrl": endpoint.url, "requestedBy": acting_user.email},
        tuple(owner),
    )
    event = _new_event(draft, timezone.now())
    event.save()
    _queue([(event, endpoint)])
    audit_record(actor=acting_user, action="webhook_endpoint.test", target=endpoint)
    return WebhookDelivery.objects.select_related("event", "endpoint").get(
        event=event, endpoint=endpoint
    )


# --- e-mail preferences -------------------------------------------------------------------


def email_event_types(user: Any) -> list[str]:
    require_role(user, *SIGNED_IN)
    preference = EmailPreference.objects.filter(user=user).first()
    return preference.event_types if preference else [str(t) for t in SUBSCRIBABLE]


@transaction.atomic
def email_preferences_update(*, acting_user: Any, event_types: list[str]) -> list[str]:
    """The event types the caller wants e-mails about (an empty list: none)."""
    require_role(acting_user, *SIGNED_IN)
    chosen = _clean_event_types(event_types) if event_types else []
    EmailPreference.objects.update_or_create(user=acting_user, defaults={"event_types": chosen})
    audit_record(
        actor=acting_user,
        action="notification_preferences.update",
        target=acting_user,
        data={"email_event_types": chosen},
    )
    return chosen


__all__ = ["DeliveryStatus", "Message", "publish"]
