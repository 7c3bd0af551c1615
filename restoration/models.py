"""The app's models, where Django looks for them: defined in ``restoration.core.models``.

Django imports ``<app>.models``; the archive's domain lives in the core layer, so this module
only re-exports it (migrations and ``restoration.models.X`` references keep working).
"""

from restoration.core.models import (  # noqa: F401 - re-exported for Django and migrations
    ACTIVE_JOB_STATUSES,
    AccessCopy,
    Agent,
    AgentType,
    AppendOnlyModel,
    AppendOnlyQuerySet,
    Collection,
    DUBLIN_CORE_FIELDS,
    EVENT_TYPE_URIS,
    EventAgent,
    EventObject,
    EventOutcome,
    EventType,
    ImmutableError,
    Item,
    ItemQuerySet,
    JobQueue,
    JobStatus,
    JobTask,
    HIDDEN_REVIEW_STATUSES,
    LIVE_JOB_STATUSES,
    Note,
    PROVENANCE_WRITER,
    ProvenanceEvent,
    ProvenanceEventQuerySet,
    REVIEW_PERMISSION,
    RestorationJob,
    RestorationJobQuerySet,
    ReviewStatus,
    VERSION_IMMUTABLE_FIELDS,
    VERSION_REVIEW_FIELDS,
    Version,
    VersionKind,
    VersionQuerySet,
    WriteOnceFieldFile,
    WriteOnceFileField,
)
