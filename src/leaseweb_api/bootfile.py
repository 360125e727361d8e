"""What a lease's boot file may be: one rule for the client, the modules and the simulator.

The URL goes out as DHCP option 67 (Bootfile Name) and is fetched by iPXE, which speaks http and https only;
a DHCP option carries at most 255 bytes (RFC 2132), so a longer URL would be cut or dropped on the way.
"""

from __future__ import annotations

from urllib.parse import urlsplit

BOOTFILE_SCHEMES = ("http", "https")
BOOTFILE_MAX_BYTES = 255


def bootfile_problem(url: str) -> str | None:
    """Why `url` cannot be a lease's boot file, or None when it can."""
    if not url.strip():
        return "This value should not be blank."
    if len(url.encode()) > BOOTFILE_MAX_BYTES:
        return f"This value is too long: at most {BOOTFILE_MAX_BYTES} bytes fit in DHCP option 67."
    if any(char.isspace() or not char.isprintable() for char in url):
        return "This value is not a valid URL: it contains whitespace or control characters."
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return "This value is not a valid URL."
    if parts.scheme.lower() not in BOOTFILE_SCHEMES or not parts.hostname:
        return "This value is not a valid URL: an http:// or https:// URL with a host is required."
    return None
