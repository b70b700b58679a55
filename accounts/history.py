"""The audit trail: who changed what and when, on the models that carry `history`.

django-simple-history records every `save()` and `delete()` (the request's user comes from its
middleware; a service that knows better sets it with `history_mark`). Bulk writes send no signals,
so they record their history here, set-based and in the same transaction as the write:
`history_insert_select` copies just-written rows into the historical table with one
INSERT ... SELECT.

`account_history` reads an account's trail across its own history and everything attached to it,
newest first, as one UNION query that pages like any list; `account_history_entries` turns one
page into entries with their changes in a fixed number of queries (two per model on the page).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, models
from django.db.models import CharField, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from accounts.models import Account, AccountManager, AccountTeamMember, Customer, Transaction

HISTORY_COLUMNS = ("history_date", "history_type", "history_change_reason", "history_user_id")
REASON_LENGTH = 100  # simple-history's history_change_reason column

# --- writing ----------------------------------------------------------------------------------


def history_mark(obj: models.Model, *, user=None, reason: str = "") -> models.Model:
    """Attribute the next save or delete of `obj` to `user` (when given) with `reason`.

    Without a user the request's user is used (the middleware), or nobody outside a request."""
    if user is not None:
        obj._history_user = user
    if reason:
        obj._change_reason = reason[:REASON_LENGTH]
    return obj


def history_tracked_columns(model: type[models.Model]) -> list[str]:
    """The columns a model shares with its historical table (every field but the excluded)."""
    return [f.column for f in model.history.model.tracked_fields]


def history_insert_select(
    model: type[models.Model],
    *,
    source: str,
    where: str = "TRUE",
    params: Iterable[Any] = (),
    reason: str,
    user=None,
    history_type: str = "+",
    prefix: str = "",
    prefix_params: Iterable[Any] = (),
    only_new: bool = True,
) -> int:
    """Record one historical row for each row of `source` (a table, or a CTE's name, with the
    model's columns) matching `where` (SQL over alias `t`) and not yet in the history. `prefix`
    may define that CTE (`WITH written AS (INSERT ... RETURNING *)`); rows just inserted need no
    `only_new` check (it costs an anti-join against the whole historical table).

    One statement, so it shares the caller's transaction: the history and the write commit or
    roll back together. Returns the number of rows recorded."""
    quote = connection.ops.quote_name
    history_table = quote(model.history.model._meta.db_table)
    columns = [quote(c) for c in history_tracked_columns(model)]
    pk = quote(model._meta.pk.column)
    when = connection.ops.adapt_datetimefield_value(timezone.now())
    targets = ", ".join([*columns, *HISTORY_COLUMNS])
    # Names come from model meta; values go in as parameters.
    sql = (
        f"{prefix} INSERT INTO {history_table} ({targets}) "  # noqa: S608
        f"SELECT {', '.join(f't.{c}' for c in columns)}, %s, %s, %s, %s FROM {source} t "
        f"WHERE ({where})"
    )
    if only_new:
        sql += f" AND NOT EXISTS (SELECT 1 FROM {history_table} h WHERE h.{pk} = t.{pk})"  # noqa: S608
    reason = reason[:REASON_LENGTH]
    with connection.cursor() as cursor:
        user_id = getattr(user, "pk", None)
        cursor.execute(sql, [*prefix_params, when, history_type, reason, user_id, *params])
        return cursor.rowcount


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistorySource:
    """One model in an account's trail, and how its historical rows find the account."""

    key: str
    model: type[models.Model]
    of_account: Callable[[int], Q]


def _sources() -> dict[str, HistorySource]:
    # Imported here: relationships and classification import accounts.models, not the other way.
    from classification.models import ClassificationOverride
    from relationships.models import (
        AccountPlan,
        Assessment,
        Opportunity,
        PlanAction,
        PlanObjective,
        RelationshipInvestment,
    )

    def plans(account_id: int) -> QuerySet:
        return AccountPlan.history.filter(account_id=account_id).values("id")

    def objectives(account_id: int) -> QuerySet:
        return PlanObjective.history.filter(plan_id__in=plans(account_id)).values("id")

    direct = {
        "team_member": AccountTeamMember,
        "transaction": Transaction,
        "opportunity": Opportunity,
        "plan": AccountPlan,
        "assessment": Assessment,
        "investment": RelationshipInvestment,
        "override": ClassificationOverride,
    }
    sources = [
        HistorySource("account", Account, lambda a: Q(id=a)),
        HistorySource(
            "customer",
            Customer,
            lambda a: Q(id__in=Account.history.filter(id=a).values("customer_id")),
        ),
        *(HistorySource(key, m, lambda a: Q(account_id=a)) for key, m in direct.items()),
        HistorySource("plan_objective", PlanObjective, lambda a: Q(plan_id__in=plans(a))),
        HistorySource("plan_action", PlanAction, lambda a: Q(objective_id__in=objectives(a))),
    ]
    return {source.key: source for source in sources}


HISTORY_MODEL_KEYS = (
    "account",
    "customer",
    "team_member",
    "transaction",
    "opportunity",
    "plan",
    "plan_objective",
    "plan_action",
    "assessment",
    "investment",
    "override",
)


