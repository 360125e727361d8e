"""The handlers behind the routes of `cdnpanel.web.ROUTES`: each gets a `Req` whose user has already
been authorized for the route, reads the figures through `cdnpanel.queries` and renders a page or
JSON. Handlers run in a worker thread with their own database connection."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as urlquote

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from cdnpanel import accounts, queries
from cdnpanel.periods import (
    RANGES,
    Month,
    TimeRange,
    fmt_time,
    human_bits,
    human_bytes,
    month_of,
    parse_month,
    parse_range,
)
from streamstats.logs import event

if TYPE_CHECKING:
    from cdnpanel.web import Req

log = logging.getLogger("cdnpanel.web")


# ---- formatting, shared by the templates -------------------------------------------------------------
def _num(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


def _pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.1f} %"


def _ms(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.0f} ms"


def register_filters(templates: Jinja2Templates) -> None:
    templates.env.filters.update(
        num=_num,
        pct=_pct,
        ms=_ms,
        bits=human_bits,
        bytes=human_bytes,
        gb=lambda b: f"{b / 1e9:,.3f}",
        mbit=lambda bps: f"{bps / 1e6:,.3f}",
        utc=lambda t: fmt_time(int(t)) + " UTC" if t is not None else "\u2013",
        duration=_duration,
    )
    templates.env.globals["ranges"] = [*RANGES, "custom"]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ---- helpers -----------------------------------------------------------------------------------------
def _catalog(req: Req) -> tuple[queries.Catalog, float | None]:
    """The statistics there are, and up to when the billing statistic is complete."""
    cat = queries.catalog(req.stats)
    return cat, queries.complete_up_to(req.stats, cat, req.panel.config.complete_margin)


def _range(req: Req) -> TimeRange:
    return parse_range(req.param("range"), req.param("from"), req.param("to"), req.now)


def _month(req: Req) -> Month:
    return parse_month(req.param("month"), req.now)


def _series_json(series: queries.Series, rng: TimeRange) -> dict[str, Any]:
    return {"range": rng.name, "start": rng.start, "end": rng.end, "step": rng.step, "t": series.times}


def _script_json(payload: dict[str, Any]) -> str:
    """JSON for a <script type="application/json"> block: no "</script>" can end it early."""
    return json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")


def _traffic_payload(req: Req, customer: str, rng: TimeRange) -> dict[str, Any]:
    cat, complete = _catalog(req)
    series, summary = queries.traffic(req.stats, cat, customer, rng)
    return {
        "customer": customer,
        **_series_json(series, rng),
        "series": series.columns,
        "summary": asdict(summary),
        "complete_up_to": complete,
        "billing_statistic": queries.BILLING in cat,
    }


def _usage_payload(usage: queries.Usage, complete: float | None, series: str = "") -> dict[str, Any]:
    """The bill as JSON; `series`: "bits" adds the 5-minute bandwidth (the API), "bytes" the 5-minute
    bytes (the page's chart: exact integers, a third of the size)."""
    out: dict[str, Any] = {
        "customer": usage.customer,
        "month": str(usage.month),
        "exact": True,
        "requests": usage.requests,
        "bytes_sent": usage.bytes_sent,
        "gigabytes": usage.bytes_sent / 1e9,
        "p95_bits_per_second": usage.p95_bps,
        "p95_mbit_per_second": usage.p95_bps / 1e6,
        "p95_intervals": usage.intervals,
        "complete_up_to": complete,
        "days": [asdict(d) for d in usage.days],
    }
    if series:
        values: list[Any] = usage.five_minute_bytes
        if series == "bits":
            values = [b * 8 / 300 for b in values]
        key = "bits_per_second" if series == "bits" else "bytes"
        out["five_minute"] = {"start": usage.month.start, "step": 300, key: values}
    return out


# ---- login, logout, account --------------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def login_form(req: Req) -> Response:
    if req.user is not None:
        return RedirectResponse(_safe_next(req.param("next")), 303)
    return req.render("login.html", {"next": _safe_next(req.param("next")), "error": ""})


def _client(req: Req) -> str:
    return req.request.client.host if req.request.client else "unknown"


def login_submit(req: Req) -> Response:
    from cdnpanel.web import _csrf_ok

    form = req.form
    assert form is not None
    username = str(form.get("username", "")).strip()[:64]
    target = _safe_next(str(form.get("next", "")))
    context = {"next": target, "username": username}
    if not _csrf_ok(req.request, form):
        return req.render("login.html", context | {"error": "The form expired: please try again."}, 403)
    throttle = req.panel.config.throttle
    subjects = [f"user:{username.lower()}", f"ip:{_client(req)}"]
    failures = accounts.recent_failures(req.conn, subjects, throttle.window)
    if (
        failures[subjects[0]] >= throttle.max_failures
        or failures[subjects[1]] >= throttle.max_failures_per_client
    ):
        event(log, logging.WARNING, "login_throttled", user=username, client=_client(req))
        minutes = math.ceil(throttle.window / 60)
        message = f"Too many failed sign-ins. Try again in {minutes} minutes."
        response = req.render("login.html", context | {"error": message}, 429)
        response.headers["Retry-After"] = str(int(throttle.window))
        return response
    user = accounts.authenticate(req.conn, username, str(form.get("password", "")))
    if user is None:
        accounts.record_failure(req.conn, subjects, throttle.window)
        event(log, logging.WARNING, "login_failed", user=username, client=_client(req))
        return req.render("login.html", context | {"error": "Wrong user name or password."}, 401)
    accounts.clear_failures(req.conn, subjects[0])
    req.request.session.clear()  # a new session: nothing from before the login survives
    req.request.session["uid"] = user.id
    event(log, logging.INFO, "login", user=user.username, role=user.role, client=_client(req))
    return RedirectResponse(target, 303)


def logout(req: Req) -> Response:
    req.request.session.clear()
    return RedirectResponse("/login", 303)


def index(req: Req) -> Response:
    assert req.user is not None
    if req.user.is_operator:
        return RedirectResponse("/ops/customers", 303)
    return RedirectResponse(f"/c/{urlquote(req.user.customers[0])}/traffic", 303)


def account(req: Req, new_secret: str = "", error: str = "", status: int = 200) -> Response:
    assert req.user is not None
    tokens = accounts.list_tokens(req.conn, req.user)
    return req.render("account.html", {"tokens": tokens, "new_secret": new_secret, "error": error}, status)


def token_create(req: Req) -> Response:
    assert req.user is not None and req.form is not None
    try:
        _, secret = accounts.add_token(req.conn, req.user, str(req.form.get("name", "")).strip())
    except accounts.AccountError as exc:
        return account(req, error=str(exc), status=400)
    event(log, logging.INFO, "token_created", user=req.user.username)
    return account(req, new_secret=secret)


def token_revoke(req: Req) -> Response:
    assert req.user is not None
    if not accounts.revoke_token(req.conn, req.user, int(req.request.path_params["token_id"])):
        return req.render("error.html", {"status": 404, "message": "No such token."}, 404)
    return RedirectResponse("/account", 303)


# ---- customer pages ----------------------------------------------------------------------------------
def traffic_page(req: Req) -> Response:
    rng = _range(req)
    payload = _traffic_payload(req, req.customer, rng)
    payload["api"] = f"/api/v1/customers/{urlquote(req.customer)}/traffic?range=hour"
    return req.render(
        "traffic.html",
        {"rng": rng, "data": payload, "chart_json": _script_json(payload),
         "from_value": req.param("from") or "", "to_value": req.param("to") or ""},
    )  # fmt: skip


def breakdowns_page(req: Req) -> Response:
    rng = _range(req)
    cat, complete = _catalog(req)
    tables = [queries.breakdown(req.stats, cat, spec, req.customer, rng) for spec in queries.BREAKDOWNS]
    return req.render(
        "breakdowns.html",
        {"rng": rng, "tables": tables, "complete": complete,
         "from_value": req.param("from") or "", "to_value": req.param("to") or ""},
    )  # fmt: skip


def _usage(req: Req) -> tuple[queries.Usage | None, float | None, Month]:
    month = _month(req)
    cat, complete = _catalog(req)
    return queries.usage(req.stats, cat, req.customer, month, complete), complete, month


def usage_page(req: Req) -> Response:
    usage, complete, month = _usage(req)
    chart = _usage_payload(usage, complete, series="bytes") if usage else None
    return req.render(
        "usage.html",
        {"usage": usage, "month": month, "complete": complete, "this_month": str(month_of(req.now)),
         "chart_json": _script_json(chart) if chart else ""},
    )  # fmt: skip


def usage_csv(req: Req) -> Response:
    usage, _, month = _usage(req)
    if usage is None:
        return req.render("error.html", {"status": 404, "message": "No billing statistic is collected."}, 404)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "requests", "bytes_sent", "gb_decimal", "peak_5min_mbit_s", "p95_5min_mbit_s"])
    for day in usage.days:
        writer.writerow(
            [
                day.day,
                day.requests,
                day.bytes_sent,
                f"{day.bytes_sent / 1e9:.9f}",
                f"{day.peak_5min_bps / 1e6:.6f}",
                "",
            ]
        )
    writer.writerow(
        [f"total {month}", usage.requests, usage.bytes_sent, f"{usage.bytes_sent / 1e9:.9f}", "",
         f"{usage.p95_bps / 1e6:.6f}"]
    )  # fmt: skip
    name = f"usage-{req.customer}-{month}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- operator pages ----------------------------------------------------------------------------------
