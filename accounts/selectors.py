"""Portfolio visibility: the one place that decides which accounts a user may see.

Everything attached to an account (transactions, interactions, plans, ...) follows its account, so
every read of user-owned data goes through `accounts_visible_to` or `visible_through_account`.
"""

from typing import NamedTuple

from django.db import connection
from django.db.models import F, IntegerField, Lookup, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import (
    Account,
    AccountManager,
    AccountTeamMember,
    Contact,
    Customer,
    Level,
)

NOTHING = Q(pk__in=[])


def _subtree_sql() -> str:
    """Recursive CTE over `reports_to`; UNION (not UNION ALL) makes a forced cycle terminate."""
    table = AccountManager._meta.db_table
    return (
        f"WITH RECURSIVE subtree(id) AS ("  # noqa: S608 - table name from model meta
        f" SELECT id FROM {table} WHERE id = %s"
        f" UNION SELECT m.id FROM {table} m JOIN subtree s ON m.reports_to_id = s.id"
        f") SELECT id FROM subtree"
    )


def manager_subtree_ids(manager: AccountManager) -> list[int]:
    """The manager and everyone reporting to them, at any depth (one recursive query)."""
    with connection.cursor() as cursor:
        cursor.execute(_subtree_sql(), [manager.pk])
        return [row[0] for row in cursor.fetchall()]


def manager_subtree(manager: AccountManager) -> RawSQL:
    """The same subtree as a lazy subquery, so filtering on it costs no query of its own."""
    sql = _subtree_sql()  # fixed text; the manager id goes in as a parameter
    return RawSQL(sql, [manager.pk], output_field=IntegerField())  # noqa: S611


def managers_seen_by(user) -> list[int] | RawSQL | None:
    """The managers whose portfolios the user sees (ids or a subquery); None means everything."""
    if not user or not user.is_authenticated:
        return []
    if user.is_superuser:
        return None
    try:
        manager = user.manager
    except AccountManager.DoesNotExist:
        return []
    if manager.role == AccountManager.Role.SALES_LEAD:
        return manager_subtree(manager)
    return [manager.pk]


def account_visibility_filter(user) -> Q:
    """A Q over Account: owned or teamed by a seen manager, plus nationals under such globals."""
    if not user or not user.is_authenticated:
        return NOTHING
    if user.is_superuser:
        return Q()
    if connection.vendor != "postgresql":
        return _subquery_visibility_filter(user)
    return _ids_filter(visible_id_sets(user))


class VisibleIds(NamedTuple):
    """The three small id sets that decide what a (non-admin) user sees."""

    managers: list[int]
    teamed_accounts: list[int]
    their_globals: list[int]


def _visible_ids_sql() -> str:
    """One statement for the three sets (PostgreSQL arrays); same rules as the subquery filter.

    `= ANY(ARRAY(subquery))` rather than `IN (subquery)`: the set is computed first and then
    looked up through the team's `manager_id` and the accounts' `owner_id` and primary-key
    indexes; with `IN`, PostgreSQL read the whole team table and every global account for
    each request (16 of 17 ms of this statement for a lead with 6,000 accounts, loaded)."""
    managers = AccountManager._meta.db_table
    team = AccountTeamMember._meta.db_table
    accounts = Account._meta.db_table
    return (
        f"WITH RECURSIVE me AS ("  # noqa: S608 - table names from model meta
        f" SELECT id, role FROM {managers} WHERE user_id = %(user)s"
        f"), subtree(id) AS ("
        f" SELECT id FROM me"
        f" UNION SELECT m.id FROM {managers} m JOIN subtree s ON m.reports_to_id = s.id"
        f" WHERE EXISTS (SELECT 1 FROM me WHERE me.role = %(lead)s)"
        f"), teamed AS ("
        f" SELECT t.account_id, m.level FROM {team} t JOIN {managers} m ON m.id = t.manager_id"
        f" WHERE t.manager_id = ANY(ARRAY(SELECT id FROM subtree)) AND t.start_date <= %(today)s"
        f" AND (t.end_date IS NULL OR t.end_date >= %(today)s)"
        f") SELECT"
        f" ARRAY(SELECT id FROM subtree ORDER BY id),"
        f" ARRAY(SELECT DISTINCT account_id FROM teamed ORDER BY 1),"
        f" ARRAY(SELECT a.id FROM {accounts} a WHERE a.level = %(global)s AND ("
        f"  a.owner_id = ANY(ARRAY(SELECT m.id FROM {managers} m"
        f"   WHERE m.id IN (SELECT id FROM subtree) AND m.level = %(global)s))"
        f"  OR a.id = ANY(ARRAY(SELECT account_id FROM teamed WHERE level = %(global)s))"
        f" ) ORDER BY a.id)"
    )


