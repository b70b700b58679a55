"""The account page's growing sections (opportunities, plans, needs, investments, service
cases): what is being worked on is shown in full on any usual account (CURRENT_PAGE_SIZE at a time
on an unusual one), the closed or past rows a page at a time, each with its count; the stage a
"Move" offers first; the recompute message of a sales lead."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from classification.models import ClassificationRun
from dashboard.views import CURRENT_PAGE_SIZE, PAST_PAGE_SIZE
from relationships.models import (
    AccountPlan,
    CustomerNeed,
    Opportunity,
)
from tests.factories import (
    AccountPlanFactory,
    CustomerNeedFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    RelationshipInvestmentFactory,
    ServiceCaseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DASH = "\u2013"  # the en dash of a range of rows


def url(account) -> str:
    return f"/accounts/{account.pk}/"


def more(account) -> str:
    return f"/accounts/{account.pk}/more/"


def _aged(model, rows, newest: dt.datetime) -> None:
    """Give rows (newest first) one day of `updated_at` each, so "latest" is unambiguous."""
    for age, row in enumerate(rows):
        model.objects.filter(pk=row.pk).update(updated_at=newest - dt.timedelta(days=age))


def _titles(rows) -> list[str]:
    return [r.title for r in rows]


# --- opportunities -------------------------------------------------------------------------


@pytest.fixture
def deals(portfolio):
    """Seven open deals, last changed before any of the twelve closed ones (older first)."""
    account = portfolio["alpha"]
    today = timezone.localdate()
    open_ = [
        OpportunityFactory(
            account=account, title=f"Open {i}", expected_close=today + dt.timedelta(days=i)
        )
        for i in range(7)
    ]
    closed = [
        OpportunityFactory(account=account, title=f"Closed {i}", stage="lost" if i % 2 else "won")
        for i in range(12)
    ]
    newest = timezone.now()
    _aged(Opportunity, open_, newest - dt.timedelta(days=100))
    _aged(Opportunity, list(reversed(closed)), newest)  # "Closed 11" is the latest closed
    return account


def test_open_deals_all_shown_closed_ones_a_page_at_a_time(login, deals):
    client = login("nam1")
    response = client.get(url(deals))
    html = response.content.decode()
    # Every open deal, more of them than a page of closed ones, in closing order.
    assert _titles(response.context["opportunities"]) == [f"Open {i}" for i in range(7)]
    closed = response.context["closed_opportunities"]
    assert _titles(closed.rows) == [f"Closed {i}" for i in (11, 10, 9, 8, 7)]
    assert (closed.total, closed.number, closed.num_pages, closed.has_next) == (12, 1, 3, True)
    assert "Open 6" in html
    assert "Closed 11" in html
    assert "Closed 6" not in html
    assert 'Won and lost <span class="count">12</span>' in html
    assert f"Showing 1{DASH}5 of 12 won and lost opportunities, latest first." in html
    assert "Page 1 of 3" in html
    assert 'href="?opp_page=2#opportunities-closed" rel="next"' in html
    # Closed deals are not moved any more: no stage form on them.
    for o in closed.rows:
        assert f'data-testid="stage-form-{o.pk}"' not in html

    second = client.get(url(deals), {"opp_page": 2})
    assert len(second.context["opportunities"]) == 7  # open deals on every page
    closed = second.context["closed_opportunities"]
    assert _titles(closed.rows) == [f"Closed {i}" for i in (6, 5, 4, 3, 2)]
    html = second.content.decode()
    assert f"Showing 6{DASH}10 of 12" in html
    assert 'href="?opp_page=1#opportunities-closed" rel="prev"' in html
    assert 'href="?opp_page=3#opportunities-closed" rel="next"' in html

    last = client.get(url(deals), {"opp_page": 3}).context["closed_opportunities"]
    assert (_titles(last.rows), last.has_next, last.has_previous) == (
        ["Closed 1", "Closed 0"],
        False,
        True,
    )
    beyond = client.get(url(deals), {"opp_page": 9})
    assert beyond.context["closed_opportunities"].rows == []
    assert len(beyond.context["opportunities"]) == 7
    assert "No won and lost opportunities on this page." in beyond.content.decode()
    for bad in ("x", "-1", "9" * 40):
        assert client.get(url(deals), {"opp_page": bad}).status_code == 200


def test_the_other_pagers_keep_their_page(login, deals):
    html = login("nam1").get(url(deals), {"opp_page": 2, "tx_page": 3}).content.decode()
    assert 'href="?opp_page=3&amp;tx_page=3#opportunities-closed"' in html


def test_a_deal_just_lost_tops_the_closed_ones(login, deals):
    moved = Opportunity.objects.get(title="Open 3")
    response = login("nam1").post(
        f"/accounts/{deals.pk}/opportunities/{moved.pk}/stage/", {"stage": "lost"}, **HTMX
    )
    assert "Open 3 moved." in response.content.decode()
    assert "Open 3" not in _titles(response.context["opportunities"])
    closed = response.context["closed_opportunities"]
    assert (closed.rows[0].title, closed.total) == ("Open 3", 13)


def test_a_thousand_lost_deals_do_not_grow_the_page(
    login, portfolio, nam1, django_assert_max_num_queries
):
    """The QA case: 1,000 lost opportunities on one account, opened by the sales lead."""
    account = portfolio["alpha"]
    Opportunity.objects.bulk_create(
        Opportunity(account=account, title=f"Lost {i}", stage="lost", value=1, owner=nam1)
        for i in range(1000)
    )
    OpportunityFactory(account=account, title="Still open")
    client = login("lead")
    with django_assert_max_num_queries(15):
        response = client.get(url(account))
    html = response.content.decode()
    assert "Still open" in html
    assert len(re.findall(r">Lost \d+<", html)) == PAST_PAGE_SIZE
    assert 'Won and lost <span class="count">1,000</span>' in html
    assert "Page 1 of 200" in html
    assert len(response.content) < 60_000  # was 267 KB with every row


def test_a_thousand_open_deals_are_shown_a_page_at_a_time(
    login, portfolio, nam1, django_assert_max_num_queries
):
    """Open rows are what the manager works on, but an account with a thousand of them must not
    make a page of a thousand forms: CURRENT_PAGE_SIZE at a time, in closing order, with their
    own pager beside the closed ones'."""
    account = portfolio["alpha"]
    today = timezone.localdate()
    Opportunity.objects.bulk_create(
        Opportunity(
            account=account,
            title=f"Deal {i:04}",
            stage="qualified",
            value=1,
            owner=nam1,
            expected_close=today + dt.timedelta(days=i),
        )
        for i in range(1000)
    )
    OpportunityFactory(account=account, title="Lost one", stage="lost")
    client = login("nam1")
    with django_assert_max_num_queries(15):
        response = client.get(url(account))
    shown = response.context["open_opportunities"]
    assert _titles(shown.rows) == [f"Deal {i:04}" for i in range(CURRENT_PAGE_SIZE)]
    assert (shown.total, shown.num_pages, shown.has_next) == (1000, 20, True)
    assert response.context["opportunities"] == shown.rows
    html = response.content.decode()
    assert f"Showing 1{DASH}50 of 1,000 open opportunities, earliest close first." in html
    assert 'href="?opp_open_page=2#opportunities" rel="next"' in html
    assert "Deal 0050" not in html
    assert "Lost one" in html  # the closed ones keep their own pager
    assert response.context["closed_opportunities"].total == 1

    second = client.get(url(account), {"opp_open_page": 2, "opp_page": 1})
    assert _titles(second.context["opportunities"]) == [f"Deal {i:04}" for i in range(50, 100)]
    assert _titles(second.context["closed_opportunities"].rows) == ["Lost one"]
    assert 'href="?opp_open_page=1&amp;opp_page=1#opportunities" rel="prev"' in (
        second.content.decode()
    )
    beyond = client.get(url(account), {"opp_open_page": 99})
    assert beyond.context["opportunities"] == []
    assert "No open opportunities on this page." in beyond.content.decode()


