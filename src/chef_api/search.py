"""Search and partial search, paged so that the result is complete on Chef Infra Server and on goiardi.

A real server reports `total` = all matches; goiardi 0.11.10 reports the size of the page. Chef's own pager
(`next_start >= total` stops) therefore stops after one page on goiardi. This pager stops when a page is
empty, or when it is short *and* `total` says nothing is left, which is right on both (one extra empty
request on a real server whose last page is exactly full).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from chef_api.client import ChefClient, path_segment

DEFAULT_ROWS = 1000
Fetch = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def quote_term(value: str) -> str:
    """A query value as a Lucene phrase; goiardi refuses backslash escapes outside quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def and_query(terms: Mapping[str, str | None]) -> str:
    """`field:"value" AND ...` for the terms that have a value, or `*:*` when none has."""
    clauses = [f"{name}:{quote_term(value)}" for name, value in terms.items() if value]
    return " AND ".join(clauses) or "*:*"


def pages(fetch: Fetch, query: str, rows: int) -> Iterator[list[Any]]:
    """The non-empty pages of a search; `fetch` makes one request from {q, start, rows}."""
    start = 0
    while True:
        data = fetch({"q": query, "start": start, "rows": rows})
        page = list(data.get("rows") or [])
        if not page:
            return
        yield page
        total = int(data.get("total") or 0)
        # Chef advances by the rows asked for: a page may be short because the index still holds
        # entries for deleted objects, and those entries count towards start.
        start += rows
        if start >= total and len(page) < rows:
            return


def search(client: ChefClient, index: str, query: str = "*:*", *, rows: int = DEFAULT_ROWS) -> Iterator[dict]:
    """Every object of an index (node, role, client, environment or a data bag) matching the query."""
    path = f"search/{path_segment(index)}"
    for page in pages(lambda params: client.get(path, params), query, rows):
        yield from (row for row in page if row)


def partial_search(
    client: ChefClient,
    index: str,
    keys: Mapping[str, Sequence[str]],
    query: str = "*:*",
    *,
    rows: int = DEFAULT_ROWS,
) -> list[dict]:
    """Only the attributes named by `keys` (alias -> attribute path) of each match: [{"url", "data"}].

    goiardi orders partial-search rows randomly on every request, so its pages overlap and miss rows;
    when the first page from goiardi is full, the whole result is fetched again in one unpaged request.
    """
    path = f"search/{path_segment(index)}"
    body = {alias: list(attr) for alias, attr in keys.items()}

    def fetch(params: Mapping[str, Any]) -> Mapping[str, Any]:
        return client.post(path, body, params, idempotent=True)

    rows_seen: dict[str, dict] = {}
    for number, page in enumerate(pages(fetch, query, rows)):
        if number == 0 and client.is_goiardi and len(page) >= rows:
            page = list(fetch({"q": query}).get("rows") or [])
        for row in page:
            if row:
                rows_seen.setdefault(row.get("url") or repr(row.get("data")), row)
        if client.is_goiardi:
            break
    return list(rows_seen.values())
