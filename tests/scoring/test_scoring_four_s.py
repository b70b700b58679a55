"""4S segments, hysteresis, capacity and key-account advice.

In a portfolio of one, both percentiles are 50: A = 15 + growth, margin and two ratings;
B = 10 + share of wallet, satisfaction, line penetration and tenure.
"""

import pytest

from classification.scoring import score_portfolio

A_HIGH = {"growth_rate": 0.30, "gross_margin_pct": 0.40, "strategic_fit": 5, "openness": 5}  # A 85
A_LOW = {"growth_rate": -0.20, "gross_margin_pct": 0, "strategic_fit": 1, "openness": 1}  # A 15
A_AT_CUTOFF = {"growth_rate": 0.05, "gross_margin_pct": 0.20, "strategic_fit": 3, "openness": 3}
B_HIGH = {
    "share_of_wallet": 0.60,
    "satisfaction": 5,
    "line_penetration": 1,
    "tenure_years": 10,
}  # 90
B_LOW = {"share_of_wallet": 0, "satisfaction": 1, "line_penetration": 0, "tenure_years": 0}  # B 10
COMMON = {
    "level": "national",
    "wallet_estimate": 1000,
    "active_contacts": 3,
    "functions_engaged": 2,
}


def _account(a, b, **extra):
    return {**COMMON, **a, **b, "is_key_account": True, **extra}


def _four_s(metrics, previous=None, params=None):
    previous = {"acc": previous} if previous else None
    return score_portfolio("four_s", {"acc": metrics}, params, previous)["acc"]


@pytest.mark.parametrize(
    ("a", "b", "axes", "segment", "flags"),
    [
        (A_HIGH, B_HIGH, {"a": 85.0, "b": 90.0}, "strategic", set()),
        (A_HIGH, B_LOW, {"a": 85.0, "b": 10.0}, "star", set()),
        (A_LOW, B_HIGH, {"a": 15.0, "b": 90.0}, "status", set()),
        (A_LOW, B_LOW, {"a": 15.0, "b": 10.0}, "streamline", {"review_key_status"}),
        (A_AT_CUTOFF, B_HIGH, {"a": 50.0, "b": 90.0}, "strategic", set()),  # 50 is high
        # anchors clamp: growth 2.0 counts as 0.30, margin -1 as 0
        (
            {**A_HIGH, "growth_rate": 2.0, "gross_margin_pct": -1},
            B_LOW,
            {"a": 65.0, "b": 10.0},
            "star",
            set(),
        ),
    ],
)
def test_each_segment(a, b, axes, segment, flags):
    result = _four_s(_account(a, b))
    assert result.axes == axes
    assert result.segment == segment
    assert result.flags == frozenset(flags)


A_48 = {**A_AT_CUTOFF, "gross_margin_pct": 0.16}  # A 48.0
A_45 = {**A_AT_CUTOFF, "gross_margin_pct": 0.10}  # A 45.0: on the edge of the band, not in it
A_52 = {**A_AT_CUTOFF, "gross_margin_pct": 0.24}  # A 52.0
B_46_5 = {"share_of_wallet": 0.24, "satisfaction": 3, "line_penetration": 0.5, "tenure_years": 5}


@pytest.mark.parametrize(
    ("a", "b", "previous", "axes", "segment", "flags"),
    [
        (A_48, B_HIGH, None, {"a": 48.0, "b": 90.0}, "status", set()),
        (A_48, B_HIGH, "strategic", {"a": 48.0, "b": 90.0}, "strategic", {"held"}),
        (A_48, B_HIGH, "star", {"a": 48.0, "b": 90.0}, "strategic", {"held"}),
        (A_48, B_HIGH, "status", {"a": 48.0, "b": 90.0}, "status", set()),  # same side: no hold
        (A_45, B_HIGH, "strategic", {"a": 45.0, "b": 90.0}, "status", set()),
        (A_52, B_HIGH, "status", {"a": 52.0, "b": 90.0}, "status", {"held"}),
        # each axis on its own: A is held low, B is far from the cut-off and moves up
        (A_52, B_HIGH, "streamline", {"a": 52.0, "b": 90.0}, "status", {"held"}),
        (A_HIGH, B_46_5, "strategic", {"a": 85.0, "b": 46.5}, "strategic", {"held"}),
        (A_48, B_46_5, "strategic", {"a": 48.0, "b": 46.5}, "strategic", {"held"}),
        (A_HIGH, B_46_5, None, {"a": 85.0, "b": 46.5}, "star", set()),
        (A_48, B_HIGH, "gold", {"a": 48.0, "b": 90.0}, "status", set()),  # not a 4S segment
    ],
)
def test_hysteresis(a, b, previous, axes, segment, flags):
    result = _four_s(_account(a, b), previous)
    assert result.axes == axes
    assert result.segment == segment
    assert result.flags == frozenset(flags)


def test_hysteresis_is_explained():
    result = _four_s(_account(A_48, B_HIGH), "strategic")
    record = result.explanation[-1]
    assert (record.indicator, record.raw_value, record.axis) == ("hysteresis_a", 48.0, "a")
    assert record.note == (
        "held: A 48 is within 5 of the cut-off 50, so it keeps its previous side (high)"
    )


def test_custom_band_and_cutoff():
    assert (
        _four_s(_account(A_45, B_HIGH), "strategic", {"hysteresis_band": 6}).segment == "strategic"
    )
    assert _four_s(_account(A_48, B_HIGH), "strategic", {"hysteresis_band": 0}).segment == "status"
    assert _four_s(_account(A_HIGH, B_HIGH), params={"cutoff": 88}).segment == "status"


