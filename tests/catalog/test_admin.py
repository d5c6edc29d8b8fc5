"""The operators' Django admin: the review queue and the supplier and certification actions
go through the same services as GraphQL (docs/design.md §3)."""

import contextlib
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import (
    BlacklistEntry,
    Category,
    County,
    ProductStatus,
    ProductTransition,
    Supplier,
    SupplierStatus,
    SupplierTransition,
)
from shop.accounts.models import Role
from shop.core.models import AuditEvent
from tests.factories import (
    HouseholdFactory,
    ProductFactory,
    SupplierFactory,
    TierPriceFactory,
    UserFactory,
)
from tests.factories.catalog import category, county, in_days

S = SupplierStatus
P = ProductStatus


def url(name: str, *args) -> str:
    return reverse(f"admin:catalog_{name}", args=args)


@pytest.fixture
def operator_client(operator) -> Client:
    """An operator as created by the service: staff, no superuser, no model permissions."""
    client = Client()
    client.force_login(operator)
    return client


def run_action(client: Client, changelist: str, action: str, objects, **form) -> object:
    """Post the action from the change list and confirm it on the intermediate page."""
    data = {"action": action, "_selected_action": [o.pk for o in objects], "confirm": "yes"}
    return client.post(url(changelist), {**data, **form}, follow=True)


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def supplier_history(supplier: Supplier) -> tuple[list, list]:
    transitions = list(
        SupplierTransition.objects.filter(supplier=supplier).values_list(
            "from_status", "to_status", "actor_email", "note"
        )
    )
    events = list(
        AuditEvent.objects.filter(object_type="catalog.supplier", object_id=str(supplier.pk))
        .order_by("id")
        .values_list("action", "actor_email", "reason")
    )
    return transitions, events


