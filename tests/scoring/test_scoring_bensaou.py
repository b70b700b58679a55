"""Bensaou quadrants and fit flags."""

import pytest

from classification.scoring import score_portfolio


def _bensaou(customer, supplier, ratings=(3, 3, 3), params=None):
    metrics = {
        "level": "national",
        "customer_investment": customer,
        "supplier_investment": supplier,
    }
    metrics.update(
        zip(("customisation", "technical_novelty", "change_frequency"), ratings, strict=True)
    )
    return score_portfolio("bensaou", {"acc": metrics}, params)["acc"]


@pytest.mark.parametrize(
    ("customer", "supplier", "ratings", "axes", "segment", "flags"),
    [
        (0, 0, (3, 3, 3), (0.0, 0.0, 50.0), "market_exchange", set()),
        (3, 2, (3, 3, 3), (50.0, 33.3, 50.0), "captive_buyer", set()),  # 50 is high
        (1, 6, (3, 3, 3), (16.7, 100.0, 50.0), "captive_supplier", set()),
        (6, 4, (3, 3, 3), (100.0, 66.7, 50.0), "strategic_partnership", set()),
        (9, -1, (3, 3, 3), (100.0, 0.0, 50.0), "captive_buyer", set()),  # anchors clamp
        (6, 6, (1, 2, 3), (100.0, 100.0, 25.0), "strategic_partnership", {"over_designed"}),
        (6, 6, (3, 3, 2), (100.0, 100.0, 41.7), "strategic_partnership", set()),
        (0, 0, (5, 4, 3), (0.0, 0.0, 75.0), "market_exchange", {"under_designed"}),
        (0, 0, (4, 3, 3), (0.0, 0.0, 58.3), "market_exchange", set()),
        # misfits belong to their quadrant only
        (3, 0, (5, 5, 5), (50.0, 0.0, 100.0), "captive_buyer", set()),
        (0, 3, (1, 1, 1), (0.0, 50.0, 0.0), "captive_supplier", set()),
    ],
)
def test_quadrants_and_fit(customer, supplier, ratings, axes, segment, flags):
    result = _bensaou(customer, supplier, ratings)
    assert result.axes == dict(zip(("buyer", "supplier", "complexity"), axes, strict=True))
    assert result.segment == segment
    assert result.flags == frozenset(flags)


def test_misfit_is_explained():
    result = _bensaou(6, 6, (1, 2, 3))
    assert result.explanation[-1].indicator == "fit"
    assert result.explanation[-1].note == (
        "over_designed: strategic_partnership for a simple supply (complexity 25 < 40)"
    )


def test_missing_values_score_50_and_are_flagged():
    result = score_portfolio("bensaou", {"acc": {"customisation": 5}})["acc"]
    # complexity = (100 + 50 + 50) / 3
    assert result.axes == {"buyer": 50.0, "supplier": 50.0, "complexity": 66.7}
    assert result.segment == "strategic_partnership"
    assert result.flags == {
        "low_confidence:customer_investment",
        "low_confidence:supplier_investment",
        "low_confidence:technical_novelty",
        "low_confidence:change_frequency",
    }


@pytest.mark.parametrize(
    ("params", "segment", "flags"),
    [
        (None, "strategic_partnership", set()),
        ({"high_threshold": 60}, "captive_supplier", set()),
        ({"anchors": {"customer_investment": {"high": 3}}}, "strategic_partnership", set()),
        ({"fit": {"over_designed_below": 55}}, "strategic_partnership", {"over_designed"}),
    ],
)
def test_custom_params_change_the_result(params, segment, flags):
    result = _bensaou(3, 4, (3, 3, 3), params)
    assert result.segment == segment
    assert result.flags == frozenset(flags)
