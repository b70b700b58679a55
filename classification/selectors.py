"""Reads of classification results, always for accounts the caller may already see."""

from collections import defaultdict
from collections.abc import Iterable

import orjson
from django.db import connection
from django.db.models import QuerySet

from classification.models import (
    ClassificationCurrent,
    ClassificationOverride,
    ClassificationResult,
)


def current_classifications(*, account_ids: Iterable[int]) -> dict[int, dict[str, dict]]:
    """{account_id: {model: {segment, axes, flags, override}}} for a page of accounts.

    One query whatever the page size: the current results and the active overrides (whose
    segment is shown beside the computed one, never instead of it silently) as one UNION ALL;
    an override may exist for a model the account has no result of yet. Written as SQL because
    every accounts list and account page calls it: the ORM built and compiled the two querysets
    of the union in 4-5 ms of Python per call, more than the database took to answer.
    """
    ids = [int(pk) for pk in account_ids]
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        "SELECT c.account_id, c.model, c.segment, r.axes, r.flags, NULL, 0"  # noqa: S608
        f" FROM {ClassificationCurrent._meta.db_table} c"
        f" JOIN {ClassificationResult._meta.db_table} r ON r.id = c.result_id"
        f" WHERE c.account_id IN ({marks})"
        " UNION ALL SELECT o.account_id, o.model, o.segment, NULL, NULL, o.reason, 1"
        f" FROM {ClassificationOverride._meta.db_table} o"
        f" WHERE o.account_id IN ({marks}) AND o.is_active"
    )  # table names from model meta; the ids are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, *ids])
        rows = cursor.fetchall()
    found: dict[int, dict[str, dict]] = defaultdict(dict)
    for account_id, model, segment, axes, flags, reason, is_override in rows:
        entry = found[account_id].setdefault(
            model, {"segment": None, "axes": {}, "flags": [], "override": None}
        )
        if is_override:
            entry["override"] = {"segment": segment, "reason": reason}
        else:
            entry.update(segment=segment, axes=_json(axes), flags=_json(flags))
    return dict(found)


def _json(value):
    """A JSON column read by SQL: text on both backends (Django keeps psycopg2 from decoding).
    orjson: a page of 50 accounts decodes 400 of them."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def account_result_history(*, account_id: int) -> QuerySet[ClassificationResult]:
    """Every stored result of one account, newest run first (the explanation included)."""
    return (
        ClassificationResult.objects.filter(account_id=account_id, run__status="succeeded")
        .select_related("run", "parameter_set")
        # A run's population statistics are megabytes of JSON at 100k accounts: never per result.
        .defer("run__population")
        .order_by("model", "-run_id")
    )