def _many_open(section: str, account, count: int) -> None:
    today = timezone.localdate()
    for i in range(count):
        if section == "needs":
            CustomerNeedFactory(
                account=account,
                description=f"Open {i:02}",
                status="open",
                identified_on=today - dt.timedelta(days=i),
            )
        elif section == "investments":
            RelationshipInvestmentFactory(
                account=account,
                description=f"Open {i:02}",
                start_date=today - dt.timedelta(days=i),
                end_date=None,
            )
        elif section == "service_cases":
            ServiceCaseFactory(
                account=account,
                subject=f"Open {i:02}",
                opened_at=timezone.now() - dt.timedelta(days=i),
            )
        else:
            AccountPlanFactory(
                account=account,
                strategy=f"Open {i:02}",
                period_start=dt.date(2026, 1, 1) - dt.timedelta(days=i),
            )


@pytest.mark.parametrize(
    ("section", "page_key", "param", "what", "text"),
    [
        ("needs", "open_needs", "needs_open_page", "open needs", "description"),
        (
            "investments",
            "running_investments",
            "inv_open_page",
            "running investments",
            "description",
        ),
        ("service_cases", "open_service_cases", "cases_open_page", "open service cases", "subject"),
        ("plans", "open_plans", "plans_open_page", "current plans", "strategy"),
    ],
)
def test_every_sections_open_rows_are_paged_too(
    login, portfolio, section, page_key, param, what, text
):
    account = portfolio["alpha"]
    _many_open(section, account, CURRENT_PAGE_SIZE + 3)
    client = login("nam1")
    path = url(account) if section == "plans" else more(account)
    response = client.get(path)
    shown = response.context[page_key]
    assert [getattr(r, text) for r in shown.rows] == [
        f"Open {i:02}" for i in range(CURRENT_PAGE_SIZE)
    ]
    assert (shown.total, shown.has_next) == (CURRENT_PAGE_SIZE + 3, True)
    html = response.content.decode()
    assert f"Showing 1{DASH}50 of 53 {what}" in html
    assert f'href="?{param}=2#' in html
    second = client.get(path, {param: 2}).context[page_key]
    assert [getattr(r, text) for r in second.rows] == ["Open 50", "Open 51", "Open 52"]
    assert not second.has_next


