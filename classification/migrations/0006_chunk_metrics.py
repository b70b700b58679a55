"""Staging table for a run's metrics, computed once for the whole population in prepare."""

import django.db.models.deletion
from django.db import migrations, models


def unlogged(apps, schema_editor):
    """Staging rows live for one run: skipping the WAL makes writing them cheap, and losing them
    in a crash only makes the chunks compute their metrics themselves."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE classification_classificationchunkmetrics SET UNLOGGED")


class Migration(migrations.Migration):
    dependencies = [
        ("classification", "0005_current"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClassificationChunkMetrics",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("index", models.PositiveIntegerField()),
                ("metrics", models.TextField(help_text="JSON: {account id: metrics}.")),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="classification.classificationrun",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("run", "index"), name="chunk_metrics_unique_per_run"
                    )
                ],
            },
        ),
        migrations.RunPython(unlogged, migrations.RunPython.noop),
    ]
