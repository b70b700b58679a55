"""Webster (1992): the relationship type on one continuum, 1 (transactional) to 6 (network).

The type is the highest one whose condition holds. Conditions are evaluated in three-valued logic:
a condition that needs a missing value is "unknown" and counts as not holding; when an unknown
condition ranks above the type found, the missing metrics could have raised the type, so they are
flagged ``low_confidence:<metric>``. A missing value that could not have changed the type (another
part of the same condition is known to be false) is not flagged.

``child_accounts_partnership`` is special: absent means 0 (no network), with no flag, because an
account without national accounts has no such count. ``score_all`` can compute it from the current
run instead (see its docstring).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .normalise import account_level, is_missing, read_number
from .types import AccountKey, IndicatorExplanation, ModelResult

AXIS = "relationship"
TYPES: dict[int, str] = {
    1: "transactional",
    2: "repeated",
    3: "long_term",
    4: "partnership",
    5: "strategic_alliance",
    6: "network",
}
TYPE_NUMBERS: dict[str, int] = {key: number for number, key in TYPES.items()}
SCORE_PER_TYPE = 20.0  # (type - 1) * 20 spreads the six types over 0-100

CONTRACT_TYPES = ("none", "spot", "annual", "multi_year", "strategic_agreement")
LONG_TERM_CONTRACTS = ("annual", "multi_year", "strategic_agreement")
SUPPLIER_STATUSES = ("none", "approved", "preferred", "sole")
PARTNER_STATUSES = ("preferred", "sole")

Truth = bool | None  # None: unknown because an input is missing


def type_number(segment: str) -> int:
    """The type (1-6) of a Webster segment key."""
    return TYPE_NUMBERS[segment]


class _Condition:
    """A conjunction of atoms in Kleene logic, remembering which metrics were missing."""

    def __init__(self) -> None:
        self.truth: Truth = True
        self.missing: list[str] = []
        self.inputs: dict[str, Any] = {}

    def require(self, metric: str, raw: Any, holds: Truth) -> _Condition:
        self.inputs[metric] = raw
        if holds is None:
            self.missing.append(metric)
            if self.truth is True:
                self.truth = None
        elif not holds:
            self.truth = False
        return self

    def include(self, other: _Condition) -> _Condition:
        """AND another condition into this one (type 6 includes the type-5 condition)."""
        self.inputs.update(other.inputs)
        self.missing.extend(other.missing)
        self.truth = _kleene_and(self.truth, other.truth)
        return self


def _category_is(
    metrics: Mapping[str, Any], metric: str, allowed: tuple[str, ...], known: tuple[str, ...]
) -> Truth:
    value = metrics.get(metric)
    if is_missing(value) or value not in known:
        return None
    return value in allowed


def _at_least(value: float | None, minimum: float) -> Truth:
    return None if value is None else value >= minimum


def score_account(
    key: AccountKey, metrics: Mapping[str, Any], params: Mapping[str, Any]
) -> ModelResult:
    level = account_level(metrics, key)
    orders = read_number(metrics, "order_count_12m", key)
    joint = read_number(metrics, "joint_projects", key)
    children = read_number(metrics, "child_accounts_partnership", key) or 0.0
    plan = metrics.get("has_active_plan")

    alliance = (
        _Condition()
        .require(
            "contract_type",
            metrics.get("contract_type"),
            _category_is(metrics, "contract_type", ("strategic_agreement",), CONTRACT_TYPES),
        )
        .require(
            "joint_projects",
            metrics.get("joint_projects"),
            _at_least(joint, params["alliance_min_joint_projects"]),
        )
    )
    network = (
        _Condition()
        .include(alliance)
        .require("level", level, level == "global")
        .require(
            "child_accounts_partnership",
            metrics.get("child_accounts_partnership"),
            children >= params["network_min_children"],
        )
    )

    conditions: dict[int, _Condition] = {
        6: network,
        5: alliance,
        4: _Condition()
        .require(
            "supplier_status",
            metrics.get("supplier_status"),
            _category_is(metrics, "supplier_status", PARTNER_STATUSES, SUPPLIER_STATUSES),
        )
        .require("has_active_plan", plan, None if is_missing(plan) else bool(plan)),
        3: _Condition().require(
            "contract_type",
            metrics.get("contract_type"),
            _category_is(metrics, "contract_type", LONG_TERM_CONTRACTS, CONTRACT_TYPES),
        ),
        2: _Condition().require(
            "order_count_12m",
            metrics.get("order_count_12m"),
            _at_least(orders, params["repeated_min_orders"]),
        ),
        1: _Condition(),
    }
    found = max(number for number, condition in conditions.items() if condition.truth is True)
    flags = frozenset(
        f"low_confidence:{metric}"
        for number, condition in conditions.items()
        if number > found and condition.truth is None
        for metric in condition.missing
    )
    relationship = (found - 1) * SCORE_PER_TYPE
    explanation = [
        IndicatorExplanation(
            indicator=TYPES[number],
            raw_value=dict(condition.inputs),
            points=(number - 1) * SCORE_PER_TYPE,
            weight=1.0 if number == found else 0.0,
            contribution=relationship if number == found else 0.0,
            axis=AXIS,
            note=_describe(number, params) + ("" if number == found else " (a lower type)"),
        )
        for number, condition in sorted(conditions.items(), reverse=True)
        if condition.truth is True
    ]
    return ModelResult(
        segment=TYPES[found],
        axes={AXIS: relationship},
        flags=flags,
        explanation=explanation,
    )


def _describe(number: int, params: Mapping[str, Any]) -> str:
    """The condition of a type in words, with the parameters in force."""
    return {
        6: (
            "type-5 condition, and a global account with at least "
            f"{params['network_min_children']:g} national accounts of type >= "
            f"{params['network_child_type_threshold']:g}"
        ),
        5: (
            "contract_type = strategic_agreement and joint_projects >= "
            f"{params['alliance_min_joint_projects']:g}"
        ),
        4: "supplier_status in (preferred, sole) and has_active_plan",
        3: "contract_type in (annual, multi_year, strategic_agreement)",
        2: f"order_count_12m >= {params['repeated_min_orders']:g}",
        1: "otherwise",
    }[number]


def _kleene_and(left: Truth, right: Truth) -> Truth:
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return True


def score(
    metrics_by_account: Mapping[AccountKey, Mapping[str, Any]],
    params: Mapping[str, Any],
    previous: Mapping[AccountKey, str] | None = None,
) -> dict[AccountKey, ModelResult]:
    """Webster types of a portfolio. Each account stands alone, so ``previous`` is unused."""
    del previous
    return {key: score_account(key, metrics, params) for key, metrics in metrics_by_account.items()}
