"""The OpenAPI schema generates, validates, and documents every operation's error answers."""

import re

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


def test_operations_are_grouped_and_named_by_resource(schema):
    """Swagger UI's sections and a generated client's modules follow the resource after /api/v1."""
    for path, operations in schema["paths"].items():
        resource = path.removeprefix("/api/v1/").split("/")[0]
        for operation in operations.values():
            assert operation["tags"] == [resource], path
            assert operation["operationId"].startswith(resource.replace("-", "_")), path


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


def test_the_catch_all_404_is_not_an_operation(schema):
    """Found by Schemathesis: the JSON 404 for unknown paths (`^.*/$`) was listed as the
    operation `/api/v1/./`, with undocumented answers."""
    assert not [path for path in schema["paths"] if path.rstrip("/").endswith(".")]
    assert "/api/v1/" not in schema["paths"]


def test_page_and_page_size_document_their_range(schema):
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/accounts/"]["get"]["parameters"]
    }
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": 50,
    }


def test_request_bodies_are_json(schema):
    """Form encodings cannot carry `null` or an empty list; the bodies are documented as JSON
    (the transaction import, with its own parsers, keeps its multipart upload)."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if path == "/api/v1/transactions/import/":
                assert "multipart/form-data" in content
                continue
            assert set(content) <= {"application/json"}, (method, path, set(content))


@pytest.mark.parametrize(
    ("path", "name", "type_"),
    [
        ("/api/v1/accounts/", "parent", "integer"),
        ("/api/v1/managers/", "reports_to", "integer"),
        ("/api/v1/plan-objectives/", "plan", "integer"),
        ("/api/v1/transactions/", "product_line", "integer"),
        ("/api/v1/interactions/", "sentiment", "integer"),
    ],
)
def test_id_and_number_filters_are_documented_as_integers(schema, path, name, type_):
    parameters = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}
    assert parameters[name]["type"] == type_


def test_the_400_answer_documents_the_parse_error_detail(schema):
    """Found by Schemathesis: a body that is not JSON answers `{"detail": "JSON parse error"}`,
    which the 400 schema (messages per field) did not allow."""
    body = schema["paths"]["/api/v1/plans/"]["post"]["responses"]["400"]["content"]
    response_schema = body["application/json"]["schema"]
    assert response_schema["properties"] == {"detail": {"type": "string"}}


def test_decimal_patterns_require_a_digit(schema):
    """Found by Schemathesis: drf-spectacular's decimal pattern also matched `""`, `"-"` and
    `"."`, which the API rightly refuses."""
    properties = schema["components"]["schemas"]["OpportunityApiRequest"]["properties"]
    pattern = re.compile(properties["value"]["pattern"])
    for text in ("", "-", ".", "1.", "-1"):  # value takes no negative amounts
        assert not pattern.search(text), text
    for text in ("0", "12", "12.5", "12.50"):
        assert pattern.search(text), text
    quantity = schema["components"]["schemas"]["TransactionApiRequest"]["properties"]["quantity"]
    assert re.search(quantity["pattern"], "-2.5")  # a credit note's quantity may be negative


def test_text_patterns_say_what_the_api_takes(schema):
    """Found by Schemathesis: `"\\u0000"` or `" "` in a required text field matched the schema
    but DRF refuses them (no NUL characters; not blank once trimmed)."""
    properties = schema["components"]["schemas"]["ServiceCaseApiRequest"]["properties"]
    subject = re.compile(properties["subject"]["pattern"])
    assert subject.search("Broken pallet")
    for text in ("", "   ", "a\u0000b"):
        assert not subject.search(text), repr(text)


def test_a_regex_validator_keeps_its_own_pattern(schema):
    properties = schema["components"]["schemas"]["OpportunityApiRequest"]["properties"]
    assert properties["currency"]["pattern"] == "^[A-Z]{3}$"
