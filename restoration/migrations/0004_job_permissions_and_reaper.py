"""Curators may queue, cancel and view restoration jobs; the reaper runs every minute.

The reaper is a django-q2 ``Schedule`` (run by whichever qcluster's scheduler gets it first),
so a job whose worker died is re-queued or failed without an operator; ``manage.py reap_jobs``
does the same by hand.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATORS = "Curators"
JOB_PERMISSIONS = ["add_restorationjob", "change_restorationjob", "view_restorationjob"]
REAPER_NAME = "restoration: reap stale jobs"
REAPER_FUNC = "restoration.tasks.reap_stale_jobs"


def grant(apps, schema_editor):
    db = schema_editor.connection.alias
    app_config = apps.get_app_config("restoration")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=db)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(db).get_or_create(name=CURATORS)
    group.permissions.add(
        *Permission.objects.using(db).filter(content_type__app_label="restoration", codename__in=JOB_PERMISSIONS)
    )


def revoke(apps, schema_editor):
    db = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.using(db).filter(name=CURATORS):
        group.permissions.remove(
            *Permission.objects.using(db).filter(content_type__app_label="restoration", codename__in=JOB_PERMISSIONS)
        )


def schedule_reaper(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).update_or_create(
        name=REAPER_NAME, defaults={"func": REAPER_FUNC, "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def unschedule_reaper(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.using(schema_editor.connection.alias).filter(name=REAPER_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("restoration", "0003_restorationjob"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(grant, revoke),
        migrations.RunPython(schedule_reaper, unschedule_reaper),
    ]
