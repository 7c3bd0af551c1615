"""Access: a read-only "Viewers" group, and accounts that are deactivated, never deleted.

Non-public collections, items and versions (and the full provenance) need the permission
``restoration.view_item`` (``core.models.can_view_nonpublic``). Curators hold it (migration 0002);
the "Viewers" group holds every ``view_*`` permission of the archive's tables and nothing else:
staff who look but do not change.

The links from versions, agents and jobs to user accounts become PROTECT (they were SET_NULL):
deleting an account that stored, asked for or appears in provenance fails instead of erasing who
did it from append-only records.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

VIEWERS = "Viewers"
# Every table of the archive a viewer may read (the app's models, jobs included).
VIEWER_MODELS = (
    "collection", "item", "version", "provenanceevent", "eventobject", "eventagent", "agent", "restorationjob",
)
VIEWER_PERMISSIONS = [f"view_{model}" for model in VIEWER_MODELS]


def create_viewers(apps, schema_editor):
    db = schema_editor.connection.alias
    # Permissions are normally created after all migrations (post_migrate): make sure they exist.
    app_config = apps.get_app_config("restoration")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=db)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(db).get_or_create(name=VIEWERS)
    group.permissions.add(
        *Permission.objects.using(db).filter(content_type__app_label="restoration", codename__in=VIEWER_PERMISSIONS)
    )


def remove_viewers(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=VIEWERS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("restoration", "0008_access_copies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(create_viewers, remove_viewers),
        migrations.AlterField(
            model_name="agent",
            name="user",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="version",
            name="created_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # The review's and the notes' links to accounts (migration 0005) are kept the same way.
        migrations.AlterField(
            model_name="version",
            name="reviewed_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="note",
            name="author",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="restorationjob",
            name="requested_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
