"""Portfolio visibility: who sees which accounts, and everything that hangs off them."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import AccountManager, Transaction
from accounts.selectors import (
    accounts_visible_to,
    contacts_visible_to,
    manager_subtree_ids,
    visible_through_account,
)
from relationships.models import AccountPlan, Interaction, PlanAction
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AccountPlanFactory,
    AccountTeamMemberFactory,
    AdminUserFactory,
    ContactFactory,
    CustomerFactory,
    GlobalAccountFactory,
    GlobalManagerFactory,
    InteractionFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    SalesLeadFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user as a request would load it: nothing cached on the instance."""
    return get_user_model().objects.get(pk=user.pk)


def visible(user) -> set:
    return set(accounts_visible_to(fresh(user)))


def test_factory_manager_is_national():
    assert AccountManagerFactory().level == "national"


# --- roles -------------------------------------------------------------------------------------


def test_superuser_sees_every_account():
    accounts = {AccountFactory(), AccountFactory(), GlobalAccountFactory()}
    assert visible(AdminUserFactory()) == accounts


def test_superuser_with_a_manager_profile_still_sees_every_account():
    admin = AdminUserFactory()
    AccountManagerFactory(user=admin)
    accounts = {AccountFactory(), GlobalAccountFactory()}
    assert visible(admin) == accounts


def test_user_without_manager_profile_sees_nothing():
    AccountFactory()
    user = UserFactory()
    assert visible(user) == set()
    assert list(contacts_visible_to(fresh(user))) == []


def test_anonymous_user_sees_nothing():
    account = AccountFactory()
    TransactionFactory(account=account)
    ContactFactory(customer=account.customer)
    anonymous = AnonymousUser()
    assert list(accounts_visible_to(anonymous)) == []
    assert list(visible_through_account(Transaction.objects.all(), anonymous)) == []
    assert list(contacts_visible_to(anonymous)) == []


def test_none_user_sees_nothing():
    AccountFactory()
    assert list(accounts_visible_to(None)) == []


def test_owner_sees_own_account_only():
    mine = AccountFactory()
    AccountFactory()
    assert list(accounts_visible_to(fresh(mine.owner.user))) == [mine]


def test_account_manager_sees_owned_and_current_team_accounts():
    today = timezone.localdate()
    me = AccountManagerFactory()
    owned = AccountFactory(owner=me)
    open_ended = AccountTeamMemberFactory(manager=me, end_date=None).account
    ends_today = AccountTeamMemberFactory(
        manager=me, start_date=today - dt.timedelta(days=30), end_date=today
    ).account
    AccountTeamMemberFactory(  # ended yesterday: no longer on the team
        manager=me, start_date=today - dt.timedelta(days=30), end_date=today - dt.timedelta(days=1)
    )
    AccountTeamMemberFactory(  # starts tomorrow: not on the team yet
        manager=me, start_date=today + dt.timedelta(days=1)
    )
    AccountFactory()  # someone else's
    assert visible(me.user) == {owned, open_ended, ends_today}


def test_global_manager_sees_globals_and_the_nationals_under_them():
    gam = GlobalManagerFactory()
    group = CustomerFactory()
    global_account = GlobalAccountFactory(owner=gam, customer=group)
    national_de = AccountFactory(customer=group, country="DE", parent=global_account)
    national_fr = AccountFactory(
        customer=CustomerFactory(parent=group), country="FR", parent=global_account
    )
    AccountFactory(customer=group, country="IT")  # same customer, not under the global account
    GlobalAccountFactory()  # another global manager's
    assert visible(gam.user) == {global_account, national_de, national_fr}


def test_global_team_member_sees_the_global_account_and_its_nationals():
    member = GlobalManagerFactory()
    global_account = GlobalAccountFactory()
    national = AccountFactory(customer=global_account.customer, parent=global_account)
    AccountTeamMemberFactory(manager=member, account=global_account, end_date=None)
    assert visible(member.user) == {global_account, national}


@pytest.fixture
def matrix():
    """A global account owned by gam with national accounts owned by nam1 and nam2."""
    gam = GlobalManagerFactory()
    nam1 = AccountManagerFactory(country="DE")
    nam2 = AccountManagerFactory(country="FR")
    group = CustomerFactory()
    global_account = GlobalAccountFactory(owner=gam, customer=group)
    de = AccountFactory(owner=nam1, customer=group, country="DE", parent=global_account)
    fr = AccountFactory(owner=nam2, customer=group, country="FR", parent=global_account)
    return {"gam": gam, "nam1": nam1, "nam2": nam2, "global": global_account, "de": de, "fr": fr}


