"""The pages: collections, a grid of items, an item with its viewer, versions and provenance.

Visibility is the API's: anonymous visitors see public collections and
``Item.objects.visible_to(user)`` (public items outside any collection or in a public one);
what they may not see answers 404, never 403, so its existence does not leak. Accounts with
the view permission (Curators, Viewers; ``core.models.can_view_nonpublic``) see everything, and
the full provenance; the public reads it through ``core.disclosure``. Images are the API's own downloads (``/api/versions/{id}/...``), which
apply the same rules, and tiles come from the IIIF image service (``/iiif/3/{id}/...``) when
it is there.

Rejected and withdrawn derivatives (and, by setting, pending ones), notes and review events are
shown to curators only (``visible_to`` of versions and events); curators review derivatives and
write notes from the item page (``curation.py``; the forms are ``_review.html`` and
``_notes.html``).

Queueing a job from an item's page needs the permission the API asks for
(``restoration.add_restorationjob``, held by the "Curators" group): the page shows the form
only to those who hold it, and a POST from anyone else is refused with 403 (and without a CSRF
token, by the CSRF middleware). The work is handed to ``restoration.jobs.submit_job``. The
page's script posts the same form with ``Accept: application/json`` and then polls the job's
API detail (``GET /api/jobs/{id}/``) for its progress.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import ListView

from restoration.jobs import engine
from restoration import jobs
from restoration.jobs import labels
from restoration.core.models import (
    DUBLIN_CORE_FIELDS,
    Collection,
    Item,
    RestorationJob,
    Version,
    can_review,
)

from . import display, viewer
from .forms import ItemFilterForm, NoteForm, QueueJobForm, ReviewForm

logger = logging.getLogger(__name__)

# The permissions the API's JobPermissions asks for: queueing (POST /api/items/{id}/jobs/) and
# reading jobs (GET /api/jobs/{id}/, which the page polls).
QUEUE_PERMISSION = "restoration.add_restorationjob"
VIEW_JOBS_PERMISSION = "restoration.view_restorationjob"
CANCEL_PERMISSION = "restoration.change_restorationjob"
RECENT_JOBS = 5


def _visible_count(items: QuerySet[Item]) -> Coalesce:
    """Annotation: how many of ``items`` belong to the collection of the outer row."""
    counted = items.filter(collection=OuterRef("pk")).order_by().values("collection").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class CollectionListView(ListView):
    """``/``: the collections the visitor may see, with their visible items counted."""

    template_name = "restoration/collections.html"
    context_object_name = "collections"

    def get_queryset(self) -> QuerySet[Collection]:
        items = Item.objects.visible_to(self.request.user)
        return Collection.objects.visible_to(self.request.user).annotate(item_count=_visible_count(items))

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        items = Item.objects.visible_to(self.request.user)
        context["item_count"] = items.count()
        context["loose_item_count"] = items.filter(collection__isnull=True).count()
        return context


def _cover(item: Item) -> Version | None:
    """The version a grid shows: the preferred one, else the original."""
    versions = item.grid_versions
    return next((v for v in versions if v.is_preferred), None) or next((v for v in versions if v.is_original), None)


class ItemGridView(ListView):
    """``/collections/<slug>/`` (one collection) and ``/items/`` (every visible item): a grid of
    thumbnails with search, filters and pagination."""

    template_name = "restoration/item_grid.html"
    context_object_name = "items"
    paginate_by = 24

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        slug = kwargs.get("slug")
        self.collection = get_object_or_404(Collection.objects.visible_to(request.user), slug=slug) if slug else None
        self.filters = ItemFilterForm(request.GET)
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Item]:
        user = self.request.user
        items = Item.objects.visible_to(user)
        if self.collection is not None:
            items = items.filter(collection=self.collection)
        return (
            self.filters.filter(items, user)
            .select_related("collection")
            .prefetch_related(Prefetch(
                "versions", to_attr="grid_versions",
                queryset=Version.objects.visible_to(user)
                .only("id", "item_id", "kind", "is_preferred", "thumbnail", "review_status").order_by("id"),
            ))
            .order_by("identifier")
        )

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for item in context["items"]:
            item.cover = _cover(item)
            item.derivative_kinds = sorted({v.get_kind_display() for v in item.grid_versions if not v.is_original})
        # A cover made by a model carries a visible "AI" badge naming the model (one query batch).
        covers = [item.cover for item in context["items"] if item.cover is not None and not item.cover.is_original]
        made = labels.makings(covers)
        for item in context["items"]:
            cover = item.cover
            item.cover_ai_marker = (
                display.ai_marker(made.get(cover.pk), preferred=cover.is_preferred)
                if cover is not None and not cover.is_original else ""
            )
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            collection=self.collection,
            filters=self.filters,
            query_string=query.urlencode(),
            filtered=any(self.request.GET.get(name) for name in self.filters.fields),
        )
        return context


def _dublin_core(item: Item) -> list[tuple[str, str]]:
    """(label, value) of the item's Dublin Core elements that have a value."""
    names = ("title", "identifier", *DUBLIN_CORE_FIELDS)
    return [
        (str(Item._meta.get_field(name).verbose_name).capitalize(), getattr(item, name))
        for name in names
        if getattr(item, name)
    ]


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _job_json(job: RestorationJob) -> dict[str, Any]:
    eta = job.eta_seconds()
    return {
        "id": job.pk,
        "task": job.task,
        "task_label": job.get_task_display(),
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress": job.progress,
        "eta_seconds": eta,
        "eta_text": display.eta_text(eta),
        "error": job.error,
        "result_version": job.result_version_id,
        "status_url": reverse("job-detail", args=[job.pk]),
        "cancellable": job.status in ("queued", "running") and job.cancel_requested_at is None,
        "cancel_requested": job.cancel_requested_at is not None,
    }