def test_no_opportunities_at_all(login, portfolio):
    html = login("nam1").get(url(portfolio["alpha"])).content.decode()
    assert "No opportunities." in html
    assert "Won and lost" not in html
    assert 'aria-label="Won and lost opportunity pages"' not in html


def test_closed_deals_only(login, portfolio):
    OpportunityFactory(account=portfolio["alpha"], title="Done deal", stage="won")
    html = login("nam1").get(url(portfolio["alpha"])).content.decode()
    assert "No open opportunities." in html
    assert "Done deal" in html
    assert 'Won and lost <span class="count">1</span>' in html
    assert "Page 1" not in html  # one page: no pager


# --- the stage a "Move" offers first --------------------------------------------------------


def _selected(html: str, opp) -> list[str]:
    select = html.split(f'id="stage-{opp.pk}"')[1].split("</select>")[0]
    return re.findall(r'<option value="(\w+)" selected>', select)


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("identified", "qualified"),
        ("qualified", "proposal"),
        ("proposal", "negotiation"),  # was "identified": a quick Move demoted the deal
        ("negotiation", "won"),
    ],
)
def test_move_offers_the_next_stage(login, portfolio, stage, expected):
    opp = OpportunityFactory(account=portfolio["alpha"], stage=stage)
    html = login("nam1").get(url(portfolio["alpha"])).content.decode()
    assert _selected(html, opp) == [expected]


def test_move_with_an_error_keeps_the_stage_chosen(login, portfolio):
    account = portfolio["alpha"]
    opp = OpportunityFactory(account=account, stage="proposal")
    other = OpportunityFactory(account=account, stage="identified")
    response = login("nam1").post(
        f"/accounts/{account.pk}/opportunities/{opp.pk}/stage/", {"stage": "nowhere"}, **HTMX
    )
    html = response.content.decode()
    assert _selected(html, opp) == []  # what was posted (not a stage) stays; no default over it
    assert _selected(html, other) == ["qualified"]


def test_moving_a_deal_closed_meanwhile_and_not_shown_says_why(login, portfolio):
    account = portfolio["alpha"]
    stale = OpportunityFactory(account=account, title="Stale", stage="lost")
    for i in range(PAST_PAGE_SIZE):
        OpportunityFactory(account=account, title=f"Later {i}", stage="won")
    Opportunity.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - dt.timedelta(30))
    response = login("nam1").post(
        f"/accounts/{account.pk}/opportunities/{stale.pk}/stage/", {"stage": "won"}, **HTMX
    )
    assert "Stale" not in _titles(response.context["closed_opportunities"].rows)
    assert "closed already" in response.content.decode()


# --- plans ----------------------------------------------------------------------------------


