"""A small two-manager portfolio under one sales lead, plus a stranger's account."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from classification.models import ClassificationRun
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    ClassificationResultFactory,
    SalesLeadFactory,
    UserFactory,
)

PASSWORD = "pass-word-123"


@pytest.fixture
def lead():
    return SalesLeadFactory(user=UserFactory(username="lead"))


@pytest.fixture
def nam1(lead):
    return AccountManagerFactory(user=UserFactory(username="nam1"), reports_to=lead)


@pytest.fixture
def nam2(lead):
    return AccountManagerFactory(user=UserFactory(username="nam2"), reports_to=lead, country="FR")


@pytest.fixture
def stranger():
    return AccountManagerFactory(user=UserFactory(username="stranger"))


@pytest.fixture
def portfolio(nam1, nam2, stranger):
    return {
        "alpha": AccountFactory(customer__name="Alpha Robotics", owner=nam1, is_key_account=True),
        "beta": AccountFactory(
            customer__name="Beta Foods", owner=nam1, status="dormant", country="AT"
        ),
        "gamma": AccountFactory(customer__name="Gamma Chemicals", owner=nam2, country="FR"),
        "hidden": AccountFactory(customer__name="Hidden Steel", owner=stranger),
    }


@pytest.fixture
def login(client):
    def as_user(username: str):
        # force_login: django-axes needs the request that client.login() does not pass; the
        # login form itself is tested in tests/kam/test_security.py.
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return as_user


@pytest.fixture
def classify():
    """Store current results: classify(account, four_s="strategic", webster="partnership")."""
    run = ClassificationRun.objects.create(
        trigger="manual",
        reference_date=timezone.localdate(),
        status="succeeded",
        finished_at=timezone.now(),
    )

    def store(account, **segments):
        for model, segment in segments.items():
            ClassificationResultFactory(
                run=run,
                account=account,
                model=model,
                segment=segment,
                axes={"a": 70.0, "b": 60.0} if model == "four_s" else {},
                flags=["key_account_candidate"] if model == "four_s" else [],
                explanation=[
                    {
                        "indicator": "wallet_estimate",
                        "raw_value": 910000.0,
                        "points": 74.2,
                        "weight": 0.3,
                        "contribution": 22.3,
                        "axis": "a",
                        "note": "percentile among national accounts",
                    }
                ],
                current=True,
            )

    return store


@pytest.fixture
def today():
    return timezone.localdate()


def months_ago(day: dt.date, months: int) -> dt.date:
    year, month = day.year, day.month - months
    while month <= 0:
        year, month = year - 1, month + 12
    return dt.date(year, month, 15)
