"""Dashboard writes. To be merged into relationships/services.py with the API's services."""

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Account, Contact
from relationships.models import Interaction


@transaction.atomic
def interaction_log(
    *,
    account: Account,
    author,
    kind: str,
    occurred_at: dt.datetime,
    summary: str,
    sentiment: int = 0,
    contacts: Iterable[Contact] = (),
) -> Interaction:
    """Record a meeting, call, visit... with the customer's contacts who took part."""
    contacts = list(contacts)
    foreign = [c for c in contacts if c.customer_id != account.customer_id]
    if foreign:
        raise ValidationError({"contacts": "Only contacts of this account's customer can attend."})
    interaction = Interaction(
        account=account,
        author=author,
        kind=kind,
        occurred_at=occurred_at,
        summary=summary.strip(),
        sentiment=sentiment,
    )
    interaction.full_clean()
    interaction.save()
    if contacts:
        interaction.contacts.set(contacts)
    return interaction
