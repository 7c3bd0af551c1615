"""The API's routes, mounted at /api/ (the schema and Swagger UI are in archive_site.urls)."""

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("collections", views.CollectionViewSet, basename="collection")
router.register("items", views.ItemViewSet, basename="item")
router.register("versions", views.VersionViewSet, basename="version")
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    path("token/", obtain_auth_token, name="api-token"),
    path("", include(router.urls)),
]
