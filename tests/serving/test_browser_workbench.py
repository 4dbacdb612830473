"""The planner's pages in headless Chromium, against a run published from the synthetic catalogue (with
its inventory table, so orders are due): load without console errors, filters work, readable at 1,400 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forecasting.infrastructure.settings import Settings
from forecasting.inventory.exceptions import detect_exceptions
from forecasting.persistence import ResultStore
from forecasting.signals.exception_alerts import exception_alerts
from serving.api.app import create_app
from tests.serving.api_support import build_run, publish
from tests.serving.live_server import live_server
from tests.serving.test_browser import Watched, browser  # noqa: F401  (the module's fixture)

PAGES = {"orders": "/ui/orders", "exceptions": "/ui/exceptions", "alerts": "/ui/alerts", "kpis": "/ui/kpis",
         "overview": "/ui",
         "what_if": "/ui/what-if"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("workbench"), api_poll_seconds=0)
    store = ResultStore.from_settings(settings)
    run = build_run(n_skus=20, n_channels=2, seed=4)
    run_id = publish(store, run)
    found = detect_exceptions(run.policies.assign(on_hand=run.policies["on_hand"] * [100, *[1] * (len(
        run.policies) - 1)]), "2024-01-01")
    store.add_alerts(exception_alerts(found, run_id, "2024-01-01"))
    return settings


@pytest.fixture(scope="module")
def page_key(settings: Settings) -> str:
    """A read key: the pages need one (the context holds it as the sign-in cookie)."""
    return ResultStore.from_settings(settings).create_api_key("read", "browser")[1]


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with live_server(create_app(settings)) as url:
        yield url


@pytest.fixture
def wide(browser: Any, base_url: str, page_key: str) -> Iterator[Watched]:  # noqa: F811
    w = Watched(browser, base_url, page_key)
    w.page.set_viewport_size({"width": 1400, "height": 900})
    yield w
    w.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_and_fits_1400_px(wide: Watched, base_url: str, tmp_path: Path, name: str) -> None:
    response = wide.page.goto(base_url + PAGES[name], wait_until="load")
    assert response is not None and response.status == 200
    wide.page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    assert wide.errors == []
    assert wide.page.locator("h1").first.inner_text()
    overflow = wide.page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 1400, f"{name} is {overflow} px wide at a 1,400 px window"


def test_orders_page_lists_suppliers_and_filters(wide: Watched, base_url: str) -> None:
    page = wide.page
    page.goto(base_url + "/ui/orders")
    blocks = page.locator("section.po")
    n = blocks.count()
    assert n > 1 and page.locator("tr.line").count() >= n
    assert "reorder point" in page.locator("td.why").first.inner_text()
    name = blocks.first.get_attribute("data-supplier")
    assert name
    page.select_option("#supplier", name)
    page.click("#filters button[type=submit]")
    page.wait_for_url("**supplier=**")
    assert page.locator("section.po").count() == 1
    assert page.locator("section.po").first.get_attribute("data-supplier") == name
    page.fill("#as_of", "2000-01-01")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**as_of=2000-01-01**")
    assert "past" in page.locator("#error").inner_text()
    # The page answers a past date with 422 (the browser logs that status); nothing else may fail.
    assert [e for e in wide.errors if "422" not in e] == []


def test_exceptions_page_counts_kinds_and_reads_as_sentences(wide: Watched, base_url: str) -> None:
    page = wide.page
    page.goto(base_url + "/ui/exceptions")
    total = sum(int(c.inner_text()) for c in page.locator("#kinds td[data-kind]").all())
    assert total == page.locator("tr.exception").count() > 0
    assert int(page.locator('#kinds td[data-kind="excess_stock"]').inner_text()) >= 1
    page.select_option("#kind", "excess_stock")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**kind=excess_stock**")
    rows = page.locator("tr.exception")
    assert rows.count() >= 1 and page.locator("tr.exception-excess_stock").count() == rows.count()
    text = rows.first.inner_text()
    assert "days of cover" in text and "Stop ordering" in text and "{" not in text
    page.goto(base_url + "/ui/alerts")
    details = page.locator("td.details").first.inner_text()
    assert "{" not in details and "figures" in details
    assert wide.errors == []


def test_kpi_page_shows_the_table_the_glossary_and_the_trend(wide: Watched, base_url: str) -> None:
    page = wide.page
    page.goto(base_url + "/ui/kpis")
    assert page.locator("#kpis tr.kpi").count() >= 2
    assert page.locator("#kpis tr.total").count() >= 1
    chart = page.locator('#trend svg[aria-label="kpi-trend"]')
    box = chart.bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 200
    for title in ("stockout events per SKU-channel", "inventory turns a year", "days of inventory"):
        assert title in chart.inner_html()
    assert "mean supplier lead time + days of inventory" in page.locator("dl.glossary").inner_text()
    assert wide.errors == []


def test_overview_says_what_to_do_today(wide: Watched, base_url: str) -> None:
    page = wide.page
    page.goto(base_url + "/ui")
    n = int(page.locator("#n-orders").inner_text())
    assert n == page.locator("#due-suppliers tbody tr").count() > 0
    assert int(page.locator('#open-exceptions strong[data-kind="excess_stock"]').inner_text()) >= 1
    assert "WSPL" in page.locator("#model").inner_text()
    page.locator("#due-suppliers tbody a").first.click()
    page.wait_for_url("**/ui/orders?supplier=**")
    assert page.locator("section.po").count() == 1
    assert wide.errors == []


def test_what_if_form_plans_a_campaign(wide: Watched, base_url: str) -> None:
    run = build_run(n_skus=20, n_channels=2, seed=4)
    first = pd.Timestamp(run.forecasts["date"].min())
    sku = str(run.policies["sku"].iloc[0])
    page = wide.page
    page.goto(base_url + "/ui/what-if")
    page.fill("#skus", sku)
    page.fill("#start", str((first + pd.Timedelta(days=7)).date()))
    page.fill("#end", str((first + pd.Timedelta(days=13)).date()))
    page.fill("#uplift", "200")
    page.fill("#best", "300")
    page.click("#campaign button[type=submit]")
    page.wait_for_url("**uplift=200**")
    assert page.locator("tr.scenario-row").count() == 4  # 2 channels x base / best
    assert "+200%" in page.locator("#scenario").inner_text()
    assert page.locator("#orders li.order").count() == 2
    page.fill("#uplift", "-300")
    page.click("#campaign button[type=submit]")
    page.wait_for_url("**uplift=-300**")
    assert "uplift_base" in page.locator("#error").inner_text()
    assert [e for e in wide.errors if "422" not in e] == []


def test_sku_page_draws_stock_levels_on_their_own_axis(wide: Watched, base_url: str) -> None:
    run = build_run(n_skus=20, n_channels=2, seed=4)
    row = run.policies.iloc[0]
    page = wide.page
    page.goto(base_url + f"/ui/sku?q={row['sku']}&channel={row['channel']}")
    chart = page.locator('svg[aria-label="fan"]')
    chart.wait_for(state="visible")
    svg = chart.inner_html()
    assert "demand, units per day" in svg and "units in stock" in svg  # two axes, two scales
    assert "reorder point" in svg and "safety stock" in svg and "on hand" in svg
    policy = page.locator("#policy")
    assert policy.locator('tr[data-key="order_qty"] td').first.inner_text().replace(",", "") == \
        f"{row['order_qty']:,.0f}".replace(",", "") or row["order_qty"] != round(row["order_qty"])
    assert policy.locator('tr[data-key="on_hand"]').count() == 1
    assert "ADI" in policy.inner_text()
    assert page.locator("#reasons li").count() == len(row["reasons"]) > 0
    assert wide.errors == []


def test_matrix_page_explains_its_terms(wide: Watched, base_url: str) -> None:
    page = wide.page
    page.goto(base_url + "/ui/matrix")
    legend = page.locator("#legend").inner_text()
    for term in ("ADI", "CV²", "sales value", "erratic", "JIT"):
        assert term in legend
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    assert wide.errors == []
