"""The browser view driven in real headless Chromium (Debian's /usr/bin/chromium through
Playwright; never `playwright install`).

Starts `h2chain viz` on a free loopback port, waits for the network drawing, steps three
times (step counter and key results change), picks another scenario, resets, plays and
pauses, switches to Chinese, and checks that no request failed and nothing was logged as a
console error: the page must work with no internet. Screenshots and the measured time of
one step go to test-artifacts/.

Skipped only where Chromium is missing and CI is not set; under CI a missing Chromium fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
STEP_BUDGET_S = 1.0  # the README's promise for 300 SMEs


def _require_browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI: /usr/bin/chromium is missing (.ci/run installs Debian's chromium)")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI: the playwright package is missing (pip install .[viz])")
        pytest.skip("playwright not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    _require_browser()
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "viz-server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "viz", "--port", str(port), "--host", "127.0.0.1"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("the viz server did not start:\n" + (ARTIFACTS / "viz-server.log").read_text()[-3000:])
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and the solara server it started
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1600, "height": 1150})
        pg.problems = []  # failed requests and console errors
        pg.on("requestfailed", lambda r: pg.problems.append(f"request failed: {r.url} {r.failure}"))
        pg.on("response", lambda r: pg.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
        pg.goto(server)
        pg.locator("img.h2-network").wait_for(timeout=60_000)
        pg.locator(".h2-summary").wait_for(timeout=30_000)
        yield pg
        browser.close()


def _time_text(pg) -> str:
    return pg.get_by_text(re.compile(r"^Time: \d+\.0$")).inner_text()


def _network_src(pg) -> str:
    return pg.locator("img.h2-network").get_attribute("src") or ""


def _step(pg, expected_time: int) -> float:
    """Click Step; seconds until the counter, the network drawing and the charts show the new month."""
    src = _network_src(pg)
    start = time.perf_counter()
    pg.get_by_role("button", name="Step").click()
    pg.get_by_text(f"Time: {expected_time}.0", exact=True).wait_for(timeout=30_000)
    pg.wait_for_function("([old]) => { const i = document.querySelector('img.h2-network'); return i && i.src !== old; }",
                         arg=[src], timeout=30_000)
    pg.locator(".h2-summary .h2-month", has_text=re.compile(rf"\b{expected_time}$")).wait_for(timeout=30_000)
    return time.perf_counter() - start


STEP_IN_PAGE = r"""
async ([month]) => {
  // Click Step from inside the page and time, with the page's own clock, until the step
  // counter, the network drawing and the key results all show the new month.
  const img = document.querySelector('img.h2-network');
  const oldSrc = img.src;
  const button = [...document.querySelectorAll('button')].find(b => b.innerText.trim().toUpperCase() === 'STEP');
  const done = () => document.body.innerText.includes(`Time: ${month}.0`)
      && document.querySelector('img.h2-network').src !== oldSrc
      && document.querySelector('.h2-summary .h2-month').innerText.trim().endsWith(` ${month}`);
  const t0 = performance.now();
  button.click();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('step timed out')), 30000);
    const check = () => { if (done()) { clearTimeout(timer); observer.disconnect(); resolve(); } };
    const observer = new MutationObserver(check);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    check();
  });
  return (performance.now() - t0) / 1000;
}
"""


def _choose(pg, label: str, option: str) -> None:
    """Pick `option` in the Vuetify select labelled `label`."""
    field = pg.locator(".v-select").filter(has=pg.locator("label", has_text=re.compile(rf"^{re.escape(label)}$")))
    field.locator(".v-select__slot").click()
    pg.locator(".v-menu__content.menuable__content__active .v-list-item", has_text=option).first.click()


def test_browser_view_end_to_end(page):
    pg = page
    assert _time_text(pg) == "Time: 0.0"
    pg.screenshot(path=str(ARTIFACTS / "viz-0-start.png"), full_page=True)
    summary0 = pg.locator(".h2-summary").inner_text()
    assert "month 0" in summary0

    times = [_step(pg, k) for k in (1, 2, 3)]
    summary3 = pg.locator(".h2-summary").inner_text()
    assert "month 3" in summary3 and summary3 != summary0  # the key results moved
    assert pg.locator(".h2-chart canvas").count() >= 6  # the six ECharts charts drew
    pg.screenshot(path=str(ARTIFACTS / "viz-1-after-3-steps.png"), full_page=True)

    # another scenario, then Reset builds it
    from viz.settings import available_scenarios

    scenarios = list(available_scenarios())
    other = scenarios[-1] if len(scenarios) > 1 else scenarios[0]
    _choose(pg, "Scenario", other.label("en"))
    if len(scenarios) > 1:
        pg.get_by_text(re.compile("Changed since the last reset")).wait_for(timeout=10_000)
    pg.get_by_role("button", name="Reset").click()
    pg.get_by_text("Time: 0.0", exact=True).wait_for(timeout=60_000)
    pg.locator(".h2-summary", has_text=other.title).wait_for(timeout=30_000)
    pg.locator(".h2-summary .h2-month", has_text=re.compile(r"\b0$")).wait_for(timeout=30_000)
    pg.screenshot(path=str(ARTIFACTS / "viz-2-other-scenario-reset.png"), full_page=True)

    # play, then pause: the counter runs, then stops
    pg.get_by_role("button", name="▶").click()
    pg.wait_for_function("() => /Time: ([3-9]|\\d\\d+)\\.0/.test(document.body.innerText)", timeout=60_000)
    pg.get_by_role("button", name="❚❚").click()
    pg.get_by_role("button", name="Step").wait_for(state="visible")
    pg.wait_for_timeout(1500)
    paused_at = _time_text(pg)
    pg.wait_for_timeout(1500)
    assert _time_text(pg) == paused_at, "the model kept running after pause"

    # Chinese labels
    pg.get_by_role("button", name="中文").click()
    pg.locator(".h2-summary", has_text="截至目前的关键结果").wait_for(timeout=30_000)
    pg.wait_for_timeout(1000)
    pg.screenshot(path=str(ARTIFACTS / "viz-3-chinese.png"), full_page=True)

    assert pg.problems == [], "\n".join(pg.problems)
    (ARTIFACTS / "viz-steps-small.json").write_text(json.dumps({"step_seconds": times}, indent=1))


def test_one_step_with_300_smes_renders_within_budget(page):
    """The default page runs 300 SMEs; time Step -> new counter, drawing and key results."""
    pg = page
    pg.get_by_text("Number of SMEs: 300").wait_for()  # the default page runs 300 SMEs
    _step(pg, 1)  # warm-up: the first update loads nothing new, but settles the page
    times = [pg.evaluate(STEP_IN_PAGE, [k]) for k in range(2, 10)]
    record = {"n_smes": 300, "measured": "in-page clock, Step click to counter + drawing + key results updated",
              "step_seconds": [round(t, 3) for t in times],
              "median_s": round(sorted(times)[len(times) // 2], 3), "cpus": os.cpu_count(),
              "load_avg": os.getloadavg()}
    (ARTIFACTS / "viz-step-timing.json").write_text(json.dumps(record, indent=1))
    print(f"\nbrowser step time, 300 SMEs: {record}")
    assert pg.problems == [], "\n".join(pg.problems)
    # The budget is 1 s; the hard limit leaves room for a shared, loaded CI machine.
    assert record["median_s"] < 3 * STEP_BUDGET_S, record
