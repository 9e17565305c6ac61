"""The dashboard in a real headless Chromium (Debian's, through its
chromedriver), served by a real ``aqueue dashboard`` process beside a real
worker, on PostgreSQL: open each page, filter, read a traceback, log in,
retry a failed job and watch it succeed, pause and resume a queue, see the
flow chart, run jobs now from their page and from ticked rows. A screenshot of each page is
saved under the test's tmp_path (and in $AQUEUE_SCREENSHOT_DIR when set).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import aqueue
from tests.acceptance.helpers import ADMIN, ROOT, WorkerProcess
from tests.databases import IN_CI, TestDatabase

TOKEN = "browser-test-token-123"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the test extra installs it
    webdriver = None  # type: ignore[assignment]

_missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
if webdriver is None or _missing:
    why = (
        "selenium is not installed"
        if webdriver is None
        else f"Chromium is not installed ({', '.join(_missing)} missing; "
        "apt-get install chromium chromium-driver)"
    )
    if IN_CI:
        raise RuntimeError(f"the browser tests must run in CI: {why}")
    pytest.skip(why, allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# On PostgreSQL, the database most dashboards are run against (the API tests
# cover all three).
pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


@pytest.fixture
def dsn(database: TestDatabase) -> str:
    return database.dsn


@pytest.fixture
def server(dsn: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = open(tmp_path / "dashboard.log", "wb")
    proc = subprocess.Popen(
        [ADMIN, "dashboard", "--dsn", dsn, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "AQUEUE_DASHBOARD_TOKEN": TOKEN},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "/login", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "dashboard.log").read_text()) from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()
    assert TOKEN not in (tmp_path / "dashboard.log").read_text()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    def __init__(self, driver: WebDriver, folder: Path) -> None:
        self.driver, self.folder = driver, folder
        folder.mkdir(exist_ok=True)
        self.extra = os.environ.get("AQUEUE_SCREENSHOT_DIR")

    def take(self, name: str) -> None:
        path = self.folder / f"{name}.png"
        assert self.driver.save_screenshot(str(path))
        assert path.stat().st_size > 5000  # a rendered page, not a blank one
        if self.extra:
            shutil.copy(path, Path(self.extra) / f"dashboard-{name}.png")


def _seed(dsn: str, flag: Path) -> dict[str, str]:
    async def main() -> dict[str, str]:
        queue = aqueue.Queue(dsn)
        async with queue:
            await queue.migrate()
            ids = {}
            ids["failed"] = (
                await queue.enqueue("flaky", str(flag), "<script>document.title='pwned'</script>")
            ).id
            for n in range(3):
                await queue.enqueue("record", n)
            later = queue.task_named("record").using(delay=3600, tags=["<b>later</b>"])
            ids["later"] = (await later.enqueue(7)).id
            ids["ticked"] = (await later.enqueue(8)).id
            return ids

    return asyncio.run(main())


# The pages refresh themselves (the content is swapped every few seconds), so
# an element found a moment ago may be gone: waits and clicks find it afresh.
# The pages swap their content on auto-refresh: an element found a moment ago
# may be gone. Chromium reports that as a stale element, or (when the swap
# lands between finding a node and reading it) as a bare WebDriverException,
# "Node with given id does not belong to the document". The waits retry
# either; a real failure still ends in the wait's own timeout message.
STALE = (StaleElementReferenceException, NoSuchElementException, WebDriverException)


def _wait(driver: WebDriver, timeout: float = 20) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout, ignored_exceptions=STALE)


def _wait_text(driver: WebDriver, css: str, text: str, timeout: float = 20) -> None:
    _wait(driver, timeout).until(
        lambda d: text in d.find_element(By.CSS_SELECTOR, css).text,
        f"{text!r} never appeared in {css}",
    )


def _click(driver: WebDriver, css: str) -> None:
    def click(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    _wait(driver, 10).until(click, f"could not click {css}")


def test_the_dashboard_in_a_browser(
    server: str, browser: WebDriver, dsn: str, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    ids = _seed(dsn, flag)
    worker = WorkerProcess(dsn, tmp_path / "record.txt", "--poll-interval", "0.2")
    shots = Shots(browser, tmp_path / "screenshots")
    try:
        # Every page asks for the token first: the log-in page, then back.
        browser.get(server + "/jobs?status=failed")
        WebDriverWait(browser, 10).until(lambda d: "/login?next=" in d.current_url)
        assert "flaky" not in browser.page_source
        browser.find_element(By.NAME, "token").send_keys(TOKEN)
        shots.take("login")
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        WebDriverWait(browser, 10).until(lambda d: "/jobs?status=failed" in d.current_url)

        # The worker runs the records and fails the flaky job (no flag yet).
        browser.get(server + "/")
        _wait_text(browser, "#queues", "default")
        _wait(browser, 30).until(
            lambda d: (
                d.find_element(By.CSS_SELECTOR, "tr[data-queue='default'] td:nth-child(5)").text
                == "1"
            ),
            "the failed job never showed on the overview",
        )
        # The flow chart: the worker's counts arrive within its flush
        # interval, and the page's refresh redraws the chart.
        bars = "#outcomes-chart svg rect"
        _wait(browser, 40).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, bars), "the chart never showed a bar"
        )
        shots.take("overview")
        _click(browser, "#span-day")
        WebDriverWait(browser, 10).until(lambda d: "range=day" in d.current_url)
        _wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, bars))
        _wait_text(browser, "#depth-chart figcaption", "Jobs due and waiting")

        # The jobs list, filtered to failed jobs through the form.
        browser.get(server + "/jobs")
        Select(browser.find_element(By.NAME, "status")).select_by_visible_text("failed")
        browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda d: "status=failed" in d.current_url)
        listed = _wait(browser).until(
            lambda d: [
                r.get_attribute("data-id")
                for r in d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
            ]
        )
        assert listed == [ids["failed"]]
        shots.take("jobs")

        # Search by an argument's value: the record job given 2, and the note
        # of how far back the search looks.
        browser.get(server + "/jobs")
        browser.find_element(By.NAME, "arg").send_keys("0=2")
        browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda d: "arg=0%3D2" in d.current_url)
        _wait_text(browser, "#search-window", "newest 3,000")
        found = _wait(browser).until(
            lambda d: [r.text for r in d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")]
        )
        assert len(found) == 1 and "record" in found[0], found
        browser.get(server + "/jobs?status=failed")

        # The failed job: its traceback, what it printed, and its <script>
        # argument shown as text.
        _click(browser, f"#jobs tr[data-id='{ids['failed']}'] a")
        _wait_text(browser, "#traceback", "RuntimeError: flag")
        _wait_text(browser, "#args", "<script>document.title='pwned'</script>")
        _wait_text(browser, "#output-1", "looking for")
        _wait_text(browser, "#output-1", "<script>document.title='pwned'</script>")
        assert browser.title != "pwned"
        assert browser.execute_script("return document.title") != "pwned"
        shots.take("job-failed")

        # Retry it with the flag set.
        flag.write_text("set")
        _click(browser, "button.retry")
        # The page refreshes itself while the job is queued or running.
        _wait_text(browser, "main p .status", "succeeded", timeout=30)
        _wait_text(browser, "#result", "done: <script>")
        _wait_text(browser, "#output-2", "looking for")  # each run's output, in order
        shots.take("job-succeeded")

        # Pause and resume a queue from the overview.
        browser.get(server + "/")
        _click(browser, "tr[data-queue='default'] button.pause-pause")
        _wait_text(browser, "tr[data-queue='default']", "paused")
        assert _paused(dsn) == ["default"]
        shots.take("overview-paused")
        _click(browser, "tr[data-queue='default'] button.pause-resume")
        _wait(browser, 10).until(
            lambda d: (
                "paused" not in d.find_element(By.CSS_SELECTOR, "tr[data-queue='default']").text
            )
        )
        assert _paused(dsn) == []

        # A job due in an hour: run it now from its page; it runs at once.
        browser.get(server + f"/jobs/{ids['later']}")
        _wait_text(browser, "#tags", "<b>later</b>")  # its tag, shown as text
        shots.take("job-queued")
        _click(browser, "button.run-now")
        _wait_text(browser, "main p .status", "succeeded", timeout=30)

        # Another, ticked in the jobs list and run from there.
        browser.get(server + "/jobs?status=scheduled")
        _click(browser, f"#jobs tr[data-id='{ids['ticked']}'] input[type=checkbox]")
        shots.take("jobs-selected")
        _click(browser, "button.selected-run-now")
        _wait(browser, 30).until(
            lambda d: _status(dsn, ids["ticked"]) == "succeeded", "the ticked job never ran"
        )

        # The schedules page, of a dashboard run without the app: none ticked.
        browser.get(server + "/schedules")
        _wait_text(browser, "main", "No periodic schedule has ticked")

        # The workers page shows the running worker.
        browser.get(server + "/workers")
        _wait_text(browser, "#workers", "running")
        shots.take("workers")

        # Log out: the pages ask for the token again.
        _click(browser, "header form.inline button")
        browser.get(server + f"/jobs/{ids['failed']}")
        WebDriverWait(browser, 10).until(lambda d: "/login?next=" in d.current_url)
    finally:
        worker.stop()


def _status(dsn: str, job_id: str) -> str:
    async def main() -> str:
        async with aqueue.Queue(dsn) as queue:
            info = await queue.get_job(job_id)
            return "" if info is None else info.status.value

    return asyncio.run(main())


def _paused(dsn: str) -> list[str]:
    async def main() -> list[str]:
        async with aqueue.Queue(dsn) as queue:
            return await queue.paused()

    return asyncio.run(main())
