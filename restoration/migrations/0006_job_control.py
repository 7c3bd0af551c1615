# Cancelling running jobs (cancel_requested_*) and a queue of their own for long jobs (queue).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('restoration', '0005_review_and_notes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='restorationjob',
            name='cancel_requested_at',
            field=models.DateTimeField(blank=True, help_text='When cancelling the running job was asked for (the worker stops at its next tile).', null=True),
        ),
        migrations.AddField(
            model_name='restorationjob',
            name='cancel_requested_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='restorationjob',
            name='queue',
            field=models.CharField(choices=[('default', 'Default'), ('long', 'Long')], default='default', help_text='The django-q2 queue the job is sent to (long jobs have their own).', max_length=20),
        ),
    ]
