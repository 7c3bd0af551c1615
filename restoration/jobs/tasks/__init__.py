"""One definition per task, in one explicit dictionary.

``TASKS`` is read by everything that knows about tasks: the engine door (variants, weights,
runners), submission (parameters, size check, references), the worker (version kind, XMP source
type, companions), labels (the verb), the API schema, the admin actions and the item page's form.

Adding a task: a module here defining ``TASK = TaskDefinition(...)`` (see ``restore.py``), one
line in ``TASKS``, and its name in ``JobTask`` (the model's choices, with a migration).
"""

from __future__ import annotations

from restoration.jobs.tasks import colorize, restore, style, upscale
from restoration.jobs.tasks.base import Companion, RunContext, RunOutput, TaskDefinition

TASKS: dict[str, TaskDefinition] = {
    "restore": restore.TASK,
    "colorize": colorize.TASK,
    "upscale": upscale.TASK,
    "style": style.TASK,
}


def by_version_kind(kind: str) -> TaskDefinition | None:
    """The task whose results are versions of ``kind`` (None for the original, or an unknown kind)."""
    return next((task for task in TASKS.values() if task.version_kind == kind), None)


__all__ = ["TASKS", "Companion", "RunContext", "RunOutput", "TaskDefinition", "by_version_kind"]
