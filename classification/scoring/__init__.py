"""KAM's scoring engine: four classification models over plain data (spec section 5).

Pure Python on purpose: it imports nothing from Django and reads no clock, so a run is a function
of its inputs and can be tested, replayed and benchmarked without a database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from . import bensaou, four_s, millman_wilson, webster
from .normalise import PERCENTILE_METRICS, Population, account_level, population_stats
from .params import DEFAULT_PARAMS, ParameterError, default_params, validate_params
from .types import AccountKey, IndicatorExplanation, ModelResult

MODELS = ("webster", "millman_wilson", "bensaou", "four_s")

Metrics = Mapping[AccountKey, Mapping[str, Any]]
_Scorer = Callable[..., dict[AccountKey, ModelResult]]

_SCORERS: dict[str, _Scorer] = {
    "webster": webster.score,
    "millman_wilson": millman_wilson.score,
    "bensaou": bensaou.score,
    "four_s": four_s.score,
}

__all__ = [
    "DEFAULT_PARAMS",
    "MODELS",
    "PERCENTILE_METRICS",
    "IndicatorExplanation",
    "ModelResult",
    "ParameterError",
    "default_params",
    "population_stats",
    "score_all",
    "score_portfolio",
    "validate_params",
]


def score_portfolio(
    model: str,
    metrics_by_account: Metrics,
    params: Mapping[str, Any] | None = None,
    previous: Mapping[AccountKey, str] | None = None,
    *,
    population: Population | None = None,
    apply_capacity: bool = True,
) -> dict[AccountKey, ModelResult]:
    """Score every account of a portfolio under one model.

    ``metrics_by_account`` is the population of the run: percentiles rank each account among the
    accounts of its level passed here. ``params`` may be partial; it is merged over the defaults
    and validated (``ParameterError`` on problems). ``previous`` maps account keys to the segment
    of the previous run (used by 4S hysteresis). Returns results in input order.

    For a run scored in chunks: ``population`` (built once with ``population_stats`` over the
    whole population) makes percentiles rank against the whole population, and
    ``apply_capacity=False`` leaves the 4S capacity rule to the caller (``four_s.over_capacity``
    over all chunks' results).
    """
    if model not in _SCORERS:
        raise ValueError(f"Unknown model {model!r}; expected one of {', '.join(MODELS)}.")
    options: dict[str, Any] = {}
    if model in ("millman_wilson", "four_s"):
        options["population"] = population
    if model == "four_s":
        options["apply_capacity"] = apply_capacity
    return _SCORERS[model](metrics_by_account, validate_params(model, params), previous, **options)


def score_all(
    metrics_by_account: Metrics,
    params_by_model: Mapping[str, Mapping[str, Any] | None] | None = None,
    previous_by_model: Mapping[str, Mapping[AccountKey, str] | None] | None = None,
    *,
    population: Population | None = None,
    apply_capacity: bool = True,
) -> dict[str, dict[AccountKey, ModelResult]]:
    """Score a portfolio under all four models: ``{model: {account_key: result}}``.

    Webster runs first, in two passes, because its ``network`` type needs the types of a global
    account's national accounts. A national account may carry ``parent_key``, the key of its global
    account. When that global account is in the same portfolio, its
    ``child_accounts_partnership`` is computed from the first-pass Webster types of its national
    accounts in the portfolio (type >= ``network_child_type_threshold``) and overrides any value in
    its metrics; the second pass then scores Webster with it. Two passes suffice because only
    global accounts can be ``network`` and national types do not depend on the count. A global
    account without national accounts in the portfolio keeps its metric (absent means 0).
    ``parent_key`` values that point outside the portfolio or to a national account are ignored.

    ``population`` and ``apply_capacity`` are passed on as in ``score_portfolio``.
    """
    params_by_model = params_by_model or {}
    previous_by_model = previous_by_model or {}
    unknown = sorted((set(params_by_model) | set(previous_by_model)) - set(MODELS))
    if unknown:
        raise ValueError(f"Unknown model(s) {unknown}; expected some of {', '.join(MODELS)}.")

    results: dict[str, dict[AccountKey, ModelResult]] = {}
    webster_params = validate_params("webster", params_by_model.get("webster"))
    webster_previous = previous_by_model.get("webster")
    first_pass = webster.score(metrics_by_account, webster_params, webster_previous)
    counts = _child_partnership_counts(
        metrics_by_account, first_pass, webster_params["network_child_type_threshold"]
    )
    if counts:
        augmented = {
            key: {**metrics, "child_accounts_partnership": counts[key]}
            if key in counts
            else metrics
            for key, metrics in metrics_by_account.items()
        }
        results["webster"] = webster.score(augmented, webster_params, webster_previous)
    else:
        results["webster"] = first_pass
    for model in MODELS[1:]:
        results[model] = score_portfolio(
            model,
            metrics_by_account,
            params_by_model.get(model),
            previous_by_model.get(model),
            population=population,
            apply_capacity=apply_capacity,
        )
    return results


def _child_partnership_counts(
    metrics_by_account: Metrics,
    webster_results: Mapping[AccountKey, ModelResult],
    type_threshold: float,
) -> dict[AccountKey, int]:
    """Per global account with national accounts in the portfolio: how many have type >= k."""
    counts: dict[AccountKey, int] = defaultdict(int)
    for key, metrics in metrics_by_account.items():
        parent = metrics.get("parent_key")
        if parent is None or parent not in metrics_by_account:
            continue
        if account_level(metrics, key) != "national":
            continue
        if account_level(metrics_by_account[parent], parent) != "global":
            continue
        high = webster.type_number(webster_results[key].segment) >= type_threshold
        counts[parent] += int(high)
    return dict(counts)
