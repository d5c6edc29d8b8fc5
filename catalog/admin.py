"""Django admin for operators: reference data, the supplier review queue, supplier and product
decisions, and read-only views of listings, trace batches and the blacklist.

Every status change goes through the same service as the GraphQL mutation (`supplier_review`,
`supplier_suspend`, `supplier_reinstate`, `supplier_exit`, `product_certify`), one object at a
time, with `acting_user=request.user`; a refusal is reported per object and changes nothing.
Statuses are never editable in a form. An operator's correction of a supplier's record or a
listing is saved by a service too (`supplier_operator_update`, `product_operator_update`:
audited, re-indexed), and reference data by `reference_data_save` / `reference_data_delete`.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import (
    BlacklistEntry,
    Category,
    City,
    County,
    FarmerSupply,
    Product,
    ProductTransition,
    ProductVariant,
    Qualification,
    Supplier,
    SupplierReviewQueue,
    SupplierTransition,
    TierPrice,
    TraceBatch,
)
from catalog.services.certification import product_certify
from catalog.services.products import (
    OPERATOR_EDITABLE,
    ProductInput,
    clean_product_input,
    product_operator_update,
)
from catalog.services.reference import reference_data_delete, reference_data_save
from catalog.services.suppliers import (
    APPLICATION_FIELDS,
    record_errors,
    reviewable_statuses,
    supplier_exit,
    supplier_operator_update,
    supplier_reinstate,
    supplier_review,
    supplier_suspend,
)
from shop.core.admin_access import OperatorAdmin, ReadOnlyAdmin, ReadOnlyInline
from shop.core.errors import AccessError, DomainError, DomainErrors

# --- Reference data ---------------------------------------------------------------------------


def in_use(obj: models.Model) -> bool:
    """Whether any row refers to `obj` (suppliers, products, batches, users, agencies, …)."""
    for relation in obj._meta.related_objects:
        if relation.related_model._base_manager.filter(**{relation.field.name: obj}).exists():
            return True
    return False


class ReferenceDataAdmin(OperatorAdmin):
    """Operators add and edit reference data; a row can be deleted only while nothing uses it."""

    actions = None  # no bulk delete: each deletion is checked against its uses

    def has_delete_permission(self, request, obj=None):
        if obj is not None and in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    # Through the service, so each change is audited and the listings showing it re-indexed.
    def save_model(self, request, obj, form, change):
        reference_data_save(acting_user=request.user, row=obj, changed=form.changed_data)

    def delete_model(self, request, obj):
        reference_data_delete(acting_user=request.user, row=obj)


@admin.register(County)
class CountyAdmin(ReferenceDataAdmin):
    list_display = ["code", "name", "prefecture", "province", "is_poverty_exited"]
    list_filter = ["province", "is_poverty_exited", "prefecture"]
    search_fields = ["code", "name", "prefecture"]


@admin.register(City)
class CityAdmin(ReferenceDataAdmin):
    list_display = ["code", "name", "province"]
    list_filter = ["province"]
    search_fields = ["code", "name"]


@admin.register(Category)
class CategoryAdmin(ReferenceDataAdmin):
    list_display = ["name", "slug", "english_name", "sort_order"]
    search_fields = ["name", "slug", "english_name"]


# --- Actions through an intermediate page -----------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), strip=True
    )

    def __init__(self, *args, reason_label: str = "Reason", reason_help: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = reason_label
        self.fields["reason"].help_text = reason_help


class CertifyForm(ReasonForm):
    valid_until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Leave empty for the default validity (one year).",
    )


def confirm_and_run(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    *,
    title: str,
    done: str,
    run: Callable[[Any, dict[str, Any]], Any],
    form_class: type[ReasonForm] = ReasonForm,
    reason_label: str = "Reason",
    reason_help: str = "",
    warning: str = "",
):
    """Show a form for the selected objects; once confirmed, call `run(obj, cleaned_data)`
    for each and report every refusal next to the object's name."""
    form_kwargs = {"reason_label": reason_label, "reason_help": reason_help}
    if "confirm" in request.POST:
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            succeeded = []
            for obj in queryset:
                try:
                    run(obj, form.cleaned_data)
                except DomainError as error:
                    modeladmin.message_user(request, f"{obj}: {error.message}", messages.ERROR)
                except AccessError as error:
                    # The same for every object: the acting account may not do this at all.
                    modeladmin.message_user(request, str(error), messages.ERROR)
                    break
                else:
                    succeeded.append(str(obj))
            if succeeded:
                modeladmin.message_user(
                    request, f"{done} {len(succeeded)}: {', '.join(succeeded)}.", messages.SUCCESS
                )
            return None  # back to the change list
    else:
        form = form_class(**form_kwargs)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "form": form,
        "warning": warning,
        "action": request.POST["action"],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, "admin/catalog/action_confirmation.html", context)


