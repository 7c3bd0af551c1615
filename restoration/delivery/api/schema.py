"""The API's OpenAPI generator: drf-spectacular's, declaring anonymous access where it is allowed.

drf-spectacular adds the empty security requirement (``{}``: no credentials needed) only for
DRF's own ``AllowAny`` and ``IsAuthenticatedOrReadOnly``; our permission classes say it
themselves with ``anonymous_read`` (reads open to anyone: what is visible is decided by the
querysets), and a view with no permission classes (``/api/token/``) needs no credentials.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import SAFE_METHODS


class ArchiveAutoSchema(AutoSchema):
    def get_auth(self) -> list[dict]:
        auths = super().get_auth()
        if {} not in auths and self._anonymous_allowed():
            auths.append({})
        return auths

    def _anonymous_allowed(self) -> bool:
        permissions = self.view.get_permissions()
        if not permissions:
            return True
        return self.method in SAFE_METHODS and all(getattr(p, "anonymous_read", False) for p in permissions)
