"""Creates the "Curators" group: those who ingest images and edit the archive's metadata.

Curators may add, change and view collections, items and versions, ingest images and view the
provenance. Other staff accounts only view (the admin grants viewing to every staff user).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATORS = "Curators"
CURATOR_PERMISSIONS = [
    ("collection", "add_collection"),
    ("collection", "change_collection"),
    ("collection", "view_collection"),
    ("item", "add_item"),
    ("item", "change_item"),
    ("item", "view_item"),
    ("item", "ingest_item"),
    ("version", "add_version"),
    ("version", "change_version"),
    ("version", "view_version"),
    ("provenanceevent", "view_provenanceevent"),
    ("agent", "view_agent"),
]


def create_curators(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); make sure this
    # app's exist now, so that a fresh database gets a complete group.
    app_config = apps.get_app_config("restoration")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(schema_editor.connection.alias).get_or_create(name=CURATORS)
    for model, codename in CURATOR_PERMISSIONS:
        permission = Permission.objects.using(schema_editor.connection.alias).get(
            content_type__app_label="restoration", content_type__model=model, codename=codename
        )
        group.permissions.add(permission)


def remove_curators(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=CURATORS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("restoration", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_curators, remove_curators)]
