"""4S (McDonald & Woodburn): attractiveness (A) x our relative strength (B).

Choices where the specification leaves room, all on rounded axis values:
- an axis is high when it is >= the cut-off (50 by default);
- hysteresis applies when ``|axis - cut-off| < band`` (strictly: at exactly 45 or 55 it does not);
  the flag ``held`` is set only when holding actually kept the previous side, i.e. the cut-off alone
  would have moved the account;
- capacity is counted per level after hysteresis; among the strategic accounts of a level, ranked by
  A + B (descending) then by account key (ascending, so the result does not depend on input order),
  those beyond the capacity get ``over_capacity`` and keep their segment;
- an absent ``is_key_account`` counts as not a key account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from .normalise import (
    BREADTH,
    IndicatorScore,
    Population,
    account_level,
    anchor_score,
    breadth_value,
    pctl_score,
    percentiles_of,
    rating_score,
    round_score,
    rule_record,
    weighted_axis,
)
from .types import AccountKey, IndicatorExplanation, ModelResult

# (A high, B high) -> segment
SEGMENTS_BY_SIDE: dict[tuple[bool, bool], str] = {
    (True, True): "strategic",
    (True, False): "star",
    (False, True): "status",
    (False, False): "streamline",
}
SIDES_BY_SEGMENT = {segment: sides for sides, segment in SEGMENTS_BY_SIDE.items()}
SEGMENTS = tuple(SEGMENTS_BY_SIDE.values())


def _side(
    axis: str,
    value: float,
    previous_high: bool | None,
    params: Mapping[str, Any],
) -> tuple[bool, IndicatorExplanation | None]:
    """High or low against the cut-off, keeping the previous side inside the hysteresis band."""
    cutoff, band = params["cutoff"], params["hysteresis_band"]
    high = value >= cutoff
    if previous_high is None or previous_high == high:
        return high, None
    if round_score(abs(value - cutoff)) >= band:
        return high, None
    side = "high" if previous_high else "low"
    note = (
        f"held: {axis.upper()} {value:g} is within {band:g} of the cut-off {cutoff:g}, "
        f"so it keeps its previous side ({side})"
    )
    return previous_high, rule_record(f"hysteresis_{axis}", value, note, axis=axis)


def score(
    metrics_by_account: Mapping[AccountKey, Mapping[str, Any]],
    params: Mapping[str, Any],
    previous: Mapping[AccountKey, str] | None = None,
    *,
    population: Population | None = None,
    apply_capacity: bool = True,
) -> dict[AccountKey, ModelResult]:
    """4S segments of a portfolio; ``previous`` maps account keys to last run's segment.

    A previous segment that is not a 4S key is ignored (no hysteresis for that account).
    ``population`` and ``apply_capacity=False`` serve chunked runs: percentiles rank against the
    whole population, and the caller applies ``over_capacity`` once all chunks are scored.
    """
    previous = previous or {}
    levels = {key: account_level(metrics, key) for key, metrics in metrics_by_account.items()}
    wallet = percentiles_of("wallet_estimate", metrics_by_account, levels, population)
    breadth_points = percentiles_of(BREADTH, metrics_by_account, levels, population)
    weights, anchors = params["weights"], params["anchors"]
    missing_points = params["missing_points"]

    axes: dict[AccountKey, dict[str, float]] = {}
    segments: dict[AccountKey, str] = {}
    flags: dict[AccountKey, set[str]] = {}
    explanations: dict[AccountKey, list[IndicatorExplanation]] = {}
    for key, metrics in metrics_by_account.items():
        level = levels[key]
        a, a_records, a_flags = weighted_axis(
            "a",
            [
                pctl_score("wallet_estimate", metrics.get("wallet_estimate"), wallet[key], level),
                anchor_score(metrics, "growth_rate", key, anchors["growth_rate"]),
                anchor_score(metrics, "gross_margin_pct", key, anchors["gross_margin_pct"]),
                rating_score(metrics, "strategic_fit", key),
                rating_score(metrics, "openness", key),
            ],
            weights["a"],
            missing_points,
        )
        breadth, breadth_missing = breadth_value(metrics, key)
        breadth_raw = {
            "active_contacts": metrics.get("active_contacts"),
            "functions_engaged": metrics.get("functions_engaged"),
            "product": breadth,
        }
        b, b_records, b_flags = weighted_axis(
            "b",
            [
                anchor_score(metrics, "share_of_wallet", key, anchors["share_of_wallet"]),
                IndicatorScore(
                    BREADTH,
                    breadth_raw,
                    breadth_points[key],
                    f"active_contacts x functions_engaged, percentile among {level} accounts",
                    breadth_missing,
                ),
                rating_score(metrics, "satisfaction", key),
                anchor_score(metrics, "line_penetration", key, anchors["line_penetration"]),
                anchor_score(metrics, "tenure_years", key, anchors["tenure_years"]),
            ],
            weights["b"],
            missing_points,
        )
        before = SIDES_BY_SEGMENT.get(previous.get(key, ""))
        a_high, a_hold = _side("a", a, before[0] if before else None, params)
        b_high, b_hold = _side("b", b, before[1] if before else None, params)
        account_flags = a_flags | b_flags
        records = [*a_records, *b_records]
        for hold in (a_hold, b_hold):
            if hold is not None:
                account_flags.add("held")
                records.append(hold)
        axes[key] = {"a": a, "b": b}
        segments[key] = SEGMENTS_BY_SIDE[(a_high, b_high)]
        flags[key] = account_flags
        explanations[key] = records

    if apply_capacity:
        _apply_capacity(levels, axes, segments, explanations, flags, params["capacity"])

    for key, metrics in metrics_by_account.items():
        is_key = bool(metrics.get("is_key_account"))
        if not is_key and segments[key] in ("strategic", "star"):
            flags[key].add("key_account_candidate")
        elif is_key and segments[key] == "streamline":
            flags[key].add("review_key_status")

    return {
        key: ModelResult(
            segment=segments[key],
            axes=axes[key],
            flags=frozenset(flags[key]),
            explanation=explanations[key],
        )
        for key in metrics_by_account
    }


def over_capacity(
    strategic: Mapping[AccountKey, tuple[str, float]], capacity: float
) -> dict[AccountKey, tuple[int, int]]:
    """The strategic accounts beyond the ``capacity`` best of their level by A + B.

    ``strategic`` maps each strategic account to (level, A + B). Ties are broken by account key
    (ascending) so the answer does not depend on order. Returns {key: (rank, strategic count of
    its level)} for the accounts over capacity.
    """
    by_level: dict[str, list[AccountKey]] = defaultdict(list)
    for key, (level, _) in strategic.items():
        by_level[level].append(key)
    over: dict[AccountKey, tuple[int, int]] = {}
    limit = int(capacity)
    for keys in by_level.values():
        if len(keys) <= limit:
            continue
        ranked = sorted(keys, key=lambda k: (-round_score(strategic[k][1]), k))
        for rank, key in enumerate(ranked[limit:], start=limit + 1):
            over[key] = (rank, len(keys))
    return over


def _apply_capacity(
    levels: Mapping[AccountKey, str],
    axes: Mapping[AccountKey, Mapping[str, float]],
    segments: Mapping[AccountKey, str],
    explanations: Mapping[AccountKey, list[IndicatorExplanation]],
    flags: Mapping[AccountKey, set[str]],
    capacity: float,
) -> None:
    totals = {
        key: (levels[key], axes[key]["a"] + axes[key]["b"])
        for key, segment in segments.items()
        if segment == "strategic"
    }
    for key, (rank, count) in over_capacity(totals, capacity).items():
        flags[key].add("over_capacity")
        explanations[key].append(
            rule_record(
                "capacity",
                round_score(totals[key][1]),
                f"over capacity: rank {rank} of {count} strategic {levels[key]} accounts "
                f"by A + B, capacity {capacity:g}",
            )
        )
