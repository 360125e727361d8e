"""Users, their customers, API tokens and login throttling, in the panel's own tables (created and
migrated by the panel). Passwords are argon2id hashes (argon2-cffi's defaults); API tokens are random
and stored as SHA-256 digests, so the database never holds a usable secret."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import argon2
import pymysql

ROLES = ("customer", "operator")
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
CUSTOMER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TOKEN_PREFIX = "cdnp_"
SCHEMA_VERSION = 1
_LOCK = "cdnpanel_schema"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS panel_users (
          id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          username VARCHAR(64) NOT NULL UNIQUE,
          password_hash VARCHAR(255) NOT NULL,
          role VARCHAR(16) NOT NULL,
          disabled BOOLEAN NOT NULL DEFAULT FALSE,
          created_at DATETIME NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
        """CREATE TABLE IF NOT EXISTS panel_user_customers (
          user_id INT UNSIGNED NOT NULL,
          customer VARCHAR(64) NOT NULL,
          PRIMARY KEY (user_id, customer)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
        """CREATE TABLE IF NOT EXISTS panel_tokens (
          id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          user_id INT UNSIGNED NOT NULL,
          name VARCHAR(64) NOT NULL,
          token_sha256 CHAR(64) NOT NULL UNIQUE,
          created_at DATETIME NOT NULL,
          last_used_at DATETIME NULL,
          revoked BOOLEAN NOT NULL DEFAULT FALSE,
          KEY by_user (user_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
        """CREATE TABLE IF NOT EXISTS panel_login_failures (
          id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          subject VARCHAR(128) NOT NULL,
          at DATETIME(3) NOT NULL,
          KEY by_subject (subject, at)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
    ),
)


class AccountError(ValueError):
    """A refused account operation (bad name, unknown user, ...)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    disabled: bool
    customers: tuple[str, ...]

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def may_see(self, customer: str) -> bool:
        return self.is_operator or customer in self.customers


@dataclass(frozen=True)
class Token:
    id: int
    user_id: int
    name: str
    created_at: str
    last_used_at: str
    revoked: bool


def migrate(conn: pymysql.connections.Connection) -> list[str]:
    """Create or bring the panel's tables to this version; a named lock serializes panels starting at once."""
    done: list[str] = []
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 60)", (_LOCK,))
        try:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS panel_schema (id TINYINT UNSIGNED NOT NULL PRIMARY KEY, "
                "version INT UNSIGNED NOT NULL, updated_at DATETIME NOT NULL) ENGINE=InnoDB"
            )
            cur.execute("SELECT version FROM panel_schema WHERE id = 1")
            row = cur.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise AccountError(
                    f"the database has panel schema {version}, this panel knows {SCHEMA_VERSION}"
                )
            for target in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[target]:
                    cur.execute(statement)
                cur.execute(
                    "REPLACE INTO panel_schema (id, version, updated_at) VALUES (1, %s, UTC_TIMESTAMP())",
                    (target + 1,),
                )
                done.append(f"panel schema version {target + 1}")
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", (_LOCK,))
    return done


def _hasher() -> argon2.PasswordHasher:
    return argon2.PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def _customers(cur: pymysql.cursors.Cursor, user_id: int) -> tuple[str, ...]:
    cur.execute("SELECT customer FROM panel_user_customers WHERE user_id = %s ORDER BY customer", (user_id,))
    return tuple(row[0] for row in cur.fetchall())


def _user(cur: pymysql.cursors.Cursor, where: str, value: object) -> tuple[User, str] | None:
    cur.execute(
        f"SELECT id, username, role, disabled, password_hash FROM panel_users WHERE {where}", (value,)
    )
    row = cur.fetchone()
    if row is None:
        return None
    user_id, username, role, disabled, password_hash = row
    return User(int(user_id), username, role, bool(disabled), _customers(cur, int(user_id))), password_hash


def get_user(conn: pymysql.connections.Connection, user_id: int) -> User | None:
    with conn.cursor() as cur:
        found = _user(cur, "id = %s", user_id)
    return found[0] if found else None


def find_user(conn: pymysql.connections.Connection, username: str) -> User | None:
    with conn.cursor() as cur:
        found = _user(cur, "username = %s", username)
    return found[0] if found else None


def add_user(
    conn: pymysql.connections.Connection, username: str, password: str, role: str, customers: list[str]
) -> User:
    if not USERNAME.fullmatch(username):
        raise AccountError(f"user name {username!r}: letters, digits and ._@- (at most 64)")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == "customer" and not customers:
        raise AccountError("a customer user needs at least one customer (--customer NAME)")
    bad = [c for c in customers if not CUSTOMER.fullmatch(c)]
    if bad:
        raise AccountError(f"customer name {bad[0]!r} is not valid")
    if len(password) < 10:
        raise AccountError("the password needs at least 10 characters")
    with conn.cursor() as cur:
        try:
            cur.execute(
                "INSERT INTO panel_users (username, password_hash, role, created_at) "
                "VALUES (%s, %s, %s, UTC_TIMESTAMP())",
                (username, _hasher().hash(password), role),
            )
        except pymysql.err.IntegrityError as exc:
            raise AccountError(f"user {username!r} exists") from exc
        user_id = cur.lastrowid
        cur.executemany(
            "INSERT INTO panel_user_customers (user_id, customer) VALUES (%s, %s)",
            [(user_id, c) for c in sorted(set(customers))],
        )
    user = get_user(conn, int(user_id))
    assert user is not None
    return user


