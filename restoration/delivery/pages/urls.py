"""Routes of the pages, mounted at the site root: ``path("", include("restoration.delivery.pages.urls"))``.

An identifier may hold slashes (``ark:/12148/btv1b...``), hence ``<path:identifier>``.
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import curation, views

app_name = "pages"

urlpatterns = [
    path("", views.CollectionListView.as_view(), name="collections"),
    path("collections/<slug:slug>/", views.ItemGridView.as_view(), name="collection"),
    path("items/", views.ItemGridView.as_view(), name="items"),
    path("items/<path:identifier>/", views.ItemView.as_view(), name="item"),
    # Curators' forms of the item page, by id: an identifier may end in anything, even "/notes".
    path("curation/versions/<int:version_id>/review/", curation.ReviewVersionView.as_view(), name="review_version"),
    path("curation/items/<int:item_id>/notes/", curation.AddNoteView.as_view(), name="add_note"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="restoration/login.html", redirect_authenticated_user=True, next_page="pages:collections"
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="pages:collections"), name="logout"),
]
