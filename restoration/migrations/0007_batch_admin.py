"""The ``unaccent`` extension for accent-folding search on PostgreSQL (``restoration.core.search``).

``UnaccentExtension`` does nothing on other databases (``CreateExtension`` checks the vendor),
so SQLite needs no guard. The extension is trusted since PostgreSQL 13: the database's owner
may create it without being a superuser (CI's ``archive`` role owns its test database).
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("restoration", "0006_job_control")]

    operations = [UnaccentExtension()]
