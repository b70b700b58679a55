"""The classification matrices: visibility, filters, chart data, cut-offs and query counts."""

import pytest
from django.utils import timezone

from classification.models import ClassificationResult, ClassificationRun, ParameterSet
from tests.factories import AccountFactory, make_current

pytestmark = pytest.mark.django_db

AXES = {
    "four_s": {"a": 72.0, "b": 31.0},
    "bensaou": {"buyer": 20.0, "supplier": 80.0, "complexity": 50.0},
    "millman_wilson": {"x": 40.0, "y": 50.0, "s": 45.0},
    "webster": {"relationship": 3.0},
}
SEGMENT = {
    "four_s": "star",
    "bensaou": "captive_supplier",
    "millman_wilson": "mid_kam",
    "webster": "partnership",
}


@pytest.fixture
def scored():
    run = ClassificationRun.objects.create(
        trigger="manual", reference_date=timezone.localdate(), status="succeeded"
    )

    def store(*accounts, models=tuple(AXES)):
        results = ClassificationResult.objects.bulk_create(
            ClassificationResult(
                run=run,
                account=account,
                model=model,
                segment=SEGMENT[model],
                axes=AXES[model],
            )
            for account in accounts
            for model in models
        )
        make_current(*results)

    return store


@pytest.mark.parametrize("model", ["four_s", "bensaou", "millman_wilson", "webster"])
def test_anonymous_is_sent_to_login(client, model):
    response = client.get(f"/matrices/{model}/")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/matrices/{model}/"


def test_unknown_model_is_404(login, nam1):
    assert login("nam1").get("/matrices/bcg/").status_code == 404


def test_four_s_shows_only_visible_accounts_with_links_and_cutoffs(login, portfolio, scored):
    scored(*portfolio.values())
    response = login("nam1").get("/matrices/four_s/")
    assert response.status_code == 200
    assert response.content.count(b"<h1") == 1
    chart = response.context["chart"]
    assert chart["kind"] == "scatter"
    assert chart["cutoff"] == {"x": 50, "y": 50}
    names = sorted(p["name"] for p in chart["points"])
    assert names == ["Alpha Robotics · DE", "Beta Foods · AT"]
    point = next(p for p in chart["points"] if p["name"].startswith("Alpha"))
    assert point == {
        "x": 72.0,
        "y": 31.0,
        "name": "Alpha Robotics · DE",
        "segment": "star",
        "url": f"/accounts/{portfolio['alpha'].pk}/",
    }
    assert {q["segment"]: (q["x_high"], q["y_high"]) for q in chart["quadrants"]} == {
        "strategic": (True, True),
        "star": (True, False),
        "status": (False, True),
        "streamline": (False, False),
    }
    html = response.content.decode()
    assert 'id="matrix-data"' in html
    assert "Hidden Steel" not in html
    assert "Gamma Chemicals" not in html
    assert 'data-chart="matrix"' in html


def test_bensaou_uses_the_active_high_threshold(login, portfolio, scored):
    scored(portfolio["alpha"])
    ParameterSet.objects.create(
        model="bensaou", version=1, parameters={"high_threshold": 60}, is_active=True
    )
    chart = login("nam1").get("/matrices/bensaou/").context["chart"]
    assert chart["cutoff"] == {"x": 60, "y": 60}
    assert chart["points"][0]["x"] == 20.0
    assert chart["points"][0]["y"] == 80.0
    labels = {q["segment"]: q["label"] for q in chart["quadrants"]}
    assert labels["captive_supplier"] == "Captive supplier"


def test_millman_wilson_has_stage_bands_from_params(login, portfolio, scored):
    scored(portfolio["alpha"])
    chart = login("nam1").get("/matrices/millman_wilson/").context["chart"]
    assert [(b["segment"], b["from"], b["to"]) for b in chart["bands"]] == [
        ("pre_kam", 0, 15),
        ("early_kam", 15, 35),
        ("mid_kam", 35, 60),
        ("partnership_kam", 60, 80),
        ("synergistic_kam", 80, 100),
    ]
    assert "cutoff" not in chart
    assert chart["points"][0]["x"] == 40.0


