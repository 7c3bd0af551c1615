"""The curators' forms of an item's page: review a derivative, add a note (POST only).

Both need the permission of the API's review endpoints (``restoration.core.models.can_review``):
anyone else gets 403 (after a 404 for what they may not see, so a refusal reveals nothing).
The work is ``services.review_version`` and ``services.add_note``; a refusal re-renders the item
page with the message and status 400, a success redirects to it (303) with a message. The forms
are ``templates/restoration/_review.html`` and ``_notes.html``.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View

from restoration.core import services
from restoration.core.models import Item, Version, can_review

from .forms import NoteForm, ReviewForm
from .views import ItemView

logger = logging.getLogger(__name__)


def _back(item: Item, anchor: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("pages:item", args=[item.identifier]) + anchor, status=303)


def _refused(request: HttpRequest, item: Item, message: str, **forms) -> HttpResponse:
    messages.error(request, message)
    return ItemView(template_name=ItemView.template_name)._render(request, item, status=400, **forms)


class ReviewVersionView(View):
    """``POST /curation/versions/<id>/review/``: sets a derivative's review status and reason."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, version_id: int) -> HttpResponse:
        version = get_object_or_404(Version.objects.visible_to(request.user).select_related("item"), pk=version_id)
        if not can_review(request.user):
            raise PermissionDenied("Reviewing derivatives is for curators.")
        item = version.item
        form = ReviewForm(request.POST, prefix=f"review-{version.pk}")
        if not form.is_valid():
            return _refused(request, item, f"Version {version.pk} was not reviewed: check the form.",
                            review_form=(version.pk, form))
        try:
            services.review_version(version, form.cleaned_data["status"], reason=form.cleaned_data["reason"],
                                    user=request.user)
        except services.ReviewError as err:
            form.add_error(err.field if err.field in form.fields else None, err.message)
            return _refused(request, item, f"Version {version.pk} was not reviewed: {err.message}",
                            review_form=(version.pk, form))
        logger.info("Review by %s: version %s is %s", request.user, version.pk, version.review_status)
        messages.success(request, f"Version {version.pk} is now {version.get_review_status_display().lower()}.")
        return _back(item, f"#version-{version.pk}")


class AddNoteView(View):
    """``POST /curation/items/<id>/notes/``: a note on the item or on one of its versions."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, item_id: int) -> HttpResponse:
        item = get_object_or_404(Item.objects.visible_to(request.user), pk=item_id)
        if not can_review(request.user):
            raise PermissionDenied("Notes are for curators.")
        versions = list(Version.objects.visible_to(request.user).filter(item=item).order_by("created_at", "id"))
        form = NoteForm(request.POST, versions=versions)
        if not form.is_valid():
            return _refused(request, item, "The note was not added: check the form.", note_form=form)
        version = next((v for v in versions if v.pk == form.cleaned_data["version"]), None)
        try:
            services.add_note(item, form.cleaned_data["text"], user=request.user, version=version)
        except services.ReviewError as err:
            form.add_error("text" if err.field == "text" else None, err.message)
            return _refused(request, item, f"The note was not added: {err.message}", note_form=form)
        messages.success(request, "Note added.")
        return _back(item, "#notes")
