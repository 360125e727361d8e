"""The web application: server-rendered pages, the JSON API and their authorization.

Every route is declared with its access kind (`public`, `user`, `customer`, `operator`) in one table,
`ROUTES`, and guarded by the same wrapper: a `customer` route carries `{customer}` in its path and
answers 404 unless the user may see that customer; an `operator` route answers 403 to a customer.
Pages send anonymous users to the login form; the API answers 401. The tenancy tests enumerate the
application's routes and fail on any route that is not in this table.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cdnpanel import accounts, views
from cdnpanel.accounts import User
from cdnpanel.config import PanelConfig
from cdnpanel.db import Database
from cdnpanel.periods import RangeError
from streamstats.logs import event

HERE = Path(__file__).parent
log = logging.getLogger("cdnpanel.web")
ACCESS_KINDS = ("public", "user", "customer", "operator")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Panel:
    """What every request needs: the configuration, the databases, the templates."""

    config: PanelConfig
    accounts: Database  # users, tokens, login failures: read and written (the primary)
    statistics: Database  # the statistics and checkpoints: read only (a replica)
    templates: Jinja2Templates

    @property
    def one_database(self) -> bool:
        return self.accounts.config == self.statistics.config


@dataclass
class Req:
    """One request as the handlers see it, inside the worker thread."""

    request: Request
    panel: Panel
    conn: pymysql.connections.Connection  # the accounts' database
    user: User | None
    form: FormData | None
    via_token: bool = False
    now: float = field(default_factory=time.time)
    _stats: pymysql.connections.Connection | None = field(default=None, repr=False)

    @property
    def stats(self) -> pymysql.connections.Connection:
        """The statistics' database, connected on first use (pages such as the login form need none)."""
        if self._stats is None:
            self._stats = self.conn if self.panel.one_database else self.panel.statistics.connect()
        return self._stats

    def close_stats(self) -> None:
        if self._stats is not None and self._stats is not self.conn:
            self._stats.close()

    @property
    def customer(self) -> str:
        return str(self.request.path_params.get("customer", ""))

    def param(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def render(self, template: str, context: dict[str, Any], status: int = 200) -> Response:
        base = {
            "user": self.user,
            "csrf_token": csrf_token(self.request),
            # the navigation names the path's customer only to a user who may see it
            "customer": self.customer if self.user and self.user.may_see(self.customer) else "",
            "path": self.request.url.path,
        }
        return self.panel.templates.TemplateResponse(
            self.request, template, base | context, status_code=status
        )


Handler = Callable[[Req], Response]


@dataclass(frozen=True)
class RouteSpec:
    path: str
    handler: Handler
    access: str
    methods: tuple[str, ...] = ("GET",)
    api: bool = False
    summary: str = ""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def _csrf_ok(request: Request, form: FormData | None) -> bool:
    sent = str(form.get("csrf_token", "")) if form is not None else ""
    expected = str(request.session.get("csrf", ""))
    return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials else None


def _identify(request: Request, conn: pymysql.connections.Connection, api: bool) -> tuple[User | None, bool]:
    """The user of a session cookie, or on API routes of a bearer token (a token cannot drive the pages'
    forms, such as creating more tokens)."""
    token = _bearer(request) if api else None
    if token is not None:
        return accounts.user_for_token(conn, token), True
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None, False
    user = accounts.get_user(conn, uid)
    if user is None or user.disabled:
        request.session.clear()
        return None, False
    return user, False


def _deny(req: Req, spec: RouteSpec, status: int, message: str) -> Response:
    if spec.api:
        headers = {"WWW-Authenticate": 'Bearer realm="cdn-panel"'} if status == 401 else None
        return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)
    if status == 401:
        target = req.request.url.path
        return RedirectResponse(f"/login?next={target}" if req.request.method == "GET" else "/login", 303)
    return req.render("error.html", {"status": status, "message": message}, status)


def _authorize(req: Req, spec: RouteSpec) -> Response | None:
    """None when the request may go on; otherwise the refusal."""
    if spec.access == "public":
        return None
    if req.user is None:
        return _deny(req, spec, 401, "Sign in first." if not spec.api else "missing or wrong credentials")
    if spec.access == "operator" and not req.user.is_operator:
        return _deny(req, spec, 403, "This page is for operators.")
    if spec.access == "customer" and not (
        accounts.CUSTOMER.fullmatch(req.customer) and req.user.may_see(req.customer)
    ):
        return _deny(req, spec, 404, "No such customer, or not yours.")
    if req.request.method == "POST" and not req.via_token and not _csrf_ok(req.request, req.form):
        return _deny(
            req, spec, 403, "The form expired or did not come from this panel: reload and try again."
        )
    return None


