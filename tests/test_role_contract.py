"""The analytics roles' contract with the package they configure (src/streamstats/config.py).

Every analytics_agent_* / analytics_aggregator_* variable is either a configuration key of the package,
found where the role writes it (the `analytics_package_service_config` and `..._secrets` it hands to
analytics_package), or a setting of the systemd unit listed in UNIT_SETTINGS. A key's kind (size, duration,
integer, string, choice, ...) is read from config.py's own accessors, so the role's declared type and unit
follow the package. And each role's defaults, rendered by Ansible's own templating, pass
`streamstats check-config`.

The aggregator role also configures the balancer in front of its processes (nginx): those variables are
listed in BALANCER_SETTINGS with the balancer template's variable they feed.

A new variable needs no change here when the role writes it as `key: "{{ analytics_<role>_<name> }}"` into
the configuration; a new unit setting goes into UNIT_SETTINGS, a balancer setting into BALANCER_SETTINGS,
a new accessor of config.py into KIND_TYPES.
"""

from __future__ import annotations

import ast
import functools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
from jinja2 import Environment, nodes

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
# Variables of the balancer (nginx in front of the aggregator processes), each with the variable of the
# balancer's template task it feeds.
BALANCER_SETTINGS = {
    "analytics_aggregator_listen": "analytics_aggregator_balancer_listen",
    "analytics_aggregator_processes": "analytics_aggregator_balancer_ports",
    "analytics_aggregator_tls_cert": "analytics_aggregator_balancer_tls_cert_file",
    "analytics_aggregator_tls_key": None,  # written beside the certificate, for nginx
    "analytics_aggregator_nginx_package": None,  # the package installed
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
    "_readable": "str",
    "secret_file": "str",
    "list": "list",
    "statistics": "raw",
}
# The function of config.py that reads each section.
SECTION_READERS = {"_agent": "agent", "_aggregator": "aggregator", "_mysql": "aggregator.mysql"}
ACCESSORS = {"size", "duration", "integer", "string", "choice", "secret_file", "backoff", "section"}
TEMPLATE = re.compile(r"^\{\{ *([a-z_0-9]+) *\}\}$")
JINJA = Environment()


