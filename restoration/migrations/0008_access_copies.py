"""Access copies: the tiled, pyramidal TIFF the IIIF image service reads each version from."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("restoration", "0007_batch_admin"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessCopy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file", models.FileField(max_length=500, upload_to="")),
                ("bytes", models.BigIntegerField(help_text="Size of the access copy in bytes.")),
                ("width", models.PositiveIntegerField(help_text="Level 0 as displayed (orientation applied).")),
                ("height", models.PositiveIntegerField()),
                ("bands", models.PositiveSmallIntegerField(help_text="1 grey, 2 grey + alpha, 3 RGB, 4 RGB + alpha.")),
                ("levels", models.PositiveSmallIntegerField(
                    help_text="Pyramid levels (TIFF pages), each half the previous.")),
                ("tile_size", models.PositiveSmallIntegerField()),
                ("compression", models.CharField(help_text="deflate (lossless) or jpeg.", max_length=16)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("version", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, related_name="access_copy",
                    to="restoration.version")),
            ],
            options={"verbose_name": "access copy", "verbose_name_plural": "access copies"},
        ),
    ]
