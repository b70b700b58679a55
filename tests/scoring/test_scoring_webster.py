"""Webster relationship types, including network via metric and via score_all's two passes."""

import pytest

from classification.scoring import score_all, score_portfolio

KNOWN = {
    "level": "national",
    "order_count_12m": 1,
    "contract_type": "none",
    "supplier_status": "none",
    "has_active_plan": False,
    "joint_projects": 0,
}
ALLIANCE = {"contract_type": "strategic_agreement", "joint_projects": 1}


def _webster(metrics, params=None):
    return score_portfolio("webster", {"acc": metrics}, params)["acc"]


@pytest.mark.parametrize(
    ("changes", "segment", "relationship"),
    [
        ({}, "transactional", 0.0),
        ({"order_count_12m": 2}, "transactional", 0.0),
        ({"order_count_12m": 3}, "repeated", 20.0),
        ({"contract_type": "spot", "order_count_12m": 12}, "repeated", 20.0),
        ({"contract_type": "annual"}, "long_term", 40.0),
        ({"contract_type": "multi_year"}, "long_term", 40.0),
        ({"supplier_status": "preferred", "has_active_plan": True}, "partnership", 60.0),
        ({"supplier_status": "sole", "has_active_plan": True}, "partnership", 60.0),
        ({"supplier_status": "preferred", "has_active_plan": False}, "transactional", 0.0),
        ({"supplier_status": "approved", "has_active_plan": True}, "transactional", 0.0),
        (ALLIANCE, "strategic_alliance", 80.0),
        ({"contract_type": "strategic_agreement", "joint_projects": 0}, "long_term", 40.0),
        ({**ALLIANCE, "level": "global", "child_accounts_partnership": 2}, "network", 100.0),
        ({**ALLIANCE, "level": "global", "child_accounts_partnership": 5}, "network", 100.0),
        (
            {**ALLIANCE, "level": "global", "child_accounts_partnership": 1},
            "strategic_alliance",
            80.0,
        ),
        ({**ALLIANCE, "level": "global"}, "strategic_alliance", 80.0),  # absent count is 0
        (
            {**ALLIANCE, "level": "national", "child_accounts_partnership": 3},
            "strategic_alliance",
            80.0,
        ),
        ({"level": "global", "child_accounts_partnership": 3}, "transactional", 0.0),
    ],
)
def test_each_type(changes, segment, relationship):
    result = _webster({**KNOWN, **changes})
    assert result.segment == segment
    assert result.axes == {"relationship": relationship}
    assert result.flags == frozenset()


def test_explanation_lists_the_conditions_that_held():
    result = _webster({**KNOWN, **ALLIANCE, "order_count_12m": 4})
    rows = [(r.indicator, r.points, r.weight, r.contribution) for r in result.explanation]
    assert rows == [
        ("strategic_alliance", 80.0, 1.0, 80.0),
        ("long_term", 40.0, 0.0, 0.0),
        ("repeated", 20.0, 0.0, 0.0),
        ("transactional", 0.0, 0.0, 0.0),
    ]
    assert result.explanation[0].raw_value == {
        "contract_type": "strategic_agreement",
        "joint_projects": 1,
    }
    assert (
        result.explanation[0].note == "contract_type = strategic_agreement and joint_projects >= 1"
    )
    assert sum(r.contribution for r in result.explanation) == result.axes["relationship"]


@pytest.mark.parametrize(
    ("metrics", "segment", "flags"),
    [
        (
            {},
            "transactional",
            {
                "low_confidence:contract_type",
                "low_confidence:joint_projects",
                "low_confidence:supplier_status",
                "low_confidence:has_active_plan",
                "low_confidence:order_count_12m",
            },
        ),
        # the alliance is already ruled out by joint_projects = 0: only long_term is in doubt
        (
            {**KNOWN, "contract_type": None, "order_count_12m": 5},
            "repeated",
            {"low_confidence:contract_type"},
        ),
        # an unknown category counts as missing
        ({**KNOWN, "contract_type": "lifetime"}, "transactional", {"low_confidence:contract_type"}),
        (
            {**KNOWN, "contract_type": "strategic_agreement", "joint_projects": None},
            "long_term",
            {"low_confidence:joint_projects"},
        ),
        (
            {**KNOWN, "has_active_plan": None, "supplier_status": "sole"},
            "transactional",
            {"low_confidence:has_active_plan"},
        ),
        # missing values below the type found cannot change it
        ({**ALLIANCE, "level": "national"}, "strategic_alliance", set()),
    ],
)
def test_missing_values_are_flagged_when_they_could_raise_the_type(metrics, segment, flags):
    result = _webster(metrics)
    assert result.segment == segment
    assert result.flags == frozenset(flags)


def test_custom_params_change_the_type():
    metrics = {**KNOWN, "order_count_12m": 3}
    assert _webster(metrics, {"repeated_min_orders": 4}).segment == "transactional"
    network = {**KNOWN, **ALLIANCE, "level": "global", "child_accounts_partnership": 2}
    assert _webster(network, {"network_min_children": 3}).segment == "strategic_alliance"


PARTNER = {**KNOWN, "supplier_status": "preferred", "has_active_plan": True}


def _group(*children, parent_metric=0):
    metrics = {
        "G": {**KNOWN, **ALLIANCE, "level": "global", "child_accounts_partnership": parent_metric}
    }
    for index, child in enumerate(children):
        metrics[f"N{index}"] = {**child, "parent_key": "G"}
    return metrics


@pytest.mark.parametrize(
    ("metrics", "params", "segment"),
    [
        # two partnership children in the portfolio override the stored count of 0
        (_group(PARTNER, PARTNER), None, "network"),
        (_group(PARTNER, {**KNOWN, **ALLIANCE}), None, "network"),
        # only one child of type >= 4 overrides a stored count of 5
        (
            _group(PARTNER, {**KNOWN, "contract_type": "annual"}, parent_metric=5),
            None,
            "strategic_alliance",
        ),
        # no children in the portfolio: the metric stands
        (_group(parent_metric=2), None, "network"),
        # a stricter threshold: partnership (4) children no longer count
        (
            _group(PARTNER, PARTNER),
            {"webster": {"network_child_type_threshold": 5}},
            "strategic_alliance",
        ),
    ],
)
def test_score_all_computes_network_from_the_current_children(metrics, params, segment):
    results = score_all(metrics, params_by_model=params)
    assert results["webster"]["G"].segment == segment
    assert set(results) == {"webster", "millman_wilson", "bensaou", "four_s"}


def test_score_all_ignores_parent_keys_outside_the_portfolio_or_to_national_accounts():
    metrics = {
        "N1": {**PARTNER, "parent_key": "elsewhere"},
        "N2": {**PARTNER, "parent_key": "N1"},
        "N3": {**PARTNER, "parent_key": "N1"},
    }
    results = score_all(metrics)
    assert {key: r.segment for key, r in results["webster"].items()} == {
        "N1": "partnership",
        "N2": "partnership",
        "N3": "partnership",
    }


def test_score_all_rejects_unknown_models():
    with pytest.raises(ValueError, match=r"Unknown model\(s\) \['porter'\]"):
        score_all({}, params_by_model={"porter": {}})
