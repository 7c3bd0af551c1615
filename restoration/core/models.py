"""The archive's domain: collections, items, image versions and their PREMIS provenance.

Rules that must hold whatever path a write takes are enforced here (not only in forms or
serializers): an item's identifier never changes once set; an original version is write-once
(its file and technical metadata never change, and it is never deleted); provenance events are
append-only. Multi-step writes (ingest, metadata edits, choosing the preferred version, reviews
and notes) live in ``restoration.core.services``; events (and the notes that go with them) are
written only by ``restoration.core.provenance``.

What a user may see is decided here, once, by the ``visible_to(user)`` of each queryset; every
door (pages, API, IIIF, OAI-PMH) reads through it.
"""

from __future__ import annotations

import contextvars
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


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


# --- Who may see what is not public ------------------------------------------------------------

# The permission that opens non-public collections, items and versions (and the full provenance:
# login names, worker hosts, error text). The "Curators" group (migration 0002) and the read-only
# "Viewers" group (migration 0009) hold it; an account without it, signed in or not, sees what
# anonymous visitors see. Django's own view permission of items, so the admin agrees.
NONPUBLIC_VIEW_PERMISSION = "restoration.view_item"


def can_view_nonpublic(user) -> bool:
    """Whether ``user`` may see non-public material: the one test behind every ``visible_to``."""
    return user is not None and user.is_active and user.has_perm(NONPUBLIC_VIEW_PERMISSION)


# Who reviews derivatives, writes notes and sees what the public does not (rejected, withdrawn
# and, unless ARCHIVE_PUBLIC_PENDING_DERIVATIVES, pending derivatives; notes; review events):
# holders of this permission, the "Curators" group (migration 0002). It is the permission the
# admin already asks for to choose an item's preferred version: both decide what is shown.
REVIEW_PERMISSION = "restoration.change_version"


def can_review(user) -> bool:
    """Whether ``user`` is a curator for review purposes (holds ``REVIEW_PERMISSION``)."""
    return user is not None and user.is_authenticated and user.has_perm(REVIEW_PERMISSION)


# --- Collections and items --------------------------------------------------------------------


class CollectionQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CollectionQuerySet":
        """Public collections; all of them for those who may view non-public material."""
        if can_view_nonpublic(user):
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
        """Public items outside any collection or in public collections; all items for those who
        may view non-public material (``can_view_nonpublic``)."""
        if can_view_nonpublic(user):
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


class ReviewStatus(models.TextChoices):
    """A curator's decision on a derivative (originals are not reviewed).

    ``pending``: new, not yet looked at; ``accepted``: fit to show; ``rejected``: not fit (a bad
    result, never shown); ``withdrawn``: taken back from view after having been shown. Rejected
    and withdrawn derivatives stay stored (versions are never deleted) and visible to curators.
    """

    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Statuses that hide a derivative from everyone but curators, and forbid preferring it.
HIDDEN_REVIEW_STATUSES = (ReviewStatus.REJECTED, ReviewStatus.WITHDRAWN)
# Fields of a version that change after it is stored, besides ``is_preferred``: its review.
# They describe the curators' judgement of the file, not the file, so the write-once rule
# (``VERSION_IMMUTABLE_FIELDS``) does not cover them; ``services.review_version`` is their only
# writer, with one PREMIS event per change (a test checks the two lists stay apart).
VERSION_REVIEW_FIELDS = ("review_status", "review_reason", "reviewed_at", "reviewed_by")


def public_review_statuses() -> tuple[str, ...]:
    """Review statuses of the derivatives non-curators see: accepted ones, and pending ones when
    ``ARCHIVE_PUBLIC_PENDING_DERIVATIVES`` is on (read at each call, so a test may change it)."""
    if settings.ARCHIVE_PUBLIC_PENDING_DERIVATIVES:
        return (ReviewStatus.ACCEPTED, ReviewStatus.PENDING)
    return (ReviewStatus.ACCEPTED,)


class VersionQuerySet(models.QuerySet):
    def originals(self) -> "VersionQuerySet":
        return self.filter(kind=VersionKind.ORIGINAL)

    def derivatives(self) -> "VersionQuerySet":
        return self.exclude(kind=VersionKind.ORIGINAL)

    def visible_to(self, user) -> "VersionQuerySet":
        """The versions ``user`` may see: those of the items it may see (``Item.objects.visible_to``;
        every item for holders of the view permission), then the review step (``reviewed_for``)."""
        versions = self
        if not can_view_nonpublic(user):
            versions = versions.filter(item__in=Item.objects.visible_to(user))
        return versions.reviewed_for(user)

    def reviewed_for(self, user) -> "VersionQuerySet":
        """The review step of ``visible_to``: curators (``can_review``) see every version; anyone
        else sees originals and the derivatives whose review status is public
        (``public_review_statuses``: accepted, and pending by setting)."""
        if can_review(user):
            return self
        return self.filter(shown_by_review_q(user))

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


def shown_by_review_q(user) -> Q:
    """The condition on a version that its review lets ``user`` (not a curator) see it: for
    holders of the view permission (Viewers: staff who look but do not review) the originals,
    accepted and pending derivatives, since a pending result is not withdrawn, only unreviewed;
    for everyone else ``shown_to_public_q``."""
    if can_view_nonpublic(user):
        return Q(kind=VersionKind.ORIGINAL) | Q(review_status__in=(ReviewStatus.ACCEPTED, ReviewStatus.PENDING))
    return shown_to_public_q()