def _strategic_portfolio(count, tenure_step):
    """``count`` national strategic accounts; B rises with the key's number when step > 0."""
    return {
        f"acc{index:02d}": _account(A_HIGH, {**B_HIGH, "tenure_years": index * tenure_step})
        for index in range(count)
    }


def _over_capacity(results):
    return {key for key, result in results.items() if "over_capacity" in result.flags}


def test_capacity_flags_the_strategic_accounts_beyond_the_35_best():
    metrics = _strategic_portfolio(37, 0.2)  # B = 80.0, 80.2, ... 87.2
    metrics["global"] = _account(A_HIGH, B_HIGH, level="global")
    results = score_portfolio("four_s", metrics)
    assert {result.segment for result in results.values()} == {"strategic"}
    assert _over_capacity(results) == {"acc00", "acc01"}
    assert results["acc01"].axes == {"a": 85.0, "b": 80.2}
    assert results["acc01"].explanation[-1].note == (
        "over capacity: rank 36 of 37 strategic national accounts by A + B, capacity 35"
    )


def test_capacity_of_exactly_35_flags_nobody():
    assert _over_capacity(score_portfolio("four_s", _strategic_portfolio(35, 0.2))) == set()


def test_capacity_ties_are_broken_by_account_key_whatever_the_order():
    metrics = _strategic_portfolio(36, 0)
    reversed_metrics = dict(reversed(metrics.items()))
    assert _over_capacity(score_portfolio("four_s", metrics)) == {"acc35"}
    assert _over_capacity(score_portfolio("four_s", reversed_metrics)) == {"acc35"}


def test_custom_capacity():
    results = score_portfolio("four_s", _strategic_portfolio(4, 1), params={"capacity": 2})
    assert _over_capacity(results) == {"acc00", "acc01"}


@pytest.mark.parametrize(
    ("a", "b", "is_key", "segment", "flags"),
    [
        (A_HIGH, B_HIGH, False, "strategic", {"key_account_candidate"}),
        (A_HIGH, B_LOW, False, "star", {"key_account_candidate"}),
        (A_LOW, B_HIGH, False, "status", set()),
        (A_LOW, B_LOW, False, "streamline", set()),
        (A_HIGH, B_HIGH, True, "strategic", set()),
        (A_HIGH, B_LOW, True, "star", set()),
        (A_LOW, B_HIGH, True, "status", set()),
        (A_LOW, B_LOW, True, "streamline", {"review_key_status"}),
        (A_HIGH, B_LOW, None, "star", {"key_account_candidate"}),  # absent counts as not key
    ],
)
def test_key_account_advice(a, b, is_key, segment, flags):
    result = _four_s(_account(a, b, is_key_account=is_key))
    assert result.segment == segment
    assert result.flags == frozenset(flags)


def test_missing_values_score_50_and_are_flagged():
    result = _four_s({"level": "national", "is_key_account": True})
    assert result.axes == {"a": 50.0, "b": 50.0}
    assert result.segment == "strategic"
    assert result.flags == {
        f"low_confidence:{metric}"
        for metric in (
            "wallet_estimate",
            "growth_rate",
            "gross_margin_pct",
            "strategic_fit",
            "openness",
            "share_of_wallet",
            "active_contacts",
            "functions_engaged",
            "satisfaction",
            "line_penetration",
            "tenure_years",
        )
    }


def test_breadth_flags_only_the_missing_factor():
    result = _four_s(_account(A_HIGH, B_HIGH, functions_engaged=None))
    assert result.flags == {"low_confidence:functions_engaged"}
    record = next(r for r in result.explanation if r.indicator == "relationship_breadth")
    assert (record.points, record.weight) == (50.0, 0.2)
    assert record.raw_value == {"active_contacts": 3, "functions_engaged": None, "product": None}


def test_percentiles_with_ties_and_missing_values():
    wallets = {"w10": 10, "w20a": 20, "w20b": 20, "w30": 30, "none": None}
    metrics = {
        key: _account(A_LOW, B_LOW, wallet_estimate=value, is_key_account=False)
        for key, value in wallets.items()
    }
    metrics["global"] = _account(
        A_LOW, B_LOW, level="global", wallet_estimate=1, is_key_account=False
    )
    results = score_portfolio("four_s", metrics)
    # A = 0.30 * wallet points (the other A indicators are 0)
    assert {key: r.axes["a"] for key, r in results.items()} == {
        "w10": 0.0,
        "w20a": 15.0,
        "w20b": 15.0,
        "w30": 30.0,
        "none": 15.0,
        "global": 15.0,
    }
    assert results["none"].flags == {"low_confidence:wallet_estimate"}
    assert results["global"].flags == frozenset()


def test_breadth_is_ranked_as_a_product():
    metrics = {
        "wide": _account(A_LOW, B_LOW, active_contacts=2, functions_engaged=6),  # 12
        "deep": _account(A_LOW, B_LOW, active_contacts=10, functions_engaged=1),  # 10
        "thin": _account(A_LOW, B_LOW, active_contacts=1, functions_engaged=1),  # 1
    }
    results = score_portfolio("four_s", metrics)
    # B = 0.20 * breadth percentile
    assert {key: r.axes["b"] for key, r in results.items()} == {
        "wide": 20.0,
        "deep": 10.0,
        "thin": 0.0,
    }


def test_custom_weights_change_the_axis():
    weights = {
        "wallet_estimate": 0,
        "growth_rate": 1.0,
        "gross_margin_pct": 0,
        "strategic_fit": 0,
        "openness": 0,
    }
    result = _four_s(_account(A_48, B_HIGH), params={"weights": {"a": weights}})
    assert result.axes["a"] == 50.0
    assert result.segment == "strategic"
