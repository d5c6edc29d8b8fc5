"""The mock's routes, mounted at /stripe-mock/ so that STRIPE_API_BASE=<site>/stripe-mock makes the
SDK's `/v1/...` paths land here."""

from django.urls import path, re_path

from shop.payments.mock import views

urlpatterns = [
    path("v1/payment_intents", views.payment_intent_create),
    path("v1/payment_intents/<str:intent>", views.payment_intent_retrieve),
    path("v1/payment_intents/<str:intent>/confirm", views.payment_intent_confirm),
    path("v1/payment_intents/<str:intent>/capture", views.payment_intent_capture),
    path("v1/payment_intents/<str:intent>/cancel", views.payment_intent_cancel),
    path("v1/refunds", views.refunds),
    path("v1/refunds/<str:refund>", views.refund_retrieve),
    path("v1/events/<str:event>", views.event_retrieve),
    re_path(r"^(?P<path>.*)$", views.unrecognized),
]
