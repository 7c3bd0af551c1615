"""Admin actions that hand work elsewhere: restoration jobs (one per task in ``TASKS``, for the
tasks that can run now), BagIt exports (downloaded as a zip), and batch edits of items (make
public / not public, move to a collection, set a descriptive field) through
``services.update_items_metadata``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from restoration.core import services
from restoration.interop import bagit as bagit_export
from restoration.interop import http
from restoration import jobs
from restoration.jobs import engine
from restoration.jobs.tasks import TASKS
from restoration.core.models import DUBLIN_CORE_FIELDS, Collection, Item, Version


# --- Restoration actions (items and versions) -------------------------------------------------------


def _queue_jobs(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, task: str) -> None:
    """Queues one ``task`` job per selected item (on its original) or version, and says what happened."""
    sources = queryset.select_related("item") if queryset.model is Version else queryset
    # An action has no form: it queues with the task's ``action_params`` when the defaults
    # cannot do (style's default method needs a reference version; the trained model does not).
    definition = TASKS[task]
    params = dict(definition.action_params) if definition.action_params is not None else None
    outcome = jobs.submit_many(sources, task=task, user=request.user, params=params)
    label = definition.title
    counts = (
        f"{label}: {len(outcome['queued'])} job(s) queued, {len(outcome['reused'])} reused "
        f"(already done), {len(outcome['in_progress'])} already queued or running."
    )
    modeladmin.message_user(request, counts, messages.SUCCESS if not outcome["refused"] else messages.WARNING)
    for source, message in outcome["refused"]:
        modeladmin.message_user(request, f"{source}: {message}", messages.ERROR)


def _job_action(task: str):
    def action(modeladmin, request, queryset) -> None:
        _queue_jobs(modeladmin, request, queryset, task)

    action.__name__ = f"queue_{task}"
    label = TASKS[task].action_title or TASKS[task].title
    return admin.action(permissions=["run_jobs"], description=f"{label} (one job per selected %(verbose_name)s)")(action)


# One action per task; ``JobActionsMixin.get_actions`` keeps those the engine can run now.
JOB_ACTIONS = [_job_action(task) for task in TASKS]


def _action_can_run(task: str) -> bool:
    """Whether the task's action parameters name a variant whose weights are there."""
    params = TASKS[task].action_params
    return params is None or any(all(v.get(k) == params[k] for k in v) for v in engine.available_variants(task))


class JobActionsMixin:
    """Restoration actions for Curators (``add_restorationjob``), for the tasks available now."""

    def has_run_jobs_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("restoration.add_restorationjob")

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        available = set(engine.available_tasks())
        for task in TASKS:
            if task not in available or not _action_can_run(task):
                actions.pop(f"queue_{task}", None)
        return actions


# --- BagIt export (items and collections) -------------------------------------------------------


class BagExportMixin:
    """"Download BagIt bags": the bags of the selection (``restoration.interop.bagit``), one per
    item or collection, in one zip the browser downloads; nothing stays on the server's disk.
    Curators only (``change_item``), as a bag holds every file and event of non-public items too.
    It runs in the request: for collections of many gigabytes use ``manage.py export_bag``."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("restoration.change_item")

    @admin.action(permissions=["export"], description="Download BagIt bag(s) of the selected %(verbose_name_plural)s")
    def export_bags(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        what = f"{queryset.model._meta.model_name}s"
        name = f"bags-{what}-{timezone.now():%Y%m%dT%H%M%S}"
        if queryset.model is Collection:
            export, selection = bagit_export.export_collection_bags, queryset.order_by("slug")
        else:
            export, selection = bagit_export.export_item_bags, queryset.select_related("collection").order_by("identifier")
        try:
            archive, _ = bagit_export.export_zip(export, selection, name=name)
        except bagit_export.BagExportError as err:
            self.message_user(request, f"Nothing exported: {err.message}", messages.ERROR)
            return None
        return http.attachment(archive, content_type="application/zip", name=f"{name}.zip")


# --- Batch edits of items ------------------------------------------------------------------------

# The descriptive fields "Set a field" offers (what the item's change form calls them).
SETTABLE_FIELDS = ("title", *DUBLIN_CORE_FIELDS)


class MoveToCollectionForm(forms.Form):
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.order_by("name"), required=False, empty_label="(no collection)",
        help_text="The selected items leave their current collection for this one.",
    )


class SetFieldForm(forms.Form):
    field = forms.ChoiceField(choices=[(name, Item._meta.get_field(name).verbose_name.capitalize())
                                       for name in SETTABLE_FIELDS])
    value = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                            help_text="Replaces the field's value on every selected item; empty clears it.")


class BatchEditMixin:
    """Bulk edits of the selected items for those who may change items (``change_item``), each
    through ``services.update_items_metadata``: all or nothing, one ``metadata modification``
    event per item that changes. "Move to a collection" and "Set a field" first show a form
    (like Django's delete confirmation) and apply it when it is posted back."""

    batch_form_template = "admin/restoration/item/batch_form.html"

    def _report(self, request: HttpRequest, title: str, outcome: services.BatchOutcome) -> None:
        self.message_user(
            request, f"{title}: {len(outcome.changed)} item(s) changed, {len(outcome.unchanged)} already so.",
            messages.SUCCESS,
        )

    def _set_public(self, request: HttpRequest, queryset: QuerySet, public: bool, title: str) -> None:
        # Cannot fail on a value (a bool); the service still checks it.
        self._report(request, title, services.update_items_metadata(queryset.order_by("pk"), {"is_public": public},
                                                                    user=request.user))

    @admin.action(permissions=["change"], description="Make the selected items public")
    def make_public(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_public(request, queryset, True, "Made public")

    @admin.action(permissions=["change"], description="Make the selected items not public")
    def make_not_public(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_public(request, queryset, False, "Made not public")

    def _batch_form(self, request: HttpRequest, queryset: QuerySet, form_class, *, action: str, title: str,
                    changes) -> TemplateResponse | None:
        """The intermediate page: the form on the first post (from the changelist), the edit on
        the second (``apply``); an invalid form, or an edit the service refuses, shows it again."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                outcome = services.update_items_metadata(queryset.order_by("pk"), changes(form.cleaned_data),
                                                         user=request.user)
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                self._report(request, title, outcome)
                return None  # back to the list
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "queryset": queryset,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.batch_form_template, context)

    @admin.action(permissions=["change"], description="Move the selected items to a collection")
    def move_to_collection(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._batch_form(request, queryset, MoveToCollectionForm, action="move_to_collection",
                                title="Move to a collection", changes=lambda data: {"collection": data["collection"]})

    @admin.action(permissions=["change"], description="Set a field of the selected items")
    def set_field(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._batch_form(request, queryset, SetFieldForm, action="set_field", title="Set a field",
                                changes=lambda data: {data["field"]: data["value"]})


BATCH_ACTIONS = ["make_public", "make_not_public", "move_to_collection", "set_field"]