# --- Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"role": Role.CONSUMER},
        {"role": Role.AUDITOR},
        {"role": Role.OPERATOR, "is_staff": False},
    ],
)
def test_non_staff_are_sent_to_the_login_page(db, fields):
    client = Client()
    client.force_login(UserFactory(**fields))
    response = client.get(url("supplier_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_an_operator_sees_the_catalog_pages_without_model_permissions(operator_client):
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 200
    names = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert {"Supplier", "SupplierReviewQueue", "Product", "County", "BlacklistEntry"} <= names


def test_a_staff_account_without_the_operator_role_is_refused_by_the_service(db):
    supplier = SupplierFactory(status=S.RECOMMENDED)
    client = Client()
    client.force_login(UserFactory(role=Role.AUDITOR, is_staff=True, is_superuser=True))
    response = run_action(client, "supplier_changelist", "admit", [supplier], reason="")
    assert "You do not have permission to perform this action." in message_texts(response)
    supplier.refresh_from_db()
    assert supplier.status == S.RECOMMENDED
    assert supplier_history(supplier) == ([], [])


# --- Review queue -------------------------------------------------------------------------------


def make_applicants():
    now = timezone.now()
    return {
        "applied": SupplierFactory(status=S.APPLIED, status_changed_at=now - timedelta(days=9)),
        "recent": SupplierFactory(status=S.RECOMMENDED, status_changed_at=now - timedelta(days=1)),
        "oldest": SupplierFactory(status=S.RECOMMENDED, status_changed_at=now - timedelta(days=5)),
        "admitted": SupplierFactory(status=S.ADMITTED, status_changed_at=now - timedelta(days=30)),
        "rejected": SupplierFactory(status=S.REJECTED, status_changed_at=now - timedelta(days=30)),
    }


def queue(client: Client) -> list[int]:
    response = client.get(url("supplierreviewqueue_changelist"))
    assert response.status_code == 200
    return [s.pk for s in response.context["cl"].result_list]


def test_the_review_queue_lists_recommended_suppliers_oldest_first(operator_client):
    s = make_applicants()
    assert queue(operator_client) == [s["oldest"].pk, s["recent"].pk]


def test_without_the_county_step_the_queue_also_lists_applicants(operator_client, settings):
    settings.SUPPLIER_COUNTY_STEP = False
    s = make_applicants()
    assert queue(operator_client) == [s["applied"].pk, s["oldest"].pk, s["recent"].pk]


def test_admitting_from_the_queue_asks_for_a_note_then_calls_the_service(operator_client, operator):
    supplier = SupplierFactory(status=S.RECOMMENDED)
    changelist = url("supplierreviewqueue_changelist")

    page = operator_client.post(changelist, {"action": "admit", "_selected_action": [supplier.pk]})
    assert page.status_code == 200
    assert "admin/catalog/action_confirmation.html" in [t.name for t in page.templates]
    assert supplier.name in page.content.decode()
    supplier.refresh_from_db()
    assert supplier.status == S.RECOMMENDED  # nothing happens before the confirmation

    response = run_action(
        operator_client, "supplierreviewqueue_changelist", "admit", [supplier], reason="材料齐全"
    )
    assert response.status_code == 200
    assert f"Admitted 1: {supplier.name}." in message_texts(response)
    supplier.refresh_from_db()
    assert supplier.status == S.ADMITTED
    assert supplier_history(supplier) == (
        [(S.RECOMMENDED, S.ADMITTED, operator.email, "材料齐全")],
        [("supplier.admit", operator.email, "材料齐全")],
    )
    assert queue(operator_client) == []


def test_the_service_refuses_a_rejection_without_a_reason(operator_client, operator):
    supplier = SupplierFactory(status=S.RECOMMENDED)
    response = run_action(
        operator_client, "supplierreviewqueue_changelist", "reject", [supplier], reason="  "
    )
    assert f"{supplier.name}: Give a reason." in message_texts(response)
    supplier.refresh_from_db()
    assert supplier.status == S.RECOMMENDED
    assert supplier_history(supplier) == ([], [])

    run_action(
        operator_client, "supplierreviewqueue_changelist", "reject", [supplier], reason="证照不符"
    )
    supplier.refresh_from_db()
    assert supplier.status == S.REJECTED
    assert supplier_history(supplier) == (
        [(S.RECOMMENDED, S.REJECTED, operator.email, "证照不符")],
        [("supplier.reject", operator.email, "证照不符")],
    )


def test_an_applicant_cannot_be_admitted_before_its_county_recommends_it(operator_client):
    supplier = SupplierFactory(status=S.APPLIED)
    response = run_action(operator_client, "supplier_changelist", "admit", [supplier], reason="")
    assert (
        f"{supplier.name}: A supplier that is APPLIED cannot be reviewed before its county recommends it."
        in message_texts(response)
    )
    supplier.refresh_from_db()
    assert supplier.status == S.APPLIED


# --- Supplier actions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "before", "after", "audit_actions"),
    [
        ("suspend", S.ADMITTED, S.SUSPENDED, ["supplier.suspend"]),
        ("reinstate", S.SUSPENDED, S.ADMITTED, ["supplier.reinstate"]),
        ("exit", S.ADMITTED, S.EXITED, ["supplier.exit"]),
        ("exit", S.SUSPENDED, S.EXITED, ["supplier.exit"]),
        ("exit_and_blacklist", S.ADMITTED, S.EXITED, ["supplier.exit", "supplier.blacklist"]),
    ],
)
def test_supplier_actions_call_the_service(
    operator_client, operator, action, before, after, audit_actions
):
    supplier = SupplierFactory(status=before)
    response = run_action(
        operator_client, "supplier_changelist", action, [supplier], reason="抽检不合格"
    )
    assert response.status_code == 200
    supplier.refresh_from_db()
    assert supplier.status == after
    transitions, events = supplier_history(supplier)
    assert transitions == [(before, after, operator.email, "抽检不合格")]
    assert [(a, e) for a, e, _ in events] == [(a, operator.email) for a in audit_actions]
    blacklisted = BlacklistEntry.objects.filter(credit_code=supplier.credit_code).exists()
    assert blacklisted == (action == "exit_and_blacklist")


def test_a_refused_transition_shows_the_error_and_changes_nothing(operator_client):
    supplier = SupplierFactory(status=S.ADMITTED)
    response = run_action(operator_client, "supplier_changelist", "reinstate", [supplier])
    error = f"{supplier.name}: Only a SUSPENDED supplier can be reinstated; this one is ADMITTED."
    assert error in message_texts(response)
    assert error in response.content.decode()
    supplier.refresh_from_db()
    assert supplier.status == S.ADMITTED
    assert supplier_history(supplier) == ([], [])


def test_each_selected_supplier_is_decided_on_its_own(operator_client):
    admitted = SupplierFactory(status=S.ADMITTED, name="甲合作社")
    suspended = SupplierFactory(status=S.SUSPENDED, name="乙家庭农场")
    response = run_action(
        operator_client, "supplier_changelist", "reinstate", [admitted, suspended]
    )
    texts = message_texts(response)
    assert "甲合作社: Only a SUSPENDED supplier can be reinstated; this one is ADMITTED." in texts
    assert "Reinstated 1: 乙家庭农场." in texts
    suspended.refresh_from_db()
    assert suspended.status == S.ADMITTED


def test_the_supplier_status_is_not_a_form_field(operator_client):
    supplier = SupplierFactory()
    response = operator_client.get(url("supplier_change", supplier.pk))
    assert response.status_code == 200
    form_fields = set(response.context["adminform"].form.fields)
    assert {"status", "credit_code", "county"}.isdisjoint(form_fields)
    assert "contact_phone" in form_fields
    assert 'name="status"' not in response.content.decode()


# --- Products -----------------------------------------------------------------------------------


def product_history(product) -> tuple[list, list]:
    transitions = list(
        ProductTransition.objects.filter(product=product).values_list(
            "from_status", "to_status", "valid_until", "actor", "note"
        )
    )
    events = list(
        AuditEvent.objects.filter(object_type="catalog.product", object_id=str(product.pk))
        .order_by("id")
        .values_list("action", "actor_email", "data")
    )
    return transitions, events


def test_certifying_a_product_calls_the_service(operator_client, operator):
    product = ProductFactory(status=P.PENDING_CERTIFICATION, certified_until=None)
    page = operator_client.post(
        url("product_changelist"), {"action": "certify", "_selected_action": [product.pk]}
    )
    assert "valid_until" in page.context["form"].fields

    until = in_days(200)
    run_action(
        operator_client,
        "product_changelist",
        "certify",
        [product],
        reason="抽检合格",
        valid_until=until.isoformat(),
    )
    product.refresh_from_db()
    assert (product.status, product.certified_until) == (P.CERTIFIED, until)
    assert product_history(product) == (
        [(P.PENDING_CERTIFICATION, P.CERTIFIED, until, operator.pk, "抽检合格")],
        [
            (
                "product.status",
                operator.email,
                {"from": P.PENDING_CERTIFICATION, "to": P.CERTIFIED, "validUntil": str(until)},
            )
        ],
    )


def test_certification_without_a_date_lasts_the_services_default(operator_client, settings):
    product = ProductFactory(status=P.PENDING_CERTIFICATION, certified_until=None)
    run_action(operator_client, "product_changelist", "certify", [product], valid_until="")
    product.refresh_from_db()
    assert product.status == P.CERTIFIED
    assert product.certified_until == in_days(settings.PRODUCT_CERTIFICATION_DEFAULT_DAYS)


def test_a_past_validity_is_refused_by_the_service(operator_client):
    product = ProductFactory(status=P.PENDING_CERTIFICATION, certified_until=None)
    response = run_action(
        operator_client,
        "product_changelist",
        "certify",
        [product],
        valid_until=in_days(-1).isoformat(),
    )
    assert f"{product.name}: The validity must end in the future." in message_texts(response)
    product.refresh_from_db()
    assert product.status == P.PENDING_CERTIFICATION
    assert product_history(product) == ([], [])


def test_rejecting_certification_needs_a_note_and_calls_the_service(operator_client, operator):
    product = ProductFactory(status=P.PENDING_CERTIFICATION, certified_until=None)
    response = run_action(
        operator_client, "product_changelist", "reject_certification", [product], reason=""
    )
    assert f"{product.name}: Give a reason for the rejection." in message_texts(response)
    assert product_history(product) == ([], [])

    run_action(
        operator_client, "product_changelist", "reject_certification", [product], reason="农残超标"
    )
    product.refresh_from_db()
    assert product.status == P.CERTIFICATION_REJECTED
    transitions, events = product_history(product)
    assert transitions == [
        (P.PENDING_CERTIFICATION, P.CERTIFICATION_REJECTED, None, operator.pk, "农残超标")
    ]
    assert [(a, e) for a, e, _ in events] == [("product.status", operator.email)]


def test_only_pending_products_can_be_certified(operator_client):
    draft = ProductFactory(status=P.DRAFT, certified_until=None)
    response = run_action(operator_client, "product_changelist", "certify", [draft])
    assert (
        f"{draft.name}: Only a product pending certification can be decided; this one is DRAFT."
        in message_texts(response)
    )
    draft.refresh_from_db()
    assert draft.status == P.DRAFT
    assert product_history(draft) == ([], [])


def test_the_product_status_is_not_a_form_field(operator_client):
    product = ProductFactory()
    response = operator_client.get(url("product_change", product.pk))
    assert response.status_code == 200
    form_fields = set(response.context["adminform"].form.fields)
    assert {"status", "certified_until", "name", "origin_county"}.isdisjoint(form_fields)


# --- Pages and filters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("supplier", {}),
        ("supplier", {"status__exact": "SUSPENDED"}),
        ("supplier", {"kind__exact": "COOPERATIVE"}),
        ("supplier", {"county__id__exact": "@county"}),
        ("supplier", {"poverty_county": "yes"}),
        ("supplier", {"poverty_county": "no"}),
        ("supplier", {"q": "宁夏"}),
        ("supplierreviewqueue", {}),
        ("supplierreviewqueue", {"poverty_county": "yes"}),
        ("product", {}),
        ("product", {"status__exact": "PENDING_CERTIFICATION"}),
        ("product", {"category__id__exact": "@category"}),
        ("product", {"origin_county__id__exact": "@county"}),
        ("product", {"supplier__status__exact": "ADMITTED"}),
        ("product", {"q": "枸杞"}),
        ("productvariant", {}),
        ("tracebatch", {}),
        ("tracebatch", {"origin_county__id__exact": "@county"}),
        ("blacklistentry", {}),
        ("county", {"is_poverty_exited__exact": "1"}),
        ("city", {}),
        ("category", {}),
    ],
)
def test_change_lists_render_with_each_filter(operator_client, page, query):
    HouseholdFactory()  # a trace batch with its product and supplier
    TierPriceFactory()
    SupplierFactory(status=S.RECOMMENDED, county=county("640323"))
    refs = {"@county": county("640521").pk, "@category": category("goji").pk}
    query = {key: refs.get(value, value) for key, value in query.items()}
    response = operator_client.get(url(f"{page}_changelist"), query)
    assert response.status_code == 200  # an unknown filter would redirect with ?e=1


