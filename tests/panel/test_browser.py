"""The pages in a real headless Chromium (Debian's, driven by Playwright over CDP): sign in, the Traffic
and Usage charts hold the figures of the log lines, the CSV export, another customer's URL refused,
the operator's pipeline page; screenshots at laptop and phone widths in .cache/test-artifacts/panel/.
The browser never contacts another host than the panel."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from lab.panel import DemoLogin, save_usage_screenshot
from tests.panel.support import PASSWORD_OF, PanelServer, Pipeline, p95_from_lines, per_interval
from tests.support import require_binary

ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "test-artifacts" / "panel"
# docs/lab-notes: without the background-networking flags Chromium keeps trying to reach outside hosts
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORTS = {"laptop": {"width": 1366, "height": 860}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_binary("chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def _page(browser: Browser, panel: PanelServer, viewport: str, hosts: list[str]) -> Page:
    context = browser.new_context(viewport=VIEWPORTS[viewport], accept_downloads=True)
    page = context.new_page()
    page.on("request", lambda r: hosts.append(r.url))
    return page


def _sign_in(page: Page, panel: PanelServer, user: str, next_path: str) -> None:
    page.goto(f"{panel.url}/login?next={next_path}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD_OF[user])
    page.click("button[type=submit]")
    page.wait_for_url(f"{panel.url}{next_path}")


def _wait(page: Page, expression: str, timeout: float = 15) -> None:
    """Poll from here: Playwright's wait_for_function evaluates its predicate with eval() in the page,
    which the panel's Content-Security-Policy (rightly) forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => !!({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def _chart(page: Page, chart_id: str) -> list[list[float | None]]:
    _wait(page, f"window.cdnCharts && window.cdnCharts['{chart_id}']")
    return page.evaluate(f"window.cdnCharts['{chart_id}'].data.map(s => Array.from(s))")


def _drawn(page: Page, chart_id: str) -> None:
    """The chart has a canvas of the container's width with something drawn on it."""
    size = page.evaluate(
        f"""(() => {{ const el = document.getElementById('{chart_id}'); const c = el.querySelector('canvas');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) ink++;
        return [el.clientWidth, c.getBoundingClientRect().width, ink]; }})()"""
    )
    assert size[1] >= size[0] * 0.9 and size[2] > 500, f"{chart_id}: {size}"


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the viewport"


