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
    IndicatorScore,
    account_level,
    anchor_score,
    pctl_score,
    percentiles_by_level,
    rating_score,
    read_number,
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
BREADTH = "relationship_breadth"


def _breadth(
    key: AccountKey, metrics: Mapping[str, Any]
) -> tuple[float | None, dict[str, Any], tuple[str, ...]]:
    """active_contacts x functions_engaged, the raw inputs, and which of them are missing."""
    contacts = read_number(metrics, "active_contacts", key)
    functions = read_number(metrics, "functions_engaged", key)
    raw = {
        "active_contacts": metrics.get("active_contacts"),
        "functions_engaged": metrics.get("functions_engaged"),
    }
    if contacts is None or functions is None:
        missing = tuple(
            metric
            for metric, value in (("active_contacts", contacts), ("functions_engaged", functions))
            if value is None
        )
        return None, raw, missing
    return contacts * functions, raw, ()


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
) -> dict[AccountKey, ModelResult]:
    """4S segments of a portfolio; ``previous`` maps account keys to last run's segment.

    A previous segment that is not a 4S key is ignored (no hysteresis for that account).
    """
    previous = previous or {}
    levels = {key: account_level(metrics, key) for key, metrics in metrics_by_account.items()}
    wallet = percentiles_by_level(
        levels,
        {key: read_number(m, "wallet_estimate", key) for key, m in metrics_by_account.items()},
    )
    breadth = {key: _breadth(key, m) for key, m in metrics_by_account.items()}
    breadth_points = percentiles_by_level(
        levels, {key: value for key, (value, _, _) in breadth.items()}
    )
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
        breadth_value, breadth_raw, breadth_missing = breadth[key]
        b, b_records, b_flags = weighted_axis(
            "b",
            [
                anchor_score(metrics, "share_of_wallet", key, anchors["share_of_wallet"]),
                IndicatorScore(
                    BREADTH,
                    {**breadth_raw, "product": breadth_value},
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
        before = SIDES_BY_SEGMENT.get(previous.get(key))  # type: ignore[arg-type]
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

    _apply_capacity(levels, axes, segments, flags, explanations, params["capacity"])

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


def _apply_capacity(
    levels: Mapping[AccountKey, str],
    axes: Mapping[AccountKey, Mapping[str, float]],
    segments: Mapping[AccountKey, str],
    flags: Mapping[AccountKey, set[str]],
    explanations: Mapping[AccountKey, list[IndicatorExplanation]],
    capacity: int,
) -> None:
    """Flag the strategic accounts of each level beyond the ``capacity`` best by A + B."""
    strategic: dict[str, list[AccountKey]] = defaultdict(list)
    for key, segment in segments.items():
        if segment == "strategic":
            strategic[levels[key]].append(key)
    for level, keys in strategic.items():
        if len(keys) <= capacity:
            continue
        ranked = sorted(keys, key=lambda k: (-round_score(axes[k]["a"] + axes[k]["b"]), k))
        for rank, key in enumerate(ranked[int(capacity) :], start=int(capacity) + 1):
            flags[key].add("over_capacity")
            explanations[key].append(
                rule_record(
                    "capacity",
                    round_score(axes[key]["a"] + axes[key]["b"]),
                    f"over capacity: rank {rank} of {len(keys)} strategic {level} accounts "
                    f"by A + B, capacity {capacity:g}",
                )
            )
