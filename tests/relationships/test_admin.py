"""The admin for the relationships app."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from relationships.models import AccountPlan, Interaction, PlanAction, ServiceCase
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    ContactFactory,
    InteractionFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _url(model_name: str, view: str, *args) -> str:
    return reverse(f"admin:relationships_{model_name}_{view}", args=args)


def _inline(prefix: str, *rows: dict) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data |= {f"{prefix}-{i}-{name}": value for name, value in row.items()}
    return data


@pytest.mark.parametrize(
    ("model_name", "factory"),
    [("interaction", InteractionFactory), ("planaction", PlanActionFactory)],
)
def test_changelist_queries_do_not_grow_with_rows(admin_client, model_name, factory):
    url = _url(model_name, "changelist")
    factory.create_batch(5)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as five_rows:
        admin_client.get(url)
    factory.create_batch(25)
    with CaptureQueriesContext(connection) as thirty_rows:
        response = admin_client.get(url)

    assert response.context["cl"].result_count == 30
    assert len(thirty_rows) == len(five_rows)


def test_interactions_are_filtered_without_reading_every_row(admin_client):
    """Sentiments and date ranges are fixed choices: on 730,000 interactions the default filter
    and the date hierarchy each read every row on every page."""
    glad = InteractionFactory(sentiment=2)
    InteractionFactory(sentiment=-1)
    url = _url("interaction", "changelist")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"]]
    changelist = response.context["cl"]
    sentiment = next(spec for spec in changelist.filter_specs if spec.title == "sentiment")
    assert [c["display"] for c in sentiment.choices(changelist)] == [
        "All",
        "-2",
        "-1",
        "0",
        "+1",
        "+2",
    ]
    assert list(admin_client.get(url, {"sentiment": "2"}).context["cl"].result_list) == [glad]
    assert admin_client.get(url, {"sentiment": "very"}).status_code == 302  # "?e=1", no error


def test_plan_is_saved_with_its_objectives_inline(admin_client):
    account = AccountFactory()

    response = admin_client.post(
        _url("accountplan", "add"),
        {
            "account": account.pk,
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
            "strategy": "Grow share of wallet",
            "status": "active",
            **_inline(
                "objectives",
                {"description": "Win the second plant", "status": "active", "due_on": ""},
            ),
        },
    )

    assert response.status_code == 302
    plan = AccountPlan.objects.get()
    assert [o.description for o in plan.objectives.all()] == ["Win the second plant"]


def test_model_clean_message_shows_on_the_plan_action_form(admin_client):
    objective = PlanObjectiveFactory()

    response = admin_client.post(
        _url("planaction", "add"),
        {
            "objective": objective.pk,
            "description": "Site visit",
            "owner": "",
            "due_on": "2026-03-01",
            "status": "done",
            "done_on": "",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "done_on": ["A done action needs the date it was done."]
    }
    assert not PlanAction.objects.exists()


def test_service_case_closed_before_opened_is_a_field_error_not_a_500(admin_client):
    account = AccountFactory()

    response = admin_client.post(
        _url("servicecase", "add"),
        {
            "account": account.pk,
            "subject": "Late delivery",
            "severity": "high",
            "status": "closed",
            "opened_at_0": "2026-06-02",
            "opened_at_1": "10:00:00",
            "closed_at_0": "2026-06-01",
            "closed_at_1": "10:00:00",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"closed_at": ["A case cannot close before it opened."]}
    assert not ServiceCase.objects.exists()


def test_interaction_is_saved_with_its_contacts(admin_client):
    account = AccountFactory()
    contacts = ContactFactory.create_batch(2, customer=account.customer)

    response = admin_client.post(
        _url("interaction", "add"),
        {
            "account": account.pk,
            "kind": "meeting",
            "occurred_at_0": "2026-06-01",
            "occurred_at_1": "10:00:00",
            "author": "",
            "contacts": [c.pk for c in contacts],
            "summary": "Quarterly review",
            "sentiment": "1",
        },
    )

    assert response.status_code == 302
    assert set(Interaction.objects.get().contacts.all()) == set(contacts)


def test_manager_sees_only_the_interactions_of_their_portfolio(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="relationships", codename="view_interaction"
        )
    )
    manager = AccountManagerFactory(user=user)
    mine = InteractionFactory(account=AccountFactory(owner=manager))
    other = InteractionFactory(occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    client.force_login(user)

    listing = client.get(_url("interaction", "changelist"))
    hidden = client.get(_url("interaction", "change", other.pk))

    assert list(listing.context["cl"].result_list) == [mine]
    assert hidden.status_code == 302  # the admin's "does not exist" redirect
