"""Normalisation rules of spec section 2: percentile mid-rank, anchors, ratings, rounding."""

import math
from decimal import Decimal

import pytest

from classification.scoring import score_portfolio
from classification.scoring.normalise import (
    anchor_points,
    is_missing,
    percentile_points,
    percentiles_by_level,
    rating_points,
    read_number,
    round_score,
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # below + (equal - 1) / 2 over n - 1; the two 20s share the mid-rank
        ({"a": 10, "b": 20, "c": 20, "d": 30}, {"a": 0.0, "b": 50.0, "c": 50.0, "d": 100.0}),
        (
            {"a": 1, "b": 2, "c": 3, "d": 3, "e": 3},
            {"a": 0.0, "b": 25.0, "c": 75.0, "d": 75.0, "e": 75.0},
        ),
        ({"a": 5, "b": 5, "c": 5}, {"a": 50.0, "b": 50.0, "c": 50.0}),
        ({"a": 7}, {"a": 50.0}),
        # a missing value is not in the pool: the other two rank among themselves
        ({"a": 10, "b": None, "c": 30}, {"a": 0.0, "b": None, "c": 100.0}),
        ({"a": None, "b": 3}, {"a": None, "b": 50.0}),
        ({}, {}),
    ],
)
def test_percentile_mid_rank(values, expected):
    assert percentile_points(values) == expected


def test_percentile_pools_are_split_by_level():
    levels = {"n1": "national", "n2": "national", "g1": "global", "g2": "global", "g3": "global"}
    values = {"n1": 1, "n2": 1000, "g1": 5, "g2": 50, "g3": 500}
    assert percentiles_by_level(levels, values) == {
        "n1": 0.0,
        "n2": 100.0,
        "g1": 0.0,
        "g2": 50.0,
        "g3": 100.0,
    }


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (3, 0, 6, 50.0),
        (-1, 0, 6, 0.0),  # clamped below
        (9, 0, 6, 100.0),  # clamped above
        (0.05, -0.2, 0.3, 50.0),
        (-0.5, -0.2, 0.3, 0.0),
        (1, 1, 6, 0.0),
        (4, 1, 4, 100.0),
    ],
)
def test_anchor_points(value, low, high, expected):
    assert anchor_points(value, low, high) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("rating", "expected"),
    [(1, 0.0), (2, 25.0), (3, 50.0), (4, 75.0), (5, 100.0), (0, 0.0), (7, 100.0), (3.5, 62.5)],
)
def test_rating_points(rating, expected):
    assert rating_points(rating) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (14.95, 15.0),  # stored as 14.9499999...; rounds half up as written
        (12.25, 12.3),
        (12.24, 12.2),
        (0.05, 0.1),
        (84.16666, 84.2),
        (18.833333333333336, 18.8),
        (100.0000000001, 100.0),
        (0.0, 0.0),
    ],
)
def test_round_score_half_up_to_a_tenth(value, expected):
    assert round_score(value) == expected


@pytest.mark.parametrize(
    ("value", "missing"),
    [(None, True), (math.nan, True), (Decimal("NaN"), True), (0, False), ("", False)],
)
def test_is_missing(value, missing):
    assert is_missing(value) is missing


def test_read_number_accepts_decimal_and_rejects_text():
    assert read_number({"revenue_12m": Decimal("12.5")}, "revenue_12m", "a") == 12.5
    assert read_number({}, "revenue_12m", "a") is None
    with pytest.raises(ValueError, match="Account 'a': metric 'revenue_12m' must be a number"):
        read_number({"revenue_12m": "12.5"}, "revenue_12m", "a")


def test_unknown_level_is_rejected():
    with pytest.raises(ValueError, match="Account 'x': level must be one of national, global"):
        score_portfolio("four_s", {"x": {"level": "regional"}})


def test_absent_level_counts_as_national():
    metrics = {"n": {"wallet_estimate": 10}, "m": {"level": "national", "wallet_estimate": 20}}
    results = score_portfolio("four_s", metrics)
    assert results["n"].explanation[0].points == 0.0
    assert results["m"].explanation[0].points == 100.0
