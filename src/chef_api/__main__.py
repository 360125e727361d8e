"""`python -m chef_api METHOD PATH [JSON]`: one signed request, the answer as JSON (like `knife raw`).

Credentials from CHEF_SERVER_URL, CHEF_CLIENT_NAME and CHEF_CLIENT_KEY (or CHEF_CLIENT_KEY_CONTENT), and
optionally CHEF_SIGN_VERSION, CHEF_SERVER_API_VERSION. The way to check a set of credentials against a
server before pointing the modules or the inventory plugin at it:

    python -m chef_api GET /nodes
    python -m chef_api POST '/search/node?q=role:edge' '{"ip": ["ipaddress"]}'
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from urllib.parse import parse_qsl

from chef_api.client import DEFAULT_SERVER_API_VERSION, ChefClient, ChefSettings
from chef_api.errors import ChefError
from chef_api.signing import DEFAULT_SIGN_VERSION


def settings_from_env() -> ChefSettings:
    missing = [name for name in ("CHEF_SERVER_URL", "CHEF_CLIENT_NAME") if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"set {' and '.join(missing)} (and CHEF_CLIENT_KEY)")
    return ChefSettings(
        server_url=os.environ["CHEF_SERVER_URL"],
        client_name=os.environ["CHEF_CLIENT_NAME"],
        client_key=os.environ.get("CHEF_CLIENT_KEY"),
        client_key_content=os.environ.get("CHEF_CLIENT_KEY_CONTENT"),
        sign_version=os.environ.get("CHEF_SIGN_VERSION", DEFAULT_SIGN_VERSION),
        server_api_version=os.environ.get("CHEF_SERVER_API_VERSION", DEFAULT_SERVER_API_VERSION),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chef_api", description=__doc__.split("\n")[0])
    parser.add_argument("method", type=str.upper, choices=["GET", "HEAD", "POST", "PUT", "DELETE"])
    parser.add_argument("path", help="relative to CHEF_SERVER_URL, with an optional ?query")
    parser.add_argument("body", nargs="?", help="JSON request body")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request (never the key)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.verbose:
        logging.getLogger("chef_api").setLevel(logging.DEBUG)
    # Not urlsplit: it reads `//nodes` as a host name. The path is everything before the first '?'.
    path, _, query = args.path.partition("?")
    try:
        body = json.loads(args.body) if args.body else None
        with ChefClient.from_settings(settings_from_env()) as client:
            response = client.request(args.method, path, params=parse_qsl(query), json_body=body)
    except (ChefError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(response.data, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
