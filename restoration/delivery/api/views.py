"""REST endpoints: collections, items (ingest by upload, metadata edits), versions and their
files, each item's PREMIS provenance, and restoration jobs.

Visibility: anonymous users see public collections and ``Item.objects.visible_to(user)``;
authenticated users see everything. Writes need Django model permissions (the "Curators"
group), see ``permissions.py``. Errors share one JSON shape, see ``exceptions.py``.

Every list queryset prefetches what its serializer reads, so a page costs the same number
of queries whatever its size.
"""

from __future__ import annotations

import hashlib
import logging
import os

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
from restoration.interop.http import safe_download_name
from restoration.core.models import Collection, EventAgent, Item, ProvenanceEvent, RestorationJob, Version

from .exceptions import Conflict, InputError
from .filters import CollectionFilter, ItemFilter, JobFilter
from .pagination import ArchivePagination, page_parameters
from .permissions import CuratorWritePermissions, ItemWritePermissions, JobPermissions
from .serializers import (
    CollectionSerializer,
    DuplicateErrorSerializer,
    ErrorSerializer,
    ItemIngestSerializer,
    ItemSerializer,
    JobRequestSerializer,
    JobSerializer,
    ProvenanceEventSerializer,
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


def _versions_prefetch() -> Prefetch:
    return Prefetch("versions", queryset=Version.objects.select_related("created_by").order_by("created_at", "id"))


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
        if self.action in ("versions", "provenance", "queue_job"):
            return queryset  # only the item's visibility is looked up there
        return queryset.prefetch_related(_versions_prefetch())

    def get_serializer_class(self):
        return ItemIngestSerializer if self.action == "create" else ItemSerializer

    def _item_data(self, pk: int) -> dict:
        item = Item.objects.prefetch_related(_versions_prefetch()).get(pk=pk)
        return ItemSerializer(item, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Ingest an image as a new item",
        description=(
            "Multipart: `file` plus any metadata fields. Returns 201 with the item and its original "
            "version. A refused file gives 400 with `code` one of `empty_file`, `not_an_image`, "
            "`corrupt_image`, `unsupported_format`, `too_many_pixels`, `file_too_large`, "
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
        queryset = Version.objects.filter(item=item).select_related("created_by").order_by("created_at", "id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(VersionSerializer(page, many=True, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="The item's PREMIS provenance events, oldest first",
        responses={200: ProvenanceEventSerializer(many=True), **ERRORS_QUERY, **ERRORS_READ},
        parameters=PAGE_PARAMETERS,
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def provenance(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        queryset = (
            ProvenanceEvent.objects.filter(item=item)
            .prefetch_related(Prefetch("agent_links", queryset=EventAgent.objects.select_related("agent")), "object_links")
            .order_by("timestamp", "id")
        )
        page = self.paginate_queryset(queryset)
        data = ProvenanceEventSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


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
            "400 codes: `unknown_task`, `task_unavailable`, `invalid_parameters`, `invalid_source`. "
            "Poll `url` (`GET /api/jobs/{id}/`) for progress."
        ),
        request=JobRequestSerializer,
        responses={
            202: OpenApiResponse(JobSerializer, description="Queued (new, or the same recipe in progress)."),
            200: OpenApiResponse(JobSerializer, description="The recipe already succeeded: its result is reused."),
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
        return Version.objects.visible_to(self.request.user).select_related("created_by", "item")

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

    def _base_name(self, version: Version) -> str:
        stem = f"{version.item.identifier}-{version.kind}-{version.pk}"
        return safe_download_name(stem, f"version-{version.pk}")

    @extend_schema(
        summary="Download the archival file",
        description=(
            "Streams the stored bytes. `ETag` is the quoted sha256 of the file; send it back in "
            "`If-None-Match` to get 304. `Content-Disposition` is an attachment named after the "
            "uploaded file (ASCII `filename`, plus RFC 6266 `filename*` for other names)."
        ),
        parameters=[IF_NONE_MATCH],
        responses=FILE_RESPONSES,
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer])
    def file(self, request: Request, pk: str | None = None):
        version = self.get_object()
        _, ext = os.path.splitext(version.file.name)
        name = safe_download_name(version.original_filename or "", "") or self._base_name(version) + ext.lower()
        return self._stream(request, version, "file", version.sha256, version.mime_type or "application/octet-stream", name)

    def _display(self, request: Request, field: str):
        version = self.get_object()
        stored = getattr(version, field)
        # The display JPEG is made from the version and stored under its own name: the pair
        # identifies its bytes (a regenerated file gets a new name).
        etag_source = hashlib.sha256(f"{version.sha256}:{stored.name}".encode()).hexdigest()
        name = f"{self._base_name(version)}-{field.removesuffix('_file')}.jpg"
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
        summary="Cancel a queued job (curators)",
        description="A worker that picks the job up later does nothing. A job that is already running or "
        "finished cannot be cancelled: 409 `not_cancellable`.",
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The job is not queued."),
            **ERRORS_WRITE,
            **ERRORS_READ,
        },
        filters=False,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        try:
            jobs.cancel_job(job, user=request.user)
        except jobs.JobError as err:
            raise Conflict(err.message, code=err.code) from err
        return Response(JobSerializer(_job_queryset().get(pk=job.pk), context=self.get_serializer_context()).data)