def visible_id_sets(user) -> VisibleIds:
    """The seen managers, their current team accounts and the global accounts whose nationals
    they see, resolved in one query (PostgreSQL only) so that filters carry literal ids: the
    planner then estimates the visible set correctly instead of guessing half of all accounts.

    Not memoised: a team or hierarchy change must show on the next call, whatever the caller
    holds on to; the query reads a few small indexed sets.
    """
    params = {
        "user": user.pk,
        "lead": AccountManager.Role.SALES_LEAD.value,
        "global": Level.GLOBAL.value,
        "today": timezone.localdate(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_visible_ids_sql(), params)
        return VisibleIds(*cursor.fetchone())


class _AnyOf(Lookup):
    """`column = ANY(%s)` with the ids as ONE array parameter (PostgreSQL). The planner sees the
    same constant array as for `IN (1, 2, ...)`, but Django compiles one parameter instead of
    one per id: thousands of ids (a lead's team accounts, the head's globals) cost ~10-100 ms
    of Python per query as an `IN` list."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        sql = f"{lhs} = ANY(%s::bigint[])"
        if getattr(getattr(self.lhs, "target", None), "null", True):
            # As Django writes `IN` on a nullable column: a negated filter (`~Q`) then keeps
            # the rows whose column is NULL instead of dropping them with an unknown result.
            sql = f"({sql} AND {lhs} IS NOT NULL)"
            lhs_params = [*lhs_params, *lhs_params]
        return sql, [*lhs_params, _array_text(self.rhs)]


def _array_text(ids) -> str:
    """The ids as one array literal, `{1,2,3}`: psycopg2 adapts a Python list item by item
    (3.4 ms of CPU for a lead's 1,354 team accounts, in every query that carries them), a string
    at once (0.3 ms with the join). `int()` keeps anything but integers out."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"


def _ids_filter(ids: VisibleIds) -> Q:
    if not ids.managers:
        return NOTHING
    return Q(
        _AnyOf(F("owner_id"), ids.managers)
        | _AnyOf(F("pk"), ids.teamed_accounts)
        | _AnyOf(F("parent_id"), ids.their_globals)
    )


def _subquery_visibility_filter(user) -> Q:
    """The same filter as nested subqueries (SQLite, e.g. `make run`): no arrays there."""
    manager_ids = managers_seen_by(user)
    if manager_ids is None:
        return Q()
    if isinstance(manager_ids, list) and not manager_ids:
        return NOTHING
    today = timezone.localdate()
    teamed = AccountTeamMember.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today),
        manager_id__in=manager_ids,
        start_date__lte=today,
    )
    direct = Q(owner_id__in=manager_ids) | Q(pk__in=teamed.values("account_id"))
    # Only a global manager sees the national accounts under their global accounts: a national
    # manager on a global account's team does not see the other countries' accounts.
    global_managers = AccountManager.objects.filter(pk__in=manager_ids, level=Level.GLOBAL)
    by_global_manager = Q(owner_id__in=global_managers.values("pk")) | Q(
        pk__in=teamed.filter(manager__level=Level.GLOBAL).values("account_id")
    )
    their_globals = Account.objects.filter(by_global_manager, level=Level.GLOBAL).values("pk")
    return direct | Q(parent_id__in=their_globals)


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


def customers_visible_to(user) -> QuerySet[Customer]:
    """Customers the user has a visible account with (every customer for an admin)."""
    if getattr(user, "is_superuser", False):
        return Customer.objects.all()
    return Customer.objects.filter(pk__in=accounts_visible_to(user).values("customer_id"))


def managers_visible_to(user) -> QuerySet[AccountManager]:
    """The managers whose portfolios the user sees, plus the owners and current team members of
    the accounts the user sees: the people they work with. Everyone for an admin."""
    managers = AccountManager.objects.all()
    if (
        user
        and user.is_authenticated
        and not user.is_superuser
        and connection.vendor == "postgresql"
    ):
        ids = visible_id_sets(user)  # one resolution for both the seen managers and the accounts
        seen, visible = ids.managers, Account.objects.filter(_ids_filter(ids))
    else:
        seen = managers_seen_by(user)
        if seen is None:
            return managers
        visible = accounts_visible_to(user)
    if isinstance(seen, list) and not seen:
        return managers.none()
    today = timezone.localdate()
    teamed = AccountTeamMember.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today),
        account_id__in=visible.values("pk"),
        start_date__lte=today,
    ).values("manager_id")
    owners = visible.values("owner_id")
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
