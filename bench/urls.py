"""URLconf of the bench settings only (kam/settings/bench.py): the application plus a baseline.

The baseline is the floor that bench/api.py compares the accounts list with: plain Django, no
REST framework, no authentication, one indexed query for the same 50 accounts (ids given in
the query string), `.values()` and a JsonResponse. Everything the API adds (token check,
portfolio visibility, count, ordering, current scores, serializers) is what the ratio measures.
Never mounted by the production URLconf (kam.urls).
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from accounts.models import Account

FIELDS = (
    "id",
    "customer_id",
    "customer__name",
    "level",
    "country",
    "parent_id",
    "status",
    "is_key_account",
    "owner_id",
    "opened_on",
    "currency",
    "wallet_estimate",
    "created_at",
    "updated_at",
)


def baseline_accounts(request: HttpRequest) -> JsonResponse:
    """The accounts `?ids=1,2,3` in the list's order, as plain JSON (at most 200)."""
    raw = request.GET.get("ids", "")
    ids = [int(part) for part in raw.split(",") if part.isdigit()][:200]
    rows = list(
        Account.objects.filter(pk__in=ids).order_by(*Account._meta.ordering, "pk").values(*FIELDS)
    )
    return JsonResponse({"count": len(rows), "results": rows}, encoder=DjangoJSONEncoder)


urlpatterns = [
    path("bench/baseline/accounts/", baseline_accounts, name="bench-baseline-accounts"),
    path("", include("kam.urls")),
]
