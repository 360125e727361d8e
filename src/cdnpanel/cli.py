"""`cdn-panel`: serve the panel, manage its users and API tokens.

cdn-panel serve --config panel.yml
cdn-panel migrate --config panel.yml
cdn-panel user add --config panel.yml NAME --role customer --customer acme [--password-file F]
cdn-panel user disable|enable --config panel.yml NAME
cdn-panel user list --config panel.yml
cdn-panel token add --config panel.yml NAME --name "ci"       (prints the token once)
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path

from cdnpanel import accounts
from cdnpanel.config import ConfigError, PanelConfig, load_config
from cdnpanel.db import Database
from streamstats.logs import event, setup_logging

log = logging.getLogger("cdnpanel")


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        return Path(args.password_file).read_text().strip()
    if os.environ.get("CDN_PANEL_PASSWORD"):
        return os.environ["CDN_PANEL_PASSWORD"]
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise accounts.AccountError("the passwords differ")
    return first


def cmd_serve(config: PanelConfig, args: argparse.Namespace) -> int:
    import uvicorn

    from cdnpanel.web import create_app, migrate

    for done in migrate(config):
        event(log, logging.INFO, "migrated", step=done)
    event(log, logging.INFO, "listening", host=config.host, port=config.port)
    uvicorn.run(
        create_app(config), host=config.host, port=config.port, log_config=None, access_log=False,
        proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
    )  # fmt: skip
    return 0


def cmd_migrate(config: PanelConfig, args: argparse.Namespace) -> int:
    from cdnpanel.web import migrate

    for done in migrate(config):
        print(done)
    return 0


def _with_conn(config: PanelConfig):  # type: ignore[no-untyped-def]
    db = Database(config.accounts_database)
    conn = db.connect()
    accounts.migrate(conn)
    return conn


def cmd_user(config: PanelConfig, args: argparse.Namespace) -> int:
    conn = _with_conn(config)
    try:
        if args.action == "add":
            if args.if_missing and accounts.find_user(conn, args.name) is not None:
                print(f"exists {args.name}")
                return 0
            user = accounts.add_user(conn, args.name, _password(args), args.role, args.customer or [])
            print(f"added {user.username} ({user.role}) " + ", ".join(user.customers))
        elif args.action in ("disable", "enable"):
            accounts.set_disabled(conn, args.name, args.action == "disable")
            print(f"{args.action}d {args.name}")
        else:
            for user in accounts.list_users(conn):
                state = "disabled" if user.disabled else "enabled"
                print(f"{user.username}\t{user.role}\t{state}\t{','.join(user.customers)}")
    finally:
        conn.close()
    return 0


def cmd_token(config: PanelConfig, args: argparse.Namespace) -> int:
    conn = _with_conn(config)
    try:
        user = accounts.find_user(conn, args.user)
        if user is None:
            raise accounts.AccountError(f"no user {args.user!r}")
        _, secret = accounts.add_token(conn, user, args.name)
        print(secret)
    finally:
        conn.close()
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cdn-panel", description="The CDN's control panel")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web application")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1", help="proxies trusted for X-Forwarded-*")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="create or migrate the panel's tables").set_defaults(func=cmd_migrate)
    sub.add_parser("check-config", help="validate the configuration").set_defaults(func=lambda c, a: 0)
    user = sub.add_parser("user", help="add, disable, enable or list users")
    user.add_argument("action", choices=("add", "disable", "enable", "list"))
    user.add_argument("name", nargs="?")
    user.add_argument("--role", choices=accounts.ROLES, default="customer")
    user.add_argument("--customer", action="append", help="a customer the user may see (repeat)")
    user.add_argument("--password-file", help="read the password from this file (default: ask)")
    user.add_argument("--if-missing", action="store_true", help="add: leave an existing user as it is")
    user.set_defaults(func=cmd_user)
    token = sub.add_parser("token", help="create an API token for a user (printed once)")
    token.add_argument("action", choices=("add",))
    token.add_argument("user")
    token.add_argument("--name", required=True, help="what the token is for")
    token.set_defaults(func=cmd_token)
    for each in sub.choices.values():
        each.add_argument("--config", type=Path, required=True, help="the panel's YAML configuration")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "user" and args.action != "list" and not args.name:
        print("cdn-panel: user NAME is required", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        setup_logging(config.log_level)
        return int(args.func(config, args))
    except (ConfigError, accounts.AccountError) as exc:
        print(f"cdn-panel: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
