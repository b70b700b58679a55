"""Schemathesis over every operation of the API, as a national account manager (nam1) and as a
sales lead (lead), with all of Schemathesis's default checks: no server error, status codes,
content types, response headers and bodies exactly as the OpenAPI schema says, invalid input
rejected and valid input accepted.

- The schema is loaded from the application itself (`/api/schema/` through Django's WSGI
  handler, in process, on the test database); if it cannot be loaded the test fails.
- The data is built once for the module: `seed_demo` with 40 accounts and the demo users (fixed
  seed and reference date), a classification run and an override, inside a transaction that is
  rolled back when the module ends. Each role sees rows of every collection (asserted).
- Every generated request runs in its own savepoint that is rolled back afterwards, so each case
  starts from the same seeded data (reproducible with `derandomize`), a database error in one
  case cannot poison the next, and `DELETE /api/v1/auth/token/` (revoking the caller's own token)
  can be fuzzed like the rest: no operation is excluded.
- Valid input must be accepted (`positive_data_acceptance`), but an id made up by the fuzzer
  (`"account": 0`) is rightly answered 400 ("not found in your portfolio"). So in the parts of a
  case generated as valid (never in a part generated as invalid), the related ids of a request
  body (`account`, `customer`, `plan`, `objective`, `product_line`, `contacts`, `owner`,
  `manager`) and the `{id}` of a path are replaced by ids the caller sees: listed once per role
  through the API itself, and chosen from the generated value, so the run stays reproducible.
- A few operations enforce business rules across fields that a schema cannot express, so a
  schema-valid body may rightly be refused with 400. For those operations only (BUSINESS_RULES),
  a 400 on valid data is accepted if, and only if, every message is on the fields of the rule
  named there; any other 400 still fails `positive_data_acceptance`, and every other check runs
  unchanged.
- Who sends what (`_roles_for`): each case that Schemathesis generates (fuzzing, 8 per
  operation, valid and invalid) is sent by both roles, each with the ids it sees. The coverage
  phase (a deterministic list, about 64 cases per operation, the same for every caller: every
  property with every wrong JSON type, boundaries, missing and extra fields, unexpected methods)
  is sent once, each case by one role or the other (chosen from the case, so both roles get
  about half of every operation's list). Before, every case went to both roles: 14,772 cases.
- `ignored_auth` probes an operation (no token, a made-up token: both must be refused) on its
  first 2xx, then trusts it, as the Schemathesis CLI does (`ignored_auth_once`); through pytest
  it probed after every 2xx, 10,300 of the 25,000 requests.
- The throttle counters are reset before every request: the run sends far more than the per-user
  rate in a minute, and a 429 would hide the endpoint from the fuzzer (429 is documented on every
  operation and checked by the permission tests).

The module is marked `fuzz` so that `make fuzz` can run it alone; `make test` runs it too.
"""

import json
import zlib
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
from rest_framework.test import APIClient
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from accounts.models import Account
from classification import services as classification_services
from classification.models import ClassificationRun

REFERENCE_DATE = date(2026, 3, 31)
ROLES = ("nam1", "lead")
API = "/api/v1/"
# Related-id fields of the request bodies -> the collection their ids come from.
BODY_ID_FIELDS = {
    "account": "accounts",
    "customer": "customers",
    "plan": "plans",
    "objective": "plan-objectives",
    "product_line": "product-lines",
    "contacts": "contacts",
    "owner": "managers",
    "manager": "managers",
}


