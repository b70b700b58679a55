# Drops accounts_transaction_account_id_95e78ffb (account_id alone): a prefix of the
# (account_id, date) index, so it only cost an index insertion per written row (issue 6).
# Only the index goes: Django's own AlterField would also drop and re-validate the foreign key.

import django.db.models.deletion
from django.db import migrations, models

INDEX = "accounts_transaction_account_id_95e78ffb"


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_history"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="transaction",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="transactions",
                        to="accounts.account",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    f'CREATE INDEX {INDEX} ON "accounts_transaction" ("account_id")',
                ),
            ],
        ),
    ]