def _ranking(req: Req) -> tuple[list[queries.Ranked], float | None, Month]:
    month = _month(req)
    cat, complete = _catalog(req)
    return queries.ranking(req.stats, cat, month, complete), complete, month


def ops_customers(req: Req) -> Response:
    ranked, complete, month = _ranking(req)
    return req.render("ops_customers.html", {"ranked": ranked, "complete": complete, "month": month})


def _sites(req: Req) -> tuple[TimeRange, list[queries.SiteRow], list[queries.SiteRow]]:
    rng = _range(req)
    cat = queries.catalog(req.stats)
    return rng, queries.pops(req.stats, cat, rng), queries.edges(req.stats, cat, rng)


def ops_sites(req: Req) -> Response:
    rng, pops, edges = _sites(req)
    return req.render(
        "ops_sites.html",
        {"rng": rng, "pops": pops, "edges": edges,
         "from_value": req.param("from") or "", "to_value": req.param("to") or ""},
    )  # fmt: skip


def ops_pipeline(req: Req) -> Response:
    agents = queries.pipeline(req.stats, req.now)
    replica = queries.replica_status(req.stats)
    _, complete = _catalog(req)
    return req.render(
        "ops_pipeline.html", {"agents": agents, "replica": replica, "complete": complete, "now": req.now}
    )


