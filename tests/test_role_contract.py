"""The analytics roles' contract with the package they configure (src/streamstats/config.py).

Every analytics_agent_* / analytics_aggregator_* variable is either a configuration key of the package,
found where the role writes it (the `analytics_package_service_config` and `..._secrets` it hands to
analytics_package), or a setting of the systemd unit listed in UNIT_SETTINGS. A key's kind (size, duration,
integer, string, choice, ...) is read from config.py's own accessors, so the role's declared type and unit
follow the package. And each role's defaults, rendered by Ansible's own templating, pass
`streamstats check-config`.

A new variable needs no change here when the role writes it as `key: "{{ analytics_<role>_<name> }}"` into
the configuration; a new unit setting goes into UNIT_SETTINGS; a new accessor of config.py into KIND_TYPES.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from lab.paths import REPO_ROOT
from streamstats import config as package_config
from streamstats.units import parse_duration, parse_size
from tests.support import require_binary

ROLES = REPO_ROOT / "roles"
# role -> the configuration section it writes
SECTIONS = {"analytics_agent": "agent", "analytics_aggregator": "aggregator"}
# Variables that are not configuration keys: settings of the systemd unit, each with the input of
# analytics_package's `service` entry point it is passed to.
UNIT_SETTINGS = {
    "analytics_agent_log_groups": "analytics_package_service_groups",
    "analytics_agent_log_dirs": "analytics_package_service_read_only_paths",
    "analytics_agent_memory_max": "analytics_package_service_memory_max",
    "analytics_agent_cpu_quota": "analytics_package_service_cpu_quota",
    "analytics_aggregator_memory_max": "analytics_package_service_memory_max",
}
# config.py's accessors (and its functions for composite keys) -> the argument_specs type a role
# variable for that key must have. Sizes and durations take strings with units (64MiB, 5s).
KIND_TYPES = {
    "size": "str",
    "duration": "str",
    "integer": "int",
    "string": "str",
    "choice": "str",
    "_listen": "str",
    "_timestamp": "int",
    "list": "list",
    "statistics": "raw",
}
# The function of config.py that reads each section.
SECTION_READERS = {"_agent": "agent", "_aggregator": "aggregator", "_mysql": "aggregator.mysql"}
ACCESSORS = {"size", "duration", "integer", "string", "choice", "secret_file", "backoff", "section"}
TEMPLATE = re.compile(r"^\{\{ *([a-z_0-9]+) *\}\}$")


def package_keys() -> dict[str, dict[str, Any]]:
    """Every key config.py reads, dotted (agent.chunk_size), with its kind and, for choices, the choices."""
    tree = ast.parse(Path(package_config.__file__).read_text())
    keys: dict[str, dict[str, Any]] = {"statistics": {"kind": "statistics"}}
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in SECTION_READERS):
        prefix = SECTION_READERS[function.name]
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            name = _literal_name(call)
            if name is None:
                continue
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in ACCESSORS:
                key = {"kind": func.attr}
                if func.attr == "choice":
                    key["choices"] = _choices(call.args[2])
            elif isinstance(func, ast.Name) and func.id in KIND_TYPES:
                key = {"kind": func.id}
            elif isinstance(func, ast.Attribute) and func.attr == "get":  # s.raw.get("files"): a list
                key = {"kind": "list"}
            else:
                continue
            keys.setdefault(f"{prefix}.{name}", key)
    return keys


def _literal_name(call: ast.Call) -> str | None:
    for arg in call.args[:2]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    return None


def _choices(node: ast.expr) -> tuple[str, ...]:
    if isinstance(node, ast.Name):
        return tuple(getattr(package_config, node.id))
    return tuple(ast.literal_eval(node))


def _load(path: Path) -> Any:
    return DataLoader().load_from_file(str(path), trusted_as_template=True)


def service_task(role: str) -> dict[str, Any]:
    """The role's hand-over to analytics_package's service entry point: its configuration and secrets."""
    tasks = _load(ROLES / role / "tasks" / "main.yml")
    (task,) = [
        t for t in tasks if (t.get("ansible.builtin.include_role") or {}).get("tasks_from") == "service"
    ]
    return task["vars"]


def variable_keys(role: str) -> dict[str, str]:
    """Role variable -> the configuration key it is written to (secrets: the key their file stands for)."""
    handed = service_task(role)
    found: dict[str, str] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{path}.{key}" if path else key)
        elif isinstance(value, str) and (match := TEMPLATE.match(value.strip())):
            found[match.group(1)] = path

    config = handed["analytics_package_service_config"]
    walk(config, "")
    files = {}
    walk_files: list[tuple[str, str]] = []

    def secret_paths(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                secret_paths(child, f"{path}.{key}" if path else key)
        elif isinstance(value, str) and path.endswith("_file"):
            walk_files.append((value.rsplit("/", 1)[-1], path.removesuffix("_file")))

    secret_paths(config, "")
    files = dict(walk_files)
    for secret, template in handed["analytics_package_service_secrets"].items():
        match = re.match(r"^\{\{ *([a-z_0-9]+)", template.strip())
        assert match and secret in files, f"{role}: secret {secret} is not a *_file key of the configuration"
        found[match.group(1)] = files[secret]
    return found


def argument_specs(role: str) -> dict[str, dict[str, Any]]:
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", sorted(SECTIONS))
def test_every_variable_is_a_configuration_key_or_a_unit_setting(role):
    keys = package_keys()
    mapped = variable_keys(role)
    handed = service_task(role)
    variables = set(argument_specs(role)) | set(
        yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    )
    unmapped = sorted(v for v in variables if v not in mapped and v not in UNIT_SETTINGS)
    assert not unmapped, f"{role}: neither written to the configuration nor a unit setting: {unmapped}"
    for variable, key in mapped.items():
        if variable.startswith(f"{role}_"):
            assert key in keys, f"{variable} is written to {key}, which streamstats does not read"
    for variable, service_input in UNIT_SETTINGS.items():
        if variable.startswith(f"{role}_"):
            assert TEMPLATE.match(str(handed[service_input]).strip()).group(1) == variable


@pytest.mark.parametrize("role", sorted(SECTIONS))
def test_types_and_units_are_the_packages(role):
    keys = package_keys()
    specs = argument_specs(role)
    problems = []
    for variable, key in sorted(variable_keys(role).items()):
        if not variable.startswith(f"{role}_"):
            continue
        kind = keys[key]["kind"]
        spec = specs[variable]
        if kind in ("secret_file", "section", "backoff"):
            continue
        if key.endswith(".tokens"):
            kind = "list"
        expected = KIND_TYPES[kind]
        if spec["type"] != expected:
            problems.append(f"{variable}: type {spec['type']}, but {key} is a {kind} ({expected})")
        default = spec.get("default")
        if kind == "size":
            # A size counts bytes (an integer, or a string with a unit such as 64MiB).
            if "line" in spec["description"].lower():
                problems.append(f"{variable}: described in lines, but {key} is a size in bytes")
            if default is not None:
                parse_size(default)
        elif kind == "duration" and default is not None:
            parse_duration(default)
        elif kind == "choice" and tuple(spec.get("choices", ())) != keys[key]["choices"]:
            problems.append(f"{variable}: choices {spec.get('choices')}, {key} takes {keys[key]['choices']}")
    assert not problems, "\n".join(problems)


def render_defaults(role: str, config_dir: Path) -> dict[str, Any]:
    """The configuration the role writes from its defaults (and the required inputs), rendered by Ansible."""
    loader = DataLoader()
    variables = {
        **_load(ROLES / "analytics_package" / "defaults" / "main.yml"),
        **_load(ROLES / role / "defaults" / "main.yml"),
        "inventory_hostname": "edge1",
        "playbook_dir": str(REPO_ROOT / "playbooks"),
        "analytics_package_config_dir": str(config_dir),
        # The required inputs without a usable default (vaulted in production).
        "analytics_agent_aggregator_url": "http://127.0.0.1:9400",
        "analytics_agent_token": "t" * 32,
        "analytics_aggregator_tokens": ["t" * 32],
        "analytics_aggregator_mysql_password": "p" * 16,
    }
    templar = Templar(loader=loader, variables=variables)
    handed = service_task(role)
    for name, content in templar.template(handed["analytics_package_service_secrets"]).items():
        (config_dir / name).write_text(content)
    return templar.template(handed["analytics_package_service_config"])


@pytest.mark.parametrize("role", sorted(SECTIONS))
def test_the_rendered_default_configuration_passes_check_config(role, tmp_path):
    config = render_defaults(role, tmp_path)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(_plain(config), sort_keys=False))
    done = subprocess.run(
        [require_binary("streamstats"), "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, path.read_text() + done.stdout + done.stderr
    assert f"{path}: ok" in done.stdout


def _plain(value: Any) -> Any:
    """Ansible's tagged values as plain YAML types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    for plain in (bool, int, float):
        if isinstance(value, plain):
            return plain(value)
    return None if value is None else str(value)


def test_the_known_keys_are_read_from_config_py():
    """The reader of config.py's accessors sees what the package's dataclasses hold (it cannot go blind)."""
    keys = package_keys()
    assert keys["agent.catch_up_rate"]["kind"] == "size"
    assert keys["agent.flush_interval"]["kind"] == "duration"
    assert keys["aggregator.mysql.port"]["kind"] == "integer"
    assert keys["agent.start_at"]["choices"] == ("beginning", "end")
    agent_fields = set(package_config.AgentConfig.__dataclass_fields__)
    assert agent_fields <= {k.removeprefix("agent.") for k in keys if k.startswith("agent.")}