def test_webster_is_a_distribution_over_the_six_types(login, portfolio, scored):
    scored(portfolio["alpha"], portfolio["beta"])
    chart = login("nam1").get("/matrices/webster/").context["chart"]
    assert chart["kind"] == "distribution"
    assert [b["segment"] for b in chart["bars"]] == [
        "transactional",
        "repeated",
        "long_term",
        "partnership",
        "strategic_alliance",
        "network",
    ]
    assert {b["segment"]: b["count"] for b in chart["bars"]}["partnership"] == 2
    assert chart["bars"][3]["url"] == "/?segment=webster:partnership"


def test_lead_filters_by_owner_and_level(login, portfolio, scored, nam2):
    scored(*portfolio.values())
    client = login("lead")
    names = lambda r: sorted(p["name"] for p in r.context["rows"])  # noqa: E731
    assert names(client.get("/matrices/four_s/")) == [
        "Alpha Robotics",
        "Beta Foods",
        "Gamma Chemicals",
    ]
    assert names(client.get("/matrices/four_s/", {"owner": nam2.pk})) == ["Gamma Chemicals"]
    assert names(client.get("/matrices/four_s/", {"level": "global"})) == []
    assert names(client.get("/matrices/four_s/", {"level": "national"})) == [
        "Alpha Robotics",
        "Beta Foods",
        "Gamma Chemicals",
    ]


def test_manager_has_no_owner_filter_and_cannot_widen_with_it(login, portfolio, scored, nam2):
    scored(*portfolio.values())
    response = login("nam1").get("/matrices/four_s/", {"owner": nam2.pk})
    assert "owner" not in response.context["form"].fields
    assert sorted(p["name"] for p in response.context["rows"]) == ["Alpha Robotics", "Beta Foods"]


def test_empty_matrix_says_so(login, portfolio):
    response = login("nam1").get("/matrices/four_s/")
    assert b"No account of this selection has a 4S result yet." in response.content
    assert b'id="matrix-data"' not in response.content


@pytest.mark.parametrize("size", [3, 40])
@pytest.mark.parametrize("user", ["nam1", "lead"])
def test_matrix_query_count_is_bounded(
    login, nam1, lead, scored, django_assert_max_num_queries, size, user
):
    scored(*AccountFactory.create_batch(size, owner=nam1))
    client = login(user)
    with django_assert_max_num_queries(8):
        response = client.get("/matrices/millman_wilson/")
    assert len(response.context["chart"]["points"]) == size


def test_a_large_portfolio_gets_an_even_sample_in_the_chart_and_every_account_in_pages(
    login, nam1, scored, monkeypatch
):
    """The chart draws at most MATRIX_CHART_POINTS accounts (every k-th by id beyond that) and
    the table lists all of them, 50 a page: 100,000 accounts made a 35 MB page."""
    monkeypatch.setattr("dashboard.selectors.MATRIX_CHART_POINTS", 20)
    accounts = AccountFactory.create_batch(61, owner=nam1)
    scored(*accounts, models=["four_s"])
    client = login("nam1")

    response = client.get("/matrices/four_s/")

    by_id = sorted(a.pk for a in accounts)
    urls = [p["url"] for p in response.context["chart"]["points"]]
    assert sorted(urls) == sorted(f"/accounts/{pk}/" for pk in by_id[::4])  # 61 / 20 -> every 4th
    assert (response.context["total"], response.context["sampled"]) == (61, True)
    assert len(response.context["rows"]) == 50
    html = response.content.decode()
    assert "The chart shows an even sample of 16 of them" in html
    assert 'href="?page=2" rel="next"' in html
    second = client.get("/matrices/four_s/", {"page": 2})
    names = [r["name"] for r in response.context["rows"] + second.context["rows"]]
    assert len(names) == len(set(names)) == 61
    assert names == sorted(names)
