"""``manage.py reap_jobs``: re-queue or fail restoration jobs whose worker stopped responding."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from restoration import jobs


class Command(BaseCommand):
    help = (
        "Re-queue running restoration jobs with no progress for JOB_STALE_SECONDS (or fail them when "
        "out of attempts) and send stale queued jobs to the broker again. The qcluster does the same "
        "every minute (schedule from migration 0004); this is for operators and cron."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--stale-seconds", type=float, default=None,
            help="Silence, in seconds, after which a worker is taken as dead (default: JOB_STALE_SECONDS).",
        )

    def handle(self, *args, stale_seconds: float | None, **options) -> None:
        report = jobs.reap_stale_jobs(stale_seconds=stale_seconds)
        self.stdout.write(str(report))
