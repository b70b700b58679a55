"""Millman-Wilson: how far the relationship has developed, on two axes.

X (nature, transactional to collaborative) and Y (involvement, simple to complex) give
S = (X + Y) / 2, which picks the stage. Two rules sit on top: an account without revenue is
``pre_kam`` whatever its S, and uncoupling overrides everything, the zero-revenue rule included
(a customer who stopped buying is leaving, not a prospect).

S is computed from the rounded X and Y and rounded again, and the thresholds compare rounded
values, so the stage always agrees with the numbers a manager sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .normalise import (
    Population,
    account_level,
    anchor_score,
    is_missing,
    map_score,
    pctl_score,
    percentiles_of,
    read_number,
    round_score,
    rule_record,
    weighted_axis,
)
from .types import AccountKey, IndicatorExplanation, ModelResult

STAGES = ("pre_kam", "early_kam", "mid_kam", "partnership_kam", "synergistic_kam")
UNCOUPLING = "uncoupling_kam"
SEGMENTS = (*STAGES, UNCOUPLING)

# Ordered from lowest to highest: a drop is a move to an earlier entry.
STATUS_ORDER = ("none", "approved", "preferred", "sole")
DROP_FROM = ("preferred", "sole")

PERCENTILE_METRICS = ("active_contacts", "interactions_12m")


def stage_for(s: float, thresholds: Mapping[str, float]) -> str:
    """The highest stage whose threshold S reaches; below all of them, pre_kam."""
    stage = STAGES[0]
    for name in STAGES[1:]:
        if s >= thresholds[name]:
            stage = name
    return stage


def _status_dropped(metrics: Mapping[str, Any]) -> bool:
    """From preferred or sole to anything lower; unknown statuses prove nothing."""
    before = metrics.get("previous_supplier_status")
    now = metrics.get("supplier_status")
    if before not in DROP_FROM or now not in STATUS_ORDER:
        return False
    return STATUS_ORDER.index(now) < STATUS_ORDER.index(before)


def _uncoupling(
    key: AccountKey, metrics: Mapping[str, Any], params: Mapping[str, Any]
) -> list[tuple[str, IndicatorExplanation]]:
    """The uncoupling reasons that hold, as (flag, explanation record).

    A missing growth rate, notice or previous status means "no evidence", not "unknown": growth is
    undefined for a new account, and no earlier assessment means no drop. So no flag for them.
    """
    reasons: list[tuple[str, IndicatorExplanation]] = []
    growth = read_number(metrics, "growth_rate", key)
    limit = params["uncoupling_growth"]
    if growth is not None and growth <= limit:
        reasons.append(
            (
                "uncoupling:growth",
                rule_record(
                    "growth_rate",
                    metrics.get("growth_rate"),
                    f"uncoupling: growth_rate {growth:g} <= {limit:g}",
                ),
            )
        )
    notice = metrics.get("termination_notice")
    if not is_missing(notice) and notice:
        reasons.append(
            (
                "uncoupling:notice",
                rule_record(
                    "termination_notice", notice, "uncoupling: the customer has given notice"
                ),
            )
        )
    if _status_dropped(metrics):
        before, now = metrics["previous_supplier_status"], metrics["supplier_status"]
        reasons.append(
            (
                "uncoupling:status_drop",
                rule_record(
                    "supplier_status",
                    {"previous_supplier_status": before, "supplier_status": now},
                    f"uncoupling: supplier status dropped from {before} to {now}",
                ),
            )
        )
    return reasons


def score(
    metrics_by_account: Mapping[AccountKey, Mapping[str, Any]],
    params: Mapping[str, Any],
    previous: Mapping[AccountKey, str] | None = None,
    *,
    population: Population | None = None,
) -> dict[AccountKey, ModelResult]:
    """Stages of a portfolio. ``previous`` is unused: a status drop comes from the metrics.

    ``population`` (see ``population_stats``) makes percentiles rank against a whole population
    when only a chunk of it is scored.
    """
    del previous
    levels = {key: account_level(metrics, key) for key, metrics in metrics_by_account.items()}
    percentiles = {
        metric: percentiles_of(metric, metrics_by_account, levels, population)
        for metric in PERCENTILE_METRICS
    }
    weights, anchors, maps = params["weights"], params["anchors"], params["maps"]
    missing_points = params["missing_points"]
    results: dict[AccountKey, ModelResult] = {}
    for key, metrics in metrics_by_account.items():
        x, x_records, x_flags = weighted_axis(
            "x",
            [
                map_score(metrics, "contract_type", maps["contract_type"]),
                map_score(metrics, "supplier_status", maps["supplier_status"]),
                anchor_score(metrics, "info_sharing", key, anchors["info_sharing"]),
                anchor_score(metrics, "joint_projects", key, anchors["joint_projects"]),
            ],
            weights["x"],
            missing_points,
        )
        y, y_records, y_flags = weighted_axis(
            "y",
            [
                pctl_score(
                    "active_contacts",
                    metrics.get("active_contacts"),
                    percentiles["active_contacts"][key],
                    levels[key],
                ),
                anchor_score(metrics, "functions_engaged", key, anchors["functions_engaged"]),
                anchor_score(metrics, "hierarchy_levels", key, anchors["hierarchy_levels"]),
                pctl_score(
                    "interactions_12m",
                    metrics.get("interactions_12m"),
                    percentiles["interactions_12m"][key],
                    levels[key],
                ),
            ],
            weights["y"],
            missing_points,
        )
        s = round_score((x + y) / 2)
        stage = stage_for(s, params["stage_thresholds"])
        flags = x_flags | y_flags
        explanation = [*x_records, *y_records]

        revenue = read_number(metrics, "revenue_12m", key)
        if revenue is None:
            flags.add("low_confidence:revenue_12m")
            explanation.append(
                rule_record("revenue_12m", None, "missing: the zero-revenue rule was not applied")
            )
        elif revenue <= 0:
            stage = STAGES[0]
            explanation.append(
                rule_record(
                    "revenue_12m",
                    metrics.get("revenue_12m"),
                    f"no revenue in 12 months: pre_kam whatever S ({s:g})",
                )
            )

        reasons = _uncoupling(key, metrics, params)
        if reasons:
            stage = UNCOUPLING
            for flag, record in reasons:
                flags.add(flag)
                explanation.append(record)

        if round_score(abs(x - y)) > params["unbalanced_gap"]:
            flags.add("unbalanced")
        results[key] = ModelResult(
            segment=stage,
            axes={"x": x, "y": y, "s": s},
            flags=frozenset(flags),
            explanation=explanation,
        )
    return results
