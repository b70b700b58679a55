"""Properties that must hold for any portfolio: bounded axes, monotonicity, order independence."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classification.scoring import MODELS, ModelResult, population_stats, score_all
from classification.scoring.bensaou import SEGMENTS as BENSAOU_SEGMENTS
from classification.scoring.four_s import SEGMENTS as FOUR_S_SEGMENTS
from classification.scoring.millman_wilson import SEGMENTS as MW_SEGMENTS
from classification.scoring.webster import TYPES

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,  # write nothing into the working tree
    suppress_health_check=[HealthCheck.too_slow],
)
SEGMENTS = {
    "webster": set(TYPES.values()),
    "millman_wilson": set(MW_SEGMENTS),
    "bensaou": set(BENSAOU_SEGMENTS),
    "four_s": set(FOUR_S_SEGMENTS),
}
# A small capacity so that the capacity rule runs in small portfolios.
PARAMS = {"four_s": {"capacity": 2}}


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


def _number(low, high):
    return st.one_of(
        st.integers(int(low), int(high)),
        st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


def _category(*values):
    return _maybe(st.sampled_from([*values, "unknown"]))


STATUSES = ("none", "approved", "preferred", "sole")
ACCOUNT = st.fixed_dictionaries(
    {
        "level": st.sampled_from(["national", "global"]),
        "is_key_account": st.booleans(),
        "parent_key": _maybe(st.integers(0, 7).map(lambda i: f"acc{i}")),
        "revenue_12m": _maybe(_number(-100, 1e6)),
        "growth_rate": _maybe(_number(-2, 3)),
        "gross_margin_pct": _maybe(_number(-1, 1)),
        "order_count_12m": _maybe(_number(0, 50)),
        "line_penetration": _maybe(_number(0, 1)),
        "wallet_estimate": _maybe(_number(0, 1e7)),
        "share_of_wallet": _maybe(_number(0, 1)),
        "tenure_years": _maybe(_number(0, 40)),
        "active_contacts": _maybe(_number(0, 30)),
        "functions_engaged": _maybe(_number(0, 9)),
        "hierarchy_levels": _maybe(_number(0, 4)),
        "interactions_12m": _maybe(_number(0, 500)),
        "joint_projects": _maybe(_number(0, 10)),
        "has_active_plan": _maybe(st.booleans()),
        "customer_investment": _maybe(_number(0, 12)),
        "supplier_investment": _maybe(_number(0, 12)),
        "contract_type": _category("none", "spot", "annual", "multi_year", "strategic_agreement"),
        "supplier_status": _category(*STATUSES),
        "previous_supplier_status": _category(*STATUSES),
        "info_sharing": _maybe(_number(0, 3)),
        "strategic_fit": _maybe(_number(1, 5)),
        "openness": _maybe(_number(1, 5)),
        "satisfaction": _maybe(_number(1, 5)),
        "customisation": _maybe(_number(1, 5)),
        "technical_novelty": _maybe(_number(1, 5)),
        "change_frequency": _maybe(_number(1, 5)),
        "termination_notice": _maybe(st.booleans()),
        "child_accounts_partnership": _maybe(_number(0, 5)),
    }
)
PORTFOLIO = st.lists(ACCOUNT, min_size=1, max_size=8).map(
    lambda accounts: {f"acc{index}": metrics for index, metrics in enumerate(accounts)}
)


@st.composite
def portfolios_with_previous(draw):
    portfolio = draw(PORTFOLIO)
    previous = {
        model: {
            key: draw(st.sampled_from(sorted(SEGMENTS[model])))
            for key in portfolio
            if draw(st.booleans())
        }
        for model in MODELS
    }
    return portfolio, previous


@SETTINGS
@given(portfolios_with_previous())
def test_axes_stay_within_0_and_100_and_segments_are_known(data):
    portfolio, previous = data
    results = score_all(portfolio, PARAMS, previous)
    for model, by_account in results.items():
        assert set(by_account) == set(portfolio)
        for result in by_account.values():
            assert result.segment in SEGMENTS[model]
            assert all(0.0 <= value <= 100.0 for value in result.axes.values())
            assert all(round(value, 1) == value for value in result.axes.values())
            assert ModelResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


RISING = ("wallet_estimate", "revenue_12m", "share_of_wallet", "growth_rate", "gross_margin_pct")


@SETTINGS
@given(
    portfolios_with_previous(),
    st.data(),
    st.sampled_from(RISING),
    st.floats(0.001, 1e6, allow_nan=False),
)
def test_more_revenue_wallet_or_share_never_lowers_an_axis(data, draw, metric, increase):
    portfolio, previous = data
    key = draw.draw(st.sampled_from(sorted(portfolio)))
    base = portfolio[key][metric]
    if base is None:
        base = draw.draw(_number(0, 1))
    before_metrics = {**portfolio, key: {**portfolio[key], metric: base}}
    after_metrics = {**portfolio, key: {**portfolio[key], metric: base + increase}}
    before = score_all(before_metrics, PARAMS, previous)
    after = score_all(after_metrics, PARAMS, previous)
    for model in MODELS:
        for axis, value in before[model][key].axes.items():
            assert after[model][key].axes[axis] >= value, (model, axis)


@SETTINGS
@given(portfolios_with_previous(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_the_order_of_accounts(data, random):
    portfolio, previous = data
    keys = list(portfolio)
    random.shuffle(keys)
    shuffled = {key: portfolio[key] for key in keys}
    assert score_all(shuffled, PARAMS, previous) == score_all(portfolio, PARAMS, previous)


@SETTINGS
@given(st.lists(st.integers(0, 5), min_size=36, max_size=40), st.randoms(use_true_random=False))
def test_capacity_is_order_independent_with_ties(tenures, random):
    base = {
        "level": "national",
        "growth_rate": 0.3,
        "gross_margin_pct": 0.4,
        "strategic_fit": 5,
        "openness": 5,
        "share_of_wallet": 0.6,
        "satisfaction": 5,
        "line_penetration": 1,
        "wallet_estimate": 1,
        "active_contacts": 1,
        "functions_engaged": 1,
    }
    portfolio = {f"k{index}": {**base, "tenure_years": t} for index, t in enumerate(tenures)}
    keys = list(portfolio)
    random.shuffle(keys)
    shuffled = {key: portfolio[key] for key in keys}
    first = score_all(portfolio)["four_s"]
    second = score_all(shuffled)["four_s"]
    assert first == second
    assert sum("over_capacity" in r.flags for r in first.values()) == len(tenures) - 35


@SETTINGS
@given(portfolios_with_previous(), st.integers(1, 4))
def test_scoring_in_chunks_against_the_population_matches_scoring_at_once(data, size):
    portfolio, previous = data
    portfolio = {key: {**metrics, "parent_key": None} for key, metrics in portfolio.items()}
    whole = score_all(portfolio, PARAMS, previous)
    population = population_stats(portfolio)
    keys = list(portfolio)
    for start in range(0, len(keys), size):
        chunk = {key: portfolio[key] for key in keys[start : start + size]}
        part = score_all(chunk, PARAMS, previous, population=population, apply_capacity=False)
        for model in MODELS:
            for key, result in part[model].items():
                expected = whole[model][key]
                assert (result.segment, result.axes) == (expected.segment, expected.axes)
                assert result.flags == expected.flags - {"over_capacity"}
