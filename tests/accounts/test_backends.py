"""The user's manager profile comes with the user, on logins and on API tokens (one query)."""

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from accounts.api.auth import ExpiringTokenAuthentication
from accounts.backends import ManagerModelBackend
from tests.factories import AccountManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_session_user_comes_with_the_manager_in_one_query(django_assert_num_queries):
    manager = AccountManagerFactory()
    with django_assert_num_queries(1):
        user = ManagerModelBackend().get_user(manager.user.pk)
        assert user.manager.pk == manager.pk


def test_a_user_without_manager_profile_or_inactive():
    admin = UserFactory(is_superuser=True)
    assert ManagerModelBackend().get_user(admin.pk).pk == admin.pk
    manager = AccountManagerFactory(user__is_active=False)
    assert ManagerModelBackend().get_user(manager.user.pk) is None
    assert ManagerModelBackend().get_user(10**9) is None


def test_token_brings_user_and_manager_in_one_query(django_assert_num_queries):
    manager = AccountManagerFactory()
    token = Token.objects.create(user=manager.user)
    with django_assert_num_queries(1):
        user, found = ExpiringTokenAuthentication().authenticate_credentials(token.key)
        assert (user.manager.pk, found.key) == (manager.pk, token.key)


def test_token_refusals_say_why():
    inactive = AccountManagerFactory(user__is_active=False)
    token = Token.objects.create(user=inactive.user)
    auth = ExpiringTokenAuthentication()
    with pytest.raises(AuthenticationFailed, match=r"^Invalid token\.$"):
        auth.authenticate_credentials("0" * 40)
    with pytest.raises(AuthenticationFailed, match=r"^User inactive or deleted\.$"):
        auth.authenticate_credentials(token.key)


def test_postgres_sessions_run_without_jit():
    """Compiling a query crossing jit_above_cost cost more than running it (kam.settings)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_jit_off_keeps_the_environments_pgoptions(monkeypatch):
    from kam.settings.base import without_jit

    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=1500")
    config = without_jit({"ENGINE": "django.db.backends.postgresql", "OPTIONS": {}})
    assert config["OPTIONS"]["options"] == "-c jit=off -c lock_timeout=1500"
    assert without_jit({"ENGINE": "django.db.backends.sqlite3"}) == {
        "ENGINE": "django.db.backends.sqlite3"
    }
