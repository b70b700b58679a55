import pytest

from accounts.selectors import accounts_visible_to
from tests.factories import AccountFactory, AccountManagerFactory

pytestmark = pytest.mark.django_db


def test_owner_sees_own_account_only():
    mine = AccountFactory()
    AccountFactory()
    assert list(accounts_visible_to(mine.owner.user)) == [mine]


def test_manager_factory_builds_national_manager():
    assert AccountManagerFactory().level == "national"
