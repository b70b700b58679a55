"""Hostile text in Chromium: the account page and a matrix full of script and HTML in every text
field run none of it (no dialog opens), and what a user types comes back as text after an htmx
swap. The data is `hostile` from tests/hostile.py."""

import pytest
from playwright.sync_api import expect

from tests.hostile import HOSTILE, hostile_fixture  # noqa: F401 - the `hostile` fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_pages_full_of_script_open_no_dialog(live_server, page, hostile):
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    account = hostile["account"]

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(hostile["manager"].user.username)
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="My portfolio")).to_be_visible()
    page.goto(f"{live_server.url}/matrices/four_s/")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    page.wait_for_load_state("networkidle")
    page.get_by_text("Log an interaction").click()
    form = page.get_by_test_id("interaction-form")
    form.get_by_label("Summary").fill(HOSTILE)
    form.get_by_role("button", name="Save interaction").click()
    expect(page.get_by_text(HOSTILE, exact=True)).to_be_visible()  # shown as text

    assert dialogs == []
    assert errors == []
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
