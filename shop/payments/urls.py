"""Payments routes, included at the site root: the webhook receiver and the Stripe mock."""

from django.urls import include, path

from shop.payments.webhooks import stripe_webhook

urlpatterns = [
    # Stripe signs its requests; there is no session to protect, so the view is csrf-exempt.
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
    path("stripe-mock/", include("shop.payments.mock.urls")),
]
