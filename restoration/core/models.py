"""The archive's domain: collections, items, image versions and their PREMIS provenance.

Rules that must hold whatever path a write takes are enforced here (not only in forms or
serializers): an item's identifier never changes once set; an original version is write-once
(its file and technical metadata never change, and it is never deleted); provenance events are
append-only. Multi-step writes (ingest, metadata edits, choosing the preferred version) live in
``restoration.core.services``; events are written only by ``restoration.core.provenance``.
"""

from __future__ import annotations

import contextvars
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class ImmutableError(ValidationError):
    """Raised when a write would change or delete something the archive keeps unchanged."""


# Set (only) by ``restoration.core.provenance`` while it writes an event: any other path that tries to
# save a ProvenanceEvent or its links is refused, so events come from one place.
PROVENANCE_WRITER: contextvars.ContextVar[bool] = contextvars.ContextVar("provenance_writer", default=False)


def _require_provenance_writer() -> None:
    if not PROVENANCE_WRITER.get():
        raise ImmutableError(
            "Provenance events are written only through restoration.core.provenance.", code="provenance_writer"
        )


# --- Collections and items --------------------------------------------------------------------


class CollectionQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CollectionQuerySet":
        """Anonymous users see public collections; authenticated users see all."""
        if user is not None and user.is_authenticated:
            return self
        return self.filter(is_public=True)


