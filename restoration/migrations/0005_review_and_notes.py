"""Review of derivatives (status, reason, who and when) and curators' notes.

Derivatives stored before this migration start as "pending": no curator has reviewed them, so with
the default ARCHIVE_PUBLIC_PENDING_DERIVATIVES=False the public no longer sees them until a curator
accepts them (the admin's "Accept" action takes a selection), or the setting is turned on.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('restoration', '0004_job_permissions_and_reaper'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='provenanceevent',
            name='curators_only',
            field=models.BooleanField(default=False, help_text="A curators' event (a note, a review): not shown to the public."),
        ),
        migrations.AddField(
            model_name='version',
            name='review_reason',
            field=models.TextField(blank=True, help_text="Why, in the curator's words (curators only)."),
        ),
        migrations.AddField(
            model_name='version',
            name='review_status',
            field=models.CharField(choices=[('pending', 'Pending'), ('accepted', 'Accepted'), ('rejected', 'Rejected'), ('withdrawn', 'Withdrawn')], db_index=True, default='pending', help_text="A curator's decision on a derivative; rejected and withdrawn ones are shown to curators only.", max_length=20),
        ),
        migrations.AddField(
            model_name='version',
            name='reviewed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='version',
            name='reviewed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.CreateModel(
            name='Note',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('text', models.TextField()),
                ('created_at', models.DateTimeField(db_index=True)),
                ('author', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('event', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='note', to='restoration.provenanceevent')),
                ('item', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='notes', to='restoration.item')),
                ('version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='notes', to='restoration.version')),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
    ]
