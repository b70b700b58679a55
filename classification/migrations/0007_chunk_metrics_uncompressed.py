"""Staged metrics stored uncompressed: each row is about 1 MB of JSON written once and read once,
and compressing it (TOAST's pglz) cost more than the bytes it saved (prepare's inserts 2.1 ->
1.3 s on the bench data set)."""

from django.db import migrations


def uncompressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE classification_classificationchunkmetrics "
            "ALTER COLUMN metrics SET STORAGE EXTERNAL"
        )


def compressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE classification_classificationchunkmetrics "
            "ALTER COLUMN metrics SET STORAGE EXTENDED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("classification", "0006_chunk_metrics"),
    ]

    operations = [migrations.RunPython(uncompressed, compressed)]
