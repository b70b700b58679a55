import datetime as dt
from decimal import Decimal

import pytest

from classification.models import ClassificationRun
from classification.selectors import current_classifications
from relationships.selectors import portfolio_summary
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    ClassificationResultFactory,
    ExchangeRateFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    SalesLeadFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 1)


def sale(account, when, amount, kind="sale"):
    return TransactionFactory(
        account=account, date=when, kind=kind, quantity=Decimal(1), unit_price=Decimal(amount)
    )


@pytest.fixture
def team():
    lead = SalesLeadFactory()
    nam1 = AccountManagerFactory(reports_to=lead)
    nam2 = AccountManagerFactory(reports_to=lead)
    a1 = AccountFactory(owner=nam1, is_key_account=True)
    a2 = AccountFactory(owner=nam2, status="prospect")
    sale(a1, dt.date(2026, 10, 1), 1000)
    sale(a1, dt.date(2026, 10, 2), 100, kind="return")
    sale(a1, dt.date(2025, 10, 1), 500)  # previous 12 months
    sale(a2, dt.date(2026, 5, 1), 300)
    sale(a2, dt.date(2026, 5, 2), 50, kind="credit_note")
    sale(a2, dt.date(2026, 5, 3), 999, kind="purchase")  # not a sale
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2026, 1, 1), rate=Decimal("0.5"))
    OpportunityFactory(account=a1, value=Decimal(1000), currency="USD", stage="proposal")
    OpportunityFactory(account=a2, value=Decimal(200), stage="won")
    objective = PlanObjectiveFactory(plan__account=a1)
    PlanActionFactory(objective=objective, due_on=dt.date(2026, 10, 1))  # overdue
    PlanActionFactory(objective=objective, due_on=dt.date(2026, 12, 1))  # not yet due
    return {"lead": lead, "nam1": nam1, "nam2": nam2, "a1": a1, "a2": a2}


def test_portfolio_summary_of_a_manager_counts_only_their_accounts(team):
    summary = portfolio_summary(user=team["nam1"].user, reference_date=TODAY)
    assert summary["revenue_12m"] == Decimal("900.00")
    assert summary["revenue_prev_12m"] == Decimal("500.00")
    assert summary["revenue_change"] == Decimal("0.8")
    assert summary["accounts"] == {
        "by_level": {"national": 1},
        "by_status": {"active": 1},
        "key_accounts": 1,
        "total": 1,
    }
    assert summary["open_opportunities_value"] == Decimal("500.00")
    assert summary["overdue_actions"] == 1


def test_portfolio_summary_of_a_lead_covers_the_team_in_few_queries(
    team, django_assert_max_num_queries
):
    user = team["lead"].user
    user.manager  # noqa: B018 - loaded by the request in real use
    with django_assert_max_num_queries(7):
        summary = portfolio_summary(user=user, reference_date=TODAY)
    assert summary["revenue_12m"] == Decimal("1150.00")
    assert summary["accounts"]["total"] == 2
    assert summary["accounts"]["by_status"] == {"active": 1, "prospect": 1}


def test_current_classifications_of_a_page_with_overrides(team):
    run = ClassificationRun.objects.create(
        trigger="manual", reference_date=TODAY, status="succeeded"
    )
    ClassificationResultFactory(
        run=run,
        account=team["a1"],
        model="four_s",
        segment="star",
        axes={"a": 60, "b": 40},
        current=True,
    )
    team["a1"].overrides.create(model="four_s", segment="strategic", reason="Board decision")
    found = current_classifications(account_ids=[team["a1"].pk, team["a2"].pk])
    assert found == {
        team["a1"].pk: {
            "four_s": {
                "segment": "star",
                "axes": {"a": 60, "b": 40},
                "flags": [],
                "override": {"segment": "strategic", "reason": "Board decision"},
            }
        }
    }
