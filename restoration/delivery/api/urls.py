"""The API's routes, mounted at /api/ (the schema and Swagger UI are in archive_site.urls)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from restoration.delivery.auth import TokenView

from . import views

router = DefaultRouter()
router.register("collections", views.CollectionViewSet, basename="collection")
router.register("items", views.ItemViewSet, basename="item")
router.register("versions", views.VersionViewSet, basename="version")
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    path("token/", TokenView.as_view(), name="api-token"),
    path("", include(router.urls)),
]
