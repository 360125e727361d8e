"""The lab's control panel for people: a demo customer's login on the panel host and a screenshot of
that customer's Usage page, taken in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lab.podman import podman

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PANEL_CLI = "/opt/cdn-panel/venv/bin/cdn-panel"
PANEL_CONFIG = "/etc/cdn-panel/panel.yml"
# docs/lab-notes: without these flags Chromium keeps trying to reach outside hosts.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass(frozen=True)
class DemoLogin:
    url: str
    username: str
    password: str
    customer: str


def demo_password(secrets_dir: Path, username: str) -> str:
    """The demo user's password, generated once into the lab's secrets (never committed)."""
    path = secrets_dir / f"panel-user-{username}"
    if not path.exists():
        secrets_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(15) + "\n")
        os.chmod(path, 0o600)
    return path.read_text().strip()


def ensure_customer_user(container: str, username: str, customer: str, password: str) -> bool:
    """Create the customer's user on the panel host unless it exists; True when created."""
    out = podman(
        ["exec", "--env", f"CDN_PANEL_PASSWORD={password}", container, PANEL_CLI, "user", "add", username,
         "--customer", customer, "--if-missing", "--config", PANEL_CONFIG]
    )  # fmt: skip
    return out.startswith("added")


def usage_screenshot(login: DemoLogin, output: Path) -> Path:
    """Chromium, headless, for `save_usage_screenshot`."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise OSError("chromium is not installed (scripts/deps.sh installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            return save_usage_screenshot(browser, login, output)
        finally:
            browser.close()


def save_usage_screenshot(browser: Browser, login: DemoLogin, output: Path, timeout: float = 30.0) -> Path:
    """Sign in through the form, open this month's Usage page, wait for its chart, save a screenshot."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # The lab's certificate is self-signed (a real one is a variable of the panel role).
    context = browser.new_context(viewport={"width": 1366, "height": 900}, ignore_https_errors=True)
    try:
        page = context.new_page()
        target = f"/c/{login.customer}/usage"
        page.goto(f"{login.url}/login?next={target}")
        page.fill("input[name=username]", login.username)
        page.fill("input[name=password]", login.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{login.url}{target}", timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        # No wait_for_function: it evaluates with eval(), which the panel's CSP forbids.
        while not page.evaluate("() => !!document.querySelector('canvas')"):
            if time.monotonic() > deadline:
                raise OSError(f"{target}: no chart after {timeout:.0f} s")
            time.sleep(0.2)
        page.screenshot(path=str(output), full_page=True)
    finally:
        context.close()
    return output
