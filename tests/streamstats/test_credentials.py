"""Per-agent credentials: a token is bound to one agent id, several tokens per agent during a rotation,
the file read again when it changes and kept as it was when the new one is broken."""

from __future__ import annotations

import os

import pytest

from streamstats.credentials import ANY_AGENT, RELOAD_EVERY, Credentials, digest, may_write, parse_credentials
from streamstats.errors import ConfigError

OLD, NEW, OTHER = "edge1-old-token-0123456789", "edge1-new-token-0123456789", "edge2-token-0123456789abc"


def _lines(*pairs: tuple[str, str]) -> str:
    return "# agent sha256:digest\n" + "".join(f"{a} sha256:{digest(t)}\n" for a, t in pairs)


def test_tokens_identify_their_agent_and_a_shared_token_any(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(_lines(("edge1", OLD), ("edge1", NEW), ("edge2", OTHER)))
    creds = Credentials(("shared-token-0123456789",), str(path))
    assert creds.identify(f"Bearer {OLD}", 0) == "edge1"
    assert creds.identify(f"Bearer {NEW}", 0) == "edge1"
    assert creds.identify(f"Bearer {OTHER}", 0) == "edge2"
    assert creds.identify("Bearer shared-token-0123456789", 0) == ANY_AGENT
    assert creds.identify("Bearer unknown-token-0123456789", 0) is None
    assert creds.identify(OLD, 0) is None  # not a bearer header
    assert may_write("edge1", "edge1") and may_write(ANY_AGENT, "edge2") and not may_write("edge2", "edge1")


def test_a_changed_file_is_read_again_and_a_broken_one_ignored(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(_lines(("edge1", OLD)))
    creds = Credentials((), str(path))
    assert creds.identify(f"Bearer {OLD}", 0) == "edge1"
    path.write_text(_lines(("edge1", NEW)))  # the rotation's last step: the old token is gone
    os.utime(path, ns=(1, 1))
    assert (
        creds.identify(f"Bearer {OLD}", RELOAD_EVERY / 2) == "edge1"
    )  # not checked again within RELOAD_EVERY
    assert creds.identify(f"Bearer {OLD}", RELOAD_EVERY + 1) is None
    assert creds.identify(f"Bearer {NEW}", RELOAD_EVERY + 1) == "edge1"
    path.write_text("edge1 not-a-digest\n")
    os.utime(path, ns=(2, 2))
    assert creds.identify(f"Bearer {NEW}", 3 * RELOAD_EVERY) == "edge1"


@pytest.mark.parametrize(
    "text",
    ["edge1 " + "0" * 64, "edge1 sha256:" + "0" * 63, "bad/id sha256:" + "0" * 64, "edge1", "edge1 sha256:X"],
)
def test_a_malformed_line_is_named(text):
    with pytest.raises(ConfigError) as info:
        parse_credentials("# ok\n" + text + "\n", "creds")
    assert info.value.key == "creds:2"


def test_one_token_for_two_agents_is_refused():
    with pytest.raises(ConfigError, match="another agent"):
        parse_credentials(_lines(("edge1", OLD), ("edge2", OLD)), "creds")