def test_matrix_national_manager_sees_only_own_national_account(matrix):
    assert visible(matrix["nam1"].user) == {matrix["de"]}
    assert visible(matrix["nam2"].user) == {matrix["fr"]}


def test_matrix_national_manager_on_the_global_team_sees_the_global_account_only(matrix):
    AccountTeamMemberFactory(manager=matrix["nam1"], account=matrix["global"], end_date=None)
    # A national manager on the global team sees the global account, not the other countries.
    assert visible(matrix["nam1"].user) == {matrix["global"], matrix["de"]}


def test_matrix_global_manager_sees_all_three(matrix):
    assert visible(matrix["gam"].user) == {matrix["global"], matrix["de"], matrix["fr"]}


@pytest.fixture
def hierarchy():
    """lead -> m1 -> m2 -> m3 -> m4, each owning one account; `outsider` reports to nobody."""
    lead = SalesLeadFactory()
    chain = [lead]
    for _ in range(4):
        chain.append(AccountManagerFactory(reports_to=chain[-1]))
    accounts = [AccountFactory(owner=m) for m in chain]
    outsider = AccountManagerFactory()
    return {"chain": chain, "accounts": accounts, "outsider": AccountFactory(owner=outsider)}


def test_sales_lead_sees_the_whole_reporting_subtree(hierarchy):
    assert visible(hierarchy["chain"][0].user) == set(hierarchy["accounts"])


def test_sales_lead_sees_what_the_subtree_sees_through_teams_and_globals(hierarchy):
    m4 = hierarchy["chain"][4]
    teamed = AccountTeamMemberFactory(manager=m4, end_date=None).account
    global_account = GlobalAccountFactory()
    national = AccountFactory(customer=global_account.customer, parent=global_account)
    AccountTeamMemberFactory(manager=m4, account=global_account, end_date=None)
    # m4 is national: on the global team it sees the global account, not the nationals under it.
    expected = {*hierarchy["accounts"], teamed, global_account}
    assert visible(hierarchy["chain"][0].user) == expected
    assert national not in expected


def test_global_sales_lead_sees_nationals_under_their_global_managers_accounts():
    lead = GlobalManagerFactory(role=AccountManager.Role.SALES_LEAD)
    gam = GlobalManagerFactory(reports_to=lead)
    global_account = GlobalAccountFactory(owner=gam)
    national = AccountFactory(customer=global_account.customer, parent=global_account)
    GlobalAccountFactory()  # outside the subtree
    assert visible(lead.user) == {global_account, national}


def test_sales_lead_in_the_middle_sees_only_below_themselves(hierarchy):
    m2 = hierarchy["chain"][2]
    AccountManager.objects.filter(pk=m2.pk).update(role=AccountManager.Role.SALES_LEAD)
    assert visible(m2.user) == set(hierarchy["accounts"][2:])


def test_plain_manager_does_not_see_reports_accounts(hierarchy):
    m1 = hierarchy["chain"][1]
    assert m1.role == AccountManager.Role.ACCOUNT_MANAGER
    assert visible(m1.user) == {hierarchy["accounts"][1]}


def test_manager_subtree_terminates_on_a_cycle_forced_in_the_database(hierarchy):
    lead, *_, m3, m4 = hierarchy["chain"]
    AccountManager.objects.filter(pk=lead.pk).update(reports_to=m4)  # clean() would refuse
    assert sorted(manager_subtree_ids(lead)) == sorted(m.pk for m in hierarchy["chain"])
    assert sorted(manager_subtree_ids(m3)) == sorted(m.pk for m in hierarchy["chain"])
    assert visible(lead.user) == set(hierarchy["accounts"])


def test_lead_visibility_terminates_on_a_two_manager_cycle():
    lead = SalesLeadFactory()
    report = AccountManagerFactory(reports_to=lead)
    AccountManager.objects.filter(pk=lead.pk).update(reports_to=report)
    accounts = {AccountFactory(owner=lead), AccountFactory(owner=report)}
    AccountFactory()
    assert sorted(manager_subtree_ids(lead)) == sorted([lead.pk, report.pk])
    assert visible(lead.user) == accounts


def test_owned_and_teamed_account_is_listed_once():
    me = AccountManagerFactory()
    account = AccountFactory(owner=me)
    AccountTeamMemberFactory(manager=me, account=account, role="national_lead", end_date=None)
    AccountTeamMemberFactory(manager=me, account=account, role="support", end_date=None)
    rows = list(accounts_visible_to(fresh(me.user)))
    assert rows == [account]
    assert len(rows) == len(set(rows))


def test_lead_sees_each_account_once_when_several_reports_work_on_it(hierarchy):
    shared = hierarchy["accounts"][1]
    for manager in hierarchy["chain"]:
        AccountTeamMemberFactory(manager=manager, account=shared, end_date=None)
    rows = list(accounts_visible_to(fresh(hierarchy["chain"][0].user)))
    assert len(rows) == len(set(rows)) == len(hierarchy["accounts"])


