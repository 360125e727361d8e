"""The simulator as a function from a request to an answer: authentication, fault injection, the API's routes,
the admin endpoints (`/_simulator/...`) and the exchange journal."""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from leaseweb_api.simulator import logfmt, routes
from leaseweb_api.simulator.errors import ApiFault, Reply, fault_reply, styled_error
from leaseweb_api.simulator.faults import FaultInjector, FaultRule, FaultSpecError, rule_from_mapping
from leaseweb_api.simulator.journal import Exchange, Journal, redact
from leaseweb_api.simulator.state import SimState

ADMIN = "/_simulator"
AUTH_HEADER = "X-LSW-Auth"
FAULT_HEADER = "X-Simulator-Fault"
CORRELATION_HEADER = "APIGW-CORRELATION-ID"


class Simulator:
    def __init__(self, state: SimState, faults: FaultInjector, journal: Journal, api_key: str | None):
        self.state = state
        self.faults = faults
        self.journal = journal
        self._api_key = api_key

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        key = headers.get(AUTH_HEADER) or ""
        if self._api_key is None:
            return bool(key)
        return hmac.compare_digest(key.encode(), self._api_key.encode())

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        refused: ApiFault | None = None,
    ) -> Reply:
        """Answer one request; every answer carries a fresh correlation id (in error bodies too).

        `refused`: the HTTP layer could not read the request (its framing); answered as that error.
        """
        started = time.monotonic()
        correlation_id = str(uuid.uuid4())
        parts = urlsplit(target)
        fault: FaultRule | None = None
        if refused is not None:
            reply = fault_reply(refused, correlation_id)
        elif parts.path == f"{ADMIN}/health":
            reply = Reply.json(200, {"status": "ok"})
        elif not self._authorized(headers):
            reply = fault_reply(ApiFault(401), correlation_id)
        elif parts.path.startswith(f"{ADMIN}/"):
            reply = self._admin(method, parts.path, body, correlation_id)
        else:
            query = parse_qs(parts.query, keep_blank_values=True)
            request = routes.ApiRequest(method, parts.path, query, headers, body)
            fault, reply = self._api(request, headers.get(FAULT_HEADER), correlation_id)
        reply = Reply(
            reply.status,
            reply.body,
            reply.content_type,
            {CORRELATION_HEADER: correlation_id, **reply.headers},
        )
        if not parts.path.startswith(f"{ADMIN}/"):
            self._record(method, parts.path, parts.query, headers, body, reply, correlation_id, fault)
        logfmt.event(
            "request",
            logging.INFO if reply.status < 500 else logging.WARNING,
            method=method,
            path=parts.path,
            status=reply.status,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
            correlation_id=correlation_id,
            fault=fault.to_dict() if fault else None,
        )
        return reply

    def _api(
        self, request: routes.ApiRequest, fault_header: str | None, correlation_id: str
    ) -> tuple[FaultRule | None, Reply]:
        try:
            fault = self.faults.pick(request.method, request.path, fault_header)
        except FaultSpecError as exc:
            return None, fault_reply(ApiFault(400, details={FAULT_HEADER: [str(exc)]}), correlation_id)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None and not fault.apply:
            return fault, self._injected(fault, correlation_id)
        if fault is not None and fault.job == "failed":
            request = routes.ApiRequest(
                request.method, request.path, request.query, request.headers, request.body, fail_jobs=True
            )
        try:
            reply = routes.dispatch(self.state, request)
        except ApiFault as exc:
            reply = fault_reply(exc, correlation_id)
        if fault is not None and fault.status is not None:
            # apply=true: the request was carried out, but its answer is lost behind the fault.
            reply = self._injected(fault, correlation_id)
        return fault, reply

    @staticmethod
    def _injected(fault: FaultRule, correlation_id: str) -> Reply:
        assert fault.status is not None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return styled_error(fault.status, fault.body, correlation_id, headers)

    def _admin(self, method: str, path: str, body: bytes, correlation_id: str) -> Reply:
        name = path[len(ADMIN) + 1 :]
        try:
            if (method, name) == ("GET", "state"):
                return Reply.json(200, self.state.snapshot())
            if (method, name) == ("POST", "reset"):
                self.state.reset()
                self.faults.clear()
                self.journal.clear()
                return Reply.empty()
            if (method, name) == ("GET", "faults"):
                return Reply.json(200, {"faults": self.faults.rules()})
            if (method, name) == ("POST", "faults"):
                return self._add_faults(body)
            if (method, name) == ("DELETE", "faults"):
                self.faults.clear()
                return Reply.empty()
            if (method, name) == ("GET", "exchanges"):
                return Reply.json(200, {"exchanges": self.journal.entries()})
            if (method, name) == ("DELETE", "exchanges"):
                self.journal.clear()
                return Reply.empty()
            raise ApiFault(404)
        except ApiFault as exc:
            return fault_reply(exc, correlation_id)

    def _add_faults(self, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"null")
            items: list[Any] = data if isinstance(data, list) else [data]
            rules = [rule_from_mapping(item) for item in items if isinstance(item, dict)]
        except (ValueError, RecursionError, FaultSpecError) as exc:
            raise ApiFault(400, details={"body": [str(exc) or type(exc).__name__]}) from exc
        if len(rules) != len(items):
            raise ApiFault(400, details={"body": ["A fault is a JSON object (or a list of them)."]})
        for rule in rules:
            self.faults.add(rule)
        return Reply.json(201, {"faults": [rule.to_dict() for rule in rules]})

    def _record(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        reply: Reply,
        correlation_id: str,
        fault: FaultRule | None,
    ) -> None:
        self.journal.add(
            Exchange(
                correlation_id=correlation_id,
                method=method,
                path=path,
                query=query,
                request_headers=redact(dict(headers.items())),
                request_body=body.decode("utf-8", "replace"),
                status=reply.status,
                response_headers={
                    **reply.headers,
                    **({"Content-Type": reply.content_type} if reply.content_type else {}),
                },
                response_body=reply.body.decode("utf-8", "replace"),
                fault=fault.to_dict() if fault else None,
            )
        )
