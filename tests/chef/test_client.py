"""The client against goiardi (a Chef server that enforces signatures) and, for what goiardi does not do
(organisation URLs, erchef's error shape, 503s), against a local HTTP server that checks every request's
signature with the project's verifier, as Chef Infra Server would."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chef_api import (
    ChefAPIError,
    ChefAuthenticationError,
    ChefConflictError,
    ChefConnectionError,
    ChefNotFoundError,
    ChefPermissionError,
    ChefSettings,
    ChefSigningError,
    Signer,
    load_private_key,
    search,
    verify_request,
)
from chef_api.client import ChefClient
from chef_api.clients import create_client, created_client_keys
from chef_api.nodes import NodeSpec, apply_plan, plan_present
from chef_api.search import pages, partial_search
from tests.chef import vectors
from tests.chef.conftest import Goiardi, free_port, unique

SPEC_KEY = load_private_key(vectors.PRIVATE_KEY)


# goiardi


@pytest.mark.parametrize(("version", "api"), [("1.0", "1"), ("1.1", "1"), ("1.3", "0"), ("1.3", "1")])
def test_goiardi_accepts_every_signing_version(goiardi: Goiardi, version, api):
    with goiardi.client(sign_version=version, server_api_version=api) as client:
        assert isinstance(client.get("nodes"), dict)
        assert client.is_goiardi is True


def test_a_wrong_key_is_a_clear_401(goiardi: Goiardi, stranger_key):
    with goiardi.client("admin", stranger_key) as client, pytest.raises(ChefAuthenticationError) as caught:
        client.get("nodes")
    error = caught.value
    assert error.status == 401 and error.errors == ["crypto/rsa: verification error"]
    assert "GET /nodes: HTTP 401: crypto/rsa: verification error" in str(error)
    assert "check client_name, the client key and this machine's clock" in str(error)
    assert error.request_id


def test_an_unknown_client_is_a_401_naming_it(goiardi: Goiardi, stranger_key):
    with goiardi.client("nobody", stranger_key) as client, pytest.raises(ChefAuthenticationError) as caught:
        client.get("nodes")
    assert "nobody" in str(caught.value)


def test_a_non_admin_client_gets_a_clear_403(goiardi: Goiardi):
    with goiardi.client(goiardi.user_name, goiardi.user_key) as client:
        assert isinstance(client.get("nodes"), dict)
        with pytest.raises(ChefPermissionError) as caught:
            client.post("clients", {"name": unique("sneaky"), "create_key": True})
    assert caught.value.status == 403
    assert caught.value.errors == ["You are not allowed to take this action."]
    assert "not allowed to do this" in str(caught.value)


def test_missing_and_duplicate_objects_are_typed(goiardi: Goiardi):
    name = unique("dup")
    with goiardi.client() as client:
        assert client.get_or_none(f"nodes/{name}") is None
        with pytest.raises(ChefNotFoundError, match=f"node '{name}' not found"):
            client.get(f"nodes/{name}")
        apply_plan(client, plan_present(None, NodeSpec(name)))
        with pytest.raises(ChefConflictError, match="already exists"):
            client.post("nodes", {"name": name, "chef_type": "node", "json_class": "Chef::Node"})


def test_goiardi_returns_a_new_clients_key_at_top_level_and_it_signs(goiardi: Goiardi, tmp_path):
    name = unique("fresh")
    with goiardi.client() as admin:
        created = create_client(admin, name)
    assert created.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert created.public_key.startswith("-----BEGIN PUBLIC KEY-----")
    key = tmp_path / "fresh.pem"
    key.write_text(created.private_key)
    with goiardi.client(name, key) as fresh:
        assert isinstance(fresh.get("nodes"), dict)
    assert "private_key" not in repr(created)


def test_both_client_creation_shapes_give_the_key():
    api1 = {"uri": "u", "chef_key": {"name": "default", "private_key": "PRIV", "public_key": "PUB"}}
    api0 = {"uri": "u", "private_key": "PRIV", "public_key": "PUB"}
    assert created_client_keys(api1) == ("PRIV", "PUB") == created_client_keys(api0)
    assert created_client_keys({"uri": "u"}) == (None, None)


@pytest.fixture(scope="module")
def seven_nodes(goiardi: Goiardi) -> str:
    """Seven nodes in an environment of their own; the environment's name."""
    environment = unique("pager")
    with goiardi.client() as client:
        for n in range(7):
            spec = NodeSpec(f"{environment}-n{n}", environment=environment, run_list=["role[edge]"])
            apply_plan(client, plan_present(None, spec))
    return environment


def test_goiardi_reports_the_page_size_as_total(goiardi: Goiardi, seven_nodes):
    # The quirk the pager is built for: a Chef-client-style pager would stop after this page.
    with goiardi.client() as client:
        page = client.get("search/node", {"q": f"chef_environment:{seven_nodes}", "rows": 3, "start": 0})
    assert len(page["rows"]) == 3 and page["total"] == 3


@pytest.mark.parametrize("rows", [2, 3, 7, 1000])
def test_search_pages_through_every_match_on_goiardi(goiardi: Goiardi, seven_nodes, rows):
    with goiardi.client() as client:
        names = [
            node["name"] for node in search(client, "node", f"chef_environment:{seven_nodes}", rows=rows)
        ]
    assert sorted(names) == [f"{seven_nodes}-n{n}" for n in range(7)]


@pytest.mark.parametrize("rows", [2, 3, 7, 1000])
def test_partial_search_returns_every_match_once_on_goiardi(goiardi: Goiardi, seven_nodes, rows):
    keys = {"name": ["name"], "env": ["chef_environment"]}
    with goiardi.client() as client:
        found = partial_search(client, "node", keys, f"chef_environment:{seven_nodes}", rows=rows)
    assert sorted(row["data"]["name"] for row in found) == [f"{seven_nodes}-n{n}" for n in range(7)]
    assert {row["data"]["env"] for row in found} == {seven_nodes}


