"""The dashboard in a real headless Chromium (Debian's `chromium` package), against a live server.

How: Chromium is started with `--remote-debugging-pipe` and driven over the DevTools protocol,
whose messages on a pipe are plain JSON ending in a NUL byte (written to the browser's fd 3,
read from its fd 4). That needs no WebSocket client and no extra Python package, and it lets
the test sign in the way a person does: open /dashboard/login/, fill in e-mail and password,
press the button, land on the dashboard with a session cookie. (`chromium --screenshot` alone
cannot sign in, and the production code has no test-only back door.)

The test fails, rather than skips, when Chromium is missing: `make test` installs it. It keeps
a full-page screenshot in test-artifacts/dashboard.png.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from procurement.services import contributions
from shop.accounts.models import Role
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.factories.catalog import category, county
from tests.procurement.test_dashboard import counted_order

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class Chromium:
    """One headless browser with one page, spoken to over the DevTools protocol pipe."""

    def __init__(self, workdir: Path):
        executable = shutil.which("chromium")
        assert executable, "Chromium is missing: apt-get install chromium (make test does, as root)"
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        self.log = workdir / "chromium.log"
        flags = [
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            "--no-proxy-server",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={workdir / 'profile'}",
            "--remote-debugging-pipe",
        ]
        with self.log.open("wb") as log:
            # bash (dash takes single-digit fds only) puts our pipe ends on Chromium's fds 3 and 4.
            self.process = subprocess.Popen(
                ["bash", "-c", f'exec "$@" 3<&{to_browser} 4>&{from_browser}', "bash", executable]
                + flags,
                pass_fds=(to_browser, from_browser),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._last_id = b"", 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]

    def call(self, method: str, *, page: bool = False, timeout: float = 20, **params) -> dict:
        """Send one command and return its result (events arriving meanwhile are dropped)."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if page:
            message["sessionId"] = self.session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._last_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
            ready, _, _ = select.select([self._reader], [], [], deadline - time.monotonic())
            chunk = os.read(self._reader, 1 << 16) if ready else b""
            if not chunk:
                raise AssertionError(f"{method}: no answer; {self.log.read_text()[-2000:]}")
            self._buffer += chunk

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", page=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20):
        """Poll until `expression` is truthy (a page being replaced answers with an error)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if value := self.evaluate(expression):
                    return value
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"timed out waiting for {expression!r} at {self.evaluate('location.href')}"
        )

    def screenshot(self, width: int = 1280) -> bytes:
        """The whole page: laid out at `width` first, then the viewport made as tall as it."""
        self._viewport(width, 800)
        self._viewport(width, self.evaluate("document.documentElement.scrollHeight"))
        return base64.b64decode(
            self.call("Page.captureScreenshot", page=True, format="png")["data"]
        )

    def _viewport(self, width: int, height: int) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            page=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (AssertionError, RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
        os.close(self._reader)


@pytest.fixture
def chromium(tmp_path):
    browser = Chromium(tmp_path)
    yield browser
    browser.close()


def demo_ledger(operator):
    """A few years, cities, counties, categories and both kinds, through the order services;
    two sub-targets, one reached and one behind."""
    orders = [
        ((2021, 9, 1), "350100", "640521", "goji", "SCHOOL", 180),
        ((2022, 5, 9), "350200", "640323", "tan-sheep", "SUPERMARKET", 260),
        ((2023, 4, 2), "350500", "640402", "beef", "HOSPITAL", 140),
        ((2024, 6, 3), "350100", "640522", "dairy", "SCHOOL", 90),
        ((2024, 11, 20), "350600", "640121MN", "wine", "ECOMMERCE", 320),
        ((2025, 3, 10), "350200", "640521", "goji", "SCHOOL", 410),
    ]
    for day, city_code, county_code, slug, agency_type, quantity in orders:
        counted_order(
            operator,
            day=day,
            price="1000.00",
            quantity=quantity,
            city_code=city_code,
            agency_type=agency_type,
            origin_county=county(county_code),
            category=category(slug),
        )
    for code, name, amount, year, city_name in [
        ("fujian-2025", "福建省2025年消费帮扶", "5000000", 2025, ""),
        ("xiamen-2022", "厦门市2022年消费帮扶", "200000", 2022, "厦门市"),
    ]:
        contributions.target_create(
            acting_user=operator,
            data=contributions.TargetInput(
                code=code,
                name=name,
                amount=amount,
                start_date=date(year, 1, 1),
                end_date=date(year, 12, 31),
                buyer_city=city_name,
                parent_code="minning-14th-plan",
            ),
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_auditor_signs_in_and_sees_the_dashboard_in_chromium(
    live_server, chromium, operator, settings
):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP live server
    demo_ledger(operator)
    auditor = UserFactory(role=Role.AUDITOR, email="auditor@audit.example.cn")

    chromium.call("Page.navigate", page=True, url=f"{live_server.url}/dashboard/")
    chromium.wait_for("location.pathname === '/dashboard/login/' && !!document.forms[0]")
    chromium.evaluate(
        f"document.querySelector('#id_username').value = {json.dumps(auditor.email)};"
        f"document.querySelector('#id_password').value = {json.dumps(PASSWORD)};"
        "document.querySelector('form.login button[type=submit]').click();"
    )
    chromium.wait_for(
        "location.pathname === '/dashboard/' && document.readyState === 'complete'"
        " && !!document.querySelector('section svg')"
    )

    html = chromium.evaluate("document.documentElement.outerHTML")
    assert "闽宁协作消费帮扶（“十四五”）" in html
    assert "全部年份计入金额：140.00万元" in html
    assert "已完成 26.00万元（130.00%）" in html  # 厦门市 2022
    assert "auditor@audit.example.cn" in html
    # The inline SVG was parsed as SVG and laid out: every chart has bars with a real width.
    charts = chromium.evaluate(
        "[...document.querySelectorAll('.grid svg')].map(svg => ["
        " svg.getAttribute('aria-label'),"
        " svg.namespaceURI,"
        " [...svg.querySelectorAll('rect')].filter(r => r.getBBox().width > 0).length])"
    )
    assert [label for label, _ns, _bars in charts] == [
        "按年度",
        "按福建城市（采购方）",
        "按宁夏县区（产地）",
        "按品类",
        "按类型（采购 / 帮销）",
    ]
    assert all(ns == "http://www.w3.org/2000/svg" for _label, ns, _bars in charts)
    assert [bars for _label, _ns, bars in charts] == [5, 4, 5, 5, 2]
    # The inline <style> was applied under the Content-Security-Policy (its nonce matched).
    header = "getComputedStyle(document.querySelector('header')).backgroundColor"
    assert chromium.evaluate(header) == "rgb(31, 78, 121)"
    # Nothing was loaded from anywhere but the app itself (no CDN, no script).
    assert chromium.evaluate("performance.getEntriesByType('resource').length") == 0
    assert chromium.evaluate("document.scripts.length") == 0

    png = chromium.screenshot()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard.png").write_bytes(png)
