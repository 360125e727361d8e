"""Every role's defaults/main.yml and meta/argument_specs.yml agree: the same variables, the spec's default
is the defaults' value, and the value has the declared type. A test, not a review."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lab.paths import REPO_ROOT

ROLES = sorted(path.parent.parent.name for path in (REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"))
PYTHON_TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict, "path": str, "float": float}


def _specs(role: str) -> dict[str, dict[str, Any]]:
    """The options of every entry point (main, and tasks_from ones such as ipxe_server's `server`)."""
    document = yaml.safe_load((REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options: dict[str, dict[str, Any]] = {}
    for entry in document["argument_specs"].values():
        options.update(entry.get("options") or {})
    return options


def _defaults(role: str) -> dict[str, Any]:
    path = REPO_ROOT / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def test_every_role_has_argument_specs():
    assert sorted(p.name for p in (REPO_ROOT / "roles").iterdir() if p.is_dir()) == ROLES


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_agree(role):
    specs, defaults = _specs(role), _defaults(role)
    problems = [
        f"{name}: in defaults/main.yml, not in argument_specs" for name in sorted(set(defaults) - set(specs))
    ]
    for name, spec in sorted(specs.items()):
        if name not in defaults:
            # Only an input the caller must give may lack a default.
            if not spec.get("required") and "default" in spec:
                problems.append(f"{name}: default {spec['default']!r} in argument_specs, none in defaults")
            continue
        value = defaults[name]
        if "default" in spec and spec["default"] != value:
            problems.append(f"{name}: argument_specs says {spec['default']!r}, defaults/main.yml {value!r}")
        if "default" not in spec and not spec.get("required") and value not in (None, "", [], {}):
            problems.append(f"{name}: defaults/main.yml has {value!r}, argument_specs no default")
        expected = PYTHON_TYPES.get(spec.get("type", "str"))
        if expected and value is not None and not _templated(value) and not isinstance(value, expected):
            problems.append(f"{name}: {value!r} is not a {spec.get('type', 'str')}")
        if "choices" in spec and not _templated(value) and value not in spec["choices"]:
            problems.append(f"{name}: {value!r} is not one of {spec['choices']}")
    assert not problems, "\n".join(problems)
