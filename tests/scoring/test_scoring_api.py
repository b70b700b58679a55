"""The public interface: dispatch, JSON storage, and scoring a run in chunks."""

import json
from decimal import Decimal

import pytest

from classification.scoring import (
    MODELS,
    ModelResult,
    population_stats,
    score_all,
    score_portfolio,
)
from classification.scoring.four_s import over_capacity
from classification.scoring.normalise import rank_points


def test_models():
    assert MODELS == ("webster", "millman_wilson", "bensaou", "four_s")


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="Unknown model 'porter'"):
        score_portfolio("porter", {})


def test_non_numeric_metric_is_rejected_with_the_account_and_metric():
    with pytest.raises(ValueError, match="Account 7: metric 'wallet_estimate' must be a number"):
        score_portfolio("four_s", {7: {"wallet_estimate": "lots"}})


def test_empty_portfolio():
    assert score_all({}) == {model: {} for model in MODELS}


def test_result_serialises_to_json_and_back():
    metrics = {
        "acc": {
            "level": "global",
            "wallet_estimate": Decimal("1200.50"),
            "share_of_wallet": Decimal("0.3"),
            "growth_rate": float("nan"),
            "contract_type": "annual",
        }
    }
    for by_account in score_all(metrics).values():
        stored = json.loads(json.dumps(by_account["acc"].to_dict()))
        restored = ModelResult.from_dict(stored)
        assert restored.segment == by_account["acc"].segment
        assert restored.axes == by_account["acc"].axes
        assert restored.flags == by_account["acc"].flags
        assert stored["flags"] == sorted(stored["flags"])
    four_s = score_all(metrics)["four_s"]["acc"].to_dict()
    assert four_s["explanation"][0] == {
        "indicator": "wallet_estimate",
        "raw_value": 1200.5,
        "points": 50.0,
        "weight": 0.3,
        "contribution": 15.0,
        "axis": "a",
        "note": "percentile among global accounts",
    }
    # NaN is missing, and JSON gets null rather than an invalid NaN
    assert four_s["explanation"][1]["raw_value"] is None
    assert "low_confidence:growth_rate" in four_s["flags"]


def test_population_stats():
    metrics = {
        "n1": {"wallet_estimate": 30, "active_contacts": 2, "functions_engaged": 3},
        "n2": {"level": "national", "wallet_estimate": 10, "interactions_12m": 4},
        "g1": {"level": "global", "wallet_estimate": Decimal(5), "active_contacts": 1},
    }
    assert population_stats(metrics) == {
        "national": {
            "wallet_estimate": [10.0, 30.0],
            "active_contacts": [2.0],
            "interactions_12m": [4.0],
            "relationship_breadth": [6.0],
        },
        "global": {
            "wallet_estimate": [5.0],
            "active_contacts": [1.0],
            "interactions_12m": [],
            "relationship_breadth": [],
        },
    }


@pytest.mark.parametrize(
    ("value", "pool", "expected"),
    [
        (20, [10, 20, 20, 30], 50.0),
        (5, [10, 20], 0.0),  # not in the pool: counts itself, n = 3
        (15, [10, 20], 50.0),
        (99, [10, 20], 100.0),
        (1, [], 50.0),
        (1, [1], 50.0),
    ],
)
def test_rank_points(value, pool, expected):
    assert rank_points(value, pool) == expected


def _portfolio(size):
    return {
        f"acc{index:02d}": {
            "level": "global" if index % 4 == 0 else "national",
            "wallet_estimate": (index * 37) % 11,
            "active_contacts": index % 5,
            "functions_engaged": (index * 3) % 7,
            "interactions_12m": (index * 13) % 17,
            "growth_rate": 0.3,
            "gross_margin_pct": 0.4,
            "strategic_fit": 5,
            "openness": 4 + index % 2,
            "share_of_wallet": 0.6,
            "satisfaction": 5,
            "line_penetration": 1,
            "tenure_years": index % 3,
            "contract_type": "annual",
            "supplier_status": "preferred",
            "info_sharing": 2,
            "joint_projects": 1,
            "hierarchy_levels": 2,
            "revenue_12m": 1000,
        }
        for index in range(size)
    }


def test_scoring_in_chunks_matches_scoring_at_once():
    metrics = _portfolio(23)
    params = {"four_s": {"capacity": 3}}
    whole = score_all(metrics, params)
    population = json.loads(json.dumps(population_stats(metrics)))  # as stored on the run
    keys = list(metrics)
    chunked: dict[str, dict] = {model: {} for model in MODELS}
    for start in range(0, len(keys), 5):
        chunk = {key: metrics[key] for key in keys[start : start + 5]}
        part = score_all(chunk, params, population=population, apply_capacity=False)
        for model in MODELS:
            chunked[model].update(part[model])
    for model in ("webster", "millman_wilson", "bensaou"):
        assert chunked[model] == whole[model]
    assert {k: (r.segment, r.axes) for k, r in chunked["four_s"].items()} == {
        k: (r.segment, r.axes) for k, r in whole["four_s"].items()
    }
    over = over_capacity(
        {
            key: (metrics[key]["level"], r.axes["a"] + r.axes["b"])
            for key, r in chunked["four_s"].items()
            if r.segment == "strategic"
        },
        3,
    )
    assert set(over) == {k for k, r in whole["four_s"].items() if "over_capacity" in r.flags}
    assert set(over)  # the portfolio does exceed the capacity


def test_over_capacity_ranks_by_total_then_key():
    strategic = {
        "b": ("national", 170.0),
        "a": ("national", 170.0),
        "c": ("national", 180.0),
        "d": ("national", 120.0),
        "g": ("global", 100.0),
    }
    assert over_capacity(strategic, 2) == {"b": (3, 4), "d": (4, 4)}
    assert over_capacity(strategic, 4) == {}


def test_a_malformed_population_is_rejected():
    with pytest.raises(ValueError, match="The population has no values for 'active_contacts'"):
        score_portfolio("millman_wilson", {"a": {}}, population={"national": {}})
