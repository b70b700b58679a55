"""Reads of classification results, always for accounts the caller may already see."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from classification.models import (
    ClassificationCurrent,
    ClassificationOverride,
    ClassificationResult,
)


def current_classifications(*, account_ids: Iterable[int]) -> dict[int, dict[str, dict]]:
    """{account_id: {model: {segment, axes, flags, override}}} for a page of accounts.

    Two queries whatever the page size: the current results, and the active overrides (whose
    segment is shown beside the computed one, never instead of it silently).
    """
    ids = list(account_ids)
    found: dict[int, dict[str, dict]] = defaultdict(dict)
    rows = ClassificationCurrent.objects.filter(account_id__in=ids).values_list(
        "account_id", "model", "segment", "result__axes", "result__flags"
    )
    for account_id, model, segment, axes, flags in rows:
        found[account_id][model] = {
            "segment": segment,
            "axes": axes,
            "flags": flags,
            "override": None,
        }
    overrides = ClassificationOverride.objects.filter(
        account_id__in=ids, is_active=True
    ).values_list("account_id", "model", "segment", "reason")
    for account_id, model, segment, reason in overrides:
        entry = found[account_id].setdefault(
            model, {"segment": None, "axes": {}, "flags": [], "override": None}
        )
        entry["override"] = {"segment": segment, "reason": reason}
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
