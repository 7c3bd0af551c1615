"""REST endpoints: collections, items (ingest by upload, metadata edits), versions and their
files, each item's PREMIS provenance, and restoration jobs.

Visibility: ``visible_to(user)`` everywhere: public collections and items for anyone, everything
for accounts with the view permission (Curators, Viewers; ``core.models.can_view_nonpublic``),
except that derivatives a curator rejected or withdrew (and, by setting, pending ones) are listed
and served to curators only (``Version.objects.visible_to``), as are notes and review events
(``ProvenanceEvent.objects.visible_to``). Provenance and ``created_by`` read through
``core.disclosure`` (no login names or hosts for the public). Writes need Django model permissions (the "Curators"
group), see ``permissions.py``. Errors share one JSON shape, see ``exceptions.py``.

Every list queryset prefetches what its serializer reads, so a page costs the same number
of queries whatever its size.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from restoration import jobs
from restoration.core import imaging, services
from restoration.delivery import uploads
from restoration.interop import http
from restoration.core.models import (
    Collection,
    EventAgent,
    Item,
    JobStatus,
    ProvenanceEvent,
    RestorationJob,
    Version,
    can_review,
)

from .exceptions import Conflict, InputError, TooManyRequests
from .filters import CollectionFilter, ItemFilter, JobFilter
from .pagination import ArchivePagination, page_parameters
from .permissions import CuratorWritePermissions, ItemWritePermissions, JobPermissions, ReviewPermissions
from .serializers import (
    CollectionSerializer,
    DuplicateErrorSerializer,
    ErrorSerializer,
    ItemIngestSerializer,
    ItemSerializer,
    JobRequestSerializer,
    JobSerializer,
    NoteRequestSerializer,
    NoteSerializer,
    ProvenanceEventSerializer,
    ReviewRequestSerializer,
    VersionSerializer,
)

logger = logging.getLogger(__name__)

ERRORS_READ = {404: OpenApiResponse(ErrorSerializer, description="Unknown or not visible.")}
PAGE_PARAMETERS = [
    OpenApiParameter(p["name"], p["schema"], description=p["description"]) for p in page_parameters()
]
ERRORS_QUERY = {
    400: OpenApiResponse(ErrorSerializer, description="A query parameter out of range (filters, `page`, `page_size`)."),
}
ERRORS_WRITE = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `code` names the problem."),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(ErrorSerializer, description="Lacks the curator permissions."),
}


def _versions(user) -> QuerySet[Version]:
    """The versions ``user`` may see, with what ``VersionSerializer`` reads (notes for curators)."""
    versions = Version.objects.visible_to(user).select_related("created_by", "reviewed_by")
    if can_review(user):
        versions = versions.prefetch_related("notes__author")
    return versions


def _versions_prefetch(user) -> Prefetch:
    return Prefetch("versions", queryset=_versions(user).order_by("created_at", "id"))


def _item_prefetches(user) -> list:
    prefetches = [_versions_prefetch(user)]
    if can_review(user):
        prefetches.append("notes__author")
    return prefetches


def _service_refusal(err: services.ReviewError) -> InputError:
    return InputError(err.field, err.message, code=err.code)


# --- Collections ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List collections (anonymous users: public ones only)",
        responses={200: CollectionSerializer(many=True), **ERRORS_QUERY},
    ),
    retrieve=extend_schema(summary="One collection", responses={200: CollectionSerializer, **ERRORS_READ}),
    create=extend_schema(summary="Create a collection", responses={201: CollectionSerializer, **ERRORS_WRITE}),
)
class CollectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = Collection.objects.all()
    serializer_class = CollectionSerializer
    permission_classes = [CuratorWritePermissions]
    pagination_class = ArchivePagination
    filterset_class = CollectionFilter
    ordering_fields = ["name", "slug", "created_at", "updated_at", "id"]
    ordering = ["name", "id"]

    def get_queryset(self) -> QuerySet[Collection]:
        return Collection.objects.visible_to(self.request.user)


# --- Items ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List items visible to the caller", responses={200: ItemSerializer(many=True), **ERRORS_QUERY}),
    retrieve=extend_schema(summary="One item with its original version", responses={200: ItemSerializer, **ERRORS_READ}),
    partial_update=extend_schema(
        summary="Change an item's metadata (the identifier is immutable)",
        description="Records one `metadata modification` provenance event listing the changed fields.",
        responses={200: ItemSerializer, **ERRORS_WRITE, **ERRORS_READ},
    ),
)
class ItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Archival items: Dublin Core metadata, image versions and provenance."""

    queryset = Item.objects.all()
    serializer_class = ItemSerializer
    permission_classes = [ItemWritePermissions]
    pagination_class = ArchivePagination
    filterset_class = ItemFilter
    ordering_fields = ["identifier", "title", "creator", "date", "created_at", "updated_at", "id"]
    ordering = ["identifier"]
    parser_classes = [parsers.MultiPartParser, parsers.FormParser, parsers.JSONParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Item]:
        queryset = Item.objects.visible_to(self.request.user)
        if self.action in ("versions", "provenance", "queue_job", "notes"):
            return queryset  # only the item's visibility is looked up there
        return queryset.prefetch_related(*_item_prefetches(self.request.user))

    def get_serializer_class(self):
        return ItemIngestSerializer if self.action == "create" else ItemSerializer

    def _item_data(self, pk: int) -> dict:
        item = Item.objects.prefetch_related(*_item_prefetches(self.request.user)).get(pk=pk)
        return ItemSerializer(item, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Ingest an image as a new item",
        description=(
            "Multipart: `file` plus any metadata fields. Returns 201 with the item and its original "
            "version. A refused file gives 400 with `code` one of `empty_file`, `not_an_image`, "
            "`corrupt_image`, `unsupported_format`, `too_many_pixels`, `too_complex`, `file_too_large`, "
            "`bad_filename`, `invalid_metadata`, `identifier_taken` (or `required` when `file` is "
            "missing); a file whose content the archive already holds gives 409 `duplicate` with "
            "`existing_item` and `existing_version`. A refused upload leaves nothing behind."
        ),
        request={"multipart/form-data": ItemIngestSerializer},
        responses={
            201: ItemSerializer,
            **ERRORS_WRITE,
            409: OpenApiResponse(DuplicateErrorSerializer, description="The same content is already archived."),
        },
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        _refuse_oversized_body(request)
        payload = request.data  # parsing runs the upload handlers: a non-image stops at its first bytes
        stopped = uploads.refusal(request._request)
        if stopped is not None:
            field, rejected = stopped
            raise InputError(field, rejected.message, code=rejected.code)
        serializer = self.get_serializer(data=payload)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        upload = data.pop("file")
        collection = data.pop("collection", None)
        try:
            version = services.ingest_upload(
                upload, filename=upload.name, metadata=data, collection=collection, user=request.user, route="api"
            )
        except services.IngestError as err:
            raise _ingest_error_response(err) from err
        body = self._item_data(version.item_id)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})

    def perform_update(self, serializer: ItemSerializer) -> None:
        # The identifier was checked by the serializer (equal to the stored one, or absent). The
        # service writes nothing, not even an event, when no value changes.
        changes = {field: value for field, value in serializer.validated_data.items() if field != "identifier"}
        services.update_item_metadata(serializer.instance, changes, user=self.request.user)

    def update(self, request: Request, *args, **kwargs) -> Response:
        # PATCH only: PUT is not among http_method_names, so every update is partial.
        item = self.get_object()
        serializer = self.get_serializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(self._item_data(item.pk))

    @extend_schema(
        summary="The item's versions, oldest first",
        responses={200: VersionSerializer(many=True), **ERRORS_QUERY, **ERRORS_READ},
        parameters=PAGE_PARAMETERS,
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        queryset = _versions(request.user).filter(item=item).order_by("created_at", "id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(VersionSerializer(page, many=True, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="The item's PREMIS provenance events, oldest first",
        description="Curators also see their own events (notes, reviews) and those of versions hidden by review.",
        responses={200: ProvenanceEventSerializer(many=True), **ERRORS_QUERY, **ERRORS_READ},
        parameters=PAGE_PARAMETERS,
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def provenance(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        queryset = (
            ProvenanceEvent.objects.visible_to(request.user).filter(item=item)
            .prefetch_related(Prefetch("agent_links", queryset=EventAgent.objects.select_related("agent")), "object_links")
            .order_by("timestamp", "id")
        )
        page = self.paginate_queryset(queryset)
        data = ProvenanceEventSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


    @extend_schema(
        summary="Add a dated note to the item (curators)",
        description="Returns 201 with the note. It shows in the item's `notes` and, as a `metadata modification` "
        "event for curators only, in its provenance. 400 codes: `empty_note`, `too_long`.",
        request=NoteRequestSerializer,
        responses={201: NoteSerializer, **ERRORS_WRITE, **ERRORS_READ},
        filters=False,
    )
    @action(detail=True, methods=["post"], permission_classes=[ReviewPermissions],
            parser_classes=[parsers.JSONParser, parsers.FormParser], filter_backends=[])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        return _add_note(request, item, None, self.get_serializer_context())

    @extend_schema(
        summary="Queue a restoration job on the item (curators)",
        description=(
            "Body: `{\"task\": \"restore\", \"params\": {...}, \"source_version\": <id>}` "
            "(`source_version` defaults to the original). Returns **202** with the queued job, or "
            "the job already queued or running for the same recipe (source version, task, "
            "parameters, weights); **200** with the finished job when that recipe already "
            "succeeded (its `result_version` is reused, nothing is recomputed). Tasks: `restore`, "
            "`colorize`, `upscale` (`scale` 2 or 4, `variant` faithful or gan), `style` (`method` color, "
            "optimize or feedforward; `reference_version`: a version of this or another item you may "
            "read, part of the recipe by its sha256); each accepted when the engine can run it. "
            "400 codes: `unknown_task`, `task_unavailable`, `invalid_parameters`, `invalid_source`; 429 "
            "`too_many_jobs` when the account already has `JOB_MAX_ACTIVE_PER_USER` jobs queued or running. "
            "Poll `url` (`GET /api/jobs/{id}/`) for progress."
        ),
        request=JobRequestSerializer,
        responses={
            202: OpenApiResponse(JobSerializer, description="Queued (new, or the same recipe in progress)."),
            200: OpenApiResponse(JobSerializer, description="The recipe already succeeded: its result is reused."),
            429: OpenApiResponse(ErrorSerializer, description="Too many jobs queued or running for this account."),
            **ERRORS_WRITE,
            **ERRORS_READ,
        },
        filters=False,
    )
    @action(
        detail=True, methods=["post"], url_path="jobs", url_name="jobs", permission_classes=[JobPermissions],
        parser_classes=[parsers.JSONParser], filter_backends=[],
    )
    def queue_job(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        serializer = JobRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            submission = jobs.submit_job(
                item, task=data["task"], params=data.get("params"), source_version=data.get("source_version"),
                user=request.user,
            )
        except jobs.JobError as err:
            if err.code == "too_many_jobs":
                raise TooManyRequests(err.message, code=err.code) from err
            raise InputError(err.field, err.message, code=err.code) from err
        body = JobSerializer(_job_queryset().get(pk=submission.job.pk), context=self.get_serializer_context()).data
        code = status.HTTP_200_OK if submission.reused else status.HTTP_202_ACCEPTED
        return Response(body, status=code, headers={"Location": body["url"]})


def _refuse_oversized_body(request: Request) -> None:
    """Refuses, before the body is read, a request announcing more bytes than any accepted upload.

    The service checks the file's real size too (a chunked request announces none); this only
    spares receiving gigabytes to refuse them afterwards. The allowance covers the form's other
    fields and multipart framing.
    """
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    limit = settings.ARCHIVE_MAX_UPLOAD_BYTES
    if announced > limit + settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise InputError("file", f"The file is larger than the limit of {limit} bytes.", code="file_too_large")


def _ingest_error_response(err: services.IngestError) -> Exception:
    """Maps a refused ingest to the API's error: 409 for duplicate content, else 400."""
    if err.code == "duplicate":
        existing = (
            Version.objects.filter(pk=err.existing_version_id).values("id", "item_id").first()
            if err.existing_version_id
            else None
        )
        return Conflict(
            err.message,
            code="duplicate",
            extra={
                "existing_item": existing["item_id"] if existing else None,
                "existing_version": existing["id"] if existing else None,
            },
        )
    return InputError(err.field or "file", err.message, code=err.code)


def _add_note(request: Request, item: Item, version: Version | None, context: dict) -> Response:
    serializer = NoteRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        note = services.add_note(item, serializer.validated_data["text"], user=request.user, version=version)
    except services.ReviewError as err:
        raise _service_refusal(err) from err
    return Response(NoteSerializer(note, context=context).data, status=status.HTTP_201_CREATED)


# --- Versions and their files -----------------------------------------------------------------

def _file_responses(media_types) -> dict:
    """200 with each image type the endpoint may answer (the archive's formats), 304, 404."""
    return {
        **{(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes.")
           for media_type in media_types},
        304: OpenApiResponse(description="`If-None-Match` matched the ETag."),
        **ERRORS_READ,
    }


# The archival file is in its own format (`mime_type`); thumbnails and access copies are JPEG.
FILE_RESPONSES = _file_responses(sorted(mime for mime, _extension in imaging.FORMATS.values()))
DISPLAY_RESPONSES = _file_responses(["image/jpeg"])
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False, description="ETag(s) the client holds."
)


@extend_schema_view(retrieve=extend_schema(summary="One version", responses={200: VersionSerializer, **ERRORS_READ}))
class VersionViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Versions are read-only here: they are written by ingest and by restoration jobs."""

    queryset = Version.objects.all()
    serializer_class = VersionSerializer
    permission_classes = [CuratorWritePermissions]
    filter_backends: list = []
    _downloads = {"file", "thumbnail", "access"}

    def get_queryset(self) -> QuerySet[Version]:
        return _versions(self.request.user).select_related("item")

    def _version_data(self, pk: int) -> dict:
        return VersionSerializer(self.get_queryset().get(pk=pk), context=self.get_serializer_context()).data

    @extend_schema(
        summary="Review a derivative (curators)",
        description=(
            "Body: `{\"status\": \"rejected\", \"reason\": \"...\"}`; status one of `pending`, `accepted`, "
            "`rejected`, `withdrawn`. Rejected and withdrawn derivatives stay stored and are shown to curators "
            "only (pages, API, IIIF, OAI-PMH); pending ones are shown to the public only when the server's "
            "ARCHIVE_PUBLIC_PENDING_DERIVATIVES is on. Rejecting or withdrawing the preferred version makes the "
            "original preferred again. Each change is one PREMIS `validation` event (curators only). "
            "400 codes: `not_reviewable` (an original), `invalid_choice`, `reason_required`, `too_long`."
        ),
        request=ReviewRequestSerializer,
        responses={200: VersionSerializer, **ERRORS_WRITE, **ERRORS_READ},
    )
    @action(detail=True, methods=["post"], permission_classes=[ReviewPermissions],
            parser_classes=[parsers.JSONParser, parsers.FormParser])
    def review(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        serializer = ReviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            services.review_version(version, data["status"], reason=data.get("reason", ""), user=request.user)
        except services.ReviewError as err:
            raise _service_refusal(err) from err
        return Response(self._version_data(version.pk))

    @extend_schema(
        summary="Make the version its item's preferred one (curators)",
        description="The preferred version is the one pages and IIIF manifests show first. A rejected or "
        "withdrawn derivative cannot be preferred: 400 `not_preferable`. Records a `metadata modification` event.",
        request=None,
        responses={200: VersionSerializer, **ERRORS_WRITE, **ERRORS_READ},
    )
    @action(detail=True, methods=["post"], permission_classes=[ReviewPermissions])
    def prefer(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        try:
            services.set_preferred_version(version, user=request.user)
        except services.ReviewError as err:
            raise _service_refusal(err) from err
        return Response(self._version_data(version.pk))

    @extend_schema(
        summary="Add a dated note to the version (curators)",
        description="Returns 201 with the note; it shows in the version's `notes` and its item's, and as a "
        "`metadata modification` event for curators only. 400 codes: `empty_note`, `too_long`.",
        request=NoteRequestSerializer,
        responses={201: NoteSerializer, **ERRORS_WRITE, **ERRORS_READ},
    )
    @action(detail=True, methods=["post"], permission_classes=[ReviewPermissions],
            parser_classes=[parsers.JSONParser, parsers.FormParser], url_path="notes", url_name="notes")
    def add_note(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        return _add_note(request, version.item, version, self.get_serializer_context())

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # A download answers any Accept header (a browser's included); its errors answer JSON
        # (the download actions have only the JSON renderer).
        return super().perform_content_negotiation(request, force=force or self.action in self._downloads)

    def _stream(self, request: Request, version: Version, field: str, etag_source: str, content_type: str, name: str):
        stored = getattr(version, field)
        if not stored:
            raise NotFound()
        try:
            return http.serve(
                request, etag=f'"{etag_source}"', content_type=content_type, download_name=name,
                open_file=lambda: stored.storage.open(stored.name, "rb"), headers={"Cache-Control": "private, no-cache"},
            )
        except FileNotFoundError:
            logger.error("Version %s: stored %s %r is missing", version.pk, field, stored.name)
            raise NotFound("The stored file is missing.")

    @extend_schema(
        summary="Download the archival file",
        description=(
            "Streams the stored bytes. `ETag` is the quoted sha256 of the file; send it back in "
            "`If-None-Match` to get 304. `Content-Disposition` is an attachment named "
            "`<identifier>_<kind>[_<task>_<parameter>-<value>...].<ext>`, e.g. `ARC-1_original.tif` or "
            "`ARC-1_restore_strength-0.5.png` (ASCII `filename`, plus RFC 6266 `filename*` for other names)."
        ),
        parameters=[IF_NONE_MATCH],
        responses=FILE_RESPONSES,
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer])
    def file(self, request: Request, pk: str | None = None):
        version = self.get_object()
        name = http.version_download_name(version)
        return self._stream(request, version, "file", version.sha256, version.mime_type or "application/octet-stream", name)

    def _display(self, request: Request, field: str):
        version = self.get_object()
        stored = getattr(version, field)
        # The display JPEG is made from the version and stored under its own name: the pair
        # identifies its bytes (a regenerated file gets a new name).
        etag_source = hashlib.sha256(f"{version.sha256}:{stored.name}".encode()).hexdigest()
        name = http.version_download_name(version, part=field.removesuffix("_file"))
        return self._stream(request, version, field, etag_source, "image/jpeg", name)

    @extend_schema(summary="Download the thumbnail JPEG", parameters=[IF_NONE_MATCH], responses=DISPLAY_RESPONSES)
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer])
    def thumbnail(self, request: Request, pk: str | None = None):
        return self._display(request, "thumbnail")

    @extend_schema(summary="Download the access (display) JPEG", parameters=[IF_NONE_MATCH], responses=DISPLAY_RESPONSES)
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer])
    def access(self, request: Request, pk: str | None = None):
        return self._display(request, "access_file")


# --- Restoration jobs -------------------------------------------------------------------------


def _job_queryset() -> QuerySet[RestorationJob]:
    return RestorationJob.objects.select_related(
        "item", "requested_by", "result_version__created_by", "result_version__item"
    )


@extend_schema_view(
    list=extend_schema(summary="Restoration jobs, newest first (curators)", responses={200: JobSerializer(many=True), **ERRORS_QUERY}),
    retrieve=extend_schema(
        summary="One restoration job: status, progress, error, and its result version with the file URL",
        responses={200: JobSerializer, **ERRORS_READ},
    ),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Restoration jobs, queued with ``POST /api/items/{id}/jobs/`` and run by django-q2 workers."""

    queryset = RestorationJob.objects.all()
    serializer_class = JobSerializer
    permission_classes = [JobPermissions]
    pagination_class = ArchivePagination
    filterset_class = JobFilter
    ordering_fields = ["created_at", "finished_at", "status", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[RestorationJob]:
        return _job_queryset()

    @extend_schema(
        summary="Cancel a queued or running job (curators)",
        description="A queued job is cancelled at once (200; a worker that picks it up later does nothing). "
        "For a running job the cancel is recorded (202, `cancel_requested` true): its worker stops at its next "
        "progress report (between tiles, within `JOB_PROGRESS_INTERVAL` seconds plus one tile), stores nothing, "
        "and the job becomes `cancelled` with an event naming who cancelled it; poll the job. A finished job "
        "cannot be cancelled: 409 `not_cancellable`.",
        request=None,
        responses={
            200: OpenApiResponse(JobSerializer, description="Cancelled."),
            202: OpenApiResponse(JobSerializer, description="Running: its worker stops at the next tile."),
            409: OpenApiResponse(ErrorSerializer, description="The job is finished."),
            **ERRORS_WRITE,
            **ERRORS_READ,
        },
        filters=False,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        try:
            job = jobs.cancel_job(job, user=request.user)
        except jobs.JobError as err:
            raise Conflict(err.message, code=err.code) from err
        code = status.HTTP_200_OK if job.status == JobStatus.CANCELLED else status.HTTP_202_ACCEPTED
        return Response(JobSerializer(_job_queryset().get(pk=job.pk), context=self.get_serializer_context()).data,
                        status=code)
