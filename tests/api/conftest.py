"""A small world for the API tests: an admin, a sales lead with nam1 and nam2 reporting to him,
a global manager whose global account has nam1's and nam2's national accounts under it, an
outsider's account nobody but the admin sees, and a user without a manager profile."""

from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Account, AccountManager
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AdminUserFactory,
    CustomerFactory,
    GlobalAccountFactory,
    GlobalManagerFactory,
    SalesLeadFactory,
    UserFactory,
)

ROLES = ("admin", "lead", "gam", "nam1", "nam2", "noprofile", "anon")


@dataclass
class World:
    users: dict = field(default_factory=dict)
    managers: dict[str, AccountManager] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    # Which account keys each role sees.
    visible: dict[str, set[str]] = field(default_factory=dict)

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role != "anon":
            client.force_authenticate(self.users[role])
        return client


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db) -> World:
    w = World()
    w.users["admin"] = AdminUserFactory(username="admin")
    lead = SalesLeadFactory(user__username="lead", country="DE")
    nam1 = AccountManagerFactory(user__username="nam1", country="DE", reports_to=lead)
    nam2 = AccountManagerFactory(user__username="nam2", country="FR", reports_to=lead)
    gam = GlobalManagerFactory(user__username="gam")
    other = AccountManagerFactory(user__username="other", country="IT")
    w.managers.update(lead=lead, nam1=nam1, nam2=nam2, gam=gam, other=other)
    for name in ("lead", "nam1", "nam2", "gam"):
        w.users[name] = w.managers[name].user
    w.users["noprofile"] = UserFactory(username="noprofile")

    group = CustomerFactory(name="Acme Group")
    global_account = GlobalAccountFactory(customer=group, owner=gam, is_key_account=True)
    w.accounts["global"] = global_account
    w.accounts["acc1"] = AccountFactory(
        customer=group, country="DE", parent=global_account, owner=nam1, is_key_account=True
    )
    w.accounts["acc2"] = AccountFactory(
        customer=group, country="FR", parent=global_account, owner=nam2
    )
    w.accounts["out"] = AccountFactory(
        customer=CustomerFactory(name="Zenith", country="IT"), country="IT", owner=other
    )
    w.visible = {
        "admin": {"global", "acc1", "acc2", "out"},
        "lead": {"acc1", "acc2"},
        "gam": {"global", "acc1", "acc2"},
        "nam1": {"acc1"},
        "nam2": {"acc2"},
        "noprofile": set(),
        "anon": set(),
    }
    return w
