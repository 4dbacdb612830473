"""The analyst pages in headless Chromium: every page loads without console errors, search, filters.

The API app (``create_app``) is served by uvicorn in a thread on a free loopback port, against a
temporary store with two published runs, alerts and a drift report. Chromium is Debian's package
(``apt-get install -y chromium``) driven by Playwright; no browser is downloaded. Without it the tests
are skipped, except under ``CI=true`` where they fail. Screenshots of every page are saved in a
temporary directory (its path is printed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from forecasting.infrastructure.settings import Settings
from serving.api.app import create_app
from serving.ui import attach_sales
from serving.ui.access import COOKIE
from tests.serving.live_server import live_server
from tests.serving.test_ui import EVIL_SKU, Published, make_published_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PAGES = {
    "overview": "/ui",
    "sku": "/ui/sku?q=SKU",
    "matrix": "/ui/matrix",
    "alerts": "/ui/alerts",
    "suppliers": "/ui/suppliers",
    "drift_report": "/reports/drift/latest",
}


def _require_browser() -> Any:
    """Playwright's ``sync_playwright``; skips (or fails under CI=true) without Chromium or Playwright."""
    reason = ""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)."
    sync_playwright: Any = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "The 'playwright' package is not installed (pip install -e '.[dev]')."
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " Browser tests must run under CI=true.")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return make_published_store(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def base_url(published: Published) -> Iterator[str]:
    home = Path(published.store.url.removeprefix("sqlite:///")).parent
    app = create_app(Settings(home=home, database_url=published.store.url, api_poll_seconds=0))
    attach_sales(app, published.data.sales)
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {path}")
    return path


@pytest.fixture(scope="module")
def page_key(published: Published) -> str:
    """A read key for the pages (they need one unless BLENDCAST_PUBLIC_PAGES=true)."""
    return published.store.create_api_key("read", "browser")[1]


class Watched:
    """A page that records console errors, uncaught exceptions and dialogs (an alert() would be XSS).

    With ``base_url`` and ``key`` the context holds the sign-in cookie the login form would set.
    """

    def __init__(self, browser: Any, base_url: str | None = None, key: str | None = None) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        if base_url and key:
            self.context.add_cookies([{"name": COOKIE, "value": key, "url": base_url, "httpOnly": True,
                                       "sameSite": "Strict"}])
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("requestfailed", lambda req: self.errors.append(f"failed {req.url}"))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any, base_url: str, page_key: str) -> Iterator[Watched]:
    w = Watched(browser, base_url, page_key)
    yield w
    w.close()


def test_pages_ask_for_a_key_and_the_sign_in_form_keeps_it_httponly(
    browser: Any, base_url: str, published: Published, shots: Path
) -> None:
    w = Watched(browser)
    try:
        page = w.page
        response = page.goto(base_url + "/ui/matrix")
        assert response is not None and response.status == 401
        assert page.locator("h1").inner_text() == "Sign in"
        assert page.locator("table").count() == 0
        page.fill("#key", "bck_00000000_wrong")
        page.click("#login button[type=submit]")
        page.locator("#login-error").wait_for(state="visible")
        assert "unknown or revoked" in page.locator("#login-error").inner_text()
        key_id, key = published.store.create_api_key("read", "sign-in")
        page.fill("#key", key)
        page.click("#login button[type=submit]")
        page.wait_for_url("**/ui/matrix")
        assert page.locator("h1").first.inner_text() != "Sign in"
        page.screenshot(path=str(shots / "signed_in_matrix.png"), full_page=True)
        cookies = {c["name"]: c for c in w.context.cookies()}
        assert cookies[COOKIE]["httpOnly"] and cookies[COOKIE]["sameSite"] == "Strict"
        assert key not in page.evaluate("document.cookie")
        published.store.revoke_api_key(key_id)
        page.reload()
        assert page.locator("h1").inner_text() == "Sign in"
        # 401 answers for the pages are expected above; nothing else may fail.
        assert [e for e in w.errors if "401" not in e] == []
    finally:
        w.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_console_errors(watched: Watched, base_url: str, shots: Path, name: str) -> None:
    response = watched.page.goto(base_url + PAGES[name], wait_until="load")
    assert response is not None and response.status == 200
    watched.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert watched.errors == []
    assert (shots / f"{name}.png").stat().st_size > 5_000
    heading = watched.page.locator("h1").first.inner_text()
    assert heading


def test_sku_search_shows_the_fan_chart(watched: Watched, base_url: str, shots: Path,
                                        published: Published) -> None:
    policies = published.store.get_policies()
    sku = str(policies.loc[policies["sku"] != EVIL_SKU, "sku"].iloc[0])
    page = watched.page
    page.goto(base_url + "/ui")
    page.fill("#q", sku)
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/ui/sku?q=*")
    chart = page.locator('svg[aria-label="fan"]')
    chart.wait_for(state="visible")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.locator("#series h2").inner_text().startswith(sku)
    assert "reorder point" in chart.inner_html() and "safety stock" in chart.inner_html()
    page.screenshot(path=str(shots / "sku_chart.png"), full_page=True)
    assert watched.errors == []


def test_script_named_sku_is_shown_as_text(watched: Watched, base_url: str) -> None:
    page = watched.page
    page.goto(base_url + "/ui/sku?q=script")
    page.locator('svg[aria-label="fan"]').wait_for(state="visible")
    assert page.locator("#series h2").inner_text().startswith(EVIL_SKU)
    page.goto(base_url + "/ui/alerts")
    assert EVIL_SKU in page.locator("#alerts").inner_text()
    assert watched.dialogs == [] and watched.errors == []


def test_alert_filters_work(watched: Watched, base_url: str, shots: Path) -> None:
    page = watched.page
    page.goto(base_url + "/ui/alerts")
    assert page.locator("tr.alert").count() == 2
    page.select_option("#type", "volatility_shift")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**type=volatility_shift**")
    assert page.locator("tr.alert").count() == 1
    assert page.locator("tr.alert td").nth(1).inner_text() == "volatility_shift"
    page.fill("#since", "2999-01-01")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**since=2999-01-01**")
    assert page.locator("tr.alert").count() == 0
    assert page.locator("#type").input_value() == "volatility_shift"
    page.screenshot(path=str(shots / "alerts_filtered.png"), full_page=True)
    assert watched.errors == []


def test_drift_report_shows_the_verdict_first(watched: Watched, base_url: str) -> None:
    page = watched.page
    page.goto(base_url + "/reports/drift/latest")
    verdict = page.locator("#verdict strong").inner_text()
    assert verdict in ("OK", "WATCH", "ACT")
    assert page.locator("svg.chart").count() == 5
    assert watched.errors == []


@pytest.mark.parametrize(("path", "operation"), [("/docs", ".swagger-ui .opblock"),
                                                  ("/redoc", "li[data-item-id^='tag/']")])
def test_api_docs_render_with_the_network_blocked(browser: Any, base_url: str, shots: Path, path: str,
                                                  operation: str) -> None:
    """Swagger UI and ReDoc come from local files: every request off this machine is aborted."""
    w = Watched(browser)
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    try:
        w.context.route("**/*", only_local)
        response = w.page.goto(base_url + path, wait_until="load")
        assert response is not None and response.status == 200
        w.page.get_by_text("Blendcast API").first.wait_for(state="visible", timeout=30_000)
        w.page.locator(operation).first.wait_for(state="visible", timeout=30_000)
        assert w.page.locator(operation).count() >= 5
        w.page.screenshot(path=str(shots / f"docs{path.replace('/', '_')}.png"))
        assert outside == [] and w.errors == []
    finally:
        w.close()
