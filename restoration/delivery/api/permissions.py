"""Who may do what through the API.

Reads are open (what is visible is decided by the querysets: ``Item.objects.visible_to``);
writes need Django model permissions, which the "Curators" group holds. Staff status alone
grants nothing here.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission, DjangoModelPermissionsOrAnonReadOnly

from restoration.core.models import can_review


class CuratorWritePermissions(DjangoModelPermissionsOrAnonReadOnly):
    """Anyone may read; POST needs ``add_<model>``, PUT/PATCH ``change_<model>``.

    Anonymous writes get 401 (the token scheme is announced in ``WWW-Authenticate``);
    authenticated users without the permission get 403.
    """

    anonymous_read = True  # declared in the schema (``schema.ArchiveAutoSchema``)

    perms_map = {
        "GET": [],
        "OPTIONS": [],
        "HEAD": [],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if request.method not in view.allowed_methods:
            return True  # nothing would run: let the view answer 405 rather than 403
        return super().has_permission(request, view)


class ItemWritePermissions(CuratorWritePermissions):
    """Creating an item is an ingest: it also needs ``restoration.ingest_item``."""

    perms_map = {
        **CuratorWritePermissions.perms_map,
        "POST": ["%(app_label)s.add_%(model_name)s", "%(app_label)s.ingest_%(model_name)s"],
    }


class JobPermissions(BasePermission):
    """Restoration jobs are the curators' business, reads included (they name who asked).

    Reading needs ``view_restorationjob``, queueing (``POST /api/items/{id}/jobs/``)
    ``add_restorationjob``, cancelling ``change_restorationjob``; the "Curators" group has all
    three. Anonymous requests get 401, other accounts 403.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            needed = "view"
        elif getattr(view, "action", None) == "cancel":
            needed = "change"
        else:
            needed = "add"
        return user.has_perm(f"restoration.{needed}_restorationjob")


class ReviewPermissions(BasePermission):
    """Reviewing derivatives, choosing the preferred version and writing notes are the curators'
    (``restoration.core.models.can_review``: the ``change_version`` permission of the "Curators"
    group). Anonymous requests get 401, other accounts 403."""

    def has_permission(self, request, view) -> bool:
        return can_review(request.user)
