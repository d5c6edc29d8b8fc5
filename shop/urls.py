from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from shop.core.graphql.view import ShopGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Token-authenticated API: no cookies are trusted, so CSRF protection does not apply.
    path("graphql/", csrf_exempt(ShopGraphQLView.as_view())),
    # /webhooks/stripe/ (receiver) and /stripe-mock/v1/... (the stripe-compatible mock).
    path("", include("shop.payments.urls")),
]