# ---- JSON API ----------------------------------------------------------------------------------------
def api_me(req: Req) -> Response:
    assert req.user is not None
    user = req.user
    return JSONResponse({"username": user.username, "role": user.role, "customers": list(user.customers)})


def api_traffic(req: Req) -> Response:
    rng = _range(req)
    return JSONResponse(_traffic_payload(req, req.customer, rng))


def api_breakdowns(req: Req) -> Response:
    rng = _range(req)
    cat = queries.catalog(req.stats)
    tables = [asdict(queries.breakdown(req.stats, cat, s, req.customer, rng)) for s in queries.BREAKDOWNS]
    return JSONResponse({"customer": req.customer, "start": rng.start, "end": rng.end, "breakdowns": tables})


def api_usage(req: Req) -> Response:
    usage, complete, _ = _usage(req)
    if usage is None:
        return JSONResponse({"error": "no billing statistic is collected", "status": 404}, 404)
    return JSONResponse(_usage_payload(usage, complete, series="bits" if req.param("series") == "1" else ""))


def api_ops_customers(req: Req) -> Response:
    ranked, complete, month = _ranking(req)
    rows = [
        {"customer": r.customer, "requests": r.requests, "bytes_sent": r.bytes_sent,
         "gigabytes": r.bytes_sent / 1e9,
         "p95_bits_per_second": r.p95_bps, "p95_mbit_per_second": r.p95_bps / 1e6}
        for r in ranked
    ]  # fmt: skip
    return JSONResponse({"month": str(month), "complete_up_to": complete, "customers": rows})


def api_ops_sites(req: Req) -> Response:
    rng, pops, edges = _sites(req)
    return JSONResponse(
        {
            "start": rng.start,
            "end": rng.end,
            "pops": [asdict(p) for p in pops],
            "edges": [asdict(e) for e in edges],
        }
    )


def api_ops_pipeline(req: Req) -> Response:
    agents = [asdict(a) for a in queries.pipeline(req.stats, req.now)]
    return JSONResponse({"agents": agents, "replica": asdict(queries.replica_status(req.stats))})


def openapi_document(req: Req) -> Response:
    from cdnpanel.openapi import document

    return JSONResponse(document())
