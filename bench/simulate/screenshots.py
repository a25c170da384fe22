"""Screenshots after a simulated day, with headless Chromium (Debian's `chromium` and
`chromium-driver`; `make browser` installs them): the pick page of a picker's list, the route
plan's picture in the admin, and the Delivery KPIs dashboard.

Usage: start a day that stays up (`python -m bench.simulate --serve`), then
`python -m bench.simulate.screenshots --url http://127.0.0.1:PORT [--out docs/images]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from bench.simulate.client import Tally, login
from bench.simulate.day import PASSWORD


def browser(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_window_size(width, height)
    return driver


def log_in(driver: webdriver.Chrome, url: str, username: str) -> None:
    driver.get(url)
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    time.sleep(0.5)


def shoot(driver: webdriver.Chrome, url: str, path: Path, *, full_height: bool = False) -> None:
    driver.get(url)
    time.sleep(1.0)
    if full_height:
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(driver.get_window_size()["width"], min(int(height) + 40, 3000))
    driver.save_screenshot(str(path))
    print(f"  {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.url.rstrip("/")
    tally = Tally()
    manager = login(base, tally, "manager", PASSWORD)
    plan = manager.get("route-plans/").body["results"][0]
    warehouse = manager.get("warehouses/").body["results"][0]
    picker = login(base, tally, "picker01", PASSWORD)
    pick_list = picker.get("pick-lists/").body["results"][0]
    delivery_date = dt.date.fromisoformat(plan["delivery_date"])
    start = delivery_date - dt.timedelta(days=1)

    phone = browser(400, 860)
    try:
        log_in(phone, f"{base}/pick/login/", "picker01")
        shoot(phone, f"{base}/pick/lists/{pick_list['id']}/", args.out / "day-pick-list.png")
    finally:
        phone.quit()
    desk = browser(1400, 1000)
    try:
        log_in(desk, f"{base}/admin/login/", "manager")
        shoot(
            desk,
            f"{base}/admin/routing/routeplan/{plan['id']}/change/",
            args.out / "day-route-plan.png",
            full_height=True,
        )
        desk.set_window_size(1400, 1000)
        shoot(
            desk,
            f"{base}/admin/kpis/?warehouse={warehouse['id']}&period=custom"
            f"&start={start}&end={delivery_date}",
            args.out / "day-kpi-dashboard.png",
            full_height=True,
        )
    finally:
        desk.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
