"""The count pages in a real headless Chromium at phone size, typed like a wedge scanner.

Needs Debian's `chromium` and `chromium-driver` packages (/usr/bin/chromium, /usr/bin/chromedriver).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import focused, submit, wait_for_next_page
from tests.conftest import make_user
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from tests.shipping.test_pick_browser import (
    ARTIFACTS,
    WIDTH,
    browser,  # noqa: F401 (the fixture)
)
from warehouse.counts import services as counting
from warehouse.models import CountRequest, StockBalance, StockMove
from warehouse.roles import ALL_ROLES
from warehouse.selectors import list_ledger_mismatches
from warehouse.services import receive_stock

EXPECTED = 4321


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_counter_counts_a_bin_blind_in_chromium(live_server, browser):  # noqa: F811
    # Transactional tests that ran before flushed the roles the migration created.
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)
    site = wf.make_site()
    face = sf.add_outbound_layout(site).pick_faces[0]
    product = wf.make_product(sku="CNT-1")
    receive_stock(location_id=face.id, product_id=product.id, quantity=EXPECTED)
    make_user("ines", "inspector", site=site)
    manager = make_user("mona", "manager", site=site)
    task = counting.request_counts(location=face, actor=manager)[0]

    browser.get(f"{live_server.url}/counts/")
    focused(browser, "id_username").send_keys("ines")
    submit(browser, browser.find_element(By.NAME, "password"), "pw-ines")
    assert browser.current_url.endswith("/counts/")
    link = browser.find_element(By.ID, f"count-{task.id}")
    link.click()
    wait_for_next_page(browser, link)
    assert browser.find_element(By.ID, "bin").text == face.code

    # A wrong bin shows the error, still focused on the scan.
    submit(browser, focused(browser, "scan"), "A-04-01-1")
    assert "Wrong bin" in browser.find_element(By.ID, "error").text
    submit(browser, focused(browser, "scan"), face.code)
    # One scan is one unit; then a quantity typed before the scan.
    submit(browser, focused(browser, "scan"), product.gtin)
    assert "CNT-1: 1 counted" in browser.find_element(By.CSS_SELECTOR, ".message").text
    browser.find_element(By.ID, "quantity").send_keys("4319")
    scan = browser.find_element(By.ID, "scan")
    scan.send_keys(f"(01){product.gtin}" + Keys.ENTER)
    wait_for_next_page(browser, scan)
    assert "CNT-1: 4320 counted" in browser.find_element(By.CSS_SELECTOR, ".message").text
    assert str(EXPECTED) not in browser.page_source
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTH
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "count-page.png"))

    done = browser.find_element(By.ID, "submit")
    done.click()
    wait_for_next_page(browser, done)
    assert "Count accepted" in browser.find_element(By.CSS_SELECTOR, ".message").text
    assert str(EXPECTED) not in browser.page_source
    assert CountRequest.objects.get().status == CountRequest.Status.DONE
    assert StockBalance.objects.get(location=face, product=product).quantity == EXPECTED - 1
    assert StockMove.objects.filter(reason="count").count() == 1
    assert list_ledger_mismatches() == []