class ItemView(View):
    """``/items/<identifier>/``: GET shows the item; POST queues a job on it, or with ``cancel_job``
    cancels one of its jobs (curators only)."""

    template_name = "restoration/item.html"

    def _item(self, request: HttpRequest, identifier: str) -> Item:
        return get_object_or_404(Item.objects.visible_to(request.user).select_related("collection"), identifier=identifier)

    def get(self, request: HttpRequest, identifier: str) -> HttpResponse:
        return self._render(request, self._item(request, identifier))

    def post(self, request: HttpRequest, identifier: str) -> HttpResponse:
        item = self._item(request, identifier)  # 404 first: a refusal must not reveal a hidden item
        if "cancel_job" in request.POST:
            return self._cancel(request, item, request.POST["cancel_job"])
        if not request.user.has_perm(QUEUE_PERMISSION):
            raise PermissionDenied("Queueing restoration jobs is for curators.")
        versions = list(Version.objects.visible_to(request.user).filter(item=item).order_by("created_at", "id"))
        form = QueueJobForm(request.POST, item=item, versions=versions, tasks=engine.available_tasks(),
                            reference_versions=_reference_versions(request.user))
        error = None
        if form.is_valid():
            try:
                submission = jobs.submit_job(item, user=request.user, **form.job_request())
            except jobs.JobError as exc:
                error = exc
            else:
                return self._queued(request, item, submission)
        if _wants_json(request):
            errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
            if error is not None:
                errors.setdefault(error.field, []).append(error.message)
            message = error.message if error is not None else "The job was not queued: check the form."
            too_many = error is not None and error.code == "too_many_jobs"
            return JsonResponse({"code": error.code if error else "invalid", "detail": message, "errors": errors},
                                status=429 if too_many else 400)
        if error is not None:
            form.add_error(None, error.message)
        return self._render(request, item, form=form, status=400)

    def _cancel(self, request: HttpRequest, item: Item, job_id: str) -> HttpResponse:
        """Cancels one of the item's jobs (``jobs.cancel_job``): a queued one at once, a running one
        at its next tile."""
        if not request.user.has_perm(CANCEL_PERMISSION):
            raise PermissionDenied("Cancelling restoration jobs is for curators.")
        valid = job_id.isascii() and job_id.isdigit() and len(job_id) < 19  # a database integer
        job = RestorationJob.objects.filter(item=item, pk=int(job_id)).first() if valid else None
        status = 200
        if job is None:
            message, status = "There is no such job on this item.", 404
        else:
            try:
                job = jobs.cancel_job(job, user=request.user)
            except jobs.JobError as exc:
                message, status = exc.message, 409
            else:
                message = (f"Job {job.pk} cancelled." if job.status == "cancelled"
                           else f"Job {job.pk} stops at its next tile; nothing of it will be stored.")
        if _wants_json(request):
            body: dict[str, Any] = {"detail": message}
            if job is not None:
                body["job"] = _job_json(job)
            return JsonResponse(body, status=status)
        (messages.success if status == 200 else messages.error)(request, message)
        return HttpResponseRedirect(reverse("pages:item", args=[item.identifier]), status=303)

    def _queued(self, request: HttpRequest, item: Item, submission: jobs.Submission) -> HttpResponse:
        job = submission.job
        if submission.reused:
            message = f"This {job.get_task_display().lower()} was already done (job {job.pk}): its result is reused."
        elif submission.created:
            message = f"Job {job.pk} queued: {job.get_task_display().lower()}."
        else:
            message = f"The same job is already {job.get_status_display().lower()} (job {job.pk})."
        logger.info("Page queue by %s on %s: %s", request.user, item.identifier, message)
        if _wants_json(request):
            return JsonResponse({"job": _job_json(job), "created": submission.created, "reused": submission.reused,
                                 "detail": message}, status=200 if submission.reused else 202)
        messages.success(request, message)
        url = reverse("pages:item", args=[item.identifier])
        if submission.reused:
            url += "?" + urlencode({"compare": job.result_version_id})
        return HttpResponseRedirect(url, status=303)

    def _render(self, request: HttpRequest, item: Item, *, form: QueueJobForm | None = None,
                status: int = 200, review_form: tuple[int, ReviewForm] | None = None,
                note_form: NoteForm | None = None) -> HttpResponse:
        user = request.user
        versions = display.shown_versions(item, user)
        derivatives = viewer.comparable(versions)
        compare = viewer.opening(derivatives, request.GET.get("compare"))
        context: dict[str, Any] = {
            "item": item,
            "dublin_core": _dublin_core(item),
            "versions": versions,
            "original": next((s for s in versions if s.version.is_original), None),
            "derivatives": derivatives,
            "compare": compare,
            "viewer_config": viewer.config(item, versions, compare),
            "timeline": display.timeline(item, user),
            "can_queue": user.has_perm(QUEUE_PERMISSION),
            "can_review": can_review(user),
        }
        if context["can_review"]:
            # One review form per derivative (the one posted back with its errors, if any).
            for shown in derivatives:
                posted = review_form if review_form is not None and review_form[0] == shown.version.pk else None
                shown.version.review_form = posted[1] if posted else ReviewForm(
                    prefix=f"review-{shown.version.pk}",
                    initial={"status": shown.version.review_status, "reason": shown.version.review_reason})
            context["note_form"] = note_form or NoteForm(versions=[s.version for s in versions])
            context["notes"] = list(item.notes.select_related("author").order_by("created_at", "id"))
        if context["can_queue"]:
            tasks = engine.available_tasks()
            context["queue_form"] = form or QueueJobForm(
                item=item, versions=[s.version for s in versions], tasks=tasks,
                reference_versions=_reference_versions(user),
            )
        context["show_jobs"] = user.has_perm(VIEW_JOBS_PERMISSION)
        context["can_cancel_jobs"] = user.has_perm(CANCEL_PERMISSION)
        if context["show_jobs"]:
            recent = list(RestorationJob.objects.filter(item=item).order_by("-created_at", "-id")[:RECENT_JOBS])
            context["jobs"] = [(job, _job_json(job)) for job in recent]
        return render(request, self.template_name, context, status=status)


# The reference picker lists at most this many versions (newest first): a page, not an export.
REFERENCE_CHOICES = 500


def _reference_versions(user) -> list[Version]:
    """Versions of any item ``user`` may read, for a task's reference parameter (newest first)."""
    return list(Version.objects.visible_to(user).select_related("item").order_by("-created_at", "-id")[:REFERENCE_CHOICES])
