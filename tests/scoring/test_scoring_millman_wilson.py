"""Millman-Wilson stages: X, Y, S, the zero-revenue rule, uncoupling and imbalance.

A portfolio of one account puts every percentile at 50, so Y = 25 + 0.30 functions + 0.20 levels.
"""

import pytest

from classification.scoring import score_portfolio

BASE = {"level": "national", "revenue_12m": 1000, "active_contacts": 4, "interactions_12m": 30}


def _profile(contract, status, info, joint, functions, levels):
    return {
        **BASE,
        "contract_type": contract,
        "supplier_status": status,
        "info_sharing": info,
        "joint_projects": joint,
        "functions_engaged": functions,
        "hierarchy_levels": levels,
    }


PRE = _profile("none", "none", 0, 0, 1, 1)
EARLY = _profile("spot", "approved", 1, 0, 2, 1)
MID = _profile("annual", "preferred", 1, 1, 3, 2)
PARTNERSHIP = _profile("multi_year", "preferred", 2, 2, 5, 3)
SYNERGISTIC = _profile("strategic_agreement", "sole", 3, 3, 6, 4)


def _mw(metrics, params=None):
    return score_portfolio("millman_wilson", {"acc": metrics}, params)["acc"]


@pytest.mark.parametrize(
    ("metrics", "axes", "stage", "flags"),
    [
        (PRE, {"x": 0.0, "y": 25.0, "s": 12.5}, "pre_kam", set()),
        (EARLY, {"x": 18.8, "y": 31.0, "s": 24.9}, "early_kam", set()),
        (MID, {"x": 44.5, "y": 43.7, "s": 44.1}, "mid_kam", set()),
        (PARTNERSHIP, {"x": 68.5, "y": 62.3, "s": 65.4}, "partnership_kam", set()),
        (SYNERGISTIC, {"x": 100.0, "y": 75.0, "s": 87.5}, "synergistic_kam", set()),
        # S exactly on a threshold starts the next stage
        (
            _profile("strategic_agreement", "none", 1.8, 0, 1, 1),
            {"x": 45.0, "y": 25.0, "s": 35.0},
            "mid_kam",
            set(),
        ),
        # |X - Y| = 75 > 30
        (
            _profile("strategic_agreement", "sole", 3, 3, 1, 1),
            {"x": 100.0, "y": 25.0, "s": 62.5},
            "partnership_kam",
            {"unbalanced"},
        ),
        # |X - Y| = 30 exactly is not unbalanced
        (
            _profile("strategic_agreement", "none", 3, 0, 1, 1),
            {"x": 55.0, "y": 25.0, "s": 40.0},
            "mid_kam",
            set(),
        ),
        # anchors clamp: 9 functions count as 6, 7 levels as 4
        (
            _profile("strategic_agreement", "sole", 5, 8, 9, 7),
            {"x": 100.0, "y": 75.0, "s": 87.5},
            "synergistic_kam",
            set(),
        ),
    ],
)
def test_each_stage(metrics, axes, stage, flags):
    result = _mw(metrics)
    assert result.axes == axes
    assert result.segment == stage
    assert result.flags == frozenset(flags)


@pytest.mark.parametrize("revenue", [0, -10])
def test_no_revenue_is_pre_kam_whatever_s(revenue):
    result = _mw({**SYNERGISTIC, "revenue_12m": revenue})
    assert result.segment == "pre_kam"
    assert result.axes["s"] == 87.5
    assert result.explanation[-1].indicator == "revenue_12m"
    assert result.explanation[-1].note == "no revenue in 12 months: pre_kam whatever S (87.5)"


def test_missing_revenue_does_not_force_pre_kam_but_is_flagged():
    metrics = {key: value for key, value in SYNERGISTIC.items() if key != "revenue_12m"}
    result = _mw(metrics)
    assert result.segment == "synergistic_kam"
    assert result.flags == {"low_confidence:revenue_12m"}


@pytest.mark.parametrize(
    ("changes", "flags"),
    [
        ({"growth_rate": -0.30}, {"uncoupling:growth"}),
        ({"growth_rate": -0.95}, {"uncoupling:growth"}),
        ({"termination_notice": True}, {"uncoupling:notice"}),
        (
            {"previous_supplier_status": "preferred", "supplier_status": "approved"},
            {"uncoupling:status_drop"},
        ),
        (
            {"previous_supplier_status": "sole", "supplier_status": "preferred"},
            {"uncoupling:status_drop"},
        ),
        (
            {"previous_supplier_status": "sole", "supplier_status": "none"},
            {"uncoupling:status_drop"},
        ),
        (
            {
                "growth_rate": -0.5,
                "termination_notice": True,
                "previous_supplier_status": "sole",
                "supplier_status": "approved",
            },
            {"uncoupling:growth", "uncoupling:notice", "uncoupling:status_drop"},
        ),
        # a customer who stopped buying is uncoupling, not a prospect
        ({"revenue_12m": 0, "growth_rate": -1.0}, {"uncoupling:growth"}),
    ],
)
def test_uncoupling_overrides_the_stage(changes, flags):
    result = _mw({**SYNERGISTIC, **changes})
    assert result.segment == "uncoupling_kam"
    assert result.flags == frozenset(flags)
    reasons = [r for r in result.explanation if r.note and r.note.startswith("uncoupling:")]
    assert len(reasons) == len(flags)


