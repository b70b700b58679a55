"""Bensaou (1999): who has invested in whom, and does that fit what we supply?

The quadrant comes from the two specific-investment axes; the fit compares it with the complexity
of what we supply, because Bensaou found that a misfit, not a low quadrant, hurts performance.
Complexity is reported as a third axis (``complexity``) so that a manager sees the number the fit
flags are based on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .normalise import anchor_score, rating_score, rule_record, weighted_axis
from .types import AccountKey, ModelResult

# (buyer high, supplier high) -> quadrant; the customer is the buyer.
QUADRANTS: dict[tuple[bool, bool], str] = {
    (False, False): "market_exchange",
    (True, False): "captive_buyer",
    (False, True): "captive_supplier",
    (True, True): "strategic_partnership",
}
SEGMENTS = tuple(QUADRANTS.values())
COMPLEXITY_RATINGS = ("customisation", "technical_novelty", "change_frequency")
_MEAN = {metric: 1 / len(COMPLEXITY_RATINGS) for metric in COMPLEXITY_RATINGS}


def score_account(
    key: AccountKey, metrics: Mapping[str, Any], params: Mapping[str, Any]
) -> ModelResult:
    anchors, missing_points = params["anchors"], params["missing_points"]
    buyer, buyer_records, buyer_flags = weighted_axis(
        "buyer",
        [anchor_score(metrics, "customer_investment", key, anchors["customer_investment"])],
        {"customer_investment": 1.0},
        missing_points,
    )
    supplier, supplier_records, supplier_flags = weighted_axis(
        "supplier",
        [anchor_score(metrics, "supplier_investment", key, anchors["supplier_investment"])],
        {"supplier_investment": 1.0},
        missing_points,
    )
    complexity, complexity_records, complexity_flags = weighted_axis(
        "complexity",
        [rating_score(metrics, metric, key) for metric in COMPLEXITY_RATINGS],
        _MEAN,
        missing_points,
    )
    high = params["high_threshold"]
    quadrant = QUADRANTS[(buyer >= high, supplier >= high)]
    flags = buyer_flags | supplier_flags | complexity_flags
    explanation = [*buyer_records, *supplier_records, *complexity_records]
    below, above = params["fit"]["over_designed_below"], params["fit"]["under_designed_above"]
    if quadrant == "strategic_partnership" and complexity < below:
        flags.add("over_designed")
        explanation.append(
            rule_record(
                "fit",
                complexity,
                f"over_designed: strategic_partnership for a simple supply "
                f"(complexity {complexity:g} < {below:g})",
            )
        )
    if quadrant == "market_exchange" and complexity > above:
        flags.add("under_designed")
        explanation.append(
            rule_record(
                "fit",
                complexity,
                f"under_designed: market_exchange for a complex supply "
                f"(complexity {complexity:g} > {above:g})",
            )
        )
    return ModelResult(
        segment=quadrant,
        axes={"buyer": buyer, "supplier": supplier, "complexity": complexity},
        flags=frozenset(flags),
        explanation=explanation,
    )


def score(
    metrics_by_account: Mapping[AccountKey, Mapping[str, Any]],
    params: Mapping[str, Any],
    previous: Mapping[AccountKey, str] | None = None,
) -> dict[AccountKey, ModelResult]:
    """Quadrants of a portfolio. Each account stands alone, so ``previous`` is unused."""
    del previous
    return {key: score_account(key, metrics, params) for key, metrics in metrics_by_account.items()}
