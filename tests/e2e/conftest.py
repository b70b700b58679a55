"""Browser tests: Playwright drives Debian's Chromium against the live test server."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by fixtures
# in that thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("KAM_CHROMIUM", "/usr/bin/chromium")
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` (Debian's chromium).")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot(page, tmp_path_factory):
    """Save a screenshot of the current page as <name>.png: into docs/screenshots only when
    KAM_DOCS_SCREENSHOTS=1 (`make screenshots`), so that a test run leaves the tree clean."""
    if os.environ.get("KAM_DOCS_SCREENSHOTS") == "1":
        folder = DOCS_SCREENSHOTS
    else:
        folder = tmp_path_factory.getbasetemp() / "screenshots"

    def take(name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take