def shown_to_public_q() -> Q:
    """The condition on a version that its review lets non-curators see it: an original, or a
    derivative with a public status (``public_review_statuses``)."""
    return Q(kind=VersionKind.ORIGINAL) | Q(review_status__in=public_review_statuses())


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
    # Accounts are deactivated, never deleted: PROTECT keeps who stored a version.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_preferred = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # The review (derivatives only; an original's status stays at its default and means nothing).
    review_status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.PENDING, db_index=True,
        help_text="A curator's decision on a derivative; rejected and withdrawn ones are shown to curators only.",
    )
    review_reason = models.TextField(blank=True, help_text="Why, in the curator's words (curators only).")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

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

    @property
    def is_hidden_by_review(self) -> bool:
        """Rejected or withdrawn: shown to curators only, and never the preferred version."""
        return not self.is_original and self.review_status in HIDDEN_REVIEW_STATUSES

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


class AccessCopy(models.Model):
    """The tiled, pyramidal TIFF the IIIF image service reads a version from (``core.pyramid``).

    Not an archival file: the image as displayed (upright, 8-bit), made from the version and
    rebuilt at will (``manage.py build_access_copies``); the version's own file is never touched.
    One per version; stored in media storage beside the version's files.
    """

    version = models.OneToOneField(Version, on_delete=models.CASCADE, related_name="access_copy")
    file = models.FileField(max_length=500)
    bytes = models.BigIntegerField(help_text="Size of the access copy in bytes.")
    width = models.PositiveIntegerField(help_text="Level 0 as displayed (orientation applied).")
    height = models.PositiveIntegerField()
    bands = models.PositiveSmallIntegerField(help_text="1 grey, 2 grey + alpha, 3 RGB, 4 RGB + alpha.")
    levels = models.PositiveSmallIntegerField(help_text="Pyramid levels (TIFF pages), each half the previous.")
    tile_size = models.PositiveSmallIntegerField()
    compression = models.CharField(max_length=16, help_text="deflate (lossless) or jpeg.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "access copy"
        verbose_name_plural = "access copies"

    def __str__(self) -> str:
        return f"access copy of version {self.version_id} ({self.width} x {self.height}, {self.levels} levels)"


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
    # PROTECT: an append-only agent keeps its account (accounts are deactivated, never deleted).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
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


class ProvenanceEventQuerySet(AppendOnlyQuerySet):
    def visible_to(self, user) -> "ProvenanceEventQuerySet":
        """The events ``user`` may read: those of the items it may see; for non-curators, without
        the curators' own events (``curators_only``: notes and reviews) and without events that
        concern a version the review hides from them (a rejected derivative's making, say)."""
        events = self
        if not can_view_nonpublic(user):
            events = events.filter(item__in=Item.objects.visible_to(user))
        if can_review(user):
            return events
        hidden = Version.objects.exclude(shown_by_review_q(user))
        return events.filter(curators_only=False).exclude(object_links__version__in=hidden)


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
    curators_only = models.BooleanField(
        default=False, help_text="A curators' event (a note, a review): not shown to the public.",
    )

    objects = ProvenanceEventQuerySet.as_manager()

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


class Note(AppendOnlyModel):
    """A curator's dated note on an item, or on one of its versions.

    Written only by ``restoration.core.provenance.record_note``, together with the provenance
    event that puts it in the item's timeline (``event``, curators only); never edited or
    deleted: a correction is a new note. The text is also in the event's detail, so the PREMIS
    record (and a BagIt export of it) is complete on its own; both rows are append-only and
    written in one transaction, so they cannot disagree.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="notes")
    version = models.ForeignKey(Version, null=True, blank=True, on_delete=models.PROTECT, related_name="notes")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    created_at = models.DateTimeField(db_index=True)
    event = models.OneToOneField(ProvenanceEvent, on_delete=models.PROTECT, related_name="note")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        target = f"version {self.version_id}" if self.version_id else self.item.identifier
        return f"Note on {target} at {self.created_at:%Y-%m-%d %H:%M}"


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


class JobQueue(models.TextChoices):
    """Which django-q2 queue a job is sent to: jobs predicted long (pixels x task cost, see
    ``restoration.jobs.submission.queue_for``) go to ``long``, served by its own cluster, so they
    never hold the short ones."""

    DEFAULT = "default", "Default"
    LONG = "long", "Long"


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
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
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
    queue = models.CharField(max_length=20, choices=JobQueue.choices, default=JobQueue.DEFAULT,
                             help_text="The django-q2 queue the job is sent to (long jobs have their own).")
    cancel_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When cancelling the running job was asked for (the worker stops at its next tile)."
    )
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

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

    def eta_seconds(self, now=None) -> float | None:
        """Seconds left, estimated from progress: ``elapsed * (1 - p) / p`` since the run started
        (model loading included, so early estimates run high). None unless the job is running
        with some progress."""
        if self.status != JobStatus.RUNNING or not self.started_at or not 0 < self.progress < 1:
            return None
        elapsed = max(((now or timezone.now()) - self.started_at).total_seconds(), 0.0)
        return round(elapsed * (1 - self.progress) / self.progress, 1)
