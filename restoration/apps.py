from django.apps import AppConfig


class RestorationConfig(AppConfig):
    name = "restoration"
    verbose_name = "Photo archive"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.backends.signals import connection_created
        from PIL import Image

        from restoration.core.search import register_sqlite_functions

        # Pillow's own bomb guard follows the archive's limit (it warns above it and refuses at
        # twice it); ingest checks the limit itself, before decoding, with a clear error.
        Image.MAX_IMAGE_PIXELS = settings.ARCHIVE_MAX_IMAGE_PIXELS
        # Accent- and case-folding search on SQLite (PostgreSQL has ``unaccent``): core/search.py.
        connection_created.connect(register_sqlite_functions, dispatch_uid="restoration_sqlite_fold")
        # The admin lives in the delivery layer; Django's autodiscovery looks for
        # ``restoration.admin`` only, so its registrations are imported here.
        from restoration.delivery import admin  # noqa: F401
        # Worker processes of django-q2 clean up after killed ones and re-queue their job on
        # SIGTERM (restoration.jobs.lifecycle); connected here, before qcluster forks them.
        from restoration.jobs import lifecycle

        lifecycle.connect()