# --- Suppliers --------------------------------------------------------------------------------


class QualificationInline(ReadOnlyInline):
    model = Qualification
    fields = ["kind", "number", "issuer", "expires_on", "scan", "created_at"]
    readonly_fields = fields

    @admin.display(description="file")
    def scan(self, obj: Qualification) -> str:
        # Scans are private: the link goes to the access-checked download, never to storage.
        if not obj.file:
            return "-"
        url = reverse("document-download", kwargs={"kind": "qualifications", "document_id": obj.pk})
        return format_html('<a href="{}">download</a>', url)


class SupplierTransitionInline(ReadOnlyInline):
    model = SupplierTransition
    fields = ["created_at", "from_status", "to_status", "actor_email", "note"]
    readonly_fields = fields


class PovertyCountyFilter(admin.SimpleListFilter):
    title = "poverty-exited county (脱贫县)"
    parameter_name = "poverty_county"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(county__is_poverty_exited=self.value() == "yes")
        return queryset


def add_domain_errors(form: forms.ModelForm, error: DomainError, fields: dict[str, str]) -> None:
    """A service's refusal shown on the form: each problem on its field (API name → form field)
    or, when the form has no such field, above the form."""
    for problem in error.as_errors():
        field = fields.get(problem.field, problem.field)
        form.add_error(field if field in form.fields else None, problem.message)


SUPPLIER_FORM_FIELDS = {
    "legalRepresentative": "legal_representative",
    "contactName": "contact_name",
    "contactPhone": "contact_phone",
}


class SupplierAdminForm(forms.ModelForm):
    """Checks an operator's correction with the service's own rules before it is saved."""

    def clean(self) -> dict:
        cleaned = super().clean()
        edits = {n: cleaned.get(n) for n in APPLICATION_FIELDS if n in self.changed_data}
        errors = record_errors(edits)
        if errors:
            add_domain_errors(self, DomainErrors(errors), SUPPLIER_FORM_FIELDS)
        return cleaned