def _run(panel: Panel, spec: RouteSpec, request: Request, form: FormData | None) -> Response:
    try:
        with panel.accounts.session() as conn:
            user, via_token = _identify(request, conn, spec.api)
            req = Req(request, panel, conn, user, form, via_token)
            try:
                return _authorize(req, spec) or spec.handler(req)
            finally:
                req.close_stats()
    except RangeError as exc:  # a malformed range or month in the query
        if spec.api:
            return JSONResponse({"error": str(exc), "status": 400}, status_code=400)
        return panel.templates.TemplateResponse(request, "error.html", _bare(request, 400, str(exc)), 400)
    except pymysql.MySQLError as exc:
        event(log, logging.ERROR, "database_error", path=request.url.path, error=str(exc))
        if spec.api:
            return JSONResponse({"error": "the statistics database is unavailable", "status": 503}, 503)
        message = "The statistics database cannot be reached; try again shortly."
        return panel.templates.TemplateResponse(request, "error.html", _bare(request, 503, message), 503)


def _bare(request: Request, status: int, message: str) -> dict[str, Any]:
    """An error page's context without a user (the request ended before or outside the handler)."""
    return {"status": status, "message": message, "user": None, "csrf_token": "", "customer": "",
            "path": request.url.path}  # fmt: skip


def _endpoint(panel: Panel, spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=20) if request.method == "POST" else None
        return await run_in_threadpool(_run, panel, spec, request, form)

    endpoint.__name__ = spec.handler.__name__
    return endpoint


class SecurityHeaders:
    """Headers on every answer, and one structured log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.monotonic()
        status = {"code": 0}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            event(
                log, logging.INFO, "request", method=scope["method"], path=scope["path"],
                status=status["code"],
                ms=round((time.monotonic() - began) * 1000, 1),
            )  # fmt: skip


def _healthz(req: Req) -> Response:
    """200 when both databases answer."""
    for conn in (req.conn, req.stats):
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    return JSONResponse({"status": "ok"})


ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("/healthz", _healthz, "public"),
    RouteSpec("/login", views.login_form, "public"),
    RouteSpec("/login", views.login_submit, "public", ("POST",)),
    RouteSpec("/logout", views.logout, "user", ("POST",)),
    RouteSpec("/", views.index, "user"),
    RouteSpec("/account", views.account, "user"),
    RouteSpec("/account/tokens", views.token_create, "user", ("POST",)),
    RouteSpec("/account/tokens/{token_id:int}/revoke", views.token_revoke, "user", ("POST",)),
    RouteSpec("/c/{customer}/traffic", views.traffic_page, "customer"),
    RouteSpec("/c/{customer}/breakdowns", views.breakdowns_page, "customer"),
    RouteSpec("/c/{customer}/usage", views.usage_page, "customer"),
    RouteSpec("/c/{customer}/usage.csv", views.usage_csv, "customer"),
    RouteSpec("/ops/customers", views.ops_customers, "operator"),
    RouteSpec("/ops/sites", views.ops_sites, "operator"),
    RouteSpec("/ops/pipeline", views.ops_pipeline, "operator"),
    RouteSpec("/api/openapi.json", views.openapi_document, "public", api=True),
    RouteSpec("/api/v1/me", views.api_me, "user", api=True, summary="The user and the customers it may see"),
    RouteSpec("/api/v1/customers/{customer}/traffic", views.api_traffic, "customer", api=True,
              summary="Bandwidth, requests, cache hit ratio and status classes over a range"),
    RouteSpec("/api/v1/customers/{customer}/breakdowns", views.api_breakdowns, "customer", api=True,
              summary="Top URLs (approximate), countries, status codes, virtual hosts, content types"),
    RouteSpec("/api/v1/customers/{customer}/usage", views.api_usage, "customer", api=True,
              summary="A UTC calendar month's billing figures (exact) and its days"),
    RouteSpec("/api/v1/operator/customers", views.api_ops_customers, "operator", api=True,
              summary="All customers of a month ranked by bytes, with their usage figures"),
    RouteSpec("/api/v1/operator/sites", views.api_ops_sites, "operator", api=True,
              summary="Traffic, cache ratio and error rate per POP and per edge node"),
    RouteSpec("/api/v1/operator/pipeline", views.api_ops_pipeline, "operator", api=True,
              summary="Every agent's checkpoints and lag, and the replica's lag"),
)  # fmt: skip


def access_table() -> dict[tuple[str, str], str]:
    """(method, path) -> access kind, for the tests and the OpenAPI document."""
    return {(m, spec.path): spec.access for spec in ROUTES for m in spec.methods}


def create_app(config: PanelConfig) -> Starlette:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    views.register_filters(templates)
    panel = Panel(config, Database(config.accounts_database), Database(config.database), templates)
    routes: list[BaseRoute] = [
        Route(spec.path, _endpoint(panel, spec), methods=list(spec.methods)) for spec in ROUTES
    ]
    routes.append(Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"))
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=config.secret_key,
            session_cookie="cdnpanel_session",
            max_age=int(config.session_max_age),
            same_site="lax",
            https_only=config.cookie_secure,
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.panel = panel
    app.state.route_specs = ROUTES
    return app


def migrate(config: PanelConfig) -> list[str]:
    with Database(config.accounts_database).session() as conn:
        return accounts.migrate(conn)
