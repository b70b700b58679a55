"""Parameter defaults, merging and validation (what Django's clean() will report)."""

import pytest

from classification.scoring import (
    DEFAULT_PARAMS,
    MODELS,
    ParameterError,
    default_params,
    score_portfolio,
    validate_params,
)


def _errors(model, params):
    with pytest.raises(ParameterError) as caught:
        validate_params(model, params)
    return caught.value.errors


@pytest.mark.parametrize("model", MODELS)
def test_defaults_are_valid_and_returned_as_a_copy(model):
    params = validate_params(model)
    assert params == DEFAULT_PARAMS[model]
    params["missing_points" if model != "webster" else "repeated_min_orders"] = 1
    assert validate_params(model) == DEFAULT_PARAMS[model]
    assert default_params(model) == DEFAULT_PARAMS[model]


def test_defaults_hold_every_number_of_the_spec():
    mw = DEFAULT_PARAMS["millman_wilson"]
    assert mw["stage_thresholds"] == {
        "early_kam": 15,
        "mid_kam": 35,
        "partnership_kam": 60,
        "synergistic_kam": 80,
    }
    assert (mw["uncoupling_growth"], mw["unbalanced_gap"]) == (-0.30, 30)
    assert mw["maps"]["contract_type"]["multi_year"] == 70
    bensaou = DEFAULT_PARAMS["bensaou"]
    assert bensaou["high_threshold"] == 50
    assert bensaou["fit"] == {"over_designed_below": 40, "under_designed_above": 60}
    four_s = DEFAULT_PARAMS["four_s"]
    assert (four_s["cutoff"], four_s["hysteresis_band"], four_s["capacity"]) == (50, 5, 35)
    assert four_s["anchors"]["growth_rate"] == {"low": -0.20, "high": 0.30}
    webster = DEFAULT_PARAMS["webster"]
    assert (webster["network_min_children"], webster["network_child_type_threshold"]) == (2, 4)


def test_partial_params_are_merged_over_the_defaults():
    params = validate_params("four_s", {"cutoff": 60, "anchors": {"tenure_years": {"high": 20}}})
    assert params["cutoff"] == 60
    assert params["anchors"]["tenure_years"] == {"low": 0, "high": 20}
    assert params["weights"] == DEFAULT_PARAMS["four_s"]["weights"]
    assert DEFAULT_PARAMS["four_s"]["cutoff"] == 50


@pytest.mark.parametrize(
    ("model", "params", "expected"),
    [
        ("four_s", {"cutof": 50}, {"cutof": "Unknown parameter 'cutof'."}),
        (
            "four_s",
            {"weights": {"a": {"wallet": 0.3}}},
            {"weights.a.wallet": "Unknown parameter 'wallet'."},
        ),
        (
            "millman_wilson",
            {"maps": {"contract_type": {"lifetime": 100}}},
            {"maps.contract_type.lifetime": "Unknown parameter 'lifetime'."},
        ),
        (
            "four_s",
            {"weights": {"a": {"wallet_estimate": 0.4}}},
            {"weights.a": "The weights of axis 'a' must sum to 1; they sum to 1.1."},
        ),
        (
            "four_s",
            {"weights": {"b": {"share_of_wallet": -0.05, "tenure_years": 0.5}}},
            {"weights.b.share_of_wallet": "Weight must not be negative (-0.05)."},
        ),
        (
            "four_s",
            {"anchors": {"tenure_years": {"low": 10, "high": 10}}},
            {"anchors.tenure_years": "The low anchor (10) must be below the high anchor (10)."},
        ),
        (
            "bensaou",
            {"anchors": {"customer_investment": {"low": 6, "high": 0}}},
            {
                "anchors.customer_investment": (
                    "The low anchor (6) must be below the high anchor (0)."
                )
            },
        ),
        ("four_s", {"cutoff": 120}, {"cutoff": "Must be at least 0 and at most 100, got 120."}),
        (
            "bensaou",
            {"fit": {"over_designed_below": -1}},
            {"fit.over_designed_below": "Must be at least 0 and at most 100, got -1."},
        ),
        ("four_s", {"capacity": 35.5}, {"capacity": "Must be a whole number, got 35.5."}),
        ("four_s", {"capacity": -1}, {"capacity": "Must be at least 0, got -1."}),
        (
            "millman_wilson",
            {"uncoupling_growth": 0.1},
            {"uncoupling_growth": "Must be at least -1 and at most 0, got 0.1."},
        ),
        (
            "millman_wilson",
            {"maps": {"supplier_status": {"sole": 150}}},
            {"maps.supplier_status.sole": "Points must be between 0 and 100 (150)."},
        ),
        (
            "millman_wilson",
            {"stage_thresholds": {"mid_kam": 10}},
            {
                "stage_thresholds": "Stage thresholds must increase: early_kam (15) < mid_kam (10)"
                " < partnership_kam (60) < synergistic_kam (80) does not hold."
            },
        ),
        (
            "millman_wilson",
            {"stage_thresholds": {"synergistic_kam": 101}},
            {"stage_thresholds.synergistic_kam": "Must be between 0 and 100, got 101."},
        ),
        ("four_s", {"cutoff": "50"}, {"cutoff": "Must be a number, got '50'."}),
        ("four_s", {"cutoff": True}, {"cutoff": "Must be a number, got True."}),
        ("four_s", {"cutoff": None}, {"cutoff": "Must be a number, got None."}),
        ("four_s", {"cutoff": float("nan")}, {"cutoff": "Must be a number, got nan."}),
        (
            "four_s",
            {"weights": 1},
            {"weights": "Expected a group of values (a mapping), not a single value."},
        ),
        (
            "webster",
            {"network_child_type_threshold": 7},
            {"network_child_type_threshold": "Must be at least 1 and at most 6, got 7."},
        ),
    ],
)
def test_invalid_params_are_reported_by_field(model, params, expected):
    assert _errors(model, params) == expected


def test_all_problems_are_reported_at_once():
    errors = _errors("four_s", {"cutof": 1, "capacity": "many", "weights": {"a": {"x": 1}}})
    assert set(errors) == {"cutof", "capacity", "weights.a.x"}


def test_parameter_error_is_a_value_error_with_a_readable_message():
    with pytest.raises(ValueError, match=r"^cutof: Unknown parameter 'cutof'\.$"):
        validate_params("four_s", {"cutof": 1})


def test_unknown_model_and_non_mapping_params():
    assert _errors("abc", None) == {
        "model": "Unknown model 'abc'; expected one of webster, millman_wilson, bensaou, four_s."
    }
    assert _errors("four_s", [1]) == {"params": "Parameters must be a mapping of names to values."}


def test_weights_within_tolerance_are_accepted():
    weights = {"wallet_estimate": 0.3000004, "growth_rate": 0.1999998}
    assert (
        validate_params("four_s", {"weights": {"a": weights}})["weights"]["a"]["growth_rate"]
        == 0.1999998
    )


def test_score_portfolio_validates_params():
    with pytest.raises(ParameterError, match=r"weights\.a: "):
        score_portfolio("four_s", {"x": {}}, params={"weights": {"a": {"openness": 0.5}}})
