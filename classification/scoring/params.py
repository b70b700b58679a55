"""Default parameters of the four models, and their validation.

Every number of the specification lives here as plain nested dicts, so that an admin can store a
new, versioned parameter set (JSON) and every score can record the set it used. The structure (which
indicator is a percentile, which a rating) is code and cannot be changed through parameters.

``validate_params`` is what Django calls from ``clean()``: it merges a partial parameter set over
the defaults and reports every problem at once, keyed by the dotted path of the field.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from decimal import Decimal
from itertools import pairwise
from typing import Any

WEIGHT_TOLERANCE = 1e-6

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "webster": {
        "repeated_min_orders": 3,
        "alliance_min_joint_projects": 1,
        "network_min_children": 2,
        "network_child_type_threshold": 4,
    },
    "millman_wilson": {
        "weights": {
            "x": {
                "contract_type": 0.30,
                "supplier_status": 0.25,
                "info_sharing": 0.25,
                "joint_projects": 0.20,
            },
            "y": {
                "active_contacts": 0.30,
                "functions_engaged": 0.30,
                "hierarchy_levels": 0.20,
                "interactions_12m": 0.20,
            },
        },
        "maps": {
            "contract_type": {
                "none": 0,
                "spot": 10,
                "annual": 40,
                "multi_year": 70,
                "strategic_agreement": 100,
            },
            "supplier_status": {"none": 0, "approved": 30, "preferred": 70, "sole": 100},
        },
        "anchors": {
            "info_sharing": {"low": 0, "high": 3},
            "joint_projects": {"low": 0, "high": 3},
            "functions_engaged": {"low": 1, "high": 6},
            "hierarchy_levels": {"low": 1, "high": 4},
        },
        # The S value at which each stage starts; below the first one the stage is pre_kam.
        "stage_thresholds": {
            "early_kam": 15,
            "mid_kam": 35,
            "partnership_kam": 60,
            "synergistic_kam": 80,
        },
        "uncoupling_growth": -0.30,
        "unbalanced_gap": 30,
        "missing_points": 50,
    },
    "bensaou": {
        "anchors": {
            "customer_investment": {"low": 0, "high": 6},
            "supplier_investment": {"low": 0, "high": 6},
        },
        "high_threshold": 50,
        "fit": {"over_designed_below": 40, "under_designed_above": 60},
        "missing_points": 50,
    },
    "four_s": {
        "weights": {
            "a": {
                "wallet_estimate": 0.30,
                "growth_rate": 0.20,
                "gross_margin_pct": 0.20,
                "strategic_fit": 0.15,
                "openness": 0.15,
            },
            "b": {
                "share_of_wallet": 0.35,
                "relationship_breadth": 0.20,
                "satisfaction": 0.20,
                "line_penetration": 0.15,
                "tenure_years": 0.10,
            },
        },
        "anchors": {
            "growth_rate": {"low": -0.20, "high": 0.30},
            "gross_margin_pct": {"low": 0, "high": 0.40},
            "share_of_wallet": {"low": 0, "high": 0.60},
            "line_penetration": {"low": 0, "high": 1},
            "tenure_years": {"low": 0, "high": 10},
        },
        "cutoff": 50,
        "hysteresis_band": 5,
        "capacity": 35,
        "missing_points": 50,
    },
}

# Scalar bounds beyond the generic checks: path -> (low, high, must be a whole number).
_BOUNDS: dict[str, dict[str, tuple[float, float, bool]]] = {
    "webster": {
        "repeated_min_orders": (0, math.inf, True),
        "alliance_min_joint_projects": (0, math.inf, True),
        "network_min_children": (1, math.inf, True),
        "network_child_type_threshold": (1, 6, True),
    },
    "millman_wilson": {
        "uncoupling_growth": (-1, 0, False),
        "unbalanced_gap": (0, 100, False),
        "missing_points": (0, 100, False),
    },
    "bensaou": {
        "high_threshold": (0, 100, False),
        "fit.over_designed_below": (0, 100, False),
        "fit.under_designed_above": (0, 100, False),
        "missing_points": (0, 100, False),
    },
    "four_s": {
        "cutoff": (0, 100, False),
        "hysteresis_band": (0, 100, False),
        "capacity": (0, math.inf, True),
        "missing_points": (0, 100, False),
    },
}


class ParameterError(ValueError):
    """Invalid parameters; ``errors`` maps a dotted field path to a human-readable message.

    The mapping has the shape Django's ``ValidationError`` accepts, so ``clean()`` can re-raise it.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def default_params(model: str) -> dict[str, Any]:
    """A fresh copy of a model's defaults (callers may mutate it safely)."""
    return validate_params(model, None)


