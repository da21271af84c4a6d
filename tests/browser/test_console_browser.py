"""The web console in a real browser: headless Chromium from Debian's packages, driven by Selenium,
against the local stack. Sign in, watch ingested events arrive, filter, open one, read the
statistics the API gives, sign out; a refused key; a phone-sized screen.

Screenshots go to $CONSOLE_SCREENSHOT_DIR, or a directory under pytest's tmp dir (printed).
Without Chromium these tests skip: `apt-get install -y chromium chromium-driver`.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack import LocalStackProcess
from tests.browser.stage_proxy import stage_proxy
from tests.support.local_stack import StackSession

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Chromium not installed: apt-get install -y chromium chromium-driver",
)
webdriver = pytest.importorskip("selenium.webdriver", reason="pip install -r requirements-dev.txt")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

WAIT_SECONDS = 15  # a bound for slow machines; each wait returns as soon as the page is there
# Chromium talks to nothing but the stack: no DNS, other hosts through a closed port, no
# background services.
CHROMIUM_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",  # root in a container
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1280,900",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",  # loopback bypasses it; nothing else gets anywhere
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = Path(
        os.environ.get("CONSOLE_SCREENSHOT_DIR") or tmp_path_factory.mktemp("console-screenshots")
    )
    directory.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: Any, stack: LocalStackProcess) -> Iterator[Any]:
    """The console in a fresh tab state: signed out, default size, console log emptied."""
    chromium.set_window_size(1280, 900)
    chromium.get(f"{stack.url}/console")
    chromium.execute_script("sessionStorage.clear()")
    chromium.refresh()
    chromium.get_log("browser")
    yield chromium


@pytest.fixture(scope="module")
def console_app(stack: LocalStackProcess) -> dict[str, Any]:
    """An app of this module's own, so other tests' events don't change its numbers."""
    with StackSession(stack) as http:
        created = http.post(f"/apps/console-{uuid.uuid4().hex[:10]}", headers=http.admin)
        assert created.status_code == 201, created.text
        return created.json()


def wait_for(driver: Any, condition: Any, message: str) -> Any:
    return WebDriverWait(driver, WAIT_SECONDS).until(lambda _driver: condition(), message)


def rows(driver: Any, table_id: str) -> list[Any]:
    return driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr[data-{row_key(table_id)}]")


def row_key(table_id: str) -> str:
    return {"events": "event-id", "by-level": "level", "by-name": "name", "apps": "app-id"}[
        table_id
    ]


def sign_in(driver: Any, key: str, kind: str = "key") -> None:
    secret = wait_for(driver, lambda: driver.find_element(By.NAME, "secret"), "no sign-in form")
    assert driver.switch_to.active_element == secret  # the form is ready for typing
    Select(driver.find_element(By.NAME, "kind")).select_by_value(kind)
    secret.send_keys(key, Keys.ENTER)  # the keyboard alone signs in


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def ingest(stack: LocalStackProcess, app: dict[str, Any], events: list[dict[str, Any]]) -> None:
    with StackSession(stack) as http:
        reply = http.post(
            f"/apps/{app['id']}/events",
            headers={"X-INGEST-KEY": app["ingest_key"]},
            json=events,
        )
        assert reply.status_code == 201, reply.text


