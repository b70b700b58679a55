"""Visibility of customers and managers for the API, derived from the account selector.

Built on `accounts.selectors` (the one place that decides which accounts a user sees); candidates
to move there once the dashboard needs them too.
"""

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import AccountManager, AccountTeamMember, Customer
from accounts.selectors import accounts_visible_to, manager_subtree, managers_seen_by


def customers_visible_to(user) -> QuerySet[Customer]:
    """Customers the user has a visible account with (every customer for an admin)."""
    if getattr(user, "is_superuser", False):
        return Customer.objects.all()
    return Customer.objects.filter(pk__in=accounts_visible_to(user).values("customer_id"))


def managers_visible_to(user) -> QuerySet[AccountManager]:
    """The managers whose portfolios the user sees, plus the owners and current team members of
    the accounts the user sees: the people they work with. Everyone for an admin."""
    seen = managers_seen_by(user)
    managers = AccountManager.objects.all()
    if seen is None:
        return managers
    if isinstance(seen, list) and not seen:
        return managers.none()
    visible = accounts_visible_to(user).values("pk")
    today = timezone.localdate()
    teamed = AccountTeamMember.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today),
        account_id__in=visible,
        start_date__lte=today,
    ).values("manager_id")
    owners = accounts_visible_to(user).values("owner_id")
    return managers.filter(Q(pk__in=seen) | Q(pk__in=owners) | Q(pk__in=teamed))


def manager_leads_account_owner(user, owner_id: int | None) -> bool:
    """True for an admin, or a sales lead whose subtree holds `owner_id` (None: nobody yet)."""
    if getattr(user, "is_superuser", False):
        return True
    try:
        manager = user.manager
    except (AccountManager.DoesNotExist, AttributeError):
        return False
    if not manager.is_sales_lead:
        return False
    if owner_id is None:
        return True
    return AccountManager.objects.filter(pk=owner_id, pk__in=manager_subtree(manager)).exists()