def test_uncoupling_reasons_are_explained():
    changes = {
        "growth_rate": -0.4,
        "previous_supplier_status": "sole",
        "supplier_status": "approved",
    }
    result = _mw({**SYNERGISTIC, **changes})
    records = [(r.indicator, r.raw_value, r.note) for r in result.explanation if r.weight == 0]
    assert records == [
        ("growth_rate", -0.4, "uncoupling: growth_rate -0.4 <= -0.3"),
        (
            "supplier_status",
            {"previous_supplier_status": "sole", "supplier_status": "approved"},
            "uncoupling: supplier status dropped from sole to approved",
        ),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"growth_rate": -0.29},
        {"growth_rate": None},
        {"termination_notice": False},
        {"termination_notice": None},
        {"previous_supplier_status": "approved", "supplier_status": "none"},
        {"previous_supplier_status": "preferred", "supplier_status": "sole"},
        {"previous_supplier_status": "preferred", "supplier_status": "preferred"},
        {"previous_supplier_status": "preferred", "supplier_status": None},
        {"previous_supplier_status": None, "supplier_status": "none"},
    ],
)
def test_no_uncoupling(changes):
    result = _mw({**MID, **changes})
    assert not result.segment.startswith("uncoupling")
    assert not any(flag.startswith("uncoupling") for flag in result.flags)


def test_missing_values_score_50_and_are_flagged():
    result = _mw({"level": "national", "revenue_12m": 10})
    assert result.axes == {"x": 50.0, "y": 50.0, "s": 50.0}
    assert result.segment == "mid_kam"
    assert result.flags == {
        f"low_confidence:{metric}"
        for metric in (
            "contract_type",
            "supplier_status",
            "info_sharing",
            "joint_projects",
            "active_contacts",
            "functions_engaged",
            "hierarchy_levels",
            "interactions_12m",
        )
    }
    assert all(r.points == 50.0 for r in result.explanation if r.axis)


def test_unknown_category_is_treated_as_missing():
    result = _mw({**PRE, "supplier_status": "exclusive"})
    # X = 0.25 * 50
    assert result.axes["x"] == 12.5
    assert result.flags == {"low_confidence:supplier_status"}
    record = next(r for r in result.explanation if r.indicator == "supplier_status")
    assert record.note == "unknown value 'exclusive', treated as missing; missing, scored 50"


def test_percentiles_rank_within_the_level():
    metrics = {
        "n1": {**PRE, "active_contacts": 1, "interactions_12m": 1},
        "n2": {**PRE, "active_contacts": 9, "interactions_12m": 9},
        "g1": {**PRE, "level": "global", "active_contacts": 100, "interactions_12m": 1},
    }
    results = score_portfolio("millman_wilson", metrics)
    assert {key: r.axes["y"] for key, r in results.items()} == {"n1": 0.0, "n2": 50.0, "g1": 25.0}


def test_explanation_contributions_add_up_to_the_axes():
    result = _mw(PARTNERSHIP)
    for axis in ("x", "y"):
        records = [r for r in result.explanation if r.axis == axis]
        assert [r.indicator for r in records] == (
            ["contract_type", "supplier_status", "info_sharing", "joint_projects"]
            if axis == "x"
            else ["active_contacts", "functions_engaged", "hierarchy_levels", "interactions_12m"]
        )
        assert sum(r.weight for r in records) == pytest.approx(1.0)
        assert round(sum(r.contribution for r in records), 1) == result.axes[axis]
        assert all(r.contribution == pytest.approx(r.points * r.weight) for r in records)


@pytest.mark.parametrize(
    ("params", "metrics", "stage", "flags"),
    [
        ({"stage_thresholds": {"early_kam": 10}}, PRE, "early_kam", set()),
        ({"uncoupling_growth": -0.5}, {**MID, "growth_rate": -0.4}, "mid_kam", set()),
        (
            {"unbalanced_gap": 15},
            _profile("strategic_agreement", "none", 1.8, 0, 1, 1),
            "mid_kam",
            {"unbalanced"},
        ),
        ({"maps": {"contract_type": {"none": 100}}}, PRE, "early_kam", set()),
        (
            {
                "weights": {
                    "x": {
                        "contract_type": 1.0,
                        "supplier_status": 0,
                        "info_sharing": 0,
                        "joint_projects": 0,
                    }
                }
            },
            _profile("strategic_agreement", "none", 0, 0, 1, 1),
            "partnership_kam",
            {"unbalanced"},
        ),
    ],
)
def test_custom_params_change_the_stage(params, metrics, stage, flags):
    result = _mw(metrics, params)
    assert result.segment == stage
    assert result.flags == frozenset(flags)
