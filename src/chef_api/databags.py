"""Data bags and their items: paths (names checked before any request), the bag created on first use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chef_api.client import ChefClient, check_name, path_segment
from chef_api.errors import ChefConflictError

# Item keys Chef adds on write, which are not part of the item's data.
_SERVER_KEYS = frozenset({"chef_type", "data_bag", "json_class"})


def record_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A bag item without what the server adds (search rows wrap it in `raw_data`)."""
    raw = item.get("raw_data", item)
    return {k: v for k, v in raw.items() if k not in _SERVER_KEYS}


def item_path(bag: str, item_id: str | None = None) -> str:
    """The API path of a bag or an item; an invalid name is refused here, before any request."""
    path = f"data/{path_segment(check_name('data bag name', bag))}"
    return path + (f"/{path_segment(check_name('data bag item id', item_id))}" if item_id else "")


def ensure_bag(client: ChefClient, bag: str) -> bool:
    """Create the data bag unless it exists; True when created."""
    try:
        client.post("data", {"name": bag})
    except ChefConflictError:
        return False
    return True


def get_item(client: ChefClient, bag: str, item_id: str) -> dict[str, Any] | None:
    item = client.get_or_none(item_path(bag, item_id))
    return record_item(item) if item is not None else None


def put_item(client: ChefClient, bag: str, item: Mapping[str, Any], *, exists: bool) -> None:
    """Replace an existing item, or add a new one (creating the bag on the first record)."""
    if exists:
        client.put(item_path(bag, item["id"]), item)
    else:
        ensure_bag(client, bag)
        client.post(item_path(bag), item)


def delete_item(client: ChefClient, bag: str, item_id: str) -> None:
    client.delete(item_path(bag, item_id))