def _only_the_panel(hosts: list[str], panel: PanelServer) -> None:
    others = [u for u in hosts if not u.startswith(panel.url) and not u.startswith(("data:", "blob:"))]
    assert others == [], f"the browser asked other hosts: {others[:3]}"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_traffic_page(browser: Browser, panel: PanelServer, pipeline: Pipeline, viewport: str):
    hosts: list[str] = []
    page = _page(browser, panel, viewport, hosts)
    page.clock.install()
    _sign_in(page, panel, "alice", "/c/c0000/traffic?range=hour")
    bandwidth = _chart(page, "chart-bandwidth")
    times = [int(t) for t in bandwidth[0]]
    assert len(times) == 60 and times[1] - times[0] == 60
    expected = per_interval(pipeline.lines, "c0000", times[0], times[-1] + 60, 60)
    assert bandwidth[1] == [pytest.approx(expected.get(t, (0, 0))[1] * 8 / 60) for t in times]
    requests_per_s = _chart(page, "chart-requests")[1]
    assert requests_per_s == [pytest.approx(expected.get(t, (0, 0))[0] / 60) for t in times]
    assert sum(requests_per_s) > 0
    for chart in ("chart-bandwidth", "chart-requests", "chart-status", "chart-cache"):
        _drawn(page, chart)
    assert "Data complete up to" in page.inner_text(".complete")
    # 30 s later the page asks the API for the last hour again, without reloading
    with page.expect_response(lambda r: "/api/v1/customers/c0000/traffic" in r.url and r.status == 200):
        page.clock.run_for(31_000)
    _wait(page, "document.body.dataset.refreshed")
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / f"traffic-{viewport}.png"), full_page=True)
    _only_the_panel(hosts, panel)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_usage_page_and_csv(browser: Browser, panel: PanelServer, pipeline: Pipeline, viewport: str):
    hosts: list[str] = []
    page = _page(browser, panel, viewport, hosts)
    _sign_in(page, panel, "alice", f"/c/c0000/usage?month={pipeline.month}")
    data = _chart(page, "chart-usage")
    start, end = pipeline.month_start, pipeline.month_end
    five = per_interval(pipeline.lines, "c0000", start, end, 300)
    assert [int(t) for t in data[0]] == list(range(start, end, 300))
    assert data[1] == [pytest.approx(five.get(t, (0, 0))[1] * 8 / 300 / 1e6) for t in range(start, end, 300)]
    p95 = p95_from_lines(pipeline.lines, "c0000", start, end) / 1e6
    assert data[2] == [pytest.approx(p95)] * len(data[1])  # the 95th percentile drawn as a line
    assert page.inner_text("#usage-p95") == f"{p95:,.3f}"
    _drawn(page, "chart-usage")
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / f"usage-{viewport}.png"), full_page=True)
    with page.expect_download() as download:
        page.click("text=Export CSV")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    requests_total = sum(r for r, _ in five.values())
    assert rows[-1]["requests"] == str(requests_total)
    assert sum(int(r["requests"]) for r in rows[:-1]) == requests_total
    # another customer's page, by its URL: refused, and nothing of it shown
    answer = page.goto(f"{panel.url}/c/c0001/usage?month={pipeline.month}")
    assert answer is not None and answer.status == 404
    assert "c0001" not in page.content()
    _only_the_panel(hosts, panel)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_other_pages_fit(browser: Browser, panel: PanelServer, pipeline: Pipeline, viewport: str):
    """The login form, Breakdowns and the operator's pages render without overflowing the viewport."""
    page = _page(browser, panel, viewport, [])
    page.goto(f"{panel.url}/login")
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / f"login-{viewport}.png"))
    _sign_in(page, panel, "olga", "/ops/customers")
    shots = {
        "breakdowns": "/c/c0000/breakdowns?range=month",
        "ops-customers": f"/ops/customers?month={pipeline.month}",
        "ops-sites": "/ops/sites?range=month",
    }
    for name, path in shots.items():
        page.goto(f"{panel.url}{path}")
        _fits(page)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{viewport}.png"), full_page=True)
    assert "approximate" in page.goto(f"{panel.url}/c/c0000/breakdowns?range=month").text()


def test_operator_sees_the_agents(browser: Browser, panel: PanelServer):
    hosts: list[str] = []
    page = _page(browser, panel, "laptop", hosts)
    _sign_in(page, panel, "olga", "/ops/pipeline")
    agents = page.inner_text("#agents")
    assert "edge01" in agents and "edge02" in agents
    page.screenshot(path=str(ARTIFACTS / "pipeline-laptop.png"), full_page=True)
    page.goto(f"{panel.url}/ops/customers")
    page.click("text=usage >> nth=0")
    page.wait_for_selector("#chart-usage")
    page.keyboard.press("Tab")  # keyboard navigation starts at the skip link
    assert page.evaluate("document.activeElement.className") == "skip"
    _only_the_panel(hosts, panel)


def test_page_weight_of_the_traffic_page(browser: Browser, panel: PanelServer):
    """HTML, scripts and styles of the Traffic page (a day), uncompressed: the issue's budget is 200 KB."""
    page = _page(browser, panel, "laptop", [])
    _sign_in(page, panel, "alice", "/c/c0000/traffic?range=day")
    sizes = page.evaluate(
        """performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
           .map(e => [e.name, e.decodedBodySize])"""
    )
    total = sum(size for _, size in sizes)
    kinds = {name.rsplit("/", 1)[-1].split("?")[0] for name, _ in sizes}
    assert {"panel.js", "panel.css", "uPlot.iife.min.js", "uPlot.min.css"} <= kinds
    (ARTIFACTS / "traffic-page-weight.txt").write_text("".join(f"{size}\t{name}\n" for name, size in sizes))
    assert total < 200_000, sizes


def test_the_demos_usage_screenshot(browser: Browser, panel: PanelServer):
    """`lab panel` (the end of `make demo`): sign in as a customer, wait for the Usage chart, save it."""
    login = DemoLogin(panel.url, "alice", PASSWORD_OF["alice"], "c0000")
    shot = save_usage_screenshot(browser, login, ARTIFACTS / "demo-usage.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
