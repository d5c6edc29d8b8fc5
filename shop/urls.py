from django.conf import settings
from django.conf.urls.static import static
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
    # /exports/recommended-catalog.csv and .xlsx; /documents/<kind>/<id> (private, checked)
    path("", include("catalog.urls")),
    # /exports/contributions.csv and .xlsx (Bearer auth)
    path("", include("procurement.urls")),
    # Auditor dashboard (session sign-in at /dashboard/login/)
    path("dashboard/", include("procurement.dashboard.urls")),
]
# The debug server serves uploaded media itself; in production a web server or object
# storage does (MEDIA_URL).
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
