"""Security: the Content Security Policy header on every page, and the brute-force lockout
(django-axes) on the dashboard login, the admin login and the API token endpoint."""

import base64
import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import django
import pytest
import simple_history
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.api.auth import client_ip
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AdminUserFactory,
    SalesLeadFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"
TOKEN_URL = "/api/v1/auth/token/"
LOCKED = "Too many failed login attempts"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # The API's anonymous throttle counts in the cache; start every test from zero.
    cache.clear()
    yield
    cache.clear()


# --- Content Security Policy -----------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_policy_is_strict():
    response = Client().get("/login/")
    policy = csp_directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    # No 'unsafe-inline' or 'unsafe-eval'; 'unsafe-hashes' admits only the hashed attributes.
    unsafe = {value for values in policy.values() for value in values if "unsafe" in value}
    assert unsafe == {"'unsafe-hashes'"}
    assert "'unsafe-hashes'" in policy["style-src"]


def test_every_page_sends_the_policy(client):
    lead = SalesLeadFactory(user__username="lead")
    account = AccountFactory(owner=AccountManagerFactory(reports_to=lead))
    anonymous = ["/login/", "/admin/login/", "/api/v1/accounts/"]
    for path in anonymous:
        assert "Content-Security-Policy" in client.get(path), path
    client.force_login(lead.user)
    pages = [
        "/",
        f"/accounts/{account.pk}/",
        "/matrices/four_s/",
        "/team/",
        "/api/v1/accounts/",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response["Content-Security-Policy"], path
    client.force_login(AdminUserFactory())
    for path in ["/admin/", "/admin/accounts/account/", f"/admin/accounts/account/{account.pk}/"]:
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response["Content-Security-Policy"], path


def test_pages_carry_no_inline_script_style_or_handler(client):
    lead = SalesLeadFactory(user__username="lead")
    account = AccountFactory(owner=AccountManagerFactory(reports_to=lead))
    pages = [(Client(), "/login/")] + [
        (client, path) for path in ["/", f"/accounts/{account.pk}/", "/matrices/four_s/", "/team/"]
    ]
    client.force_login(lead.user)
    for browser, path in pages:
        response = browser.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        # Every <script> has a src or only carries JSON data (json_script).
        for attrs in re.findall(r"<script\b([^>]*)>", html):
            assert "src=" in attrs or 'type="application/json"' in attrs, (path, attrs)
        assert "<style" not in html, path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert '"includeIndicatorStyles": false' in html, path


def test_admin_style_hash_matches_djangos_template():
    """The one hash in style-src is Django's change-list <style> block: a Django upgrade that
    changes it fails here rather than in the browser."""
    template = Path(django.__file__).parent / "contrib/admin/templates/admin/change_list.html"
    block = re.search(r"<style>(.*?)</style>", template.read_text(), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
    style_src = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]
    assert f"'sha256-{digest}'" in style_src


def test_history_page_style_attribute_hash_matches_simple_historys_template():
    """The one hashed style attribute ('unsafe-hashes') is the pager's on the admin History page."""
    template = (
        Path(simple_history.__file__).parent / "templates/simple_history/object_history_list.html"
    )
    attributes = re.findall(r'\sstyle="([^"]*)"', template.read_text())
    assert attributes == ["border-top: 0"]
    digest = base64.b64encode(hashlib.sha256(attributes[0].encode()).digest()).decode()
    style_src = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]
    assert "'unsafe-hashes'" in style_src
    assert f"'sha256-{digest}'" in style_src


# --- lockout ---------------------------------------------------------------------------------

LIMIT = settings.AXES_FAILURE_LIMIT


def end_cooloff(username: str) -> None:
    """Age the user's failure records past the cool-off, as if the wait had passed."""
    past = timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    assert AccessAttempt.objects.filter(username=username).update(attempt_time=past)


def dashboard_login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def admin_login(client, username, password, **extra):
    body = {"username": username, "password": password, "next": "/admin/"}
    return client.post("/admin/login/", body, **extra)


def assert_locked_page(response):
    assert response.status_code == 429
    html = response.content.decode()
    assert 'data-testid="locked-out"' in html
    assert LOCKED in html
    assert f"locked for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in html
    assert "Try again after" in html
    assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    assert "Content-Security-Policy" in response


def test_limits_come_from_the_environment():
    assert settings.AXES_FAILURE_LIMIT == 5  # the defaults
    assert dt.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kam.settings.test",
        "KAM_LOGIN_FAILURE_LIMIT": "3",
        "KAM_LOGIN_COOLOFF_MINUTES": "60",
        "KAM_API_TOKEN_TTL_HOURS": "8",
        "KAM_TRUSTED_PROXY_COUNT": "1",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.KAM_API_TOKEN_TTL, "
        "s.KAM_TRUSTED_PROXY_COUNT)"
    )
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["3", "1:00:00", "8:00:00", "1"]