def package_keys() -> dict[str, dict[str, Any]]:
    """Every key config.py reads, dotted (agent.chunk_size), with its kind and, for choices, the choices.
    A section's keys are read in its reader function (SECTION_READERS) or in the helpers it calls."""
    tree = ast.parse(Path(package_config.__file__).read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    keys: dict[str, dict[str, Any]] = {"statistics": {"kind": "statistics"}}
    for reader, prefix in SECTION_READERS.items():
        for function in _with_helpers(functions[reader], functions, set(SECTION_READERS) - {reader}):
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                key = _key_kind(call)
                if key is not None:
                    keys.setdefault(f"{prefix}.{key.pop('name')}", key)
    return keys


def _with_helpers(function: ast.FunctionDef, functions: dict[str, ast.FunctionDef], other_readers: set[str]):
    """The function and the module-level helpers it calls (not another section's reader), transitively."""
    seen, todo = [function], [function]
    while todo:
        for call in (n for n in ast.walk(todo.pop()) if isinstance(n, ast.Call)):
            name = call.func.id if isinstance(call.func, ast.Name) else None
            helper = functions.get(name)
            if helper is not None and name not in other_readers and helper not in seen:
                seen.append(helper)
                todo.append(helper)
    return seen


def _key_kind(call: ast.Call) -> dict[str, Any] | None:
    name = _literal_name(call)
    func = call.func
    if name is None:
        return None
    if isinstance(func, ast.Attribute) and func.attr in ACCESSORS:
        key = {"name": name, "kind": func.attr}
        if func.attr == "choice":
            key["choices"] = _choices(call.args[2])
        return key
    if isinstance(func, ast.Name) and func.id in KIND_TYPES:
        return {"name": name, "kind": func.id}
    if isinstance(func, ast.Attribute) and func.attr == "get":  # s.raw.get("files"): a list
        return {"name": name, "kind": "list"}
    return None


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


def _tasks(role: str) -> list[dict[str, Any]]:
    """Every task of the role's task files, blocks flattened."""
    tasks: list[dict[str, Any]] = []
    for path in sorted((ROLES / role / "tasks").glob("*.yml")):
        todo = list(_load(path) or [])
        while todo:
            task = todo.pop(0)
            todo[:0] = task.get("block", [])
            tasks.append(task)
    return tasks


def service_task(role: str) -> dict[str, Any]:
    """The role's hand-over to analytics_package's service entry point: its configuration and secrets."""
    (task,) = [
        t
        for t in _tasks(role)
        if (t.get("ansible.builtin.include_role") or {}).get("tasks_from") == "service"
    ]
    return task["vars"]


def _balancer_vars(role: str) -> dict[str, Any]:
    """The variables of the balancer's template task (none for a role without one)."""
    for task in _tasks(role):
        if (task.get("ansible.builtin.template") or {}).get("src") == "balancer.conf.j2":
            return task["vars"]
    return {}


def referenced(source: Any) -> set[str]:
    """The variables a template (or a structure of templates) reads."""
    if isinstance(source, dict):
        return set().union(*(referenced(v) for v in source.values()))
    if isinstance(source, list):
        return set().union(*(referenced(v) for v in source))
    if not isinstance(source, str):
        return set()
    tree = JINJA.parse(str(source))
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"} - local


def _facts(role: str) -> dict[str, set[str]]:
    """Facts set before the hand-over (set_fact), with the variables each reads (templates included)."""
    facts: dict[str, set[str]] = {}
    for task in _tasks(role):
        for name, value in (task.get("ansible.builtin.set_fact") or {}).items():
            names = referenced(value)
            for template in re.findall(r"lookup\('ansible\.builtin\.template', '([^']+)'\)", str(value)):
                names |= referenced((ROLES / role / "templates" / template).read_text())
            facts[name] = names
    return facts


def _expand(names: set[str], facts: dict[str, set[str]]) -> set[str]:
    """Role variables behind names, internal facts replaced by what they read."""
    found: set[str] = set()
    for name in names:
        found |= _expand(facts[name], facts) if name in facts else {name}
    return found


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [
            leaf for key, child in value.items() for leaf in _leaves(child, f"{path}.{key}" if path else key)
        ]
    return [(path, value)]


def variable_keys(role: str) -> dict[str, set[tuple[str, str]]]:
    """Role variable -> the configuration keys it reaches, each as (key, how): `value` when the key is the
    variable itself, `part` when the variable is part of the key's template, `file` when it is the content
    of a secret file whose path is the key's value (token_file, ssl_ca, ...)."""
    handed, facts = service_task(role), _facts(role)
    leaves = _leaves(handed["analytics_package_service_config"])
    found: dict[str, set[tuple[str, str]]] = {}
    for key, template in leaves:
        exact = TEMPLATE.match(str(template).strip())
        for variable in _expand(referenced(template), facts):
            how = "value" if exact and exact.group(1) == variable else "part"
            found.setdefault(variable, set()).add((key, how))
    for secret, template in handed["analytics_package_service_secrets"].items():
        keys = [key for key, leaf in leaves if f"/{secret}" in str(leaf)]
        assert keys, f"{role}: the secret file {secret} is named by no key of the configuration"
        for variable in _expand(referenced(template), facts):
            found.setdefault(variable, set()).update((key, "file") for key in keys)
    return found


def argument_specs(role: str) -> dict[str, dict[str, Any]]:
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", sorted(SECTIONS))
def test_every_variable_is_a_configuration_key_or_a_unit_setting(role):
    keys = package_keys()
    mapped = variable_keys(role)
    handed = service_task(role)
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    variables = set(argument_specs(role)) | set(defaults)
    unmapped = sorted(v for v in variables if v not in mapped and v not in UNIT_SETTINGS | BALANCER_SETTINGS)
    assert not unmapped, (
        f"{role}: neither written to the configuration nor a unit or balancer setting: {unmapped}"
    )
    for variable, reached in mapped.items():
        for key, _ in reached:
            if variable.startswith(f"{role}_"):
                assert key in keys, f"{variable} is written to {key}, which streamstats does not read"
    balancer = _balancer_vars(role)
    for variable, template_var in BALANCER_SETTINGS.items():
        if variable.startswith(f"{role}_") and template_var is not None:
            assert variable in referenced(balancer[template_var]), (
                f"{variable} is not passed to {template_var}"
            )
    for variable, service_input in UNIT_SETTINGS.items():
        if variable.startswith(f"{role}_"):
            assert variable in referenced(handed[service_input]), (
                f"{variable} is not passed to {service_input}"
            )


@pytest.mark.parametrize("role", sorted(SECTIONS))
def test_types_and_units_are_the_packages(role):
    keys = package_keys()
    specs = argument_specs(role)
    problems = []
    direct = [
        (variable, key)
        for variable, reached in variable_keys(role).items()
        for key, how in reached
        if how == "value"
    ]
    for variable, key in sorted(direct):
        kind = keys[key]["kind"]
        spec = specs[variable]
        if kind in ("section", "backoff"):
            continue
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


@functools.cache
def _plugin_loader() -> None:
    """Lookups (a set_fact's template) need Ansible's plugin and collection loaders, set up once."""
    init_plugin_loader()


def render_defaults(role: str, config_dir: Path) -> dict[str, Any]:
    """The configuration the role writes from its defaults (and the required inputs), rendered by Ansible."""
    _plugin_loader()
    loader = DataLoader()
    variables = {
        **_load(ROLES / "analytics_package" / "defaults" / "main.yml"),
        **_load(ROLES / role / "defaults" / "main.yml"),
        "inventory_hostname": "edge1",
        "__analytics_aggregator_process": 1,  # the loop over the aggregator's processes
        "playbook_dir": str(REPO_ROOT / "playbooks"),
        "analytics_package_config_dir": str(config_dir),
        # The required inputs without a usable default (vaulted in production).
        "analytics_agent_aggregator_url": "http://127.0.0.1:9400",
        "analytics_agent_token": "t" * 32,
        "analytics_aggregator_tokens": ["t" * 32],
        "analytics_aggregator_mysql_password": "p" * 16,
        "analytics_aggregator_agent_credentials": [{"agent": "edge1", "token": "c" * 32}],
        # For the template lookups of set_fact tasks: the role's templates/.
        "ansible_search_path": [str(ROLES / role)],
    }
    templar = Templar(loader=loader, variables=variables)
    for task in _tasks(role):  # the facts the hand-over uses, as the role sets them before it
        for name, value in (task.get("ansible.builtin.set_fact") or {}).items():
            variables[name] = templar.template(value)
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