def account_history(
    *,
    account: Account,
    since: date | None = None,
    until: date | None = None,
    model: str | None = None,
) -> QuerySet:
    """The account's trail, newest first: rows of (history_model, history_id, history_date), a UNION
    over the historical tables, so it counts and slices like any queryset. The caller checks
    that the account is visible; pass each page to `account_history_entries`."""
    sources = _sources()
    keys = [model] if model else list(HISTORY_MODEL_KEYS)
    parts = []
    for key in keys:
        source = sources[key]
        rows = source.model.history.filter(source.of_account(account.pk))
        if since:
            rows = rows.filter(history_date__date__gte=since)
        if until:
            rows = rows.filter(history_date__date__lte=until)
        parts.append(
            rows.annotate(history_model=Value(key, output_field=CharField()))
            .values("history_model", "history_id", "history_date")
            .order_by()
        )
    first, *rest = parts
    combined = first.union(*rest, all=True) if rest else first
    return combined.order_by("-history_date", "-history_id")


@dataclass
class HistoryChange:
    field: str
    old: Any
    new: Any


@dataclass
class HistoryEntry:
    when: datetime
    who: str | None
    model: str
    object_id: int
    object: str
    change: str  # + created, ~ changed, - deleted
    reason: str | None
    changes: list[HistoryChange] = field(default_factory=list)


def _diff_fields(history_model) -> list[models.Field]:
    return [f for f in history_model.tracked_fields if f.name not in ("id", "created_at")]


def _diff(old, new, fields: list[models.Field]) -> list[HistoryChange]:
    """The fields that differ between two versions (every tracked field, computed ones too:
    simple-history's `diff_against` skips the non-editable, such as `amount_base`)."""
    if old is None:
        return []
    return [
        HistoryChange(f.name, _plain(getattr(old, f.attname)), _plain(getattr(new, f.attname)))
        for f in fields
        if getattr(old, f.attname) != getattr(new, f.attname)
    ]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def account_history_entries(*, account: Account, rows: Iterable[dict]) -> list[HistoryEntry]:
    """One page of `account_history` as entries, with the changed fields of each change.

    Per model on the page: one query for its records (with the user and each record's previous
    version's id) and one for those previous versions; the objects' names are built from the
    records themselves, with the account, customers and managers they mention loaded once."""
    rows = list(rows)
    sources = _sources()
    by_kind: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_kind[row["history_model"]].append(row["history_id"])

    records: dict[tuple[str, int], Any] = {}
    objects: dict[tuple[str, int], models.Model] = {}
    for kind, ids in by_kind.items():
        history = sources[kind].model.history
        # max() per object rather than ORDER BY ... LIMIT 1: with statistics stale after a large
        # import, PostgreSQL walked the primary key backwards for the latter (6.5 s a page);
        # grouped, it reads the object's few versions by the `id` index whatever the statistics.
        previous = (
            history.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
            .order_by()
            .values("id")
            .annotate(latest=Max("history_id"))
            .values("latest")
        )
        found = list(
            history.filter(history_id__in=ids)
            .select_related("history_user")
            .annotate(previous_id=Subquery(previous))
        )
        before = history.in_bulk(
            [r.previous_id for r in found if r.history_type == "~" and r.previous_id]
        )
        fields = _diff_fields(history.model)
        for record in found:
            record.previous = before.get(record.previous_id)
            records[kind, record.history_id] = record
            objects[kind, record.history_id] = record.instance_type(
                **{f.attname: getattr(record, f.attname) for f in record.tracked_fields}
            )
            record.changes = _diff(record.previous, record, fields)

    _attach_related(account, objects)
    entries = []
    for row in rows:
        key = (row["history_model"], row["history_id"])
        record = records[key]
        user = record.history_user
        entries.append(
            HistoryEntry(
                when=record.history_date,
                who=user.get_username() if user is not None else None,
                model=row["history_model"],
                object_id=record.id,
                object=_name(objects[key]),
                change=record.history_type,
                reason=record.history_change_reason or None,
                changes=record.changes,
            )
        )
    return entries


def _attach_related(account: Account, objects: dict[tuple[str, int], models.Model]) -> None:
    """Fill the relations the objects' names follow, so `str()` runs no query of its own."""
    customer_ids = {o.customer_id for (k, _), o in objects.items() if k == "account"}
    manager_ids = {o.manager_id for (k, _), o in objects.items() if k == "team_member"}
    customers = Customer.objects.in_bulk(customer_ids) if customer_ids else {}
    managers = (
        AccountManager.objects.select_related("user").in_bulk(manager_ids) if manager_ids else {}
    )
    for (kind, _), obj in objects.items():
        if kind == "account":
            obj.customer = customers.get(obj.customer_id) or Customer(
                pk=obj.customer_id, name="(deleted customer)"
            )
        elif hasattr(obj, "account_id") and obj.account_id == account.pk:
            obj.account = account
        if kind == "team_member" and obj.manager_id in managers:
            obj.manager = managers[obj.manager_id]


def _name(obj: models.Model) -> str:
    try:
        return str(obj)
    except ObjectDoesNotExist:  # a relation the name follows is gone
        return f"{obj._meta.verbose_name} {obj.pk}"