def test_dashboard_login_locks_after_the_limit_and_unlocks_after_the_cooloff():
    UserFactory(username="nam1")
    client = Client()
    for _ in range(LIMIT - 1):
        refused = dashboard_login(client, "nam1", "wrong")
        assert refused.status_code == 200
        assert "Please enter a correct username and password" in refused.content.decode()
    # N-1 failures: the right password still works (and resets the count).
    assert dashboard_login(client, "nam1", PASSWORD).status_code == 302
    client.logout()

    for _ in range(LIMIT - 1):
        assert dashboard_login(client, "nam1", "wrong").status_code == 200
    assert_locked_page(dashboard_login(client, "nam1", "wrong"))  # the Nth failure locks
    # The right password is refused while locked, with the same message.
    locked = dashboard_login(client, "nam1", PASSWORD)
    assert_locked_page(locked)
    assert "_auth_user_id" not in client.session

    end_cooloff("nam1")
    assert dashboard_login(client, "nam1", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"]


def test_lockout_counts_per_username_and_address():
    UserFactory(username="nam1")
    UserFactory(username="nam2")
    client = Client()
    for _ in range(LIMIT):
        dashboard_login(client, "nam1", "wrong", REMOTE_ADDR="10.0.0.1")
    assert dashboard_login(client, "nam1", PASSWORD, REMOTE_ADDR="10.0.0.1").status_code == 429
    # Another user from the same address, and the same user from elsewhere, are not locked.
    assert dashboard_login(Client(), "nam2", PASSWORD, REMOTE_ADDR="10.0.0.1").status_code == 302
    assert dashboard_login(Client(), "nam1", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302


def test_admin_login_locks_too():
    AdminUserFactory(username="root")
    client = Client()
    for _ in range(LIMIT - 1):
        assert admin_login(client, "root", "wrong").status_code == 200
    assert_locked_page(admin_login(client, "root", "wrong"))
    assert_locked_page(admin_login(client, "root", PASSWORD))
    end_cooloff("root")
    response = admin_login(client, "root", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_token_endpoint_locks_with_a_json_message():
    UserFactory(username="lead")
    api = APIClient()
    for _ in range(LIMIT - 1):
        refused = api.post(TOKEN_URL, {"username": "lead", "password": "wrong"}, format="json")
        assert refused.status_code == 400
        assert "password" in refused.json()
    locked = api.post(TOKEN_URL, {"username": "lead", "password": "wrong"}, format="json")
    assert locked.status_code == 429
    assert set(locked.json()) == {"detail"}
    assert LOCKED in locked.json()["detail"]
    assert 0 < int(locked["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()

    still = api.post(TOKEN_URL, {"username": "lead", "password": PASSWORD}, format="json")
    assert still.status_code == 429
    assert LOCKED in still.json()["detail"]
    assert not Token.objects.exists()

    end_cooloff("lead")
    issued = api.post(TOKEN_URL, {"username": "lead", "password": PASSWORD}, format="json")
    assert issued.status_code == 200
    assert issued.json()["token"] == Token.objects.get(user__username="lead").key


def test_a_lockout_on_one_entry_point_holds_on_the_others():
    UserFactory(username="nam1")
    api = APIClient()
    for _ in range(LIMIT):
        api.post(TOKEN_URL, {"username": "nam1", "password": "wrong"}, format="json")
    assert_locked_page(dashboard_login(Client(), "nam1", PASSWORD))
    assert_locked_page(admin_login(Client(), "nam1", PASSWORD))


def test_an_admin_resets_a_lockout():
    UserFactory(username="nam1")
    client = Client()
    for _ in range(LIMIT):
        dashboard_login(client, "nam1", "wrong")
    assert dashboard_login(client, "nam1", PASSWORD).status_code == 429
    # The admin lists the attempts (and may delete them there) ...
    admin = Client()
    admin.force_login(AdminUserFactory())
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "nam1" in listing.content.decode()
    # ... or runs the command.
    call_command("axes_reset_username", "nam1", verbosity=0)
    assert not AccessAttempt.objects.filter(username="nam1").exists()
    assert dashboard_login(client, "nam1", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "10.0.0.9", "", "10.0.0.9"),
        (0, "10.0.0.9", "1.2.3.4", "10.0.0.9"),  # no proxy trusted: the header is ignored
        (1, "10.0.0.9", "1.2.3.4", "1.2.3.4"),
        (1, "10.0.0.9", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client's own claim is skipped
        (2, "10.0.0.9", "6.6.6.6, 1.2.3.4, 10.0.0.8", "1.2.3.4"),
        (2, "10.0.0.9", "1.2.3.4", "10.0.0.9"),  # fewer hops than proxies: not trusted
    ],
)
def test_client_ip_behind_trusted_proxies(settings, proxies, remote, forwarded, expected):
    settings.KAM_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
