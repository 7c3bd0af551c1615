"""``manage.py qcluster`` with a slowed-down engine, for the killed-worker test.

Run as ``python -m tests.jobs.slow_qcluster`` from the repository root. Every progress report of
the restore runner first sleeps ``SLOW_ENGINE_DELAY`` seconds, so a tiny job lasts long enough
to be killed mid-run. The patch is made in the parent before qcluster forks its workers, so
they inherit it; nothing in the application knows about it.
"""

from __future__ import annotations

import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive_site.settings")
django.setup()

from django.core.management import call_command  # noqa: E402

import dataclasses  # noqa: E402

from restoration.jobs.tasks import TASKS  # noqa: E402

DELAY = float(os.environ.get("SLOW_ENGINE_DELAY", "0.25"))
_restore = TASKS["restore"].runner


def _slow_restore(ctx):
    def slowly(fraction: float) -> None:
        time.sleep(DELAY)
        ctx.progress(fraction)

    return _restore(dataclasses.replace(ctx, progress=slowly))


TASKS["restore"] = dataclasses.replace(TASKS["restore"], runner=_slow_restore)

if __name__ == "__main__":
    call_command("qcluster")
