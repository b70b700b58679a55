"""The current result's flags copied next to its segment, so the dashboard's alerts read the
narrow current table alone (its join to the results table was most of the alerts' query)."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_flags(apps, schema_editor):
    current = apps.get_model("classification", "ClassificationCurrent")
    result = apps.get_model("classification", "ClassificationResult")
    current.objects.update(
        flags=Subquery(result.objects.filter(pk=OuterRef("result_id")).values("flags")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("classification", "0007_chunk_metrics_uncompressed"),
    ]

    operations = [
        migrations.AddField(
            model_name="classificationcurrent",
            name="flags",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(copy_flags, migrations.RunPython.noop),
    ]
