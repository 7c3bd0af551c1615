"""IIIF routes, mounted at /iiif/3/ (see docs/interop.md). Every view answers CORS preflights
and JSON 404s (``cors.cors``)."""

from django.urls import path

from . import views
from .cors import cors

app_name = "iiif"

urlpatterns = [
    path("collection.json", cors(views.top_collection), name="top-collection"),
    path("collections/<slug:slug>/collection.json", cors(views.collection), name="collection"),
    path("items/<path:identifier>/manifest.json", cors(views.manifest), name="manifest"),
    path("<int:version_id>", cors(views.base_redirect), name="base"),
    path("<int:version_id>/info.json", cors(views.info), name="info"),
    path(
        "<int:version_id>/<str:region>/<str:size>/<str:rotation>/<str:quality_format>", cors(views.image), name="image"
    ),
    path("<int:version_id>/<path:rest>", cors(views.not_an_image_request)),
]
