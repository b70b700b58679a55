"""Token auth (create, use, revoke), session auth with CSRF, throttling."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def test_token_for_good_credentials_then_use_it(world):
    client = APIClient()
    response = client.post(TOKEN_URL, {"username": "lead", "password": "pass-word-123"})
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=world.users["lead"]).key == token
    # The same token until revoked.
    again = client.post(TOKEN_URL, {"username": "lead", "password": "pass-word-123"})
    assert again.json() == {"token": token}

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    accounts = client.get("/api/v1/accounts/")
    assert accounts.status_code == 200
    assert {row["id"] for row in accounts.json()["results"]} == {
        world.accounts["acc1"].pk,
        world.accounts["acc2"].pk,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "lead", "password": "wrong"}, "password"),
        ({"username": "nobody", "password": "pass-word-123"}, "password"),
        ({"username": "lead"}, "password"),
        ({"password": "pass-word-123"}, "username"),
    ],
)
def test_bad_credentials_are_400_with_field_errors(world, body, field):
    response = APIClient().post(TOKEN_URL, body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Token.objects.exists()


def test_revoke_token(world):
    client = APIClient()
    token = client.post(TOKEN_URL, {"username": "nam1", "password": "pass-word-123"}).json()[
        "token"
    ]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.delete(TOKEN_URL).status_code == 204
    assert not Token.objects.filter(key=token).exists()
    assert client.get("/api/v1/accounts/").status_code == 401


def test_revoke_needs_authentication(world):
    assert APIClient().delete(TOKEN_URL).status_code == 401


def test_anonymous_gets_401_with_token_challenge(world):
    response = APIClient().get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_session_auth_enforces_csrf(world):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="nam1", password="pass-word-123")
    assert client.get("/api/v1/accounts/").status_code == 200
    body = {"account": world.accounts["acc1"].pk, "description": "Faster delivery"}
    refused = client.post("/api/v1/needs/", body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    client.get("/admin/login/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post("/api/v1/needs/", body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201


def test_throttling_per_user_and_anonymous(world, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})
    lead = world.client("lead")
    assert [lead.get("/api/v1/accounts/").status_code for _ in range(4)] == [200, 200, 200, 429]
    # Another user has their own allowance.
    assert world.client("nam1").get("/api/v1/accounts/").status_code == 200
    # Anonymous callers reach only the token endpoint: guessing passwords is throttled.
    anon = APIClient()
    body = {"username": "lead", "password": "guess"}
    assert [anon.post(TOKEN_URL, body).status_code for _ in range(3)] == [400, 400, 429]