class Collection(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_public = models.BooleanField(default=False, help_text="Visible to anonymous users.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CollectionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ItemQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if "identifier" in kwargs:
            raise ImmutableError("An item's identifier cannot be changed once set.", code="identifier_immutable")
        return super().update(**kwargs)

    def delete(self):
        raise ImmutableError("Archival items are not deleted through the application.", code="item_delete")

    def visible_to(self, user) -> "ItemQuerySet":
        """Anonymous users see public items outside any collection or in public collections."""
        if user is not None and user.is_authenticated:
            return self
        return self.filter(is_public=True).filter(Q(collection__isnull=True) | Q(collection__is_public=True))


# Dublin Core elements (besides title and identifier), as free text; the API uses these names.
DUBLIN_CORE_FIELDS = (
    "creator",
    "date",
    "description",
    "subject",
    "publisher",
    "contributor",
    "type",
    "format",
    "source",
    "language",
    "coverage",
    "rights",
    "relation",
)


class Item(models.Model):
    """An archival item: one photograph, described in Dublin Core, with its image versions."""

    identifier = models.CharField(
        max_length=200, unique=True, help_text="The archival identifier: unique, and immutable once set."
    )
    title = models.CharField(max_length=500, blank=True)
    creator = models.CharField(max_length=500, blank=True)
    date = models.CharField(max_length=100, blank=True, help_text='Free text, such as "ca. 1920".')
    description = models.TextField(blank=True)
    subject = models.CharField(max_length=1000, blank=True)
    publisher = models.CharField(max_length=500, blank=True)
    contributor = models.CharField(max_length=500, blank=True)
    type = models.CharField(max_length=100, blank=True, default="StillImage")
    format = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=1000, blank=True)
    language = models.CharField(max_length=100, blank=True)
    coverage = models.CharField(max_length=500, blank=True)
    rights = models.CharField(max_length=1000, blank=True)
    relation = models.CharField(max_length=1000, blank=True)
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    is_public = models.BooleanField(default=False, help_text="Visible to anonymous users (if its collection is).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["identifier"]
        permissions = [("ingest_item", "Can ingest images into the archive")]

    def __str__(self) -> str:
        return f"{self.identifier}: {self.title}" if self.title else self.identifier

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            stored = Item.objects.filter(pk=self.pk).values_list("identifier", flat=True).first()
            if stored is not None and stored != self.identifier:
                raise ImmutableError("An item's identifier cannot be changed once set.", code="identifier_immutable")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Archival items are not deleted through the application.", code="item_delete")

    @property
    def storage_prefix(self) -> str:
        """Folder of the item's files in storage: originals and derivatives sit side by side."""
        return f"items/{self.pk:08d}"


# --- Versions ---------------------------------------------------------------------------------


class VersionKind(models.TextChoices):
    ORIGINAL = "original", "Original"
    RESTORED = "restored", "Restored"
    COLORIZED = "colorized", "Colorized"
    UPSCALED = "upscaled", "Upscaled"
    STYLED = "styled", "Styled"
    # A companion of a restored version: the pixels its damage stage repainted (255 = repainted).
    DAMAGE_MASK = "damage_mask", "Damage mask"


class WriteOnceFieldFile(models.fields.files.FieldFile):
    """A stored file that is never replaced or deleted through its field.

    ``FieldFile.delete()`` removes the file from storage *before* the row is saved, so the
    write-once rule has to hold here too, not only in ``Version.save``.
    """

    def save(self, name, content, save=True):
        if self.name:
            raise ImmutableError("A stored file is never replaced.", code="file_immutable")
        super().save(name, content, save=save)

    def delete(self, save=True):
        raise ImmutableError("Stored files are never deleted through the application.", code="file_delete")


class WriteOnceFileField(models.FileField):
    """A FileField whose files are never replaced or deleted through the model."""

    attr_class = WriteOnceFieldFile

    def deconstruct(self):
        # Migrations name the field by the path Django imports the app's models from.
        name, _path, args, kwargs = super().deconstruct()
        return name, "restoration.models.WriteOnceFileField", args, kwargs


# Fields of a version that never change once it is stored (for every kind: a file is what it is).
VERSION_IMMUTABLE_FIELDS = (
    "item_id",
    "kind",
    "parent_id",
    "file",
    "original_filename",
    "sha256",
    "bytes",
    "width",
    "height",
    "mode",
    "bit_depth",
    "mime_type",
    "page_count",
)


class VersionQuerySet(models.QuerySet):
    def originals(self) -> "VersionQuerySet":
        return self.filter(kind=VersionKind.ORIGINAL)

    def derivatives(self) -> "VersionQuerySet":
        return self.exclude(kind=VersionKind.ORIGINAL)

    def visible_to(self, user) -> "VersionQuerySet":
        """The versions of the items ``user`` may see (``Item.objects.visible_to``)."""
        if user is not None and user.is_authenticated:
            return self
        return self.filter(item__in=Item.objects.visible_to(user))

    def delete(self):
        if self.filter(kind=VersionKind.ORIGINAL).exists():
            raise ImmutableError("Original versions are never deleted.", code="original_delete")
        return super().delete()

    def update(self, **kwargs):
        protected = set(VERSION_IMMUTABLE_FIELDS) | {f.removesuffix("_id") for f in VERSION_IMMUTABLE_FIELDS}
        touched = set(kwargs) & protected
        if touched:
            raise ImmutableError(
                f"Stored versions are write-once; cannot update {sorted(touched)}.", code="version_immutable"
            )
        return super().update(**kwargs)


class Version(models.Model):
    """One image file of an item: the original scan, or a derivative made from another version.

    The file is stored byte-identical to what was received; its sha256 is computed while it
    streams in. ``thumbnail`` and ``access_file`` are display derivatives (never the archival
    file) generated for every version.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="versions")
    kind = models.CharField(max_length=20, choices=VersionKind.choices, default=VersionKind.ORIGINAL)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derivatives",
        help_text="The version this one was derived from (none for an original).",
    )
    file = WriteOnceFileField(max_length=500)
    original_filename = models.CharField(max_length=255, blank=True, help_text="Sanitised name of the uploaded file.")
    sha256 = models.CharField(max_length=64, db_index=True)
    bytes = models.BigIntegerField(help_text="Size of the file in bytes.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    mode = models.CharField(max_length=16, help_text="Pillow mode of the first page, e.g. RGB, L, I;16, RGBA.")
    bit_depth = models.PositiveSmallIntegerField(help_text="Bits per channel as stored in the file (8 or 16).")
    mime_type = models.CharField(max_length=100)
    page_count = models.PositiveIntegerField(default=1)
    thumbnail = WriteOnceFileField(max_length=500, blank=True)
    access_file = WriteOnceFileField(max_length=500, blank=True, help_text="Access JPEG for display.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_preferred = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VersionQuerySet.as_manager()

    class Meta:
        ordering = ["item_id", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(is_preferred=True), name="one_preferred_version_per_item"
            ),
            models.UniqueConstraint(
                fields=["item"], condition=Q(kind="original"), name="one_original_per_item"
            ),
            # The same file is ingested once: a second upload of it is a duplicate, even in a race.
            models.UniqueConstraint(
                fields=["sha256"], condition=Q(kind="original"), name="unique_original_sha256"
            ),
            models.CheckConstraint(
                condition=Q(kind="original", parent__isnull=True) | (~Q(kind="original") & Q(parent__isnull=False)),
                name="original_has_no_parent_derivative_has_one",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.identifier} / {self.kind} #{self.pk}"

    @property
    def is_original(self) -> bool:
        return self.kind == VersionKind.ORIGINAL

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            stored = Version.objects.filter(pk=self.pk).values(*VERSION_IMMUTABLE_FIELDS).first()
            if stored is not None:
                changed = [
                    f for f in VERSION_IMMUTABLE_FIELDS
                    if str(stored[f] or "") != str(getattr(self, f) or "")
                ]
                if changed:
                    raise ImmutableError(
                        f"Stored versions are write-once; cannot change {changed}.", code="version_immutable"
                    )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_original:
            raise ImmutableError("Original versions are never deleted.", code="original_delete")
        return super().delete(*args, **kwargs)


# --- Provenance (PREMIS 3) --------------------------------------------------------------------


class EventType(models.TextChoices):
    """PREMIS 3 event types; the value is the preferred label of id.loc.gov's vocabulary."""

    CAPTURE = "capture", "capture"
    CREATION = "creation", "creation"
    DELETION = "deletion", "deletion"
    FIXITY_CHECK = "fixity check", "fixity check"
    INGESTION = "ingestion", "ingestion"
    MESSAGE_DIGEST_CALCULATION = "message digest calculation", "message digest calculation"
    METADATA_MODIFICATION = "metadata modification", "metadata modification"
    MODIFICATION = "modification", "modification"
    MIGRATION = "migration", "migration"
    VALIDATION = "validation", "validation"


# Explicit map to the Library of Congress vocabulary (http://id.loc.gov/vocabulary/preservation/eventType).
EVENT_TYPE_URIS: dict[str, str] = {
    EventType.CAPTURE: "http://id.loc.gov/vocabulary/preservation/eventType/cap",
    EventType.CREATION: "http://id.loc.gov/vocabulary/preservation/eventType/cre",
    EventType.DELETION: "http://id.loc.gov/vocabulary/preservation/eventType/del",
    EventType.FIXITY_CHECK: "http://id.loc.gov/vocabulary/preservation/eventType/fix",
    EventType.INGESTION: "http://id.loc.gov/vocabulary/preservation/eventType/ing",
    EventType.MESSAGE_DIGEST_CALCULATION: "http://id.loc.gov/vocabulary/preservation/eventType/mes",
    EventType.METADATA_MODIFICATION: "http://id.loc.gov/vocabulary/preservation/eventType/mem",
    EventType.MODIFICATION: "http://id.loc.gov/vocabulary/preservation/eventType/mod",
    EventType.MIGRATION: "http://id.loc.gov/vocabulary/preservation/eventType/mig",
    EventType.VALIDATION: "http://id.loc.gov/vocabulary/preservation/eventType/val",
}


class EventOutcome(models.TextChoices):
    SUCCESS = "success", "success"
    FAILURE = "failure", "failure"
    WARNING = "warning", "warning"


class AgentType(models.TextChoices):
    PERSON = "person", "person"
    SOFTWARE = "software", "software"
    ORGANIZATION = "organization", "organization"


class Agent(models.Model):
    """A PREMIS agent: a person (linked to a user account) or a piece of software with a version."""

    agent_type = models.CharField(max_length=20, choices=AgentType.choices)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(default=dict, blank=True, help_text="E.g. model name and weights sha256.")

    class Meta:
        ordering = ["agent_type", "name", "version"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


class AppendOnlyQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        _require_provenance_writer()
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        raise ImmutableError("Provenance is append-only.", code="provenance_update")

    def delete(self):
        raise ImmutableError("Provenance is append-only.", code="provenance_delete")


class AppendOnlyModel(models.Model):
    """Rows that are inserted once, by ``restoration.core.provenance``, and never updated or deleted."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ImmutableError("Provenance is append-only.", code="provenance_update")
        _require_provenance_writer()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Provenance is append-only.", code="provenance_delete")


class ProvenanceEvent(AppendOnlyModel):
    """One PREMIS event. Written only through ``restoration.core.provenance``; never updated or deleted."""

    identifier = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    timestamp = models.DateTimeField(db_index=True)
    outcome = models.CharField(max_length=20, choices=EventOutcome.choices, default=EventOutcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    versions = models.ManyToManyField(Version, through="EventObject", related_name="events")
    agents = models.ManyToManyField(Agent, through="EventAgent", related_name="events")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["timestamp", "id"]

    def __str__(self) -> str:
        return f"{self.event_type} ({self.outcome}) at {self.timestamp:%Y-%m-%d %H:%M:%S}"

    @property
    def event_type_uri(self) -> str:
        return EVENT_TYPE_URIS[self.event_type]



class EventObject(AppendOnlyModel):
    """Links an event to a version, with the PREMIS role of that object in the event."""

    class Role(models.TextChoices):
        SOURCE = "source", "source"
        OUTCOME = "outcome", "outcome"

    event = models.ForeignKey(ProvenanceEvent, on_delete=models.PROTECT, related_name="object_links")
    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="event_links")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OUTCOME)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "version", "role"], name="unique_event_object_role")]


class EventAgent(AppendOnlyModel):
    """Links an event to an agent, with the PREMIS agent role."""

    class Role(models.TextChoices):
        IMPLEMENTER = "implementer", "implementer"
        EXECUTING_PROGRAM = "executing program", "executing program"
        AUTHORIZER = "authorizer", "authorizer"
        VALIDATOR = "validator", "validator"

    event = models.ForeignKey(ProvenanceEvent, on_delete=models.PROTECT, related_name="agent_links")
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="event_links")
    role = models.CharField(max_length=30, choices=Role.choices)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "agent", "role"], name="unique_event_agent_role")]


# --- Restoration jobs -------------------------------------------------------------------------


class JobTask(models.TextChoices):
    """What a job asks the engine to do; ``restoration.jobs.engine`` says which ones it can do now."""

    RESTORE = "restore", "Restore"
    COLORIZE = "colorize", "Colorize"
    UPSCALE = "upscale", "Upscale"
    STYLE = "style", "Style transfer"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A job in one of these states stands for its recipe: a second request for the same recipe gets
# it back (queued or running) or reuses its result (succeeded) instead of computing it again.
LIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED)
ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class RestorationJobQuerySet(models.QuerySet):
    def active(self) -> "RestorationJobQuerySet":
        return self.filter(status__in=ACTIVE_JOB_STATUSES)


class RestorationJob(models.Model):
    """One request to derive a new version from a stored one with the GAN engine.

    Written by ``restoration.jobs`` only: submitted by a curator (admin or API), run by a
    django-q2 worker, which stores the result through ``services.add_derivative``.
    ``recipe_key`` is the sha256 of the canonical JSON of (source version, task, parameters
    that change the output, weights sha256); at most one queued, running or succeeded job holds
    a given key, so a recipe is computed once even when requests race.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="jobs")
    source_version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="jobs")
    task = models.CharField(max_length=20, choices=JobTask.choices)
    params = models.JSONField(default=dict, blank=True, help_text="Validated parameters, defaults filled in.")
    recipe_key = models.CharField(max_length=64, db_index=True, editable=False)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0 to 1.")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs started (retries included).")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the worker running it (progress writes)."
    )
    worker_host = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=40, blank=True)
    result_version = models.OneToOneField(
        Version, null=True, blank=True, on_delete=models.PROTECT, related_name="produced_by_job"
    )
    model_name = models.CharField(max_length=200, blank=True)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds spent per step of the last run.")

    objects = RestorationJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipe_key"], condition=Q(status__in=LIVE_JOB_STATUSES), name="one_live_job_per_recipe"
            ),
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="job_progress_0_1"),
            models.CheckConstraint(
                condition=Q(status=JobStatus.SUCCEEDED, result_version__isnull=False)
                | (~Q(status=JobStatus.SUCCEEDED) & Q(result_version__isnull=True)),
                name="job_result_iff_succeeded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.item.identifier} #{self.pk} ({self.status})"

    @property
    def duration(self):
        """Run time of the last attempt (a timedelta), or None before it has finished."""
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