def test_queryset_visible_to_matches_the_selector(matrix):
    from accounts.models import Account

    user = fresh(matrix["nam1"].user)
    assert set(Account.objects.visible_to(user)) == set(accounts_visible_to(user))


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("accounts_per_manager", [1, 10])
def test_lead_visibility_costs_at_most_two_queries(
    hierarchy, accounts_per_manager, django_assert_max_num_queries
):
    for manager in hierarchy["chain"]:
        AccountFactory.create_batch(accounts_per_manager, owner=manager)
    user = fresh(hierarchy["chain"][0].user)
    with django_assert_max_num_queries(2):
        rows = list(accounts_visible_to(user))
    assert len(rows) == 5 * (accounts_per_manager + 1)


def test_manager_visibility_costs_at_most_two_queries(hierarchy, django_assert_max_num_queries):
    user = fresh(hierarchy["chain"][1].user)
    with django_assert_max_num_queries(2):
        assert len(list(accounts_visible_to(user))) == 1


def test_no_profile_visibility_costs_one_query_at_most(django_assert_max_num_queries):
    AccountFactory()
    user = fresh(UserFactory())
    with django_assert_max_num_queries(1):
        assert list(accounts_visible_to(user)) == []


# --- data that follows its account ----------------------------------------------------------------


def test_transactions_and_interactions_follow_their_account(matrix):
    de_sale = TransactionFactory(account=matrix["de"])
    fr_sale = TransactionFactory(account=matrix["fr"])
    global_sale = TransactionFactory(account=matrix["global"])
    de_meeting = InteractionFactory(account=matrix["de"])
    fr_meeting = InteractionFactory(account=matrix["fr"])

    nam1 = fresh(matrix["nam1"].user)
    assert set(visible_through_account(Transaction.objects.all(), nam1)) == {de_sale}
    assert set(visible_through_account(Interaction.objects.all(), nam1)) == {de_meeting}

    gam = fresh(matrix["gam"].user)
    assert set(visible_through_account(Transaction.objects.all(), gam)) == {
        de_sale,
        fr_sale,
        global_sale,
    }
    assert set(visible_through_account(Interaction.objects.all(), gam)) == {
        de_meeting,
        fr_meeting,
    }


def test_plans_and_nested_plan_actions_follow_their_account(matrix):
    de_plan = AccountPlanFactory(account=matrix["de"])
    fr_plan = AccountPlanFactory(account=matrix["fr"])
    de_action = PlanActionFactory(objective=PlanObjectiveFactory(plan=de_plan))
    fr_action = PlanActionFactory(objective=PlanObjectiveFactory(plan=fr_plan))

    nam1 = fresh(matrix["nam1"].user)
    assert set(visible_through_account(AccountPlan.objects.all(), nam1)) == {de_plan}
    nested = visible_through_account(PlanAction.objects.all(), nam1, "objective__plan__account")
    assert set(nested) == {de_action}

    gam = fresh(matrix["gam"].user)
    nested = visible_through_account(PlanAction.objects.all(), gam, "objective__plan__account")
    assert set(nested) == {de_action, fr_action}


def test_superuser_sees_all_data_through_accounts():
    sales = {TransactionFactory(), TransactionFactory()}
    admin = fresh(AdminUserFactory())
    assert set(visible_through_account(Transaction.objects.all(), admin)) == sales


def test_rows_through_an_account_are_not_duplicated_by_teams():
    me = AccountManagerFactory()
    account = AccountFactory(owner=me)
    AccountTeamMemberFactory(manager=me, account=account, end_date=None)
    sales = TransactionFactory.create_batch(3, account=account)
    rows = list(visible_through_account(Transaction.objects.all(), fresh(me.user)))
    assert len(rows) == len(set(rows)) == 3
    assert set(rows) == set(sales)


def test_contacts_follow_customers_with_a_visible_account(matrix):
    group = matrix["global"].customer
    buyer = ContactFactory(customer=group)
    other_customer_contact = ContactFactory()
    AccountFactory(customer=other_customer_contact.customer)
    # A second visible account with the same customer must not duplicate its contacts.
    AccountFactory(owner=matrix["nam1"], customer=group, country="AT")

    nam1_contacts = list(contacts_visible_to(fresh(matrix["nam1"].user)))
    assert nam1_contacts == [buyer]
    assert list(contacts_visible_to(fresh(UserFactory()))) == []
    admin = fresh(AdminUserFactory())
    assert set(contacts_visible_to(admin)) == {buyer, other_customer_contact}
