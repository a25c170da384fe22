"""The pick pages in a real headless Chromium at phone size, typed like a wedge scanner.

Needs Debian's `chromium` and `chromium-driver` packages (/usr/bin/chromium, /usr/bin/chromedriver).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from shipping import services
from shipping.models import Order, PickList, PickTask
from tests.browser import focused, headless_chromium, submit, wait_for_next_page
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse.models import CountRequest, StockMove
from warehouse.services import receive_stock

ARTIFACTS = Path("test-artifacts")
WIDTH, HEIGHT = 360, 740


@pytest.fixture
def browser():
    yield from headless_chromium(WIDTH, HEIGHT)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_picker_works_a_list_in_chromium(live_server, browser):
    from django.contrib.auth.models import Group

    from tests.conftest import make_user
    from warehouse.roles import ALL_ROLES

    # Transactional tests that ran before flushed the roles the migration created.
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)
    site = wf.make_site()
    outbound = sf.add_outbound_layout(site)
    picker = make_user("ana", "picker", site=site)
    products = [wf.make_product(sku=f"BRW-{n}") for n in range(3)]
    for product, face in zip(products, outbound.pick_faces, strict=False):
        receive_stock(location_id=face.id, product_id=product.id, quantity=10)
    order = sf.make_order(sf.make_customer(site.warehouse), [(p, 2) for p in products])
    services.allocate_order(order_id=order.id)
    wave = services.plan_wave(
        warehouse_id=site.warehouse.id, dispatch_date=timezone.localdate(), cutoff_at=timezone.now()
    )
    services.release_wave(wave_id=wave.id)
    pick_list = wave.pick_lists.get()
    services.assign_pick_list(pick_list_id=pick_list.id, picker_id=picker.id)

    browser.get(f"{live_server.url}/pick/login/")
    # Autofocus lands after the page loads: wait for it rather than read the focus too early.
    WebDriverWait(browser, 10).until(
        lambda d: d.switch_to.active_element.get_attribute("name") == "username"
    )
    focused(browser).send_keys("ana")
    password = browser.find_element(By.NAME, "password")
    submit(browser, password, "pw-ana")

    link = browser.find_element(By.CSS_SELECTOR, "a.pick-list")
    link.click()
    wait_for_next_page(browser, link)
    start = browser.find_element(By.ID, "start")
    start.click()
    wait_for_next_page(browser, start)

    tasks = list(pick_list.tasks.order_by("sequence"))
    short_task = tasks[1]
    for number, task in enumerate(tasks, start=1):
        assert browser.find_element(By.ID, "progress").text == f"{number} of {len(tasks)}"
        assert browser.find_element(By.ID, "bin").text == task.location.code
        if task == short_task:
            short = browser.find_element(By.ID, "short")
            short.click()
            wait_for_next_page(browser, short)
            assert focused(browser, "reason").tag_name == "select"
            confirm = browser.find_element(By.ID, "confirm-short")
            confirm.click()
            wait_for_next_page(browser, confirm)
            continue
        if number == 1:
            # A wrong bin shows the error and keeps what was scanned, still focused.
            submit(browser, focused(browser, "scan"), "A-04-01-1")
            assert "Wrong bin" in browser.find_element(By.ID, "error").text
            assert focused(browser, "scan").get_attribute("value") == "A-04-01-1"
        submit(browser, focused(browser, "scan"), task.location.code)
        # The item as a GS1 element string (human-readable form) for the first task.
        item = f"(01){task.product.gtin}" if number == 1 else task.product.gtin
        submit(browser, focused(browser, "scan"), item)
        quantity = focused(browser, "quantity")
        assert quantity.get_attribute("value") == str(task.quantity)
        if number == 1:
            page_width = browser.execute_script("return document.documentElement.scrollWidth")
            assert page_width <= WIDTH  # nothing sticks out of a 360 px phone
            ARTIFACTS.mkdir(exist_ok=True)
            assert browser.save_screenshot(str(ARTIFACTS / "pick-page.png"))
        quantity.send_keys(Keys.ENTER)
        wait_for_next_page(browser, quantity)

    assert "is done" in browser.find_element(By.CSS_SELECTOR, ".message").text
    assert PickList.objects.get().status == PickList.Status.DONE
    statuses = sorted(PickTask.objects.values_list("status", flat=True))
    assert statuses == ["picked", "picked", "short"]
    assert StockMove.objects.filter(reason="pick").count() == 2
    assert CountRequest.objects.filter(location_id=short_task.location_id).exists()
    assert Order.objects.get().status == Order.Status.PICKED