@admin.register(Supplier)
class SupplierAdmin(OperatorAdmin):
    form = SupplierAdminForm
    list_display = [
        "name",
        "credit_code",
        "kind",
        "county",
        "poverty_county",
        "status",
        "status_changed_at",
    ]
    list_filter = [
        "status",
        "kind",
        ("county", admin.RelatedOnlyFieldListFilter),
        PovertyCountyFilter,
    ]
    list_select_related = ["county"]
    search_fields = ["name", "credit_code"]
    fields = [
        "name",
        "credit_code",
        "kind",
        "county",
        "legal_representative",
        "contact_name",
        "contact_phone",
        "contact_email",
        "description",
        "status",
        "status_changed_at",
        "created_at",
    ]
    # Status changes only through the actions below. The credit code (blacklist, checksum) and
    # the county (must be in Ningxia) were checked by `supplier_apply` and stay as applied.
    readonly_fields = ["credit_code", "county", "status", "status_changed_at", "created_at"]
    inlines = [QualificationInline, SupplierTransitionInline]
    actions = ["admit", "reject", "suspend", "reinstate", "exit", "exit_and_blacklist"]

    def has_add_permission(self, request):
        return False  # suppliers apply through the API (`supplier_apply`)

    def save_model(self, request, obj, form, change):
        # Through the service, so the correction is audited and the search index follows it.
        edits = {n: form.cleaned_data[n] for n in APPLICATION_FIELDS if n in form.changed_data}
        supplier_operator_update(acting_user=request.user, supplier_id=obj.pk, data=edits)

    def has_delete_permission(self, request, obj=None):
        return False  # suppliers leave by exiting; their history stays

    @admin.display(boolean=True, description="脱贫县", ordering="county__is_poverty_exited")
    def poverty_county(self, supplier):
        return supplier.county.is_poverty_exited

    @admin.action(description="Admit the selected suppliers")
    def admit(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Admit suppliers",
            done="Admitted",
            reason_label="Note",
            reason_help="Optional.",
            run=lambda supplier, data: supplier_review(
                acting_user=request.user, supplier_id=supplier.pk, admit=True, note=data["reason"]
            ),
        )

    @admin.action(description="Reject the selected suppliers")
    def reject(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Reject suppliers",
            done="Rejected",
            reason_help="Required; the supplier sees it.",
            run=lambda supplier, data: supplier_review(
                acting_user=request.user, supplier_id=supplier.pk, admit=False, note=data["reason"]
            ),
        )

    @admin.action(description="Suspend the selected suppliers")
    def suspend(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Suspend suppliers",
            done="Suspended",
            reason_help="Required.",
            warning="Their products leave the storefront at once and their unconfirmed orders "
            "are cancelled.",
            run=lambda supplier, data: supplier_suspend(
                acting_user=request.user, supplier_id=supplier.pk, reason=data["reason"]
            ),
        )

    @admin.action(description="Reinstate the selected suppliers")
    def reinstate(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Reinstate suppliers",
            done="Reinstated",
            reason_label="Note",
            reason_help="Optional.",
            run=lambda supplier, data: supplier_reinstate(
                acting_user=request.user, supplier_id=supplier.pk, note=data["reason"]
            ),
        )

    @admin.action(description="Exit the selected suppliers")
    def exit(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Exit suppliers",
            done="Exited",
            reason_help="Required.",
            warning="Their products leave the storefront at once and their unconfirmed orders "
            "are cancelled. They may re-apply after the cooling-off period.",
            run=lambda supplier, data: supplier_exit(
                acting_user=request.user, supplier_id=supplier.pk, reason=data["reason"]
            ),
        )

    @admin.action(description="Exit and blacklist the selected suppliers")
    def exit_and_blacklist(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Exit and blacklist suppliers",
            done="Exited and blacklisted",
            reason_help="Required.",
            warning="Their products leave the storefront at once and their unconfirmed orders "
            "are cancelled. Their credit codes are blacklisted: they may never apply again.",
            run=lambda supplier, data: supplier_exit(
                acting_user=request.user,
                supplier_id=supplier.pk,
                reason=data["reason"],
                blacklist=True,
            ),
        )


@admin.register(SupplierReviewQueue)
class SupplierReviewQueueAdmin(SupplierAdmin):
    """Applicants waiting for the operator, oldest first."""

    list_display = ["name", "credit_code", "kind", "county", "poverty_county", "status", "waiting"]
    list_filter = ["kind", ("county", admin.RelatedOnlyFieldListFilter), PovertyCountyFilter]
    ordering = ["status_changed_at", "id"]
    actions = ["admit", "reject"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=reviewable_statuses())

    @admin.display(description="waiting since", ordering="status_changed_at")
    def waiting(self, supplier):
        return supplier.status_changed_at


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(ReadOnlyAdmin):
    list_display = ["credit_code", "supplier", "reason", "created_by", "created_at"]
    list_select_related = ["supplier", "created_by"]
    search_fields = ["credit_code", "supplier__name"]


# --- Products ---------------------------------------------------------------------------------


class ProductTransitionInline(ReadOnlyInline):
    model = ProductTransition
    fields = ["created_at", "from_status", "to_status", "valid_until", "note"]
    readonly_fields = fields


class VariantInline(ReadOnlyInline):
    model = ProductVariant
    fields = ["sku", "spec", "unit", "unit_price", "minimum_order_quantity", "stock"]
    readonly_fields = fields
    show_change_link = True


