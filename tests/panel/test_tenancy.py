"""Tenancy, route by route: the routes are enumerated from the application itself, so a new route
cannot be forgotten. For each one a customer (alice, who has c0000) asks for another tenant's data
(c0001 and bob's API token) by page and by API token, and gets 401/403/404 without any of the other
tenant's numbers; the other tenant (bob) or an operator gets the same route answered (so the refusal
is about tenancy, not a broken route)."""

from __future__ import annotations

import re

import pytest
import requests
from starlette.routing import Mount, Route

from cdnpanel import accounts
from cdnpanel.config import parse_config
from cdnpanel.web import ROUTES, access_table, create_app
from tests.panel.support import PanelServer, Pipeline, csrf_of, login

VICTIM = "c0001"


def app_routes(panel: PanelServer) -> list[tuple[str, str]]:
    """(method, path) of every route the application serves (HEAD aside)."""
    app = create_app(
        parse_config({"secret_key": "x" * 40, "mysql": {"database": panel.database}}, panel.directory)
    )
    out = []
    for route in app.routes:
        if isinstance(route, Route):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
        elif isinstance(route, Mount):
            out.append(("GET", route.path + "/{path}"))
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return out


@pytest.fixture(scope="module")
def victim(panel: PanelServer, pipeline: Pipeline) -> dict[str, str]:
    """What would betray c0001: its name, bob's token id and its month's byte total."""
    with panel.connect() as conn:
        bob = accounts.find_user(conn, "bob")
        assert bob is not None
        token, _ = accounts.add_token(conn, bob, "bob's tooling")
    (total,) = pipeline.sql(
        "SELECT SUM(bytes_sent) FROM stat_customer_traffic WHERE customer = %s "
        "AND bucket >= FROM_UNIXTIME(%s) AND bucket < FROM_UNIXTIME(%s)",
        (VICTIM, pipeline.month_start, pipeline.month_end),
    )[0]
    return {"token_id": str(token.id), "bytes": str(int(total)), "gb": f"{int(total) / 1e9:,.3f}"}


@pytest.fixture(scope="module")
def alice_token(panel: PanelServer) -> str:
    with panel.connect() as conn:
        alice = accounts.find_user(conn, "alice")
        assert alice is not None
        return accounts.add_token(conn, alice, "alice's tooling")[1]


def _url(panel: PanelServer, path: str, pipeline: Pipeline, victim: dict[str, str]) -> str:
    filled = path.replace("{customer}", VICTIM).replace("{token_id:int}", victim["token_id"])
    filled = filled.replace("{path}", "panel.css")
    assert "{" not in filled, f"a path parameter the test does not know: {path}"
    return f"{panel.url}{filled}?month={pipeline.month}&range=month"


def _request(
    session: requests.Session, method: str, url: str, headers: dict | None = None
) -> requests.Response:
    data = None
    if method == "POST":
        # a valid CSRF token of the session: a refusal must come from the authorization, not from CSRF
        form = session.get(url.split("/", 3)[0] + "//" + url.split("/")[2] + "/account", timeout=10)
        data = {"csrf_token": csrf_of(form.text) if 'name="csrf_token"' in form.text else "", "name": "x"}
    return session.request(method, url, data=data, headers=headers, allow_redirects=False, timeout=60)


def _no_secrets(answer: requests.Response, victim: dict[str, str], where: str) -> None:
    body = answer.text
    assert VICTIM not in body, f"{where}: the other customer's name is in the answer"
    assert victim["bytes"] not in body and victim["gb"] not in body, f"{where}: the other customer's bytes"


def test_every_route_is_declared(panel: PanelServer):
    declared = access_table()
    for method, path in app_routes(panel):
        if path.startswith("/static/"):
            continue  # the panel's own CSS and scripts, public by design
        assert (method, path) in declared, f"{method} {path} has no access kind in cdnpanel.web.ROUTES"
        kind = declared[(method, path)]
        assert kind in ("public", "user", "customer", "operator")
        if kind == "customer":
            assert "{customer}" in path, f"{path}: a customer route names its customer in the path"
    assert len(app_routes(panel)) == len(declared) + 1  # + /static


def test_a_customer_cannot_reach_another_customers_data(
    panel: PanelServer, pipeline: Pipeline, victim: dict[str, str], alice_token: str
):
    declared = access_table()
    checked = 0
    for method, path in app_routes(panel):
        url = _url(panel, path, pipeline, victim)
        kind = declared.get((method, path), "public")
        where = f"{method} {path}"
        anonymous = _request(requests.Session(), method, url)
        _no_secrets(anonymous, victim, where + " (anonymous)")
        if kind != "public":
            if path.startswith("/api/"):
                assert anonymous.status_code == 401, where
            else:
                assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"], where
        alice = _request(login(panel.url, "alice"), method, url)
        _no_secrets(alice, victim, where + " (alice's session)")
        by_token = _request(requests.Session(), method, url, {"Authorization": f"Bearer {alice_token}"})
        _no_secrets(by_token, victim, where + " (alice's token)")
        wrong_token = _request(requests.Session(), method, url, {"Authorization": "Bearer cdnp_wrong"})
        _no_secrets(wrong_token, victim, where + " (a wrong token)")
        if kind in ("customer", "operator"):
            expected = 404 if kind == "customer" else 403
            assert alice.status_code == expected, (where, alice.status_code)
            if path.startswith("/api/"):
                assert by_token.status_code == expected, (where, by_token.status_code)
                assert wrong_token.status_code == 401, where
            owner = login(panel.url, "bob" if kind == "customer" else "olga")
            assert _request(owner, method, url).status_code == 200, f"{where}: the owner is refused too"
        checked += 1
    assert checked == len(app_routes(panel)) >= 24


def test_another_users_token_cannot_be_revoked(panel: PanelServer, victim: dict[str, str]):
    alice = login(panel.url, "alice")
    form = alice.get(f"{panel.url}/account", timeout=10)
    answer = alice.post(
        f"{panel.url}/account/tokens/{victim['token_id']}/revoke", data={"csrf_token": csrf_of(form.text)},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 404
    with panel.connect() as conn:
        bob = accounts.find_user(conn, "bob")
        assert bob is not None
        assert [t.revoked for t in accounts.list_tokens(conn, bob) if str(t.id) == victim["token_id"]] == [
            False
        ]


def test_customer_names_are_matched_exactly(panel: PanelServer):
    alice = login(panel.url, "alice")
    for name in ("C0000", "c0000 ", "c000", "c0000%00", "%2e%2e", "c0000'--"):
        answer = alice.get(f"{panel.url}/api/v1/customers/{name}/usage", timeout=10)
        assert answer.status_code == 404, name
    assert alice.get(f"{panel.url}/api/v1/customers/c0000/usage", timeout=10).status_code == 200


def test_the_api_lists_only_the_users_customers(panel: PanelServer):
    me = login(panel.url, "bob").get(f"{panel.url}/api/v1/me", timeout=10).json()
    assert me == {"username": "bob", "role": "customer", "customers": ["c0001", "c0002"]}


def test_openapi_documents_every_api_route(panel: PanelServer):
    from openapi_core import OpenAPI

    document = requests.get(f"{panel.url}/api/openapi.json", timeout=10).json()
    OpenAPI.from_dict(document)  # a valid OpenAPI 3.1 document
    api = {re.sub(r"{(\w+)(:\w+)?}", r"{\1}", s.path) for s in ROUTES if s.api and s.access != "public"}
    assert set(document["paths"]) == api