# Cross-field rules, per operation: the fields a 400 on schema-valid data may name.
_PERIOD = {"period_end"}  # a plan's period cannot end before it starts
_INVESTMENT = {"end_date"}  # an investment's "until" cannot be before its "from"
_MEMBERSHIP = {"end_date"}  # and a team membership's
_ACTION = {"done_on"}  # only a done action has a done date (and a done one needs it)
_CASE = {"closed_at"}  # a service case cannot close before it opened
_CONTACTS = {"contacts"}  # an interaction's contacts work at the account's customer
BUSINESS_RULES = {
    # Wrong credentials: the schema says what a login looks like, not which passwords exist.
    "POST /api/v1/auth/token/": {"password", "username", "non_field_errors"},
    # A well-formed import whose rows break the rules is refused as a whole, row by row.
    "POST /api/v1/transactions/import/": {"detail", "errors", "error_count", "total_rows"},
    # Quantity must be above zero, the currency needs an exchange rate on or before the date,
    # and quantity x unit price must fit the amount (18 digits): rules on the data that the
    # schema cannot express.
    "POST /api/v1/transactions/": {"quantity", "currency", "amount"},
    # The segment must be one of the segments of the override's `model`.
    "POST /api/v1/classification/overrides/": {"segment"},
    # A sales lead may give an account only to a manager of his own team.
    "PUT /api/v1/accounts/{id}/": {"owner"},
    "PATCH /api/v1/accounts/{id}/": {"owner"},
    **{
        f"{m} /api/v1/plans/{s}": _PERIOD
        for m, s in [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
    },
    **{
        f"{m} /api/v1/team-members/{s}": _MEMBERSHIP
        for m, s in [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
    },
    **{
        f"{m} /api/v1/investments/{s}": _INVESTMENT
        for m, s in [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
    },
    **{
        f"{m} /api/v1/plan-actions/{s}": _ACTION
        for m, s in [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
    },
    **{
        f"{m} /api/v1/service-cases/{s}": _CASE
        for m, s in [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
    },
    **{
        f"{m} /api/v1/interactions/{s}": _CONTACTS
        for m, s in [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
    },
}
# Plausible dates (relationships/dates.py): none before 1900, what happened not in the future,
# planned dates at most 50 years ahead. A schema cannot say "today".
_DATES = {
    "interactions": {"occurred_at"},
    "needs": {"identified_on"},
    "assessments": {"assessed_on"},
    "opportunities": {"expected_close"},
    "plans": {"period_start", "period_end"},
    "plan-objectives": {"due_on"},
    "plan-actions": {"due_on", "done_on"},
    "investments": {"start_date", "end_date"},
    "service-cases": {"opened_at", "closed_at"},
}
for _resource, _fields in _DATES.items():
    for _label in (
        f"{m} /api/v1/{_resource}/{s}"
        for m, s in [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
    ):
        BUSINESS_RULES[_label] = BUSINESS_RULES.get(_label, set()) | _fields
BUSINESS_RULES["POST /api/v1/plan-actions/{id}/done/"] = {"done_on"}
BUSINESS_RULES["POST /api/v1/transactions/"] |= {"date"}


def business_rule_or_positive_data_acceptance(ctx, response, case):
    """`positive_data_acceptance`, except a 400 naming only the fields of the operation's
    business rule (BUSINESS_RULES)."""
    meta = case.meta
    if response.status_code == 400 and meta is not None and meta.generation.mode.is_positive:
        try:
            fields = set(json.loads(response.content))
        except (ValueError, TypeError):
            fields = set()
        if fields and fields <= BUSINESS_RULES[case.operation.label]:
            return None
    return positive_data_acceptance(ctx, response, case)


# Operations whose authentication the `ignored_auth` probes have confirmed in this run.
AUTH_CONFIRMED: set[str] = set()


def ignored_auth_once(ctx, response, case):
    """`ignored_auth` as the Schemathesis CLI runs it: the first successful answer of an
    operation is probed without credentials and with a made-up token (both must be refused);
    once an operation has passed, later cases of it are not probed again. (Through pytest the
    probes run after every 2xx: 3 extra requests, 40 % of all requests, for a property of the
    view rather than of the input.)"""
    ctx.auth_enforced_operations = AUTH_CONFIRMED
    return ignored_auth(ctx, response, case)


def _case_key(case) -> bytes:
    """The request a case describes, as stable bytes (the same case on every run)."""
    parts = [case.method, case.path, case.path_parameters, case.query, dict(case.headers or {})]
    parts.append(case.body)
    return json.dumps(parts, sort_keys=True, default=lambda value: type(value).__name__).encode()


def _roles_for(case) -> tuple[str, ...]:
    """Who sends a case. A case of the coverage phase (the same deterministic list of boundary
    values, wrong types, missing and extra fields for every caller) is sent once, by one role
    or the other, chosen from the case itself; a generated one (fuzzing, schema examples) by
    both roles, each with its own visible ids."""
    meta = case.meta
    if meta is None or meta.phase.name != TestPhase.COVERAGE:
        return ROLES
    return (ROLES[zlib.crc32(_case_key(case)) % len(ROLES)],)


def _visible_ids(token: str) -> dict[str, list[int]]:
    """Per collection (`accounts`, `classification/runs`, ...), the ids the caller sees, read
    through the API as that caller (first page of 200)."""
    paths = {op.path for op in (result.ok() for result in schema.get_all_operations())}
    collections = {path.removeprefix(API).split("/{")[0] for path in paths if "/{id}/" in path}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    ids = {}
    for collection in sorted(collections | set(BODY_ID_FIELDS.values())):
        response = client.get(f"{API}{collection}/", {"page_size": 200})
        assert response.status_code == 200, (collection, response.status_code)
        ids[collection] = sorted(row["id"] for row in response.json()["results"])
    cache.clear()
    return ids


def _pick(pool: list[int], generated) -> int | None:
    """A visible id chosen by the generated value (the same case always gets the same id)."""
    if not pool:
        return None
    return pool[zlib.crc32(repr(generated).encode()) % len(pool)]


def _use_visible_ids(case, ids: dict[str, list[int]]) -> None:
    """Replace made-up related ids by visible ones, in the valid parts of the case only."""
    meta = case.meta
    negative_at = meta.is_negative_at if meta is not None else (lambda location: False)
    if "id" in case.path_parameters and not negative_at(ParameterLocation.PATH):
        collection = case.path.removeprefix(API).split("/{")[0]
        picked = _pick(ids.get(collection, []), case.path_parameters["id"])
        if picked is not None:
            case.path_parameters = {**case.path_parameters, "id": picked}
    if isinstance(case.body, dict) and not negative_at(ParameterLocation.BODY):
        body = dict(case.body)
        for name, collection in BODY_ID_FIELDS.items():
            value = body.get(name)
            pool = ids.get(collection, [])
            if isinstance(value, bool) or not pool:
                continue
            if isinstance(value, int):
                body[name] = _pick(pool, value)
            elif isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                body[name] = sorted({_pick(pool, (name, i, v)) for i, v in enumerate(value)})
        if body != case.body:
            case.body = body


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
        # seed_demo sets no override: one on a nam1 account (which the lead sees too), so
        # `/classification/overrides/{id}/` has something to read.
        nam1_account = Account.objects.filter(owner__user__username="nam1").earliest("pk")
        classification_services.override_create(
            account=nam1_account, model="four_s", segment="star", reason="Board decision"
        )
        users = get_user_model().objects.filter(username__in=ROLES)
        tokens = {user.username: Token.objects.create(user=user).key for user in users}
        assert sorted(tokens) == sorted(ROLES)
        visible = {role: _visible_ids(token) for role, token in tokens.items()}
        # Every collection has rows each role sees: a positive case never falls back to a
        # made-up id (which would answer 404, an accepted status, and test nothing).
        empty = [(r, c) for r, ids in visible.items() for c, pool in ids.items() if not pool]
        assert not empty, empty
        # Django's WSGI handler closes the connection after every request (as its test client
        # does not); here that would end the test transaction. Same as django.test.Client.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            yield tokens, visible
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
@schema.parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, fuzz_tokens):
    tokens, visible = fuzz_tokens
    for role in _roles_for(case):
        role_case = case.derive()
        _use_visible_ids(role_case, visible[role])
        cache.clear()
        checks = {"excluded_checks": [ignored_auth], "additional_checks": [ignored_auth_once]}
        if case.operation.label in BUSINESS_RULES:
            checks["excluded_checks"].append(positive_data_acceptance)
            checks["additional_checks"].append(business_rule_or_positive_data_acceptance)
        try:
            with transaction.atomic():
                role_case.call_and_validate(
                    headers={"Authorization": f"Token {tokens[role]}"}, **checks
                )
                transaction.set_rollback(True)
        except Exception as exc:
            exc.add_note(f"(as {role})")
            raise
