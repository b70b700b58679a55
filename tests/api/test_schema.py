"""The OpenAPI schema generates, validates, and documents every operation's error answers."""

import pytest
import yaml
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_validates(schema):
    validate_schema(schema)


def test_every_operation_documents_its_errors(schema):
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            wanted = {"429"}
            if path != "/api/v1/auth/token/" or method != "post":
                wanted |= {"401", "403"}
            if "{" in path:
                wanted.add("404")
            if method in ("post", "put", "patch"):
                wanted.add("400")
            if not wanted <= codes:
                missing.append((method, path, sorted(wanted - codes)))
    assert missing == []


def test_every_resource_is_there(schema):
    paths = set(schema["paths"])
    for name in (
        "auth/token/",
        "customers/",
        "contacts/",
        "managers/",
        "accounts/",
        "accounts/{id}/scores/",
        "accounts/{id}/recompute/",
        "team-members/",
        "transactions/",
        "interactions/",
        "needs/",
        "opportunities/",
        "plans/",
        "assessments/",
        "investments/",
        "service-cases/",
        "exchange-rates/",
        "product-lines/",
        "classification/runs/",
        "classification/parameter-sets/",
        "classification/overrides/",
        "portfolio/summary/",
    ):
        assert f"/api/v1/{name}" in paths, name


def test_paginated_lists_document_their_404(schema):
    """Found by Schemathesis: `?page=` past the end (or 0) answers 404, undocumented before."""
    responses = schema["paths"]["/api/v1/accounts/"]["get"]["responses"]
    assert "404" in responses


def test_page_past_the_end_is_a_json_404(world):
    response = world.client("nam1").get("/api/v1/accounts/?page=999")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path", ["/api/v1/plans/1.5/", "/api/v1/accounts/-1e-3/", "/api/v1/no-such-thing/"]
)
def test_unknown_api_path_is_a_json_404(world, path):
    """Found by Schemathesis: an id the router does not match (a dot in it) answered Django's
    HTML 404 page, while the schema promises JSON."""
    response = world.client("nam1").get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
