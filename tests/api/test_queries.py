"""Every list costs a fixed number of queries: the same maximum for 5 rows and for 50."""

import datetime as dt

import pytest

from classification.models import ClassificationOverride, ClassificationRun, ParameterSet
from tests.api.test_permissions import RESOURCES
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AccountTeamMemberFactory,
    AssessmentFactory,
    ContactFactory,
    ExchangeRateFactory,
    ProductLineFactory,
)

pytestmark = pytest.mark.django_db

ROWS = 12
# Per list: the manager profile, count, page, plus each prefetch or classification load.
MAX_QUERIES = {
    "customers": 3,
    "contacts": 3,
    "managers": 4,
    "accounts": 5,
    "team-members": 3,
    "transactions": 3,
    "interactions": 4,
    "needs": 3,
    "opportunities": 3,
    "plans": 5,
    "plan-objectives": 4,
    "plan-actions": 3,
    "assessments": 3,
    "investments": 3,
    "service-cases": 3,
    "classification/overrides": 3,
    "classification/runs": 3,
    "exchange-rates": 2,
    "product-lines": 2,
    "classification/parameter-sets": 2,
}

# Paths whose rows cannot all hang off one account the same way (unique keys, no account).
MAKERS = {
    "customers": lambda w, n: AccountFactory(owner=w.managers["nam1"]),
    "accounts": lambda w, n: AccountFactory(owner=w.managers["nam1"]),
    "managers": lambda w, n: AccountManagerFactory(reports_to=w.managers["lead"]),
    "contacts": lambda w, n: ContactFactory(customer=w.accounts["acc1"].customer),
    "team-members": lambda w, n: AccountTeamMemberFactory(
        account=w.accounts["acc1"], manager=w.managers["nam1"], start_date=dt.date(2020, 1, n + 1)
    ),
    "assessments": lambda w, n: AssessmentFactory(
        account=w.accounts["acc1"], assessed_on=dt.date(2020, 1, n + 1)
    ),
    "exchange-rates": lambda w, n: ExchangeRateFactory(valid_from=dt.date(2020, 1, n + 1)),
    "product-lines": lambda w, n: ProductLineFactory(),
    "classification/parameter-sets": lambda w, n: ParameterSet.objects.create(
        model="webster", version=n + 1
    ),
    "classification/overrides": lambda w, n: ClassificationOverride.objects.create(
        account=w.accounts["acc1"], model="four_s", segment="star", reason="r", is_active=False
    ),
    "classification/runs": lambda w, n: ClassificationRun.objects.create(
        trigger="api",
        scope=f"account:{w.accounts['acc1'].pk}",
        status="succeeded",
        reference_date=dt.date(2026, 1, 1),
    ),
}


@pytest.mark.parametrize("path", sorted(MAX_QUERIES))
def test_list_query_count_does_not_grow(world, path, django_assert_max_num_queries):
    resource = next((r for r in RESOURCES if r.path == path), None)
    for n in range(ROWS):
        if path in MAKERS:
            MAKERS[path](world, n)
        else:
            resource.make(world, world.accounts["acc1"])
    for role in ("lead", "admin"):
        client = world.client(role)
        for page_size in (5, 50):
            with django_assert_max_num_queries(MAX_QUERIES[path]):
                response = client.get(f"/api/v1/{path}/", {"page_size": page_size})
            assert response.status_code == 200
            body = response.json()
            assert body["count"] > 5
            assert len(body["results"]) == min(page_size, body["count"])


def test_page_size_goes_up_to_200(world):
    for n in range(205):
        ProductLineFactory(code=f"C{n:04d}")
    body = world.client("nam1").get("/api/v1/product-lines/", {"page_size": 200}).json()
    assert body["count"] == 205
    assert len(body["results"]) == 200
    assert body["next"].endswith("page=2&page_size=200")
    assert body["previous"] is None


@pytest.mark.parametrize("page_size", ["1000", "201", "0", "-1", "abc", "1.5", "", "1_0"])
def test_page_size_out_of_range_or_not_a_number_is_a_400(world, page_size):
    """Not silently replaced by the default (or capped): the caller is told."""
    response = world.client("nam1").get("/api/v1/product-lines/", {"page_size": page_size})
    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


def test_an_empty_page_number_is_a_404_like_any_invalid_one(world):
    """Found by Schemathesis: `?page=` (not a number) answered the first page."""
    client = world.client("nam1")
    for page in ("", "abc"):
        response = client.get("/api/v1/accounts/", {"page": page})
        assert response.status_code == 404, page