def test_detail_pages_render_with_their_inlines(operator_client):
    household = HouseholdFactory()
    tier = TierPriceFactory(variant__product=household.batch.product)
    supplier = household.batch.product.supplier
    SupplierFactory(status=S.RECOMMENDED)
    pages = [
        url("supplier_change", supplier.pk),
        url("product_change", household.batch.product.pk),
        url("productvariant_change", tier.variant.pk),
        url("tracebatch_change", household.batch.pk),
        url("supplierreviewqueue_change", Supplier.objects.get(status=S.RECOMMENDED).pk),
    ]
    for page in pages:
        response = operator_client.get(page)
        assert response.status_code == 200, page
    body = operator_client.get(url("tracebatch_change", household.batch.pk)).content.decode()
    assert household.household in body


# --- Reference data -----------------------------------------------------------------------------


def test_operators_add_reference_data(operator_client):
    response = operator_client.post(
        url("category_add"),
        {"name": "牛奶", "slug": "milk", "english_name": "Milk", "sort_order": 9},
    )
    assert response.status_code == 302
    assert Category.objects.filter(slug="milk").exists()


def test_reference_data_in_use_cannot_be_deleted(operator_client):
    SupplierFactory(county=county("640521"))
    assert operator_client.get(url("county_delete", county("640521").pk)).status_code == 403
    unused = County.objects.create(code="640999", name="测试县", prefecture="测试市")
    response = operator_client.post(url("county_delete", unused.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not County.objects.filter(pk=unused.pk).exists()


def _change_form(response, **values) -> dict:
    """The product change form as the page rendered it, with `values` changed."""
    form = response.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(values)
    # an unticked box is left out; a 0 is a value (0 == False, hence `is`)
    data = {
        k: ("on" if v is True else v) for k, v in data.items() if v is not None and v is not False
    }
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{inline.formset.prefix}-{name}"] = management.initial.get(name, 0)
    return data


def _indexed_listing():
    """A sellable product, in the search index."""
    from search import indexing
    from tests.procurement.flows import stocked_variant

    product = stocked_variant().product
    indexing.products_changed([product.pk])
    return product


def _edit(client, page_name: str, pk: int, capture=None, **values):
    """Edit a row through its admin change form (as an operator would), running what waits
    for the commit (the search outbox) when given `capture`; the response."""
    page = client.get(url(page_name, pk))
    with capture(execute=True) if capture else contextlib.nullcontext():
        return client.post(url(page_name, pk), _change_form(page, **values))


def _search_entry(product):
    from search.models import ProductSearchEntry

    return ProductSearchEntry.objects.get(product=product)


def test_an_operator_edit_of_a_product_goes_through_the_service(
    operator_client, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        product = _indexed_listing()
    response = _edit(
        operator_client,
        "product_change",
        product.pk,
        django_capture_on_commit_callbacks,
        description="手工礼盒装",
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.description == "手工礼盒装"
    event = AuditEvent.objects.get(object_type="catalog.product", object_id=str(product.pk))
    assert (event.actor_id, event.action, event.data) == (
        operator.pk,
        "product.update",
        {"changed": ["description"]},
    )
    # The search index followed the edit (its outbox drained when the edit committed).
    assert "礼盒" in _search_entry(product).body_terms


def test_an_operator_edit_the_service_refuses_is_a_form_error(operator_client):
    product = ProductFactory(description="旧的描述")
    response = _edit(operator_client, "product_change", product.pk, description="坏\x00的")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    product.refresh_from_db()
    assert product.description == "旧的描述"
    assert not AuditEvent.objects.filter(object_type="catalog.product").exists()


def test_reference_data_changes_are_audited(operator_client, operator):
    operator_client.post(
        url("category_add"),
        {"name": "牛奶", "slug": "milk", "english_name": "Milk", "sort_order": 9},
    )
    milk = Category.objects.get(slug="milk")
    unused = County.objects.create(code="640999", name="测试县", prefecture="测试市")
    operator_client.post(url("county_delete", unused.pk), {"post": "yes"})
    events = AuditEvent.objects.filter(object_type__in=["catalog.category", "catalog.county"])
    assert sorted(events.values_list("action", "object_id", "actor_id")) == [
        ("category.create", str(milk.pk), operator.pk),
        ("county.delete", str(unused.pk), operator.pk),
    ]


def test_renaming_a_category_re_indexes_its_listings(
    operator_client, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        product = _indexed_listing()
    before = _search_entry(product).text_hash
    row = product.category
    response = _edit(
        operator_client,
        "category_change",
        row.pk,
        django_capture_on_commit_callbacks,
        name="宁夏特产",
    )
    assert response.status_code == 302
    assert _search_entry(product).text_hash != before
    event = AuditEvent.objects.get(object_type="catalog.category", object_id=str(row.pk))
    assert (event.actor_id, event.action, event.data) == (
        operator.pk,
        "category.update",
        {"changed": ["name"]},
    )


def test_an_operator_correction_of_a_supplier_goes_through_the_service(
    operator_client, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        product = _indexed_listing()
    supplier = product.supplier
    response = _edit(
        operator_client,
        "supplier_change",
        supplier.pk,
        django_capture_on_commit_callbacks,
        name="盐池滩羊合作社",
        contact_phone="0953-1234567",
    )
    assert response.status_code == 302
    supplier.refresh_from_db()
    assert (supplier.name, supplier.contact_phone) == ("盐池滩羊合作社", "0953-1234567")
    event = AuditEvent.objects.get(object_type="catalog.supplier", action="supplier.update")
    assert (event.actor_id, event.data) == (operator.pk, {"changed": ["contact_phone", "name"]})
    # The listings show the supplier's name: the search index followed the correction.
    assert "滩羊" in _search_entry(product).body_terms


def test_a_supplier_correction_the_service_refuses_is_a_form_error(operator_client):
    supplier = SupplierFactory(contact_name="王经理")
    response = _edit(operator_client, "supplier_change", supplier.pk, contact_name="  ")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["contact_name"]
    supplier.refresh_from_db()
    assert supplier.contact_name == "王经理"
    assert not AuditEvent.objects.filter(action="supplier.update").exists()
