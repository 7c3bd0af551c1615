"""User accounts in the admin: deactivated, never deleted.

Provenance is append-only and names its agents by account (``Agent.user``), versions name who
stored them and jobs who asked: deleting an account would cut those links (the foreign keys
PROTECT them, so a delete fails). The admin therefore offers no delete, and a "Deactivate"
action instead: the account can no longer log in, its tokens stop working (DRF refuses inactive
users), and everything it did keeps its name.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

logger = logging.getLogger(__name__)

User = get_user_model()


class ArchiveUserAdmin(UserAdmin):
    """Django's user admin without deletion, with a bulk "Deactivate" action."""

    actions = ["deactivate"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(permissions=["change"], description="Deactivate selected accounts (they are never deleted)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        # Not oneself: the last superuser would lock everyone out of the admin.
        own = queryset.filter(pk=request.user.pk).exists()
        changed = queryset.exclude(pk=request.user.pk).filter(is_active=True).update(is_active=False)
        logger.info("%s deactivated %d account(s)", request.user, changed)
        self.message_user(request, f"{changed} account{'s' if changed != 1 else ''} deactivated.", messages.SUCCESS)
        if own:
            self.message_user(request, "Your own account was left active.", messages.WARNING)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ArchiveUserAdmin)
