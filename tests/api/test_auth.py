"""Token auth (create, use, expire, revoke), session auth with CSRF, throttling. The lockout
after repeated failures is in tests/kam/test_security.py."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone
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
    client.force_login(world.users["nam1"])
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


# --- token expiry ----------------------------------------------------------------------------


def age_token(token: Token, by: dt.timedelta) -> None:
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - by)


def test_token_lifetime_comes_from_the_environment():
    assert dt.timedelta(hours=24 * 30) == settings.KAM_API_TOKEN_TTL


def test_expired_token_is_401_with_a_clear_message(world):
    token = Token.objects.create(user=world.users["lead"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    age_token(token, settings.KAM_API_TOKEN_TTL - dt.timedelta(minutes=1))
    assert client.get("/api/v1/accounts/").status_code == 200  # not yet
    age_token(token, settings.KAM_API_TOKEN_TTL)
    response = client.get("/api/v1/accounts/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Token has expired."}
    assert response["WWW-Authenticate"] == "Token"


def test_expiry_follows_the_setting(world, settings):
    settings.KAM_API_TOKEN_TTL = dt.timedelta(hours=1)
    token = Token.objects.create(user=world.users["lead"])
    age_token(token, dt.timedelta(minutes=61))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/accounts/").status_code == 401


def test_logging_in_after_expiry_issues_a_fresh_token(world):
    client = APIClient()
    body = {"username": "lead", "password": "pass-word-123"}
    old = client.post(TOKEN_URL, body).json()["token"]
    age_token(Token.objects.get(key=old), settings.KAM_API_TOKEN_TTL)

    new = client.post(TOKEN_URL, body).json()["token"]
    assert new != old
    assert not Token.objects.filter(key=old).exists()  # the expired key is gone for good
    assert Token.objects.get(user=world.users["lead"]).key == new
    client.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert client.get("/api/v1/accounts/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert client.get("/api/v1/accounts/").status_code == 401


def test_schema_documents_token_auth_expiry_and_lockout(world):
    schema = world.client("admin").get("/api/schema/", {"format": "json"}).json()
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    post = schema["paths"][TOKEN_URL]["post"]
    assert "expires" in post["description"]
    assert "locked out" in post["responses"]["429"]["description"]
