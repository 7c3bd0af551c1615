"""JSON shapes of the API. Every serializer lists its fields; the names are the models' names.

Writes never save through a serializer: the views hand validated data to
``restoration.core.services`` (ingest, metadata edits) and ``restoration.jobs`` (restoration jobs),
which write the rows, files and events.
"""

from __future__ import annotations

import json

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from restoration.core.disclosure import Audience
from restoration.jobs import engine
from restoration.jobs.tasks import TASKS
from restoration.core.models import (
    DUBLIN_CORE_FIELDS,
    Collection,
    EventAgent,
    EventObject,
    Item,
    JobStatus,
    Note,
    ProvenanceEvent,
    RestorationJob,
    ReviewStatus,
    Version,
    VersionKind,
    can_review,
)

# Item fields a client may set, in the order the API shows them.
ITEM_METADATA_FIELDS = ("identifier", "title", *DUBLIN_CORE_FIELDS, "collection", "is_public")


def _absolute(serializer: serializers.Serializer, url: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


def _audience(serializer: serializers.Serializer) -> Audience:
    """Who reads (``core.disclosure``): the public unless the request's user may see non-public
    material. Without a request, the public."""
    request = serializer.context.get("request")
    return Audience.of(getattr(request, "user", None))


# --- Collections ------------------------------------------------------------------------------


# A URL that is null when there is nothing to link to (no display image, a job no longer queued).
NULLABLE_URI = serializers.URLField(allow_null=True)

class CollectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Collection
        fields = ["id", "name", "slug", "description", "is_public", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


def _for_curators(serializer: serializers.Serializer) -> bool:
    """Whether the request's user is a curator (``can_review``): the review's reason, who
    reviewed and the notes are theirs."""
    request = serializer.context.get("request")
    return request is not None and can_review(request.user)


# --- Notes ------------------------------------------------------------------------------------


class NoteSerializer(serializers.ModelSerializer):
    """A curator's dated note on an item or one of its versions (``version`` null: on the item)."""

    author = serializers.CharField(source="author.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Note
        fields = ["id", "item", "version", "text", "author", "created_at"]
        read_only_fields = fields


class NoteRequestSerializer(serializers.Serializer):
    """Input of ``POST /api/items/{id}/notes/`` and ``POST /api/versions/{id}/notes/``."""

    text = serializers.CharField(
        allow_blank=True, trim_whitespace=False,
        help_text="The note (at most 10000 characters); an empty one is refused (code empty_note).",
    )


class ReviewRequestSerializer(serializers.Serializer):
    """Input of ``POST /api/versions/{id}/review/``."""

    status = serializers.ChoiceField(
        choices=ReviewStatus.choices,
        help_text="pending, accepted, rejected (a bad result) or withdrawn (taken back from view).",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False,
        help_text="Why (at most 2000 characters); required to reject or withdraw (code reason_required).",
    )


def _notes(serializer: serializers.Serializer, notes) -> list[dict[str, Any]] | None:
    if not _for_curators(serializer):
        return None
    return NoteSerializer(notes.all(), many=True, context=serializer.context).data


# --- Versions ---------------------------------------------------------------------------------


class VersionSerializer(serializers.ModelSerializer):
    """One stored image file and its technical metadata (read-only: versions are write-once).

    ``file_url`` streams the archival file; ``thumbnail_url`` and ``access_url`` stream the
    display JPEGs (null when the version has none). All three go through the API, so they
    obey the same visibility rules as the item.

    ``review_status`` is a derivative's review (null for the original); ``review_reason``,
    ``reviewed_at``, ``reviewed_by`` and ``notes`` are for curators (null for anyone else).
    """

    url = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField(
        help_text="Login name of the account that stored it for curators and viewers, else a role."
    )
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    access_url = serializers.SerializerMethodField()
    review_status = serializers.SerializerMethodField()
    review_reason = serializers.SerializerMethodField()
    reviewed_at = serializers.SerializerMethodField()
    reviewed_by = serializers.SerializerMethodField()
    notes = serializers.SerializerMethodField()
    review_url = serializers.SerializerMethodField()

    class Meta:
        model = Version
        fields = [
            "id",
            "url",
            "item",
            "kind",
            "parent",
            "original_filename",
            "sha256",
            "bytes",
            "width",
            "height",
            "mode",
            "bit_depth",
            "mime_type",
            "page_count",
            "is_preferred",
            "created_at",
            "created_by",
            "file_url",
            "thumbnail_url",
            "access_url",
            "review_status",
            "review_reason",
            "reviewed_at",
            "reviewed_by",
            "review_url",
            "notes",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, version: Version) -> str:
        return _absolute(self, reverse("version-detail", args=[version.pk]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, version: Version) -> str | None:
        return _audience(self).account(version.created_by)

    @extend_schema_field({"type": "string", "enum": ReviewStatus.values, "nullable": True})
    def get_review_status(self, version: Version) -> str | None:
        return None if version.is_original else version.review_status

    @extend_schema_field({"type": "string", "nullable": True})
    def get_review_reason(self, version: Version) -> str | None:
        return version.review_reason if _for_curators(self) and not version.is_original else None

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_reviewed_at(self, version: Version) -> str | None:
        if not _for_curators(self) or version.reviewed_at is None:
            return None
        return serializers.DateTimeField().to_representation(version.reviewed_at)

    @extend_schema_field({"type": "string", "nullable": True})
    def get_reviewed_by(self, version: Version) -> str | None:
        if not _for_curators(self) or version.reviewed_by_id is None:
            return None
        return version.reviewed_by.username

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_review_url(self, version: Version) -> str | None:
        if version.is_original or not _for_curators(self):
            return None
        return _absolute(self, reverse("version-review", args=[version.pk]))

    @extend_schema_field(NoteSerializer(many=True, allow_null=True))
    def get_notes(self, version: Version) -> list[dict[str, Any]] | None:
        return _notes(self, version.notes)

    @extend_schema_field(OpenApiTypes.URI)
    def get_file_url(self, version: Version) -> str:
        return _absolute(self, reverse("version-file", args=[version.pk]))

    @extend_schema_field(NULLABLE_URI)
    def get_thumbnail_url(self, version: Version) -> str | None:
        if not version.thumbnail:
            return None
        return _absolute(self, reverse("version-thumbnail", args=[version.pk]))

    @extend_schema_field(NULLABLE_URI)
    def get_access_url(self, version: Version) -> str | None:
        if not version.access_file:
            return None
        return _absolute(self, reverse("version-access", args=[version.pk]))


class VersionSummarySerializer(serializers.ModelSerializer):
    """A version as listed inside its item: enough to pick one and follow its ``url``."""

    url = serializers.SerializerMethodField()
    review_status = serializers.SerializerMethodField()

    class Meta:
        model = Version
        fields = ["id", "url", "kind", "parent", "is_preferred", "review_status", "created_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, version: Version) -> str:
        return _absolute(self, reverse("version-detail", args=[version.pk]))

    @extend_schema_field({"type": "string", "enum": ReviewStatus.values, "nullable": True})
    def get_review_status(self, version: Version) -> str | None:
        return None if version.is_original else version.review_status


# --- Items ------------------------------------------------------------------------------------


class ItemSerializer(serializers.ModelSerializer):
    """An item's Dublin Core description, its original version and a summary of all versions.

    Used for reading and for PATCH. ``identifier`` is accepted on PATCH only when it equals the
    stored one: identifiers never change (400, code ``identifier_immutable``).

    The view prefetches ``versions`` (with ``created_by``), so ``original`` and ``versions``
    cost no query per item; those are the versions the caller may see
    (``Version.objects.visible_to``: a rejected derivative is listed for curators only).
    ``notes`` (the item's notes and its versions', oldest first) is for curators, else null.
    """

    url = serializers.SerializerMethodField()
    collection = serializers.PrimaryKeyRelatedField(
        queryset=Collection.objects.all(), allow_null=True, required=False
    )
    original = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()
    versions_url = serializers.SerializerMethodField()
    provenance_url = serializers.SerializerMethodField()
    notes = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = [
            "id",
            "url",
            *ITEM_METADATA_FIELDS,
            "created_at",
            "updated_at",
            "original",
            "versions",
            "versions_url",
            "provenance_url",
            "notes",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is the service's to check (code identifier_taken), and PATCH refuses any
        # other identifier anyway.
        extra_kwargs = {"identifier": {"validators": [], "required": False}}

    def validate_identifier(self, value: str) -> str:
        if self.instance is not None and value != self.instance.identifier:
            raise serializers.ValidationError(
                f"An item's identifier cannot be changed once set (it is {self.instance.identifier!r}).",
                code="identifier_immutable",
            )
        return value

    @staticmethod
    def _versions(item: Item) -> list[Version]:
        return list(item.versions.all())  # served from the prefetch cache when there is one

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, item: Item) -> str:
        return _absolute(self, reverse("item-detail", args=[item.pk]))

    @extend_schema_field(VersionSerializer(allow_null=True))
    def get_original(self, item: Item) -> dict[str, Any] | None:
        original = next((v for v in self._versions(item) if v.kind == VersionKind.ORIGINAL), None)
        return VersionSerializer(original, context=self.context).data if original is not None else None

    @extend_schema_field(VersionSummarySerializer(many=True))
    def get_versions(self, item: Item) -> list[dict[str, Any]]:
        return VersionSummarySerializer(self._versions(item), many=True, context=self.context).data

    @extend_schema_field(OpenApiTypes.URI)
    def get_versions_url(self, item: Item) -> str:
        return _absolute(self, reverse("item-versions", args=[item.pk]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_provenance_url(self, item: Item) -> str:
        return _absolute(self, reverse("item-provenance", args=[item.pk]))

    @extend_schema_field(NoteSerializer(many=True, allow_null=True))
    def get_notes(self, item: Item) -> list[dict[str, Any]] | None:
        return _notes(self, item.notes)


class ItemIngestSerializer(serializers.ModelSerializer):
    """Multipart input of ``POST /api/items/``: the image ``file`` plus the item's metadata.

    Only the shape of the input is checked here; whether the file is an acceptable image
    (empty, not an image, corrupt, too many pixels, too large, bad name, duplicate) is decided
    by ``services.ingest_upload``, so the API, the admin and the command line refuse the same
    files with the same codes. An empty file therefore passes this serializer on purpose.
    """

    file = serializers.FileField(
        write_only=True, allow_empty_file=True, help_text="The image file (TIFF, PNG, JPEG, ...), stored unchanged."
    )
    collection = serializers.PrimaryKeyRelatedField(
        queryset=Collection.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Item
        fields = ["file", *ITEM_METADATA_FIELDS]
        extra_kwargs = {
            "identifier": {
                "validators": [],
                "required": False,
                "help_text": "Unique archival identifier; derived from the file name when left out.",
            }
        }


# --- Provenance -------------------------------------------------------------------------------


class EventAgentSerializer(serializers.ModelSerializer):
    """An agent of an event; a person is named by role for those who may not see non-public
    material (``core.disclosure``)."""

    name = serializers.SerializerMethodField()
    type = serializers.CharField(source="agent.agent_type", read_only=True)
    version = serializers.CharField(source="agent.version", read_only=True)

    class Meta:
        model = EventAgent
        fields = ["name", "type", "version", "role"]
        read_only_fields = fields

    def get_name(self, link: EventAgent) -> str:
        return _audience(self).agent_name(link.agent)


class EventObjectSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version_id", read_only=True)

    class Meta:
        model = EventObject
        fields = ["version", "role"]
        read_only_fields = fields


class ProvenanceEventSerializer(serializers.ModelSerializer):
    """A PREMIS event; ``event_type_uri`` is the id.loc.gov URI of ``event_type``. Callers who may
    not see non-public material read ``detail`` without the worker's host and with a generic
    failure text (``core.disclosure``)."""

    event_type_uri = serializers.CharField(read_only=True)
    detail = serializers.SerializerMethodField()
    agents = EventAgentSerializer(source="agent_links", many=True, read_only=True)
    objects = EventObjectSerializer(source="object_links", many=True, read_only=True)

    class Meta:
        model = ProvenanceEvent
        fields = [
            "identifier",
            "event_type",
            "event_type_uri",
            "timestamp",
            "outcome",
            "detail",
            "item",
            "agents",
            "objects",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_detail(self, event: ProvenanceEvent) -> dict[str, Any]:
        return _audience(self).detail(event.detail)


# --- Errors (documentation of the shape written by exceptions.exception_handler) ---------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable code, e.g. not_found, required, corrupt_image.")
    detail = serializers.CharField(help_text="One human-readable sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Input errors only: field name -> messages (non_field_errors for the rest).",
    )


class DuplicateErrorSerializer(ErrorSerializer):
    existing_item = serializers.IntegerField(allow_null=True, help_text="Id of the item holding the same content.")
    existing_version = serializers.IntegerField(allow_null=True, help_text="Id of that version.")


# --- Restoration jobs -------------------------------------------------------------------------


PARAMS_HELP = (
    "Parameters of the task (one of the objects below, by task); unset ones take their defaults. E.g. "
    + "; ".join(f"{name} {json.dumps(dict(task.example))}" for name, task in TASKS.items())
    + " (style: color and optimize need a reference version of this or another item you may read; feedforward "
    "takes none; steps only for optimize)."
)


@extend_schema_field({
    "anyOf": [engine.params_schema(task) for task in TASKS],
    "description": PARAMS_HELP,
})
class JobParamsField(serializers.JSONField):
    """``params`` of a job request, documented per task from its definition (``restoration.jobs.tasks``)."""


class JobRequestSerializer(serializers.Serializer):
    """Input of ``POST /api/items/{id}/jobs/``. Only the shape is checked here; the task, its
    parameters and the source version are checked by ``restoration.jobs.submit_job`` (400 with
    code ``unknown_task``, ``task_unavailable``, ``invalid_parameters`` or ``invalid_source``)."""

    task = serializers.CharField(
        help_text=f"{', '.join(TASKS)}: one the engine can run now (else 400 task_unavailable)."
    )
    params = JobParamsField(required=False, default=dict, help_text=PARAMS_HELP)
    source_version = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of a version of this item; default: the original."
    )


class JobSerializer(serializers.ModelSerializer):
    """A restoration job: its state, and once it succeeded, the derivative it produced."""

    url = serializers.SerializerMethodField()
    item_identifier = serializers.CharField(source="item.identifier", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True, default=None)
    duration_seconds = serializers.SerializerMethodField()
    result_version = VersionSerializer(read_only=True, allow_null=True)
    cancel_url = serializers.SerializerMethodField()
    eta_seconds = serializers.SerializerMethodField()
    cancel_requested = serializers.SerializerMethodField()

    class Meta:
        model = RestorationJob
        fields = [
            "id",
            "url",
            "item",
            "item_identifier",
            "source_version",
            "task",
            "params",
            "status",
            "progress",
            "error",
            "attempts",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "eta_seconds",
            "queue",
            "cancel_requested",
            "worker_host",
            "device",
            "model_name",
            "weights_sha256",
            "result_version",
            "cancel_url",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "weights_sha256": {"help_text": (
                "sha256 of the weights file the job runs with; for a style method without weights (color, "
                "optimize), sha256 of the method's description (method, feature network, gan_engine version)."
            )},
            "params": {"help_text": "Validated parameters, defaults filled in."},
            "queue": {"help_text": "default, or long: jobs predicted long (pixels x task cost) have their own worker."},
        }

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job: RestorationJob) -> str:
        return _absolute(self, reverse("job-detail", args=[job.pk]))

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, job: RestorationJob) -> float | None:
        duration = job.duration
        return round(duration.total_seconds(), 3) if duration is not None else None

    @extend_schema_field({"type": "number", "nullable": True,
                          "description": "Seconds left, estimated from progress and the time since the run "
                                         "started; null unless the job is running with some progress."})
    def get_eta_seconds(self, job: RestorationJob) -> float | None:
        return job.eta_seconds()

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_cancel_requested(self, job: RestorationJob) -> bool:
        """A cancel was asked for (a running job stops at its next tile)."""
        return job.cancel_requested_at is not None

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True,
                          "description": "POST here to cancel; null once the job is finished or its cancel asked for."})
    def get_cancel_url(self, job: RestorationJob) -> str | None:
        if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING) or job.cancel_requested_at is not None:
            return None
        return _absolute(self, reverse("job-cancel", args=[job.pk]))
