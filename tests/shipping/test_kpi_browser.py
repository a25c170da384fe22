"""The Delivery KPIs dashboard in a real headless Chromium: a manager logs into admin, changes
the period and the dimension, drills into late deliveries and downloads the CSV export.

Needs Debian's `chromium` and `chromium-driver` packages (/usr/bin/chromium, /usr/bin/chromedriver).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from shipping.kpis.compute import recompute_kpis
from shipping.models import Order, Shipment
from tests.browser import click_and_wait, headless_chromium
from tests.factories import routing as rf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf

ARTIFACTS = Path("test-artifacts")
WIDTH, HEIGHT = 1280, 1000


@pytest.fixture
def browser():
    yield from headless_chromium(WIDTH, HEIGHT)


def late_orders(driver) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#late-table tr.late-delivery")
    return [row.find_elements(By.TAG_NAME, "td")[1].text for row in rows]


# Fetch the export with the browser's own session cookie, as the download link would.
FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "same-origin"})
  .then(r => r.text().then(body => done([r.status, r.headers.get("content-type"), body])))
  .catch(error => done([0, "", String(error)]));
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_explores_delivery_kpis_in_chromium(live_server, browser):
    from django.contrib.auth.models import Group

    from tests.conftest import make_user
    from warehouse.roles import ALL_ROLES

    # Transactional tests that ran before flushed the roles the migration created.
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)
    site = wf.make_site()
    warehouse = site.warehouse
    make_user("mia", "manager", site=site, is_staff=True)
    product = wf.make_product(sku="KPI-1")
    bakker = sf.make_customer(warehouse, code="bakker", name="Bakker & Zonen")
    visser = sf.make_customer(warehouse, code="visser", name="Visser")
    today = timezone.now().astimezone(warehouse.tzinfo).date()

    def deliver(number, customer, days_ago, hour, carrier):
        date = today - dt.timedelta(days=days_ago)
        shipment = rf.make_shipment(
            customer, product, 1, day=date, window=(9, 12), number=number, carrier=carrier
        )
        at = dt.datetime.combine(date, dt.time(hour), warehouse.tzinfo)
        # Ordered two days and some hours before, dispatched the morning of the delivery.
        Order.objects.filter(id=shipment.order_id).update(
            created_at=at - dt.timedelta(days=2, hours=hour % 5)
        )
        Shipment.objects.filter(id=shipment.id).update(
            status=Shipment.Status.DISPATCHED, dispatched_at=at - dt.timedelta(hours=5)
        )
        sf.make_delivery(shipment, at)
        return shipment

    # Late (14:00 against 09:00-12:00) three days ago on route 3, and twenty days ago; one on
    # time. The last 7 days hold one late delivery, the last 30 days two.
    recent = deliver("SO-RECENT", bakker, 3, 14, "DHL")
    rf.make_route(warehouse, today - dt.timedelta(days=3), 3, [recent])
    deliver("SO-OLDER", visser, 20, 15, "PostNL")
    deliver("SO-FINE", visser, 2, 10, "")
    recompute_kpis(
        date_from=today - dt.timedelta(days=40), date_to=today, warehouse_ids=[warehouse.id]
    )

    # Log into admin and follow the index's link to the dashboard.
    browser.get(f"{live_server.url}/admin/")
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "id_username")))
    browser.find_element(By.ID, "id_username").send_keys("mia")
    browser.find_element(By.ID, "id_password").send_keys("pw-mia")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    click_and_wait(browser, browser.find_element(By.ID, "kpi-dashboard-link"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Delivery KPIs"
    # Default: the last 30 days, by carrier. 1 of 3 on time.
    otd = browser.find_element(By.CSS_SELECTOR, "#tile-otd .kpi-tile-value")
    assert otd.text == "33.3 %"
    assert sorted(late_orders(browser)) == ["SO-OLDER", "SO-RECENT"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.kpi-chart")) == 4

    # The last 7 days, by customer.
    Select(browser.find_element(By.ID, "id_period")).select_by_value("7d")
    Select(browser.find_element(By.ID, "id_dimension")).select_by_value("customer")
    click_and_wait(browser, browser.find_element(By.ID, "apply-filters"))
    assert (
        browser.find_element(By.ID, "breakdown").text == "On-time delivery by customer, worst first"
    )
    assert late_orders(browser) == ["SO-RECENT"]
    first = browser.find_element(By.CSS_SELECTOR, "#breakdown-table tbody tr")
    assert first.find_element(By.TAG_NAME, "td").text == "Bakker & Zonen"  # worst: 0 %

    # Drill into the late deliveries behind the worst customer's bar.
    bar = browser.find_element(By.CSS_SELECTOR, "svg.kpi-chart g.bar a")
    click_and_wait(browser, bar)
    assert browser.find_element(By.ID, "late").text == "Late deliveries of Customer bakker"
    assert late_orders(browser) == ["SO-RECENT"]
    row = browser.find_element(By.CSS_SELECTOR, "#late-table tr.late-delivery")
    links = [a.get_attribute("href") for a in row.find_elements(By.TAG_NAME, "a")]
    assert any(f"/admin/shipping/order/{recent.order_id}/change/" in href for href in links)
    assert any("/sheet/#stop-" in href for href in links)

    # The whole page in one picture: a window as tall as the page.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WIDTH, height)
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "kpi-dashboard.png"))

    # Download the late deliveries as CSV with the page's filters.
    href = browser.find_element(By.ID, "export-late").get_attribute("href")
    assert "export=late" in href and "late_key=bakker" in href and "period=7d" in href
    status, content_type, body = browser.execute_async_script(FETCH, href)
    assert (status, content_type) == (200, "text/csv; charset=utf-8")
    lines = body.strip().splitlines()
    assert lines[0].startswith("Delivered at,Order,Shipment")
    assert len(lines) == 2 and ",SO-RECENT," in lines[1] and "Route 3" in lines[1]
