"""The site's URLs plus MEDIA_ROOT served as `make serve` (DEBUG) or a web server in front of
the app would serve it, so tests can see what a public media URL hands out."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from shop.urls import urlpatterns as site


def public_media(request, path):
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [*site, re_path(r"^media/(?P<path>.*)$", public_media)]