def set_disabled(conn: pymysql.connections.Connection, username: str, disabled: bool) -> None:
    with conn.cursor() as cur:
        cur.execute("UPDATE panel_users SET disabled = %s WHERE username = %s", (disabled, username))
        if cur.rowcount == 0 and find_user(conn, username) is None:
            raise AccountError(f"no user {username!r}")


def list_users(conn: pymysql.connections.Connection) -> list[User]:
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM panel_users ORDER BY username")
        ids = [int(row[0]) for row in cur.fetchall()]
    return [u for u in (get_user(conn, i) for i in ids) if u is not None]


def authenticate(conn: pymysql.connections.Connection, username: str, password: str) -> User | None:
    """The enabled user with this password, or None. A hash is verified even for an unknown name, so
    the answer takes as long either way."""
    with conn.cursor() as cur:
        found = _user(cur, "username = %s", username)
    hasher = _hasher()
    stored = found[1] if found else _dummy_hash(hasher)
    try:
        hasher.verify(stored, password)
    except (argon2.exceptions.VerifyMismatchError, argon2.exceptions.InvalidHashError):
        return None
    if found is None or found[0].disabled:
        return None
    if hasher.check_needs_rehash(stored):
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE panel_users SET password_hash = %s WHERE id = %s",
                (hasher.hash(password), found[0].id),
            )
    return found[0]


def _dummy_hash(hasher: argon2.PasswordHasher) -> str:
    return hasher.hash(secrets.token_hex(16))


# Login throttling: failures per subject ("user:NAME", "ip:ADDRESS") in a sliding window, in the
# database so that every panel process behind a load balancer sees the same counts.
def recent_failures(
    conn: pymysql.connections.Connection, subjects: list[str], window: float
) -> dict[str, int]:
    marks = ", ".join(["%s"] * len(subjects))
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT subject, COUNT(*) FROM panel_login_failures WHERE subject IN ({marks}) "
            "AND at > UTC_TIMESTAMP(3) - INTERVAL %s SECOND GROUP BY subject",
            (*subjects, int(window)),
        )
        counts = {str(row[0]): int(row[1]) for row in cur.fetchall()}
    return {s: counts.get(s, 0) for s in subjects}


def record_failure(conn: pymysql.connections.Connection, subjects: list[str], window: float) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO panel_login_failures (subject, at) VALUES (%s, UTC_TIMESTAMP(3))",
            [(s,) for s in subjects],
        )
        cur.execute(
            "DELETE FROM panel_login_failures WHERE at < UTC_TIMESTAMP(3) - INTERVAL %s SECOND LIMIT 1000",
            (int(window) * 2,),
        )


def clear_failures(conn: pymysql.connections.Connection, subject: str) -> None:
    with conn.cursor() as cur:
        cur.execute("DELETE FROM panel_login_failures WHERE subject = %s", (subject,))


# API tokens
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(conn: pymysql.connections.Connection, user: User, name: str) -> tuple[Token, str]:
    """A new token for the user; the secret is returned once and never stored."""
    if not 1 <= len(name) <= 64 or not name.isprintable():
        raise AccountError("a token's name is 1 to 64 printable characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO panel_tokens (user_id, name, token_sha256, created_at) "
            "VALUES (%s, %s, %s, UTC_TIMESTAMP())",
            (user.id, name, _digest(secret)),
        )
        token_id = int(cur.lastrowid)
    return next(t for t in list_tokens(conn, user) if t.id == token_id), secret


def list_tokens(conn: pymysql.connections.Connection, user: User) -> list[Token]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, user_id, name, created_at, last_used_at, revoked FROM panel_tokens "
            "WHERE user_id = %s ORDER BY id",
            (user.id,),
        )
        rows = cur.fetchall()
    return [Token(int(i), int(u), n, f"{c:%Y-%m-%d %H:%M}", f"{lu:%Y-%m-%d %H:%M}" if lu else "", bool(r))
            for i, u, n, c, lu, r in rows]  # fmt: skip


def revoke_token(conn: pymysql.connections.Connection, user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False if the user has no such token."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE panel_tokens SET revoked = TRUE WHERE id = %s AND user_id = %s", (token_id, user.id)
        )
        return cur.rowcount == 1 or any(t.id == token_id for t in list_tokens(conn, user))


def user_for_token(conn: pymysql.connections.Connection, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, user_id FROM panel_tokens WHERE token_sha256 = %s AND NOT revoked", (_digest(token),)
        )
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute("UPDATE panel_tokens SET last_used_at = UTC_TIMESTAMP() WHERE id = %s", (row[0],))
    user = get_user(conn, int(row[1]))
    return user if user is not None and not user.disabled else None