def validate_params(model: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``params`` over the model's defaults, check the result and return it (a new dict).

    Raises ``ParameterError`` listing every problem: unknown keys at any level, non-numeric
    values, negative weights, weights of an axis not summing to 1, anchors with low >= high,
    thresholds outside 0-100, stage thresholds not increasing.
    """
    if model not in DEFAULT_PARAMS:
        raise ParameterError(
            {"model": f"Unknown model {model!r}; expected one of {', '.join(DEFAULT_PARAMS)}."}
        )
    errors: dict[str, str] = {}
    merged = copy.deepcopy(DEFAULT_PARAMS[model])
    if params is not None:
        if not isinstance(params, Mapping):
            raise ParameterError({"params": "Parameters must be a mapping of names to values."})
        _merge(merged, params, "", errors)
    if not errors:
        _check_weights(merged, errors)
        _check_anchors(merged, errors)
        _check_maps(merged, errors)
        _check_bounds(model, merged, errors)
        if model == "millman_wilson":
            _check_stage_thresholds(merged["stage_thresholds"], errors)
    if errors:
        raise ParameterError(errors)
    return merged


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return math.isfinite(value)


def _merge(
    target: dict[str, Any], override: Mapping[str, Any], path: str, errors: dict[str, str]
) -> None:
    for key, value in override.items():
        field = f"{path}{key}"
        if key not in target:
            errors[field] = f"Unknown parameter {key!r}."
        elif isinstance(target[key], dict):
            if isinstance(value, Mapping):
                _merge(target[key], value, f"{field}.", errors)
            else:
                errors[field] = "Expected a group of values (a mapping), not a single value."
        elif _is_number(value):
            target[key] = float(value) if isinstance(value, Decimal) else value
        else:
            errors[field] = f"Must be a number, got {value!r}."


def _check_weights(params: dict[str, Any], errors: dict[str, str]) -> None:
    for axis, weights in params.get("weights", {}).items():
        for indicator, weight in weights.items():
            if weight < 0:
                errors[f"weights.{axis}.{indicator}"] = f"Weight must not be negative ({weight:g})."
        total = sum(weights.values())
        if abs(total - 1) > WEIGHT_TOLERANCE:
            errors[f"weights.{axis}"] = (
                f"The weights of axis {axis!r} must sum to 1; they sum to {total:.6g}."
            )


def _check_anchors(params: dict[str, Any], errors: dict[str, str]) -> None:
    for metric, anchor in params.get("anchors", {}).items():
        if anchor["low"] >= anchor["high"]:
            errors[f"anchors.{metric}"] = (
                f"The low anchor ({anchor['low']:g}) must be below the high anchor "
                f"({anchor['high']:g})."
            )


def _check_maps(params: dict[str, Any], errors: dict[str, str]) -> None:
    for metric, table in params.get("maps", {}).items():
        for category, points in table.items():
            if not 0 <= points <= 100:
                errors[f"maps.{metric}.{category}"] = (
                    f"Points must be between 0 and 100 ({points:g})."
                )


def _check_bounds(model: str, params: dict[str, Any], errors: dict[str, str]) -> None:
    for path, (low, high, whole) in _BOUNDS[model].items():
        value: Any = params
        for part in path.split("."):
            value = value[part]
        if whole and value != int(value):
            errors[path] = f"Must be a whole number, got {value:g}."
        elif not low <= value <= high:
            upper = "" if math.isinf(high) else f" and at most {high:g}"
            errors[path] = f"Must be at least {low:g}{upper}, got {value:g}."


def _check_stage_thresholds(thresholds: dict[str, Any], errors: dict[str, str]) -> None:
    names = list(thresholds)
    for name in names:
        if not 0 <= thresholds[name] <= 100:
            errors[f"stage_thresholds.{name}"] = (
                f"Must be between 0 and 100, got {thresholds[name]:g}."
            )
    for lower, upper in pairwise(names):
        if thresholds[lower] >= thresholds[upper]:
            errors["stage_thresholds"] = (
                "Stage thresholds must increase: "
                + " < ".join(f"{name} ({thresholds[name]:g})" for name in names)
                + " does not hold."
            )
            break
