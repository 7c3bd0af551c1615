"""The grid's search and filters, the form that queues a job from an item's page, and the
curators' review and note forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, QuerySet

from restoration.jobs.params import Param
from restoration.jobs.tasks import TASKS
from restoration.core.models import Item, ReviewStatus, Version, VersionKind
from restoration.core.search import folded_contains
from restoration.core.services import MAX_NOTE_LENGTH, MAX_REASON_LENGTH

from .display import derivative_kinds

# Item fields the grid's search looks in (every word must match one of them, case and accents folded).
SEARCH_FIELDS = ("identifier", "title", "description", "creator", "subject", "date", "coverage")


class ItemFilterForm(forms.Form):
    """``?q=harbour&restored=on&kind=restored`` on a grid of items."""

    q = forms.CharField(label="Search", required=False, max_length=200,
                        help_text="Words in the title, identifier, description, creator, subject, date or place.")
    restored = forms.BooleanField(label="Has restored versions", required=False)
    kind = forms.ChoiceField(label="Kind of derivative", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any"), *derivative_kinds()]

    def filter(self, items: QuerySet[Item], user) -> QuerySet[Item]:
        """``items`` narrowed by the valid fields (an invalid field is ignored and shown as an error);
        the derivative filters count only the versions ``user`` may see."""
        self.is_valid()  # an invalid field is left out of cleaned_data
        data = getattr(self, "cleaned_data", {})
        for word in (data.get("q") or "").split():
            items = items.filter(folded_contains(SEARCH_FIELDS, word))
        derivatives = Version.objects.visible_to(user).filter(item=OuterRef("pk")).exclude(kind=VersionKind.ORIGINAL)
        if data.get("restored"):
            items = items.filter(Exists(derivatives))
        if data.get("kind"):
            items = items.filter(Exists(derivatives.filter(kind=data["kind"])))
        return items


def _version_choices(versions: list[Version], *, with_item: bool = False) -> list[tuple[int, str]]:
    """Choices naming each version; ``with_item`` prefixes the item's identifier (versions of
    several items, as a reference picker lists them)."""
    return [(v.pk, (f"{v.item.identifier}: " if with_item else "")
             + f"{v.get_kind_display()} (version {v.pk}, {v.width} × {v.height})") for v in versions]


class QueueJobForm(forms.Form):
    """A task the engine offers now, the version to start from, and the task's parameters.

    Each task's parameters are fields named ``<task>-<parameter>`` (from its definition in
    ``restoration.jobs.tasks``; the tile size, which never changes a result, is left to the
    server's default; a reference parameter chooses among the versions of any item the user may
    read, ``reference_versions``);
    ``job_request()`` returns what ``jobs.submit_job`` takes.
    """

    task = forms.ChoiceField(label="Task")
    source_version = forms.TypedChoiceField(label="Start from", coerce=int)

    def __init__(self, *args, item: Item, versions: list[Version], tasks: tuple[str, ...],
                 reference_versions: list[Version] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.item = item
        self.tasks = tasks
        self.fields["task"].choices = [(task, TASKS[task].title) for task in tasks]
        if tasks:
            self.fields["task"].initial = tasks[0]
        self.fields["source_version"].choices = _version_choices(versions)
        original = next((v for v in versions if v.is_original), None)
        if original is not None:
            self.fields["source_version"].initial = original.pk
        self.task_fields: dict[str, list[str]] = {}
        for task in tasks:
            names = []
            for param in TASKS[task].params:
                if not param.in_recipe:
                    continue
                name = f"{task}-{param.name}"
                self.fields[name] = self._param_field(param, versions, reference_versions)
                names.append(name)
            self.task_fields[task] = names

    @staticmethod
    def _param_field(param: Param, versions: list[Version], reference_versions: list[Version] | None = None) -> forms.Field:
        label = param.name.replace("_", " ").capitalize()
        common: dict[str, Any] = {"label": label, "required": False, "help_text": param.help, "initial": param.default}
        if param.reference:
            # Any version the curator may read, of this item or another one (the job checks it again).
            pool = reference_versions if reference_versions is not None else versions
            choices = ([] if param.required else [("", "None")]) + _version_choices(pool, with_item=True)
            return forms.TypedChoiceField(choices=choices, coerce=int, empty_value=None, **common)
        if param.choices:
            return forms.TypedChoiceField(choices=[(c, str(c)) for c in param.choices], coerce=param.kind, **common)
        if param.kind is bool:
            return forms.BooleanField(**common)
        if param.kind is int:
            return forms.IntegerField(min_value=param.minimum, max_value=param.maximum, **common)
        field = forms.FloatField(min_value=param.minimum, max_value=param.maximum, **common)
        field.widget.attrs["step"] = "any"
        return field

    def fields_of(self, task: str) -> list[forms.BoundField]:
        return [self[name] for name in self.task_fields.get(task, [])]

    def fieldsets(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """(task, label, bound fields) for the template."""
        return [(task, TASKS[task].title, self.fields_of(task)) for task in self.tasks]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        task = cleaned.get("task")
        # Only the chosen task's parameters count: errors in another task's fields are dropped.
        for other, names in self.task_fields.items():
            if other != task:
                for name in names:
                    self.errors.pop(name, None)
        return cleaned

    def job_request(self) -> dict[str, Any]:
        """``task``, ``params`` (only those given) and ``source_version`` for ``jobs.submit_job``."""
        task = self.cleaned_data["task"]
        prefix = f"{task}-"
        params = {
            name.removeprefix(prefix): self.cleaned_data.get(name)
            for name in self.task_fields[task]
            if self.cleaned_data.get(name) is not None
        }
        return {"task": task, "params": params, "source_version": self.cleaned_data["source_version"]}


class ReviewForm(forms.Form):
    """A curator's review of one derivative (``services.review_version`` checks the rest: a
    reason to reject or withdraw)."""

    status = forms.ChoiceField(label="Review", choices=ReviewStatus.choices)
    reason = forms.CharField(label="Reason", required=False, max_length=MAX_REASON_LENGTH,
                             widget=forms.TextInput(attrs={"placeholder": "Why (required to reject or withdraw)"}))


class NoteForm(forms.Form):
    """A curator's note on the item, or on one of its versions."""

    text = forms.CharField(label="Note", max_length=MAX_NOTE_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.TypedChoiceField(label="On", coerce=int, required=False, empty_value=None)

    def __init__(self, *args, versions: list[Version], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [("", "the item"), *_version_choices(versions)]
