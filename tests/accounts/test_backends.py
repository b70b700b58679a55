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


def test_postgres_sessions_run_without_jit_and_with_ssd_page_costs():
    """Compiling a query crossing jit_above_cost cost more than running it, and the default
    random_page_cost turned index lookups into table scans (kam.settings.base.postgres_session)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"


def test_session_settings_keep_the_environments_pgoptions_last(monkeypatch):
    from kam.settings.base import postgres_session

    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=1500 -c random_page_cost=2")
    config = postgres_session({"ENGINE": "django.db.backends.postgresql", "OPTIONS": {}})
    assert config["OPTIONS"]["options"] == (
        "-c jit=off -c random_page_cost=1.1 -c lock_timeout=1500 -c random_page_cost=2"
    )
    assert postgres_session({"ENGINE": "django.db.backends.sqlite3"}) == {
        "ENGINE": "django.db.backends.sqlite3"
    }


def test_a_later_option_overrides_the_session_settings():
    """The last `-c` of a setting wins, so an operator can still tune it (PGOPTIONS, or options
    in DATABASE_URL)."""
    import psycopg2

    from kam.settings.base import postgres_session

    db = connection.settings_dict
    config = postgres_session({"ENGINE": "django.db.backends.postgresql", "OPTIONS": {}})
    config["OPTIONS"]["options"] += " -c random_page_cost=2"
    with (
        psycopg2.connect(
            dbname=db["NAME"],
            user=db["USER"],
            host=db["HOST"],
            port=db["PORT"],
            **config["OPTIONS"],
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "2"
    conn.close()