def test_sign_in_watch_events_arrive_filter_open_one_read_statistics_and_sign_out(
    browser, stack, console_app, screenshots
):
    app_id = console_app["id"]
    browser.save_screenshot(str(screenshots / "01-sign-in.png"))
    sign_in(browser, stack.admin_key)

    # Apps (admin): the new app is listed; its link opens its events.
    wait_for(browser, lambda: rows(browser, "apps"), "no apps listed")
    browser.find_element(By.CSS_SELECTOR, f'#apps tr[data-app-id="{app_id}"] a').click()
    wait_for(
        browser,
        lambda: "No events match." in browser.find_element(By.ID, "events").text,
        "the new app's events page did not say it has none",
    )

    # Live: events sent over the API appear without a reload.
    browser.execute_script("window.consoleMarker = 'same page'")
    ingest(
        stack,
        console_app,
        [
            {"level": "info", "message": "user signed in", "name": "login", "service": "web"},
            {"level": "info", "message": "cart viewed", "name": "cart", "service": "web"},
            {"level": "warning", "message": "slow query", "name": "db", "service": "api"},
            {
                "level": "error",
                "message": "payment declined",
                "name": "checkout",
                "service": "api",
                "data": {"order_id": "A-1042", "amount": 99},
                "stack": {"frames": ["pay.py:42 in charge", "api.py:7 in checkout"]},
            },
        ],
    )
    wait_for(browser, lambda: len(rows(browser, "events")) == 4, "the events did not appear")
    assert browser.execute_script("return window.consoleMarker") == "same page"
    browser.save_screenshot(str(screenshots / "02-live-events.png"))

    # Filter by level.
    Select(browser.find_element(By.NAME, "level")).select_by_value("ERROR")
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait_for(
        browser,
        lambda: [row.get_attribute("data-level") for row in rows(browser, "events")] == ["ERROR"],
        "the level filter did not leave the one ERROR event",
    )
    # The live stream keeps the filter: a new ERROR shows, a new INFO does not.
    ingest(
        stack,
        console_app,
        [
            {"level": "info", "message": "user signed out", "name": "logout", "service": "web"},
            {"level": "error", "message": "disk full", "name": "upload", "service": "api"},
        ],
    )
    wait_for(browser, lambda: len(rows(browser, "events")) == 2, "the new ERROR did not appear")
    assert "disk full" in rows(browser, "events")[0].text  # newest first
    assert {row.get_attribute("data-level") for row in rows(browser, "events")} == {"ERROR"}
    browser.save_screenshot(str(screenshots / "03-filtered.png"))

    # Open it, with the keyboard.
    rows(browser, "events")[1].find_element(By.TAG_NAME, "a").send_keys(Keys.ENTER)
    detail = wait_for(browser, lambda: browser.find_element(By.ID, "event-detail"), "no detail")
    assert "payment declined" in detail.text
    page = browser.find_element(By.ID, "main").text
    assert '"order_id": "A-1042"' in page
    assert "pay.py:42 in charge" in page
    browser.save_screenshot(str(screenshots / "04-event.png"))

    # Statistics: the numbers the API gives (read once the aggregates have counted them).
    with StackSession(stack) as http:
        by_level = http.get(f"/apps/{app_id}/stats/by-level", headers=http.admin).json()
        series = http.get(f"/apps/{app_id}/stats/timeseries", headers=http.admin).json()
        tokyo = http.get(f"/apps/{app_id}/stats/hourly?tz=Asia/Tokyo", headers=http.admin).json()
    browser.find_element(By.ID, "nav-stats").click()
    wait_for(browser, lambda: rows(browser, "by-level"), "no statistics by level")
    current = browser.find_elements(By.CSS_SELECTOR, '#nav a[aria-current="page"]')
    assert [link.text for link in current] == ["Statistics"]
    shown = {
        row.get_attribute("data-level"): int(row.find_element(By.CSS_SELECTOR, ".count").text)
        for row in rows(browser, "by-level")
    }
    assert shown == {item["level"]: item["count"] for item in by_level["items"]}
    assert shown == {"INFO": 3, "WARNING": 1, "ERROR": 2}
    total = browser.find_element(By.ID, "timeseries-total").text
    assert int(total) == sum(bucket["count"] for bucket in series["series"]) == 6
    assert len(browser.find_elements(By.CSS_SELECTOR, ".chart canvas")) == 2  # uPlot drew
    browser.save_screenshot(str(screenshots / "05-statistics.png"))

    # Hourly in another time zone.
    zone = browser.find_element(By.NAME, "tz")
    zone.clear()
    zone.send_keys("Asia/Tokyo", Keys.ENTER)
    wait_for(browser, lambda: "Asia/Tokyo" in browser.find_element(By.ID, "stats").text, "no tz")
    hours = browser.find_elements(By.CSS_SELECTOR, "#hourly tbody tr td.num")
    assert [int(hour.get_attribute("textContent")) for hour in hours] == tokyo["hour_count"]

    # The key never went into a URL: not the page's, not any request's.
    urls = browser.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]"
    )
    assert not [url for url in urls if stack.admin_key in url]
    assert console_errors(browser) == []  # no CSP violation, no failed load

    # Sign out: the key is gone from the tab, and the pages want it again.
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "sign-in"), "no sign-in after sign out")
    assert browser.execute_script("return sessionStorage.length") == 0
    browser.get(f"{stack.url}/console#/apps/{app_id}/events")
    wait_for(browser, lambda: browser.find_elements(By.ID, "sign-in"), "signed in after sign out")
    assert browser.find_element(By.ID, "nav").is_displayed() is False
    browser.save_screenshot(str(screenshots / "06-signed-out.png"))