# The pager's rule, against the two ways of reporting `total`.


@dataclass
class IndexSim:
    """A search index answering pages: `total` is every match (Chef Infra Server) or the page (goiardi);
    `gaps` are index entries of deleted objects, which the server drops from the page."""

    matches: int
    goiardi: bool = False
    gaps: frozenset[int] = frozenset()
    requests: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        start, rows = params["start"], params["rows"]
        self.requests.append((start, rows))
        window = range(start, min(start + rows, self.matches))
        page = [{"i": i} for i in window if i not in self.gaps]
        return {"rows": page, "start": start, "total": len(page) if self.goiardi else self.matches}


@pytest.mark.parametrize(
    ("index", "requests"),
    [
        (IndexSim(7), 3),
        (IndexSim(6), 3),  # the last page is exactly full: one extra, empty request
        (IndexSim(7, goiardi=True), 3),
        (IndexSim(6, goiardi=True), 3),
        (IndexSim(0), 1),
        (IndexSim(7, gaps=frozenset({3, 4})), 3),  # a short middle page does not stop the pager
    ],
)
def test_the_pager_is_complete_whichever_total_the_server_reports(index, requests):
    seen = [row["i"] for page in pages(index, "*:*", 3) for row in page]
    assert seen == [i for i in range(index.matches) if i not in index.gaps]
    assert len(index.requests) == requests


# A local server that verifies signatures the way Chef Infra Server does.


@dataclass
class Scripted:
    """Answers in order (the last repeats); records each request and the verifier's verdict on it."""

    answers: list[tuple[int, Any]]
    seen: list[dict[str, Any]] = field(default_factory=list)


def _handler(script: Scripted) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            verdict = verify_request(self.command, self.path, dict(self.headers), body, SPEC_KEY.public_key())
            script.seen.append({"path": self.path, "headers": dict(self.headers), "verdict": verdict})
            status, payload = script.answers[min(len(script.seen), len(script.answers)) - 1]
            if not verdict.ok:
                status, payload = 401, {"error": [verdict.reason]}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def chef_like_server() -> Iterator[Any]:
    servers = []

    def start(answers: list[tuple[int, Any]]) -> tuple[str, Scripted]:
        script = Scripted(answers)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", script

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _client(url: str, **kwargs: Any) -> ChefClient:
    return ChefClient(url, Signer("spec-user", SPEC_KEY), backoff=0, **kwargs)


def test_an_organisation_url_is_signed_with_its_full_path(chef_like_server):
    url, script = chef_like_server([(200, {"web1": "url"})])
    with _client(f"{url}/organizations/acme/") as client:
        assert client.get("/nodes", {"q": "x"}) == {"web1": "url"}
    (request,) = script.seen
    assert request["path"] == "/organizations/acme/nodes?q=x"
    assert request["verdict"].ok
    assert request["headers"]["X-Ops-Server-API-Version"] == "1"
    assert request["headers"]["X-Chef-Version"] and request["headers"]["Accept"] == "application/json"
    assert client.is_goiardi is False


def test_idempotent_requests_are_retried_and_signed_anew(chef_like_server):
    url, script = chef_like_server([(503, {"error": ["busy"]}), (502, {}), (200, {"ok": True})])
    with _client(url, retries=3) as client:
        assert client.get("nodes/web1") == {"ok": True}
    assert len(script.seen) == 3 and all(r["verdict"].ok for r in script.seen)
    # One request id across the attempts, so the server's logs tie them together.
    assert len({r["headers"]["X-Remote-Request-Id"] for r in script.seen}) == 1


def test_a_post_is_not_retried(chef_like_server):
    url, script = chef_like_server([(503, {"error": ["busy"]}), (201, {})])
    with _client(url, retries=3) as client, pytest.raises(ChefAPIError) as caught:
        client.post("nodes", {"name": "web1"})
    assert caught.value.status == 503 and caught.value.errors == ["busy"] and len(script.seen) == 1


def test_erchef_error_shape_gives_code_and_message(chef_like_server):
    message = "Specified version 9 not supported"
    url, _ = chef_like_server([(406, {"error": "invalid-x-ops-server-api-version", "message": message})])
    with _client(url) as client, pytest.raises(ChefAPIError) as caught:
        client.get("nodes")
    assert caught.value.code == "invalid-x-ops-server-api-version"
    assert caught.value.errors == [message] and "server_api_version" in str(caught.value)


def test_an_unreachable_server_is_a_connection_error_after_the_retries():
    client = _client(f"http://127.0.0.1:{free_port()}", retries=2)
    with client, pytest.raises(ChefConnectionError, match=r"after 3 attempt\(s\)"):
        client.get("nodes")


def test_a_bad_server_url_and_a_missing_key_file_are_clear(tmp_path):
    with pytest.raises(ValueError, match="http"):
        ChefClient("chef.example.com", Signer("u", SPEC_KEY))
    settings = ChefSettings("http://127.0.0.1:1", "u", client_key=str(tmp_path / "absent.pem"))
    with pytest.raises(ChefSigningError, match="cannot read the client key file"):
        ChefClient.from_settings(settings)


def test_the_command_line_makes_one_signed_request(goiardi: Goiardi, stranger_key, seven_nodes):
    def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "chef_api", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=60)

    ok = cli(goiardi.env(), "get", f"/search/node?q=chef_environment:{seven_nodes}&rows=2")
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["rows"]) == 2
    denied = cli(goiardi.env("admin", stranger_key), "GET", "/nodes")
    assert denied.returncode == 1 and "HTTP 401: crypto/rsa: verification error" in denied.stderr
