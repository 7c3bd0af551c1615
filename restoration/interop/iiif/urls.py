"""IIIF routes, mounted at /iiif/3/ (see docs/interop.md)."""

from django.urls import path

from . import views

app_name = "iiif"

urlpatterns = [
    path("collection.json", views.top_collection, name="top-collection"),
    path("collections/<slug:slug>/collection.json", views.collection, name="collection"),
    path("items/<path:identifier>/manifest.json", views.manifest, name="manifest"),
    path("<int:version_id>", views.base_redirect, name="base"),
    path("<int:version_id>/info.json", views.info, name="info"),
    path(
        "<int:version_id>/<str:region>/<str:size>/<str:rotation>/<str:quality_format>", views.image, name="image"
    ),
    path("<int:version_id>/<path:rest>", views.not_an_image_request),
]
