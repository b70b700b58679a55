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
