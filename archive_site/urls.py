"""URL map: the admin, the REST API and its schema, IIIF, OAI-PMH, the pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from restoration.interop import oai

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("restoration.delivery.api.urls")),
    # Standard doors for catalogues and viewers (docs/interop.md): IIIF Image and Presentation 3, OAI-PMH 2.0.
    path("iiif/3/", include("restoration.interop.iiif.urls")),
    path("oai", oai.endpoint, name="oai"),
    path("", include("restoration.delivery.pages.urls")),
]

# JSON under /api/ and /iiif/, HTML elsewhere (archive_site/errors.py).
handler404 = "archive_site.errors.not_found"
handler500 = "archive_site.errors.server_error"
