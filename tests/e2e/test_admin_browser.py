"""A newcomer logs into the admin in a real browser and finds the accounts."""

import pytest

from tests.factories import AccountFactory, AdminUserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_logs_in_and_browses_accounts(live_server, page):
    AdminUserFactory(username="admin")
    account = AccountFactory(customer__name="Acme Robotics")

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(f"{live_server.url}/admin/accounts/account/")

    assert page.locator("#result_list").is_visible()
    assert "Acme Robotics" in page.locator("#result_list").inner_text()
    page.locator("#result_list a", has_text="Acme Robotics").first.click()
    page.wait_for_url(f"**/admin/accounts/account/{account.pk}/change/")
    assert page.url.endswith(f"/admin/accounts/account/{account.pk}/change/")
