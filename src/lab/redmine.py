"""Debian's Redmine (`redmine` 5.0, `redmine-sqlite`) as a private instance on 127.0.0.1: the lab's issue
tracker (`lab up`) and the tests' (tests/chef/redmine.py).

Debian's Redmine keeps an instance's configuration under /var/lib/redmine/INSTANCE (selected by
REDMINE_INSTANCE); the instance's SQLite database, server log and pid live in its state directory. The
database is migrated and seeded by redmine_setup.rb through `rails runner` (REST API on, an admin API key, a
project and its issues); Redmine ships no web server, so WEBrick (Debian's ruby-webrick) serves it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.daemons import Daemon, DaemonError
from releasenotes.commits import commits_between

REDMINE_ROOT = Path("/usr/share/redmine")
INSTANCES = Path("/var/lib/redmine")
SETUP_SCRIPT = Path(__file__).resolve().with_name("redmine_setup.rb")
SETUP_TIMEOUT = 600.0
# Rails boots Redmine in about 4 s on a quiet machine; a busy shared one takes many times that.
START_TIMEOUT = 180.0


@dataclass(frozen=True)
class RedmineSetup:
    """What redmine_setup.rb reports: the admin's API key, the project, its issues, the issue statuses."""

    api_key: str = field(repr=False)
    project: str
    issues: tuple[int, ...]
    statuses: Mapping[str, int]

    @classmethod
    def from_json(cls, text: str) -> RedmineSetup:
        data = json.loads(text)
        return cls(data["api_key"], data["project"], tuple(data["issues"]), dict(data["statuses"]))


@dataclass(frozen=True)
class RedmineInstance:
    """One instance: its configuration under `instances`/NAME, its database and server state in state_dir."""

    name: str
    state_dir: Path
    instances: Path = INSTANCES

    @property
    def root(self) -> Path:
        return self.instances / self.name

    @property
    def env(self) -> dict[str, str]:
        return {"REDMINE_INSTANCE": self.name, "RAILS_ENV": "production"}

    def configure(self) -> None:
        """The instance's directories, database.yml (SQLite in state_dir) and a secret key kept once made."""
        if not (REDMINE_ROOT / "bin" / "rails").exists():
            raise DaemonError("Debian's redmine is not installed: run scripts/deps.sh")
        for name in ("config", "tmp", "log", "files"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        database = self.state_dir / "redmine.sqlite3"
        (self.root / "config" / "database.yml").write_text(
            f"production:\n  adapter: sqlite3\n  database: {database}\n  timeout: 5000\n"
        )
        secret = self.root / "config" / "secret_key.txt"
        if not secret.exists():
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as stream:
                stream.write(secrets.token_hex(32) + "\n")

    def setup(self, project: str, name: str, issues: Sequence[Mapping[str, Any]]) -> RedmineSetup:
        """Migrate and seed the database (idempotent; see redmine_setup.rb for `issues`)."""
        spec = json.dumps({"project": project, "name": name, "issues": list(issues)})
        done = subprocess.run(
            [str(REDMINE_ROOT / "bin" / "rails"), "runner", str(SETUP_SCRIPT), spec],
            cwd=REDMINE_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
            timeout=SETUP_TIMEOUT,
        )
        if done.returncode != 0:
            # Ruby prints the error first, then the backtrace: keep the lines that are not `from ...`.
            message = [line for line in done.stderr.splitlines() if not line.lstrip().startswith("from ")]
            raise DaemonError(f"Redmine setup failed ({done.returncode}):\n" + "\n".join(message)[-3000:])
        return RedmineSetup.from_json(done.stdout.strip().splitlines()[-1])

    def server(self, port: int) -> Daemon:
        """WEBrick on 127.0.0.1:port. Rails finds no server in Redmine's bundle; WEBrick loaded before Bundler
        restricts the load path (RUBYOPT) is the one it then uses."""
        rails = str(REDMINE_ROOT / "bin" / "rails")
        argv = [rails, "server", "-u", "webrick", "-b", "127.0.0.1", "-p", str(port)]
        argv += ["-P", str(self.state_dir / "server.pid")]
        env = {**self.env, "RUBYOPT": "-rwebrick"}
        return Daemon(
            "redmine",
            tuple(argv),
            port,
            self.state_dir,
            env=env,
            cwd=REDMINE_ROOT,
            start_timeout=START_TIMEOUT,
        )

    def remove(self) -> None:
        """The instance's configuration (the state directory is its owner's to remove)."""
        shutil.rmtree(self.root, ignore_errors=True)


# The lab's tracker: one project; its issues are those the repository's history references (`refs #16`), so
# the lab's own rollouts have issues to note.
LAB_PROJECT = "cdn"
LAB_PROJECT_NAME = "CDN (lab)"


def lab_instance(state_root: Path) -> RedmineInstance:
    """The lab's instance: named after the lab's state directory, so that two checkouts keep two instances."""
    digest = hashlib.sha256(str(state_root.resolve()).encode()).hexdigest()[:8]
    return RedmineInstance(f"cdnlab-{digest}", state_root / "redmine")


def referenced_issues(repo: Path) -> list[int]:
    """Every issue number the repository's commits reference, in order."""
    return sorted({n for commit in commits_between(repo, None, "HEAD") for n in commit.issues.referenced})


def ensure_lab_setup(instance: RedmineInstance, repo: Path) -> tuple[RedmineSetup, bool]:
    """Seed the lab's Redmine once, and again when the history references an issue it lacks. The setup
    (with the API key) is kept in state_dir/setup.json, mode 0600. True when it ran now."""
    kept = instance.state_dir / "setup.json"
    wanted = referenced_issues(repo)
    if kept.exists():
        setup = RedmineSetup.from_json(kept.read_text())
        if set(wanted) <= set(setup.issues):
            return setup, False
    instance.configure()
    issues = [
        {"id": n, "subject": f"Issue #{n} of the cdn-infra repository (the lab's copy)"} for n in wanted
    ]
    setup = instance.setup(LAB_PROJECT, LAB_PROJECT_NAME, issues)
    fd = os.open(kept.with_suffix(".new"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        json.dump({**setup.__dict__, "statuses": dict(setup.statuses)}, stream)
    kept.with_suffix(".new").replace(kept)
    return setup, True
