"""Accounts and sessions: CSRF on every form, login throttling (per user name and per client), the
cookie's flags, disabled users and revoked tokens, argon2id hashes, no open redirect after login."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cdnpanel import accounts
from tests.mariadb import MariaDB
from tests.panel.support import PanelServer, csrf_of, login


def _add(panel: PanelServer, name: str, password: str, role: str = "customer", customers=("c0000",)) -> None:
    with panel.connect() as conn:
        accounts.migrate(conn)
        accounts.add_user(conn, name, password, role, list(customers) if role == "customer" else [])


def _tokens(panel: PanelServer, name: str) -> list[accounts.Token]:
    with panel.connect() as conn:
        user = accounts.find_user(conn, name)
        assert user is not None
        return accounts.list_tokens(conn, user)


def _try_login(
    url: str, username: str, password: str, session: requests.Session | None = None
) -> requests.Response:
    session = session or requests.Session()
    form = session.get(f"{url}/login", timeout=10)
    return session.post(
        f"{url}/login", data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        allow_redirects=False, timeout=30,
    )  # fmt: skip


def test_every_form_carries_a_csrf_token_and_is_refused_without_it(panel: PanelServer):
    _add(panel, "carol", "carol-password-1")
    carol = login(panel.url, "carol", "carol-password-1")
    page = carol.get(f"{panel.url}/account", timeout=10).text
    assert page.count("<form") == page.count('name="csrf_token"') >= 2
    good = csrf_of(page)
    other = csrf_of(login(panel.url, "alice").get(f"{panel.url}/account", timeout=10).text)
    for token in ("", "forged", other):
        answer = carol.post(
            f"{panel.url}/account/tokens", data={"csrf_token": token, "name": "x"}, timeout=10
        )
        assert answer.status_code == 403, token
        out = carol.post(f"{panel.url}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10)
        assert out.status_code == 403
    assert _tokens(panel, "carol") == []
    assert carol.get(f"{panel.url}/api/v1/me", timeout=10).status_code == 200  # still signed in
    made = carol.post(f"{panel.url}/account/tokens", data={"csrf_token": good, "name": "ci"}, timeout=10)
    assert made.status_code == 200 and [t.name for t in _tokens(panel, "carol")] == ["ci"]
    # the login form too: no token, no login (even with the right password)
    fresh = requests.Session()
    fresh.get(f"{panel.url}/login", timeout=10)
    answer = fresh.post(
        f"{panel.url}/login", data={"username": "carol", "password": "carol-password-1"}, timeout=10
    )
    assert answer.status_code == 403
    out = carol.post(f"{panel.url}/logout", data={"csrf_token": good}, allow_redirects=False, timeout=10)
    assert out.status_code == 303
    assert carol.get(f"{panel.url}/api/v1/me", timeout=10).status_code == 401


def test_login_is_throttled_per_user_name(panel: PanelServer):
    _add(panel, "tess", "tess-password-1")
    for _ in range(3):  # max_failures: 3
        assert _try_login(panel.url, "tess", "wrong-password").status_code == 401
    throttled = _try_login(panel.url, "tess", "tess-password-1")
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) == 600
    assert "Too many failed sign-ins" in throttled.text
    assert _try_login(panel.url, "TESS", "tess-password-1").status_code == 429  # names compared case-blind
    assert _try_login(panel.url, "alice", "alice-password-1").status_code == 303  # others unaffected


def _own_panel(tmp_path: Path, mariadb: MariaDB, **settings) -> PanelServer:
    """A panel of its own (own database, own settings)."""
    server = PanelServer(tmp_path, mariadb, mariadb.create_database("panel"), settings)
    _add(server, "uma", "uma-password-1")
    server.start()
    return server


@pytest.fixture
def strict_panel(tmp_path: Path, mariadb: MariaDB) -> Iterator[PanelServer]:
    """A panel whose limit of failed logins per client is low."""
    throttle = {"max_failures": 5, "max_failures_per_client": 2, "window": "10m"}
    server = _own_panel(tmp_path, mariadb, login_throttle=throttle)
    try:
        yield server
    finally:
        server.stop()


def test_login_is_throttled_per_client(strict_panel: PanelServer):
    assert _try_login(strict_panel.url, "nobody1", "x").status_code == 401
    assert _try_login(strict_panel.url, "nobody2", "x").status_code == 401
    assert _try_login(strict_panel.url, "uma", "uma-password-1").status_code == 429


def test_session_cookie_flags(panel: PanelServer, tmp_path: Path, mariadb: MariaDB):
    secure = _own_panel(tmp_path, mariadb, cookie_secure=True)  # the default
    try:
        cookie = requests.get(f"{secure.url}/login", timeout=10).headers["set-cookie"].lower()
    finally:
        secure.stop()
    assert "httponly" in cookie and "samesite=lax" in cookie and "; secure" in cookie
    plain = requests.get(f"{panel.url}/login", timeout=10).headers["set-cookie"].lower()
    assert "httponly" in plain and "samesite=lax" in plain and "; secure" not in plain
    page = requests.get(f"{panel.url}/login", timeout=10)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_a_tampered_cookie_is_no_session(panel: PanelServer):
    alice = login(panel.url, "alice")
    value = alice.cookies["cdnpanel_session"]
    alice.cookies.set("cdnpanel_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert alice.get(f"{panel.url}/api/v1/me", timeout=10).status_code == 401


def test_disabled_users_and_revoked_tokens_are_refused(panel: PanelServer):
    _add(panel, "dan", "dan-password-1")
    dan = login(panel.url, "dan", "dan-password-1")
    with panel.connect() as conn:
        user = accounts.find_user(conn, "dan")
        assert user is not None
        token, secret = accounts.add_token(conn, user, "script")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert (
        requests.get(f"{panel.url}/api/v1/customers/c0000/usage", headers=bearer, timeout=10).status_code
        == 200
    )
    with panel.connect() as conn:
        accounts.set_disabled(conn, "dan", True)
    assert dan.get(f"{panel.url}/api/v1/me", timeout=10).status_code == 401
    assert requests.get(f"{panel.url}/api/v1/me", headers=bearer, timeout=10).status_code == 401
    assert _try_login(panel.url, "dan", "dan-password-1").status_code == 401
    with panel.connect() as conn:
        accounts.set_disabled(conn, "dan", False)
        user = accounts.find_user(conn, "dan")
        assert user is not None and accounts.revoke_token(conn, user, token.id)
    assert requests.get(f"{panel.url}/api/v1/me", headers=bearer, timeout=10).status_code == 401


def test_passwords_are_argon2id_and_tokens_are_stored_hashed(panel: PanelServer):
    with panel.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT password_hash FROM panel_users WHERE username = 'alice'")
        assert cur.fetchone()[0].startswith("$argon2id$")
        user = accounts.find_user(conn, "alice")
        assert user is not None
        _, secret = accounts.add_token(conn, user, "hash check")
        cur.execute("SELECT COUNT(*) FROM panel_tokens WHERE token_sha256 = %s", (secret,))
        assert cur.fetchone()[0] == 0


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_no_open_redirect_after_login(panel: PanelServer, target: str):
    session = requests.Session()
    form = session.get(f"{panel.url}/login", params={"next": target}, timeout=10)
    answer = session.post(
        f"{panel.url}/login",
        data={"username": "alice", "password": "alice-password-1", "csrf_token": csrf_of(form.text),
              "next": target},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_api_tokens_do_not_open_the_pages(panel: PanelServer):
    _add(panel, "tina", "tina-password-1")
    with panel.connect() as conn:
        user = accounts.find_user(conn, "tina")
        assert user is not None
        _, secret = accounts.add_token(conn, user, "script")
    bearer = {"Authorization": f"Bearer {secret}"}
    page = requests.get(f"{panel.url}/c/c0000/usage", headers=bearer, allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    made = requests.post(f"{panel.url}/account/tokens", data={"name": "more"}, headers=bearer,
                         allow_redirects=False, timeout=10)  # fmt: skip
    assert made.status_code == 303 and [t.name for t in _tokens(panel, "tina")] == ["script"]
    assert (
        requests.get(f"{panel.url}/api/v1/customers/c0000/usage", headers=bearer, timeout=10).status_code
        == 200
    )
