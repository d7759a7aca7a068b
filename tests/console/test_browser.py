"""The console in a real headless Chromium (Debian's chromium and chromium-driver, driven
by Selenium) against a real gunicorn and a real worker on RabbitMQ.

The operator's flow: log in, create an organisation, enable two boefjes, fill a settings
form wrongly then rightly (sealed in the YAML file), scan a loopback target and watch it
finish, open a task, retry it and cancel a waiting one, its raw and an object with its
references, declare an object in scope and set a boefje's schedule (wrongly, then
rightly). Then a viewer who cannot
change anything, a form posted without its CSRF token, and axe-core on every page.
Screenshots go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from kat import config
from kat.catalogue import sealing as crypto
from kat.catalogue.sealing import is_sealed
from kat.console.users import Users
from tests.broker import delete_queues
from tests.database import store_url
from tests.katalogus.conftest import Gunicorn

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
PASSWORD = "browser test password"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: Impacts axe-core reports that fail the test.
BLOCKING = {"serious", "critical"}


class BannerServer:
    """A TCP service on loopback that greets like an SSH server (for port-scan and
    service_banner to find)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 kat-console-test\r\n")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def system(tmp_path):
    public, private = crypto.generate()
    (tmp_path / "catalogue").mkdir()
    shutil.copytree(ROOT / "catalogue" / "repositories", tmp_path / "catalogue" / "repositories")
    env = {
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_PLUGINS_DIR": str(ROOT / "plugins"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "KAT_QUEUE_PREFIX": f"kat-console-e2e-{uuid.uuid4().hex[:8]}-",
        "KAT_JOB_TIMEOUT": "60",
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
        "KAT_BROKER_URL": os.environ.get("KAT_BROKER_URL", config.Settings.broker_url),
    }
    settings = config.load(env)
    users = Users(settings.catalogue_dir)
    users.add("alice", "operator", PASSWORD)
    users.add("victor", "viewer", PASSWORD)
    web = Gunicorn(env, 2, tmp_path, tmp_path / "gunicorn.log")
    worker_log = tmp_path / "worker.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BYTES", "BOEF"))}
    with worker_log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "kat.actors", "--processes", "1",
             "--threads", "2"],
            cwd=ROOT, env={**clean, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready for action" not in worker_log.read_text():
        assert worker.poll() is None and time.monotonic() < deadline, worker_log.read_text()
        time.sleep(0.1)
    banner = BannerServer()
    try:
        yield {"env": env, "settings": settings, "url": web.url, "banner": banner}
    finally:
        banner.close()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        web.stop()
        delete_queues(settings)


@pytest.fixture
def chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        assert Path(binary).exists(), (
            f"{binary} is missing: run scripts/ensure-chromium.sh "
            "(apt-get install chromium chromium-driver)"
        )

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--disable-gpu"):  # fmt: skip
        options.add_argument(arg)
    drivers = []

    def new():
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    yield new
    for driver in drivers:
        driver.quit()


class Pages:
    """The browser's steps, with a screenshot and an axe-core check of every page."""

    def __init__(self, driver, base: str) -> None:
        self.driver, self.base = driver, base
        self.violations: dict[str, list[str]] = {}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self) -> str:
        from selenium.common.exceptions import StaleElementReferenceException

        for _ in range(20):
            try:
                return self.find("body").text
            except StaleElementReferenceException:  # the page was being replaced
                time.sleep(0.1)
        return self.find("body").text

    def go(self, css: str, action: str = "click") -> None:
        """Click (or submit the form of) ``css`` and wait for the next page."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        old = self.find("html")
        element = self.find(css)
        if action == "submit":
            element.submit()
        else:
            element.click()

        def replaced(_driver) -> bool:
            try:
                old.is_enabled()
            except StaleElementReferenceException:
                return True
            except WebDriverException as exc:
                # Chromium may answer for a node that left the document mid-navigation
                # with an inspector error instead of "stale element": replaced as well.
                if "does not belong to the document" in str(exc):
                    return True
                raise
            return False

        WebDriverWait(self.driver, 30).until(replaced)

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def check(self, name: str) -> None:
        """Screenshot, then axe-core: no serious or critical violation on this page."""
        from axe_selenium_python import Axe

        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        axe = Axe(self.driver)
        axe.inject()
        result = axe.run()
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in BLOCKING
        ]
        if bad:
            self.violations[name] = bad

    def wait_for(self, condition, timeout: float, what: str):
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
        )

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = condition()
            except (NoSuchElementException, StaleElementReferenceException):
                found = None  # the page was reloading (the scan page refreshes itself)
            if found:
                return found
            time.sleep(0.25)
        raise AssertionError(f"{what} within {timeout} s; page: {self.text()[:2000]}")


def login(p: Pages, name: str) -> None:
    p.open("/console/login")
    p.fill("#name", name)
    p.fill("#password", PASSWORD)
    p.go("form button[type=submit]")


def wait_completed(p: Pages, path: str) -> None:
    def done() -> bool:
        p.open(path)
        return "completed" in p.find(".status").text

    p.wait_for(done, 60, "the retried task did not complete")


def queued_job(settings, org: str) -> str:
    """A job recorded as queued whose message no worker has taken (as when every worker
    is busy): what an operator cancels."""
    from kat.lifecycle import Lifecycle
    from kat.store import open_store

    store = open_store(settings.database_url)
    try:
        job = {"id": str(uuid.uuid4()), "organization": org, "boefje": {"id": "port-scan"},
               "input_ooi": "IPAddressV4|internet|127.0.0.1", "arguments": {}}  # fmt: skip
        Lifecycle(store).queue("boefje", job)
    finally:
        store.close()
    return job["id"]


def test_operator_flow_viewer_csrf_and_accessibility(system, chrome):
    p = Pages(chrome(), system["url"])
    org_file = Path(system["env"]["KAT_CATALOGUE_DIR"]) / "organisations" / "lab.yaml"

    # 1. log in
    p.open("/console/login")
    p.check("01-login")
    login(p, "alice")
    assert "alice (operator)" in p.text()
    p.check("02-organisations")

    # 2. create an organisation
    p.fill("#new-id", "lab")
    p.fill("#new-name", "Test lab")
    p.go("#new-name", "submit")
    assert "organisation lab created" in p.text() and org_file.exists()

    # 3. enable two boefjes
    for boefje in ("port-scan", "service_banner"):
        p.go(f"#toggle-{boefje}")
        assert f"{boefje} enabled for lab" in p.text()
    plugins = yaml.safe_load(org_file.read_text())["plugins"]
    assert plugins["port-scan"]["enabled"] and plugins["service_banner"]["enabled"]
    p.check("03-katalogus")

    # 4. a settings form: an invalid value shows its error, a valid one is sealed
    p.open("/console/o/lab/plugins/port-scan")
    p.fill("#s-PORTS", "twenty-two")
    p.go("#s-PORTS", "submit")
    error = p.find("#e-PORTS")
    assert "PORTS: does not satisfy 'pattern'" in error.text
    assert "settings" not in yaml.safe_load(org_file.read_text())["plugins"]["port-scan"]
    p.check("04-settings-error")
    p.fill("#s-PORTS", str(system["banner"].port))
    p.fill("#s-TIMEOUT", "3")
    p.go("#s-PORTS", "submit")
    assert "settings of port-scan saved (sealed)" in p.text()
    stored = yaml.safe_load(org_file.read_text())["plugins"]["port-scan"]["settings"]
    assert set(stored) == {"PORTS", "TIMEOUT"} and all(is_sealed(v) for v in stored.values())
    assert str(system["banner"].port) not in org_file.read_text()
    p.check("05-settings-saved")

    # 5. scan a loopback target and watch it finish
    p.open("/console/o/lab/scans")
    p.check("06-scans")
    p.fill("#inputs", "127.0.0.1")
    p.fill("#depth", "2")
    p.go("#inputs", "submit")
    assert "/console/o/lab/scans/" in p.driver.current_url
    p.wait_for(lambda: "Finished" in p.find("#progress").text, 120, "the scan did not finish")
    progress = p.find("#progress").text
    assert " 0 failed" in progress or "0 failed" in progress, progress
    tree = p.find(".tree").text
    assert "boefje port-scan" in tree and "boefje service_banner" in tree, tree
    assert "normalizer kat_nmap_normalize" in tree
    p.check("07-scan-finished")

    # 6. a task, its raw, and an object with its references
    p.go(".tree a")  # the first job: port-scan
    assert "boefje port-scan" in p.text() and "completed" in p.text()
    p.check("08-task")
    task_url = p.driver.current_url
    p.go("a[href^='/console/raws/']")
    assert "<nmaprun" in p.find("#raw").text
    p.check("09-raw")
    p.driver.get(p.driver.current_url.split("?")[0] + "?view=hex")
    assert "00000000  3c" in p.find("#raw").text
    # retry the finished task: a new job, linked, that the worker runs
    p.driver.get(task_url)
    old_task = task_url.rsplit("/", 1)[1]
    p.go("#retry-task")
    new_task = p.driver.current_url.rsplit("/", 1)[1]
    assert new_task != old_task
    assert f"job {new_task} queued: a retry of {old_task}" in p.find(".flash").text
    assert p.all(f"a[href='/console/tasks/{old_task}']")  # "Retry of" links back
    p.check("08b-task-retried")
    wait_completed(p, f"/console/tasks/{new_task}")
    # cancel a task that waits in the queue (recorded, no worker has taken it)
    waiting = queued_job(system["settings"], "lab")
    p.open(f"/console/tasks/{waiting}")
    p.go("#cancel-task")
    assert f"job {waiting} cancelled: failed (cancelled)" in p.find(".flash").text
    assert not p.all("#cancel-task") and p.all("#retry-task")
    p.check("08c-task-cancelled")
    p.open("/console/o/lab/objects?type=IPPort")
    p.check("10-objects")
    p.go(f"a[href*='tcp%7C{system['banner'].port}']")
    body = p.text()
    assert "Refers to" in body and "IPAddressV4|internet|127.0.0.1" in body
    assert "Referred to by" in body
    p.check("11-object")
    p.open("/console/o/lab/tasks?status=completed")
    p.check("12-tasks")
    # the declared scope: a bad entry shows its error next to the field, a good one is kept
    scope_file = Path(system["env"]["KAT_CATALOGUE_DIR"]) / "scopes" / "lab.yaml"
    p.open("/console/o/lab/scope")
    p.fill("#reference", "Hostname|internet|")
    p.fill("#level", "9")
    p.go("#declare")
    assert "not an integer from 0 to 4" in p.find("#e-level").text
    assert "Hostname.name: empty" in p.find("#e-reference").text
    assert not scope_file.exists()
    p.check("12b-scope-error")
    p.fill("#reference", "Hostname|internet|lab.example")
    p.fill("#level", "2")
    p.go("#declare")
    assert "Hostname|internet|lab.example is in scope at level 2" in p.find(".flash").text
    assert yaml.safe_load(scope_file.read_text())["objects"] == {"Hostname|internet|lab.example": 2}
    p.check("12c-scope")
    p.open("/console/o/lab/schedule")
    p.fill("#cr-port-scan", "not cron")
    p.go("#cr-port-scan", "submit")
    assert "'not cron' is not a cron expression" in p.find("#e-port-scan").text
    p.check("12d-schedule-error")
    p.fill("#cr-port-scan", "")
    p.fill("#iv-port-scan", "6h")
    p.go("#iv-port-scan", "submit")
    assert "port-scan: runs interval 6h" in p.find(".flash").text
    assert yaml.safe_load(scope_file.read_text())["plugins"] == {"port-scan": {"interval": 21600}}
    p.check("12e-schedule")
    p.open("/console/health")
    assert "Every catalogue file parses" in p.text()
    p.check("13-health")
    p.driver.set_window_size(390, 844)  # a phone
    p.open("/console/o/lab/plugins")
    p.check("14-katalogus-phone")

    # a form posted without its CSRF token is refused
    p.driver.set_window_size(1280, 900)
    p.open("/console")
    p.driver.execute_script(
        "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())"
    )
    p.fill("#new-id", "forged")
    p.go("#new-id", "submit")
    assert "CSRF token is missing" in p.text()
    assert not (org_file.parent / "forged.yaml").exists()

    # a viewer reads everything and can change nothing
    v = Pages(chrome(), system["url"])
    login(v, "victor")
    assert "victor (viewer)" in v.text()
    assert not v.all("#new-id") and not v.all("button.danger")
    v.open("/console/o/lab/plugins")
    assert not v.all("#toggle-port-scan")
    v.open("/console/o/lab/plugins/port-scan")
    assert not v.all("form.settings button") and v.all("#s-PORTS")
    v.open("/console/o/lab/scans")
    assert not v.all("#inputs")
    v.open(f"/console/tasks/{waiting}")
    assert not v.all("#retry-task") and not v.all("#cancel-task")
    v.open("/console/o/lab/scope")
    assert "Hostname|internet|lab.example" in v.text() and not v.all("#declare")
    v.check("15-viewer")
    before = org_file.read_text()
    # even a hand-made form with the viewer's own valid token is refused
    v.driver.execute_script(
        "const f = document.createElement('form'); f.method = 'post';"
        "f.action = '/console/o/lab/plugins/port-scan/state';"
        "const t = document.querySelector('input[name=csrf]').cloneNode();"
        "const e = document.createElement('input'); e.name = 'enabled'; e.value = 'false';"
        "f.append(t, e); document.body.append(f); f.submit();"
    )
    v.wait_for(lambda: "viewers cannot change anything" in v.text(), 10, "no refusal")
    assert org_file.read_text() == before

    assert not p.violations and not v.violations, {**p.violations, **v.violations}


def test_api_docs_render_in_the_browser_with_try_it_out(system, chrome):
    p = Pages(chrome(), system["url"])
    p.open("/docs")
    p.wait_for(lambda: p.all(".opblock"), 30, "Swagger UI did not render the operations")
    assert "/v1/organisations/{org}/plugins" in p.text()
    p.all(".opblock-summary")[0].click()
    p.wait_for(lambda: p.all(".try-out__btn"), 10, "no 'Try it out' button")
    p.driver.save_screenshot(str(ARTIFACTS / "16-api-docs.png"))
    assert "$ref" not in p.text()