def test_current_plans_all_shown_closed_ones_a_page_at_a_time(
    login, portfolio, django_assert_max_num_queries
):
    account = portfolio["alpha"]
    active = AccountPlanFactory(account=account, period_start=dt.date(2026, 1, 1))
    draft = AccountPlanFactory(
        account=account,
        status=AccountPlan.Status.DRAFT,
        period_start=dt.date(2027, 1, 1),
        period_end=dt.date(2027, 12, 31),
    )
    PlanActionFactory(
        objective=PlanObjectiveFactory(plan=active, description="Grow"), description="Call"
    )
    for year in range(2010, 2017):  # seven closed plans, each with an objective and an action
        plan = AccountPlanFactory(
            account=account,
            status=AccountPlan.Status.CLOSED,
            period_start=dt.date(year, 1, 1),
            period_end=dt.date(year, 12, 31),
            strategy=f"Strategy {year}",
        )
        PlanActionFactory(
            objective=PlanObjectiveFactory(plan=plan, description=f"Objective {year}"),
            description=f"Action {year}",
        )
    client = login("nam1")
    with django_assert_max_num_queries(15):
        response = client.get(url(account))
    assert response.context["plans"] == [draft, active]
    closed = response.context["past_plans"]
    assert [p.period_start.year for p in closed.rows] == [2016, 2015, 2014, 2013, 2012]
    assert (closed.total, closed.has_next) == (7, True)
    html = response.content.decode()
    assert "Grow" in html
    assert "Call" in html
    assert "Action 2016" in html
    assert "Action 2012" in html
    assert "Strategy 2011" not in html
    assert 'Closed plans <span class="count">7</span>' in html
    assert 'href="?plans_page=2#plans-closed" rel="next"' in html
    # The objective form offers the plans on the page; the action form their objectives.
    offered = dict(response.context["objective_form"].fields["plan"].choices)
    assert {draft.pk, active.pk} <= set(offered)
    assert len(offered) == 2 + PAST_PAGE_SIZE

    second = client.get(url(account), {"plans_page": 2})
    assert second.context["plans"] == [draft, active]
    assert [p.period_start.year for p in second.context["past_plans"].rows] == [2011, 2010]
    assert "Action 2010" in second.content.decode()


def test_closed_plans_only(login, portfolio):
    AccountPlanFactory(account=portfolio["alpha"], status=AccountPlan.Status.CLOSED)
    html = login("nam1").get(url(portfolio["alpha"])).content.decode()
    assert "No current account plan." in html
    assert 'Closed plans <span class="count">1</span>' in html
    assert 'data-testid="objective-form"' in html  # objectives can still be added, as before


# --- needs (loaded after the page) --------------------------------------------------------


@pytest.fixture
def needs(portfolio):
    account = portfolio["alpha"]
    start = dt.date(2026, 1, 1)
    for i, status in enumerate(["open", "in_progress"] * 4):
        CustomerNeedFactory(
            account=account,
            description=f"Open need {i}",
            status=status,
            identified_on=start - dt.timedelta(days=100 + i),  # older than every met one
        )
    for i in range(7):
        CustomerNeedFactory(
            account=account,
            description=f"Met need {i}",
            status="met" if i % 2 else "dropped",
            identified_on=start - dt.timedelta(days=i),
        )
    return account


def test_open_needs_all_shown_met_ones_a_page_at_a_time(
    login, needs, django_assert_max_num_queries
):
    client = login("nam1")
    with django_assert_max_num_queries(8):
        response = client.get(more(needs))
    assert [n.description for n in response.context["needs"]] == [
        f"Open need {i}" for i in range(8)
    ]
    past = response.context["past_needs"]
    assert [n.description for n in past.rows] == [f"Met need {i}" for i in range(5)]
    assert (past.total, past.num_pages) == (7, 2)
    html = response.content.decode()
    assert 'Met or dropped <span class="count">7</span>' in html
    assert "Met need 5" not in html
    # The link goes back to the page (a relative URL in the swapped fragment), which forwards
    # its query to this fragment: the second page of needs comes with htmx too.
    assert 'href="?needs_page=2#account-more" rel="next"' in html
    page = client.get(url(needs), {"needs_page": 2}).content.decode()
    assert f'hx-get="{more(needs)}?needs_page=2" hx-trigger="load"' in page
    second = client.get(more(needs), {"needs_page": 2})
    assert len(second.context["needs"]) == 8
    assert [n.description for n in second.context["past_needs"].rows] == [
        "Met need 5",
        "Met need 6",
    ]


