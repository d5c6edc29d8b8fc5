from django.contrib import admin
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from shop.core.graphql.view import ShopGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Token-authenticated API: no cookies are trusted, so CSRF protection does not apply.
    path("graphql/", csrf_exempt(ShopGraphQLView.as_view())),
]
