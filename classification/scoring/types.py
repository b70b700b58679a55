"""Plain result types of the scoring engine.

Results are frozen so that a stored run cannot be edited by accident, and they serialise to plain
JSON (``to_dict``) because a run is stored as-is and never recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

AccountKey = Any
"""Whatever identifies an account in ``metrics_by_account`` (a primary key, a UUID, a string)."""


def json_safe(value: Any) -> Any:
    """Turn a raw metric value into something ``json.dumps`` accepts.

    Metrics come from SQL aggregates, so ``Decimal`` is common; JSON has no NaN or infinity.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((json_safe(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class IndicatorExplanation:
    """One line of the "why": an indicator (or a rule) with its raw value and what it added.

    ``contribution`` is ``points * weight``; the contributions of an axis add up to the axis before
    rounding. Rules that are not weighted indicators (a Webster condition that held, an uncoupling
    reason, a hysteresis hold) have ``weight`` 0 and, when they carry no points, ``points`` None.
    """

    indicator: str
    raw_value: Any
    points: float | None
    weight: float
    contribution: float
    axis: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "raw_value": json_safe(self.raw_value),
            "points": self.points,
            "weight": self.weight,
            "contribution": self.contribution,
            "axis": self.axis,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndicatorExplanation:
        return cls(
            indicator=data["indicator"],
            raw_value=data.get("raw_value"),
            points=data.get("points"),
            weight=data.get("weight", 0.0),
            contribution=data.get("contribution", 0.0),
            axis=data.get("axis"),
            note=data.get("note"),
        )


@dataclass(frozen=True)
class ModelResult:
    """The outcome of one model for one account: what is stored per account, model and run."""

    segment: str
    axes: dict[str, float]
    flags: frozenset[str]
    explanation: list[IndicatorExplanation]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; flags are sorted so that equal results serialise identically."""
        return {
            "segment": self.segment,
            "axes": dict(self.axes),
            "flags": sorted(self.flags),
            "explanation": [record.to_dict() for record in self.explanation],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelResult:
        return cls(
            segment=data["segment"],
            axes={str(k): float(v) for k, v in data.get("axes", {}).items()},
            flags=frozenset(data.get("flags", ())),
            explanation=[IndicatorExplanation.from_dict(r) for r in data.get("explanation", ())],
        )
