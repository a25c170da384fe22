"""Debian's headless Chromium for the browser tests (packages chromium and chromium-driver)."""

from __future__ import annotations

from collections.abc import Iterator

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

PAGE_TIMEOUT_SECONDS = 10


def headless_chromium(width: int, height: int) -> Iterator[webdriver.Chrome]:
    """A Chromium window of `width` x `height`, quit when the caller's fixture ends."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(width, height)
    try:
        yield driver
    finally:
        driver.quit()


def submit(driver: webdriver.Chrome, element, text: str) -> None:
    """Type like a wedge scanner: the characters, then Enter; wait for the next page."""
    element.clear()
    element.send_keys(text + Keys.ENTER)
    wait_for_next_page(driver, element)


def click_and_wait(driver: webdriver.Chrome, element) -> None:
    """Click a link or button that loads a new page, and wait for that page."""
    element.click()
    wait_for_next_page(driver, element)


def wait_for_next_page(driver: webdriver.Chrome, old_element) -> None:
    """Wait until `old_element`'s page is replaced and the new one has loaded."""
    wait = WebDriverWait(driver, PAGE_TIMEOUT_SECONDS)
    wait.until(lambda _: _detached(old_element))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def _detached(element) -> bool:
    # While the old page is being torn down Chromium may report the node as "not belonging to
    # the document" instead of stale; both mean the page it was on is gone.
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


def focused(driver: webdriver.Chrome, element_id: str | None = None):
    """The element holding the focus (the scanner's target), once the page has settled."""
    if element_id is not None:
        WebDriverWait(driver, PAGE_TIMEOUT_SECONDS).until(
            lambda d: d.switch_to.active_element.get_attribute("id") == element_id
        )
    return driver.switch_to.active_element
