"""Which result is current moves from `ClassificationResult.is_current` to a narrow table.

Flipping `is_current` rewrote every wide result row twice per run (25-31 s at 100k accounts);
switching `ClassificationCurrent` is one upsert of narrow rows. The current rows move over.
"""

import django.db.models.deletion
from django.db import migrations, models

COPY_CURRENT = """
INSERT INTO classification_classificationcurrent (account_id, model, result_id, segment)
SELECT account_id, model, id, segment FROM classification_classificationresult
WHERE is_current
"""

RESTORE_CURRENT = """
UPDATE classification_classificationresult SET is_current = true
WHERE id IN (SELECT result_id FROM classification_classificationcurrent)
"""


def leave_room_for_updates(apps, schema_editor):
    """Half-empty pages on PostgreSQL: each run's update of a row fits beside it (HOT, no index
    write)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE classification_classificationcurrent SET (fillfactor = 50)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_history"),
        ("classification", "0004_history"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClassificationCurrent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "model",
                    models.CharField(
                        choices=[
                            ("webster", "Webster"),
                            ("millman_wilson", "Millman-Wilson"),
                            ("bensaou", "Bensaou"),
                            ("four_s", "4S"),
                        ],
                        max_length=20,
                    ),
                ),
                ("segment", models.CharField(max_length=30)),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="current_classifications",
                        to="accounts.account",
                    ),
                ),
                (
                    "result",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="classification.classificationresult",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "model"), name="current_result_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(leave_room_for_updates, migrations.RunPython.noop),
        migrations.RunSQL(COPY_CURRENT, RESTORE_CURRENT),
        migrations.RemoveConstraint(
            model_name="classificationresult",
            name="one_current_result",
        ),
        migrations.RemoveField(
            model_name="classificationresult",
            name="is_current",
        ),
    ]
