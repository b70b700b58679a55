"""Turning raw metrics into 0-100 points (spec section 2), and points into an axis.

Every model goes through these helpers so that missing values, percentiles and rounding behave
the same way everywhere.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from .types import AccountKey, IndicatorExplanation

LEVELS = ("national", "global")
POPULATION_OF_ONE = 50.0
BREADTH = "relationship_breadth"
PERCENTILE_METRICS = ("wallet_estimate", "active_contacts", "interactions_12m", BREADTH)

Population = Mapping[str, Mapping[str, Sequence[float]]]
"""``{level: {metric: sorted values}}``, as built by ``population_stats``."""

_NOISE = Decimal("1e-9")
_TENTH = Decimal("0.1")


def round_score(value: float) -> float:
    """Round to 0.1, half up, as a person would (14.95 -> 15.0, 12.25 -> 12.3).

    Binary floats store 14.95 as 14.9499999..., so the value is first rounded to 9 decimals to
    drop that noise, then rounded half up on ``Decimal``. Without this a threshold test such as
    ``S < 15`` would depend on float noise.
    """
    cleaned = Decimal(value).quantize(_NOISE, rounding=ROUND_HALF_EVEN)
    return float(cleaned.quantize(_TENTH, rounding=ROUND_HALF_UP))


def clamp_points(value: float) -> float:
    return min(100.0, max(0.0, value))


def is_missing(value: Any) -> bool:
    """Absent, None or NaN all mean "we do not know"."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    return False


def read_number(metrics: Mapping[str, Any], metric: str, key: AccountKey) -> float | None:
    """A numeric metric as float, or None when missing.

    A non-numeric value is a bug in the metrics layer, not a missing value, so it raises.
    """
    value = metrics.get(metric)
    if is_missing(value):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    raise ValueError(
        f"Account {key!r}: metric {metric!r} must be a number, got {value!r} "
        f"({type(value).__name__})."
    )


def account_level(metrics: Mapping[str, Any], key: AccountKey) -> str:
    """The percentile pool of an account. An absent level counts as national."""
    level = metrics.get("level")
    if level is None:
        return "national"
    if level not in LEVELS:
        raise ValueError(
            f"Account {key!r}: level must be one of {', '.join(LEVELS)}, got {level!r}."
        )
    return str(level)


def rank_points(value: float, pool: Sequence[float]) -> float:
    """Mid-rank percentile of ``value`` in the sorted ``pool``.

    ``100 * (below + (equal - 1) / 2) / (n - 1)``; a pool of one scores 50. When the pool does not
    hold the value (the data moved between computing the pool and scoring), the value counts
    itself, so the result stays within 0-100.
    """
    below = bisect_left(pool, value)
    equal = bisect_right(pool, value) - below
    n = len(pool)
    if equal == 0:
        equal, n = 1, n + 1
    if n == 1:
        return POPULATION_OF_ONE
    return 100.0 * (below + (equal - 1) / 2) / (n - 1)


def percentile_points(
    values: Mapping[AccountKey, float | None], pool: Sequence[float] | None = None
) -> dict[AccountKey, float | None]:
    """Percentile of each value; None (missing) stays None and is not part of the pool.

    The pool is the values themselves, or ``pool`` when the population is larger than the accounts
    being scored (a chunk of a run).
    """
    ordered = sorted(v for v in values.values() if v is not None) if pool is None else sorted(pool)
    return {
        key: None if value is None else rank_points(value, ordered) for key, value in values.items()
    }


def percentiles_by_level(
    levels: Mapping[AccountKey, str],
    values: Mapping[AccountKey, float | None],
    pools: Mapping[str, Sequence[float]] | None = None,
) -> dict[AccountKey, float | None]:
    """Percentiles with national accounts ranked among national ones and global among global."""
    points: dict[AccountKey, float | None] = {}
    for level in LEVELS:
        group = {key: value for key, value in values.items() if levels[key] == level}
        points.update(percentile_points(group, None if pools is None else pools[level]))
    return points


def breadth_value(
    metrics: Mapping[str, Any], key: AccountKey
) -> tuple[float | None, tuple[str, ...]]:
    """Relationship breadth (4S): active_contacts x functions_engaged, and its missing factors."""
    contacts = read_number(metrics, "active_contacts", key)
    functions = read_number(metrics, "functions_engaged", key)
    missing = tuple(
        metric
        for metric, value in (("active_contacts", contacts), ("functions_engaged", functions))
        if value is None
    )
    if contacts is None or functions is None:
        return None, missing
    return contacts * functions, missing


def percentile_value(metrics: Mapping[str, Any], metric: str, key: AccountKey) -> float | None:
    """The value a percentile metric ranks, derived for relationship breadth."""
    if metric == BREADTH:
        return breadth_value(metrics, key)[0]
    return read_number(metrics, metric, key)


