"""Logging an interaction from the account page, with and without htmx."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from relationships.models import Interaction
from relationships.services import interaction_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def post_url(account) -> str:
    return f"/accounts/{account.pk}/interactions/"


def valid_data(**overrides) -> dict:
    data = {
        "kind": "call",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "summary": "Discussed the 2027 frame contract",
        "sentiment": "1",
    }
    return data | overrides


def test_htmx_post_saves_and_returns_the_timeline(login, portfolio, nam1):
    account = portfolio["alpha"]
    contact = ContactFactory(customer=account.customer, name="Julia Buyer")
    response = login("nam1").post(post_url(account), valid_data(contacts=[contact.pk]), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="interactions"' in html
    assert "Discussed the 2027 frame contract" in html
    assert "Interaction saved." in html
    assert "<html" not in html  # a fragment, not a page
    interaction = Interaction.objects.get(account=account)
    assert interaction.author == nam1.user
    assert interaction.kind == "call"
    assert interaction.sentiment == 1
    assert list(interaction.contacts.all()) == [contact]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"summary": "   "}, "summary", "This field is required."),
        ({"kind": "telepathy"}, "kind", "Select a valid choice."),
        ({"sentiment": "7"}, "sentiment", "Select a valid choice."),
        ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date/time."),
        (
            {
                "occurred_at": (timezone.localtime() + dt.timedelta(days=3)).strftime(
                    "%Y-%m-%dT%H:%M"
                )
            },
            "occurred_at",
            "An interaction cannot be in the future.",
        ),
    ],
)
def test_validation_errors_are_inline_and_keep_the_input(
    login, portfolio, overrides, field, message
):
    account = portfolio["alpha"]
    response = login("nam1").post(post_url(account), valid_data(**overrides), **HTMX)
    assert response.status_code == 200
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    if field != "summary":
        assert "Discussed the 2027 frame contract" in html  # nothing lost
    assert not Interaction.objects.exists()


def test_contact_of_another_customer_is_refused(login, portfolio):
    other = ContactFactory()
    response = login("nam1").post(
        post_url(portfolio["alpha"]), valid_data(contacts=[other.pk]), **HTMX
    )
    assert "contacts" in response.context["form"].errors
    assert not Interaction.objects.exists()


def test_without_htmx_success_redirects_and_errors_render_the_page(login, portfolio):
    account = portfolio["alpha"]
    client = login("nam1")
    response = client.post(post_url(account), valid_data())
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    response = client.post(post_url(account), valid_data(summary=""))
    assert response.status_code == 200
    assert b"<h1" in response.content
    assert b"This field is required." in response.content


def test_cannot_log_on_invisible_account_or_anonymously(client, login, portfolio):
    hidden = portfolio["hidden"]
    assert client.post(post_url(hidden), valid_data()).status_code == 302
    assert login("nam1").post(post_url(hidden), valid_data(), **HTMX).status_code == 404
    assert login("nam1").get(post_url(portfolio["alpha"])).status_code == 405
    assert not Interaction.objects.exists()


def test_service_refuses_foreign_contacts(portfolio, nam1):
    with pytest.raises(ValidationError):
        interaction_create(
            account=portfolio["alpha"],
            author=nam1.user,
            kind="call",
            occurred_at=timezone.now(),
            summary="x",
            sentiment=0,
            contacts=[ContactFactory()],
        )
