"""Where the accounts list's time goes: CPU of the Django process per request, part by part.

    .venv/bin/python bench/api_parts.py [--database kam_bench] [--users bench2 bench52]

In process (Django's test client on `kam.settings.bench`), one client, no server: for the
baseline view and for `/api/v1/accounts/?page_size=50` as each user, the median wall time and
the median CPU time of this process per request, then the list's CPU split into its parts (REST
framework's `initial` = authentication, permissions and throttles; the filter backends; the
pagination with its count and page queries; the current classifications; the page's JSON; the
renderer). CPU time leaves out the time spent waiting for PostgreSQL, so it is the Python cost
that no index can remove. Read-only; prints, writes no results.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # bench/ is no package

from api import api_token, setup_django

LIST = "/api/v1/accounts/?page_size=50"


def timing_parts() -> dict[str, float]:
    """Wrap the parts of a list request so that each adds its CPU seconds to the returned dict."""
    import rest_framework.generics as generics
    import rest_framework.views as drf_views
    from rest_framework.renderers import JSONRenderer

    import accounts.api.views as views

    spent: dict[str, float] = {}

    def wrap(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.process_time() - start

        setattr(owner, name, timed)

    wrap(drf_views.APIView, "initial", "authentication, permissions, throttles")
    wrap(views.AccountViewSet, "get_queryset", "visibility (one query)")
    wrap(generics.GenericAPIView, "filter_queryset", "filter backends")
    wrap(generics.GenericAPIView, "paginate_queryset", "pagination (count and page queries)")
    wrap(views, "current_classifications", "current classifications (one query)")
    wrap(views, "account_list_data", "the page's JSON data")
    wrap(JSONRenderer, "render", "JSON rendering")
    return spent


def measure(client, path: str, headers: dict, requests: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds per request, after 20 warm-ups."""
    for _ in range(20):
        response = client.get(path, **headers)
        if response.status_code != 200:
            sys.exit(f"{path}: {response.status_code} {response.content[:200]!r}")
    walls, cpus = [], []
    for _ in range(requests):
        wall, cpu = time.perf_counter(), time.process_time()
        client.get(path, **headers)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return 1000 * statistics.median(walls), 1000 * statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="kam_bench")
    parser.add_argument("--users", nargs="+", default=["bench2", "bench52"])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    setup_django(args.database)
    from django.test import Client

    from accounts.models import AccountManager
    from accounts.selectors import accounts_visible_to

    client = Client()
    spent = timing_parts()
    # The baseline serves the same 50 accounts as the last user's first page.
    last = AccountManager.objects.select_related("user").get(user__username=args.users[-1])
    page = client.get(LIST, HTTP_AUTHORIZATION=f"Token {api_token(last.user)}").json()
    ids = ",".join(str(row["id"]) for row in page["results"])
    wall, cpu = measure(client, f"/bench/baseline/accounts/?ids={ids}", {}, args.requests)
    print(f"{'baseline view (no authentication)':48s} wall {wall:6.1f} ms   CPU {cpu:6.1f} ms")
    for username in args.users:
        manager = AccountManager.objects.select_related("user").get(user__username=username)
        headers = {"HTTP_AUTHORIZATION": f"Token {api_token(manager.user)}"}
        visible = accounts_visible_to(manager.user).count()
        wall, cpu = measure(client, LIST, headers, 20)  # warm the parts' first calls
        spent.clear()
        wall, cpu = measure(client, LIST, headers, args.requests)
        label = f"accounts list, {username} ({visible:,} visible)"
        print(f"{label:48s} wall {wall:6.1f} ms   CPU {cpu:6.1f} ms")
        for part, seconds in sorted(spent.items(), key=lambda item: -item[1]):
            print(f"    {part:44s} CPU {1000 * seconds / (args.requests + 20):6.2f} ms")


if __name__ == "__main__":
    main()