def population_stats(
    metrics_by_account: Mapping[AccountKey, Mapping[str, Any]],
) -> dict[str, dict[str, list[float]]]:
    """The sorted values of every percentile metric per level: ``{level: {metric: [...]}}``.

    Computed once per run over the whole population and passed as ``population`` when scoring a
    chunk, so that a chunk's percentiles rank against the whole population. Plain JSON.
    """
    stats: dict[str, dict[str, list[float]]] = {
        level: {metric: [] for metric in PERCENTILE_METRICS} for level in LEVELS
    }
    for key, metrics in metrics_by_account.items():
        level = account_level(metrics, key)
        for metric in PERCENTILE_METRICS:
            value = percentile_value(metrics, metric, key)
            if value is not None:
                stats[level][metric].append(value)
    for by_metric in stats.values():
        for values in by_metric.values():
            values.sort()
    return stats


def level_pools(population: Population | None, metric: str) -> dict[str, Sequence[float]] | None:
    """The pools of one metric from ``population``; None (or empty) means "the accounts given"."""
    if not population:
        return None
    try:
        return {level: population[level][metric] for level in LEVELS}
    except (KeyError, TypeError) as exc:
        raise ValueError(
            f"The population has no values for {metric!r} at every level; expected "
            "{level: {metric: sorted values}} as built by population_stats()."
        ) from exc


def percentiles_of(
    metric: str,
    metrics_by_account: Mapping[AccountKey, Mapping[str, Any]],
    levels: Mapping[AccountKey, str],
    population: Population | None,
) -> dict[AccountKey, float | None]:
    """Percentile points of one metric for every account, against the population if given."""
    values = {key: percentile_value(m, metric, key) for key, m in metrics_by_account.items()}
    return percentiles_by_level(levels, values, level_pools(population, metric))


def anchor_points(value: float, low: float, high: float) -> float:
    """Linear from ``low`` (0 points) to ``high`` (100 points), clamped."""
    return clamp_points(100.0 * (value - low) / (high - low))


def rating_points(value: float) -> float:
    """A 1-5 rating as ``(r - 1) * 25``; out-of-range ratings are clamped to 0-100."""
    return clamp_points((value - 1.0) * 25.0)


@dataclass(frozen=True)
class IndicatorScore:
    """An indicator before weighting: ``points`` None means missing (scored as missing points)."""

    indicator: str
    raw_value: Any
    points: float | None
    note: str | None = None
    missing_metrics: tuple[str, ...] = ()


def pctl_score(indicator: str, raw_value: Any, points: float | None, level: str) -> IndicatorScore:
    return IndicatorScore(indicator, raw_value, points, f"percentile among {level} accounts")


def anchor_score(
    metrics: Mapping[str, Any], metric: str, key: AccountKey, anchor: Mapping[str, float]
) -> IndicatorScore:
    value = read_number(metrics, metric, key)
    low, high = anchor["low"], anchor["high"]
    note = f"anchor {low:g} to {high:g}"
    if value is None:
        return IndicatorScore(metric, metrics.get(metric), None, note)
    return IndicatorScore(metric, metrics.get(metric), anchor_points(value, low, high), note)


def rating_score(metrics: Mapping[str, Any], metric: str, key: AccountKey) -> IndicatorScore:
    value = read_number(metrics, metric, key)
    points = None if value is None else rating_points(value)
    return IndicatorScore(metric, metrics.get(metric), points, "rating 1-5")


def map_score(
    metrics: Mapping[str, Any], metric: str, table: Mapping[str, float]
) -> IndicatorScore:
    """A category through its table. An unknown category is treated as missing (and flagged).

    Treating it as missing rather than raising keeps one bad assessment from stopping a whole run;
    the flag and the note make it visible.
    """
    value = metrics.get(metric)
    if is_missing(value):
        return IndicatorScore(metric, value, None, "map")
    if not isinstance(value, str) or value not in table:
        return IndicatorScore(metric, value, None, f"unknown value {value!r}, treated as missing")
    return IndicatorScore(metric, value, float(table[value]), "map")


def weighted_axis(
    axis: str,
    scores: Iterable[IndicatorScore],
    weights: Mapping[str, float],
    missing_points: float,
) -> tuple[float, list[IndicatorExplanation], set[str]]:
    """Weighted sum of the indicators' points, rounded to 0.1, with one record per indicator.

    Points and contributions are kept unrounded in the records; only the axis is rounded.
    """
    total = 0.0
    records: list[IndicatorExplanation] = []
    flags: set[str] = set()
    for score in scores:
        weight = float(weights[score.indicator])
        note = score.note
        if score.points is None:
            points = float(missing_points)
            missing = score.missing_metrics or (score.indicator,)
            flags.update(f"low_confidence:{metric}" for metric in missing)
            note = f"{note}; missing, scored {points:g}" if note else f"missing, scored {points:g}"
        else:
            points = score.points
        contribution = points * weight
        total += contribution
        records.append(
            IndicatorExplanation(
                indicator=score.indicator,
                raw_value=score.raw_value,
                points=points,
                weight=weight,
                contribution=contribution,
                axis=axis,
                note=note,
            )
        )
    return clamp_points(round_score(total)), records, flags


def rule_record(
    indicator: str, raw_value: Any, note: str, axis: str | None = None
) -> IndicatorExplanation:
    """A record for a rule (a gate, an override, a hold): it explains but adds no points."""
    return IndicatorExplanation(
        indicator=indicator,
        raw_value=raw_value,
        points=None,
        weight=0.0,
        contribution=0.0,
        axis=axis,
        note=note,
    )