def test_needs_pager_without_javascript(login, needs):
    client = login("nam1")
    html = client.get(url(needs), {"sections": "all"}).content.decode()
    assert "Open need 7" in html
    assert "Met need 4" in html
    assert "Met need 5" not in html
    assert 'href="?sections=all&amp;needs_page=2#account-more" rel="next"' in html
    second = client.get(url(needs), {"sections": "all", "needs_page": 2}).content.decode()
    assert "Open need 7" in second
    assert "Met need 6" in second
    assert "Met need 4" not in second


def test_adding_a_need_shows_the_open_ones(login, needs):
    response = login("nam1").post(
        f"/accounts/{needs.pk}/needs/",
        {"description": "Faster quotes", "priority": "high", "status": "open"},
        **HTMX,
    )
    assert "Need added." in response.content.decode()
    assert len(response.context["needs"]) == 9
    assert response.context["past_needs"].total == 7
    assert CustomerNeed.objects.filter(account=needs).count() == 16


# --- investments and service cases (loaded after the page) -----------------------------------


def _investments(account) -> list:
    """Three running investments (open-ended, ending later, ending today), six ended ones."""
    today = timezone.localdate()
    for i in range(6):
        RelationshipInvestmentFactory(
            account=account,
            description=f"Past {i}",
            start_date=dt.date(2010, 1, 1),
            end_date=today - dt.timedelta(days=1 + i),
        )
    return [
        RelationshipInvestmentFactory(account=account, description="Open-ended"),
        RelationshipInvestmentFactory(
            account=account, description="Until next year", end_date=today + dt.timedelta(365)
        ),
        RelationshipInvestmentFactory(account=account, description="Ends today", end_date=today),
    ]


def _service_cases(account) -> list:
    """Two open cases (open, in progress), six resolved or closed ones."""
    now = timezone.now()
    opened = now - dt.timedelta(days=30)
    for i in range(6):
        ServiceCaseFactory(
            account=account,
            subject=f"Past {i}",
            status="closed" if i % 2 else "resolved",
            opened_at=opened,
            closed_at=now - dt.timedelta(days=1 + i),
        )
    return [
        ServiceCaseFactory(account=account, subject="Open", opened_at=opened),
        ServiceCaseFactory(account=account, subject="Working", status="in_progress"),
    ]


@pytest.mark.parametrize(
    ("make", "current", "past", "text", "heading", "param"),
    [
        (_investments, "investments", "past_investments", "description", "Ended", "inv_page"),
        (
            _service_cases,
            "service_cases",
            "past_service_cases",
            "subject",
            "Resolved and closed",
            "cases_page",
        ),
    ],
)
def test_running_rows_all_shown_ended_ones_a_page_at_a_time(
    login, portfolio, django_assert_max_num_queries, make, current, past, text, heading, param
):
    account = portfolio["alpha"]
    running = make(account)
    client = login("nam1")
    with django_assert_max_num_queries(8):
        response = client.get(more(account))
    assert {row.pk for row in response.context[current]} == {row.pk for row in running}
    page = response.context[past]
    assert [getattr(row, text) for row in page.rows] == [f"Past {i}" for i in range(5)]
    assert (page.total, page.has_next) == (6, True)
    html = response.content.decode()
    assert f'{heading} <span class="count">6</span>' in html
    assert f'href="?{param}=2#account-more" rel="next"' in html
    second = client.get(more(account), {param: 2})
    assert len(second.context[current]) == len(running)
    assert [getattr(row, text) for row in second.context[past].rows] == ["Past 5"]


# --- the recompute message -------------------------------------------------------------------


def _finished_run(accounts: int) -> ClassificationRun:
    return ClassificationRun.objects.create(
        trigger="manual",
        scope="portfolio",
        reference_date=timezone.localdate(),
        status="succeeded",
        finished_at=timezone.now(),
        accounts_total=accounts,
        chunks_total=1,
        chunks_done=1,
    )


def test_a_sales_lead_is_not_told_the_whole_company_count(login, portfolio):
    run = _finished_run(191)  # the whole population; the lead sees three accounts
    html = login("lead").get(f"/runs/{run.pk}/progress/", **HTMX).content.decode()
    assert "Recompute finished." in html
    assert "191" not in html
    assert "scored" not in html


def test_an_administrator_sees_how_many_accounts_were_scored(client, portfolio):
    run = _finished_run(191)
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    html = client.get(f"/runs/{run.pk}/progress/", **HTMX).content.decode()
    assert "Recompute finished: 191 accounts scored." in html
