"""Portfolio visibility: the one place that decides which accounts a user may see.

Everything attached to an account (transactions, interactions, plans, ...) follows its account, so
every read of user-owned data goes through `accounts_visible_to` or `visible_through_account`.
"""

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Account, AccountManager, AccountTeamMember, Contact, Level

NOTHING = Q(pk__in=[])


def manager_subtree_ids(manager: AccountManager) -> list[int]:
    """The manager and everyone reporting to them, at any depth (one recursive query)."""
    table = AccountManager._meta.db_table
    sql = (
        f"WITH RECURSIVE subtree(id) AS ("  # noqa: S608 - table name from model meta
        f" SELECT id FROM {table} WHERE id = %s"
        f" UNION SELECT m.id FROM {table} m JOIN subtree s ON m.reports_to_id = s.id"
        f") SELECT id FROM subtree"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [manager.pk])
        return [row[0] for row in cursor.fetchall()]


def managers_seen_by(user) -> list[int] | None:
    """Ids of the managers whose portfolios the user sees; None means everything (admin)."""
    if not user or not user.is_authenticated:
        return []
    if user.is_superuser:
        return None
    try:
        manager = user.manager
    except AccountManager.DoesNotExist:
        return []
    if manager.role == AccountManager.Role.SALES_LEAD:
        return manager_subtree_ids(manager)
    return [manager.pk]


def account_visibility_filter(user) -> Q:
    """A Q over Account: owned or teamed by a seen manager, plus nationals under such globals."""
    manager_ids = managers_seen_by(user)
    if manager_ids is None:
        return Q()
    if not manager_ids:
        return NOTHING
    today = timezone.localdate()
    teamed = AccountTeamMember.objects.filter(manager_id__in=manager_ids).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today)
    )
    direct = Q(owner_id__in=manager_ids) | Q(pk__in=teamed.values("account_id"))
    direct_globals = Account.objects.filter(direct, level=Level.GLOBAL).values("pk")
    return direct | Q(parent_id__in=direct_globals)


def accounts_visible_to(user) -> QuerySet[Account]:
    return Account.objects.filter(account_visibility_filter(user))


def visible_through_account(queryset: QuerySet, user, path: str = "account") -> QuerySet:
    """Rows of `queryset` whose account (reached by `path`) the user may see."""
    if getattr(user, "is_superuser", False):
        return queryset
    return queryset.filter(**{f"{path}__in": accounts_visible_to(user).values("pk")})


def contacts_visible_to(user) -> QuerySet[Contact]:
    """Contacts of customers the user has a visible account with."""
    contacts = Contact.objects.all()
    if getattr(user, "is_superuser", False):
        return contacts
    return contacts.filter(customer_id__in=accounts_visible_to(user).values("customer_id"))