class ProductAdminForm(forms.ModelForm):
    """Checks an operator's edit with the service's own rules before it is saved."""

    def clean(self) -> dict:
        cleaned = super().clean()
        edits = {n: cleaned.get(n) for n in OPERATOR_EDITABLE if n in self.changed_data}
        try:
            clean_product_input(ProductInput(**edits))
        except DomainError as error:
            add_domain_errors(
                self, error, {"coldChain": "cold_chain", "isPublished": "is_published"}
            )
        return cleaned


@admin.register(Product)
class ProductAdmin(OperatorAdmin):
    form = ProductAdminForm
    list_display = [
        "name",
        "supplier",
        "category",
        "origin_county",
        "status",
        "certified_until",
        "is_published",
    ]
    list_filter = [
        "status",
        "category",
        ("origin_county", admin.RelatedOnlyFieldListFilter),
        "supplier__status",
    ]
    list_select_related = ["supplier", "category", "origin_county"]
    search_fields = ["name", "slug", "supplier__name"]
    fields = [
        "supplier",
        "name",
        "slug",
        "category",
        "origin_county",
        "description",
        "cold_chain",
        "is_published",
        "status",
        "certified_until",
        "created_at",
        "updated_at",
    ]
    # Certification only through the actions below. Name, category and origin are what was
    # certified: suppliers change them through `product_update`, which sends the product back
    # for certification.
    readonly_fields = [
        "supplier",
        "name",
        "slug",
        "category",
        "origin_county",
        "status",
        "certified_until",
        "created_at",
        "updated_at",
    ]
    inlines = [VariantInline, ProductTransitionInline]
    actions = ["certify", "reject_certification"]

    def has_add_permission(self, request):
        return False  # suppliers list products through the API (`product_create`)

    def save_model(self, request, obj, form, change):
        # Through the service, so the edit is audited and the search index follows it.
        edits = {
            name: form.cleaned_data[name] for name in OPERATOR_EDITABLE if name in form.changed_data
        }
        product_operator_update(
            acting_user=request.user, product_id=obj.pk, data=ProductInput(**edits)
        )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Certify the selected products")
    def certify(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Certify products",
            done="Certified",
            form_class=CertifyForm,
            reason_label="Note",
            reason_help="Optional.",
            run=lambda product, data: product_certify(
                acting_user=request.user,
                product_id=product.pk,
                certify=True,
                note=data["reason"],
                valid_until=data["valid_until"],
            ),
        )

    @admin.action(description="Reject certification of the selected products")
    def reject_certification(self, request, queryset):
        return confirm_and_run(
            self,
            request,
            queryset,
            title="Reject certification",
            done="Rejected",
            reason_help="Required; the supplier sees it.",
            run=lambda product, data: product_certify(
                acting_user=request.user, product_id=product.pk, certify=False, note=data["reason"]
            ),
        )


class TierPriceInline(ReadOnlyInline):
    model = TierPrice
    fields = ["min_quantity", "unit_price"]
    readonly_fields = fields


@admin.register(ProductVariant)
class ProductVariantAdmin(ReadOnlyAdmin):
    list_display = [
        "sku",
        "product",
        "spec",
        "unit",
        "unit_price",
        "minimum_order_quantity",
        "stock",
    ]
    list_select_related = ["product"]
    search_fields = ["sku", "product__name"]
    inlines = [TierPriceInline]


# --- Traceability -----------------------------------------------------------------------------


class FarmerSupplyInline(ReadOnlyInline):
    model = FarmerSupply
    fields = ["household", "village", "poverty_status", "linkage", "amount_paid"]
    readonly_fields = fields


@admin.register(TraceBatch)
class TraceBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "code",
        "product",
        "produced_on",
        "origin_county",
        "quantity",
        "quantity_unit",
        "certificate_number",
    ]
    list_filter = [("origin_county", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["product", "origin_county"]
    search_fields = ["code", "product__name", "certificate_number"]
    inlines = [FarmerSupplyInline]
