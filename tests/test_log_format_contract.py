"""The edge nginx writes exactly the fields, in the order, that the agent's `cdn` format reads."""

from pathlib import Path

import yaml

from lab.paths import REPO_ROOT
from streamstats.formats import builtin_formats

ROLE_DEFAULTS = Path(REPO_ROOT, "roles", "edge_nginx", "defaults", "main.yml")


def test_edge_nginx_log_fields_match_the_cdn_format():
    role_fields = yaml.safe_load(ROLE_DEFAULTS.read_text())["edge_nginx_log_fields"]
    format_fields = [field.nginx for field in builtin_formats()["cdn"].fields]
    assert role_fields == format_fields
