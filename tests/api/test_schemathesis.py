"""Schemathesis over every operation of the API, as a national account manager (nam1) and as a
sales lead (lead), with all of Schemathesis's default checks: no server error, status codes,
content types, response headers and bodies exactly as the OpenAPI schema says, invalid input
rejected and valid input accepted.

- The schema is loaded from the application itself (`/api/schema/` through Django's WSGI
  handler, in process, on the test database); if it cannot be loaded the test fails.
- The data is built once for the module: `seed_demo` with 40 accounts and the demo users (fixed
  seed and reference date) plus a classification run, inside a transaction that is rolled back
  when the module ends.
- Every generated request runs in its own savepoint that is rolled back afterwards, so each case
  starts from the same seeded data (reproducible with `derandomize`), a database error in one
  case cannot poison the next, and `DELETE /api/v1/auth/token/` (revoking the caller's own token)
  can be fuzzed like the rest: no operation is excluded.
- The throttle counters are reset before every request: the run sends far more than the per-user
  rate in a minute, and a 429 would hide the endpoint from the fuzzer (429 is documented on every
  operation and checked by the permission tests).

Status: the run still finds failures (invalid list parameters accepted, related ids the fuzzer
cannot know answered 400, the router root in the schema; see issue 4's note). Until they are
fixed the module is marked `fuzz`, which `make test` deselects; run it with `make fuzz`.
"""

from datetime import date

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.cache import cache
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from classification import services as classification_services
from classification.models import ClassificationRun

REFERENCE_DATE = date(2026, 3, 31)
ROLES = ("nam1", "lead")


@pytest.fixture(scope="module")
def fuzz_tokens(django_db_setup, django_db_blocker):
    """The demo portfolio and an API token per role, built once and rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command(
            "seed_demo",
            accounts=40,
            months=12,
            seed=11,
            reference_date=REFERENCE_DATE.isoformat(),
            demo_users=True,
            verbosity=0,
        )
        run, _ = classification_services.run_request(
            trigger=ClassificationRun.Trigger.MANUAL, dispatch=False
        )
        classification_services.run_execute(run_id=run.pk)
        users = get_user_model().objects.filter(username__in=ROLES)
        tokens = {user.username: Token.objects.create(user=user).key for user in users}
        assert sorted(tokens) == sorted(ROLES)
        # Django's WSGI handler closes the connection after every request (as its test client
        # does not); here that would end the test transaction. Same as django.test.Client.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            yield tokens
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
            transaction.set_rollback(True)


# Loaded while the module is collected, from the application itself: a schema that cannot be
# built or served is a collection error, which fails the run.
pytestmark = pytest.mark.fuzz

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def test_the_schema_has_every_operation():
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60, len(operations)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, role, fuzz_tokens):
    cache.clear()
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Token {fuzz_tokens[role]}"})
        transaction.set_rollback(True)
