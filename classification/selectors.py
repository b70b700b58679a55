"""Reads of classification results, always for accounts the caller may already see."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import JSONField, QuerySet, TextField, Value

from classification.models import (
    ClassificationCurrent,
    ClassificationOverride,
    ClassificationResult,
)


def current_classifications(*, account_ids: Iterable[int]) -> dict[int, dict[str, dict]]:
    """{account_id: {model: {segment, axes, flags, override}}} for a page of accounts.

    One query whatever the page size: the current results and the active overrides (whose
    segment is shown beside the computed one, never instead of it silently) as one UNION ALL;
    an override may exist for a model the account has no result of yet.
    """
    ids = list(account_ids)
    results = (
        ClassificationCurrent.objects.filter(account_id__in=ids)
        .order_by()  # SQLite allows no ORDER BY inside a UNION
        .annotate(no_reason=Value(None, output_field=TextField()), is_override=Value(False))
        .values_list(
            "account_id",
            "model",
            "segment",
            "result__axes",
            "result__flags",
            "no_reason",
            "is_override",
        )
    )
    nothing = Value(None, output_field=JSONField())
    overrides = (
        ClassificationOverride.objects.filter(account_id__in=ids, is_active=True)
        .order_by()
        .annotate(no_axes=nothing, no_flags=nothing, is_override=Value(True))
        .values_list(
            "account_id", "model", "segment", "no_axes", "no_flags", "reason", "is_override"
        )
    )
    found: dict[int, dict[str, dict]] = defaultdict(dict)
    for account_id, model, segment, axes, flags, reason, is_override in results.union(
        overrides, all=True
    ):
        entry = found[account_id].setdefault(
            model, {"segment": None, "axes": {}, "flags": [], "override": None}
        )
        if is_override:
            entry["override"] = {"segment": segment, "reason": reason}
        else:
            entry.update(segment=segment, axes=axes, flags=flags)
    return dict(found)


def account_result_history(*, account_id: int) -> QuerySet[ClassificationResult]:
    """Every stored result of one account, newest run first (the explanation included)."""
    return (
        ClassificationResult.objects.filter(account_id=account_id, run__status="succeeded")
        .select_related("run", "parameter_set")
        # A run's population statistics are megabytes of JSON at 100k accounts: never per result.
        .defer("run__population")
        .order_by("model", "-run_id")
    )
