"""Run by test_make_run.py in a subprocess on a SQLite database (the `make run` default):
every main page and API list answers 200 for nam1, lead and admin."""

import csv
import io
import os
import re
import sys

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "kam.settings.base"
django.setup()

from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from accounts.models import Account  # noqa: E402

setup_test_environment()
failures = []
for username in ("nam1", "lead", "gam", "admin"):
    client = Client()
    # Through the login form: django-axes needs the request that client.login() does not pass.
    response = client.post("/login/", {"username": username, "password": "kam-demo-2026"})
    assert response.status_code == 302, username
    account = Account.objects.filter(owner__user__username="nam1").first()
    pages = [
        "/",
        "/portfolio/revenue/",
        "/?sections=all",
        "/portfolio.csv",
        f"/accounts/{account.pk}/",
        f"/accounts/{account.pk}/more/",
        "/matrices/four_s/",
        "/matrices/millman_wilson/",
        "/matrices/bensaou/",
        "/matrices/webster/",
        "/api/v1/accounts/",
        "/api/v1/portfolio/summary/",
        f"/api/v1/accounts/{account.pk}/scores/",
        "/admin/",
    ]
    if username in ("lead", "gam", "admin"):
        pages.append("/team/")
    for path in pages:
        status = client.get(path).status_code
        expected = 302 if path == "/admin/" and username not in ("admin",) else 200
        if username != "admin" and path.startswith("/accounts/") and username == "gam":
            expected = 404  # gam does not see nam1's own national accounts
        if username != "admin" and "/scores/" in path and username == "gam":
            expected = 404
        if status != expected:
            failures.append(f"{username} {path}: {status} (expected {expected})")
    if username == "lead":
        # SQLite's sums drop trailing zeros: the export still gives money with two decimals.
        body = b"".join(client.get("/portfolio.csv").streaming_content).decode()
        revenue = [row[6] for row in csv.reader(io.StringIO(body))][1:]
        bad = [cell for cell in revenue if cell and not re.fullmatch(r"-?\d+\.\d\d", cell)]
        if not revenue or bad:
            failures.append(f"lead /portfolio.csv revenue cells: {bad[:5] or 'none'}")
print("\n".join(failures) or "ok")
sys.exit(1 if failures else 0)