def test_older_events_page_in_with_the_listings_cursor(browser, stack):
    with StackSession(stack) as http:
        app = http.post(f"/apps/paging-{uuid.uuid4().hex[:10]}", headers=http.admin).json()
    ingest(stack, app, [{"message": f"event {number}"} for number in range(53)])
    sign_in(browser, stack.admin_key)
    wait_for(browser, lambda: rows(browser, "apps"), "no apps listed")
    browser.get(f"{stack.url}/console#/apps/{app['id']}/events")
    wait_for(browser, lambda: len(rows(browser, "events")) == 50, "not a first page of 50")
    older = browser.find_element(By.ID, "older")
    older.click()
    wait_for(browser, lambda: len(rows(browser, "events")) == 53, "the older events did not load")
    assert not older.is_displayed()  # nothing older
    shown = [row.text.rpartition(" ")[2] for row in rows(browser, "events")]
    assert sorted(shown, key=int) == [str(number) for number in range(53)]


def test_under_a_stage_prefix_the_console_loads_and_reads_the_api_of_that_stage(browser, stack):
    with stage_proxy(stack.url) as staged:
        browser.get(f"{staged}/console")
        sign_in(browser, stack.admin_key)
        wait_for(browser, lambda: rows(browser, "apps"), "no apps listed through the stage")
        urls = browser.execute_script(
            "return performance.getEntriesByType('resource').map(entry => entry.name)"
        )
    assert any(url.endswith("/app.js") for url in urls)
    assert any(url.startswith(f"{staged}/apps?") for url in urls)  # the sign-in's check
    assert [url for url in urls if not url.startswith(f"{staged}/")] == []
    assert console_errors(browser) == []


def test_a_users_bearer_token_reads_its_own_app_and_no_admin_page(browser, stack, console_app):
    with StackSession(stack) as http:
        body = {"app_id": console_app["id"], "role": "user"}
        token = http.post("/tokens", headers=http.admin, json=body).json()["token"]
    sign_in(browser, token, kind="bearer")
    wait_for(browser, lambda: rows(browser, "events"), "the token's app's events did not show")
    assert browser.find_element(By.ID, "who-label").text == f"app {console_app['id']}"
    assert not browser.find_element(By.ID, "nav-apps").is_displayed()
    browser.find_element(By.ID, "nav-tracker").click()
    wait_for(browser, lambda: browser.find_elements(By.ID, "tracker-totals"), "no tracker page")
    assert "The hourly frequencies are an admin's view." in browser.find_element(By.ID, "main").text
    assert console_errors(browser) == []


def test_a_refused_key_is_said_so_and_not_kept(browser, stack, screenshots):
    sign_in(browser, "not-a-key-of-this-stack")
    wait_for(
        browser,
        lambda: "That credential was refused." in browser.find_element(By.ID, "sign-in").text,
        "no refusal shown",
    )
    assert browser.execute_script("return sessionStorage.length") == 0
    browser.save_screenshot(str(screenshots / "07-refused.png"))


def test_on_a_phone_sized_screen_nothing_overflows_the_page(
    browser, stack, console_app, screenshots
):
    browser.set_window_size(390, 844)
    sign_in(browser, stack.admin_key)
    wait_for(browser, lambda: rows(browser, "apps"), "no apps listed")
    for page, table_id in (("events", "events"), ("stats", "by-level"), ("alerts", "alert-rules")):
        browser.get(f"{stack.url}/console#/apps/{console_app['id']}/{page}")
        wait_for(browser, lambda: browser.find_elements(By.ID, table_id), page)  # noqa: B023
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page} is {overflow}px wider than the screen"
        browser.save_screenshot(str(screenshots / f"08-narrow-{page}.png"))
