"""Version kind "damage_mask": the companion a restore job with repair_damage stores beside its
result (the pixels its damage stage repainted)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("restoration", "0009_viewers_and_access"),
    ]

    operations = [
        migrations.AlterField(
            model_name="version",
            name="kind",
            field=models.CharField(
                choices=[
                    ("original", "Original"),
                    ("restored", "Restored"),
                    ("colorized", "Colorized"),
                    ("upscaled", "Upscaled"),
                    ("styled", "Styled"),
                    ("damage_mask", "Damage mask"),
                ],
                default="original",
                max_length=20,
            ),
        ),
    ]
