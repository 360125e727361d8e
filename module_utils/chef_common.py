# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every chef_* module shares: connection options (with environment fallbacks), the client, one error
path. The work itself is in the `chef_api` package (src/chef_api), which the modules import on the
controller the way cloud modules import their SDK."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

try:
    from chef_api import ChefAPIError, ChefClient, ChefError, ChefSettings
    from chef_api.objects import Kind, delete_object, get_object, managed, plan, put_object

    CHEF_API_IMPORT_ERROR = None
except ImportError:
    CHEF_API_IMPORT_ERROR = traceback.format_exc()


def _env(*names: str) -> tuple[Any, list[str]]:
    return (env_fallback, list(names))


CHEF_CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "server_url": {"type": "str", "required": True, "fallback": _env("CHEF_SERVER_URL")},
    "client_name": {"type": "str", "required": True, "fallback": _env("CHEF_CLIENT_NAME")},
    "client_key": {"type": "path", "fallback": _env("CHEF_CLIENT_KEY")},
    "client_key_content": {"type": "str", "no_log": True, "fallback": _env("CHEF_CLIENT_KEY_CONTENT")},
    "sign_version": {
        "type": "str",
        "default": "1.3",
        "choices": ["1.0", "1.1", "1.3"],
        "fallback": _env("CHEF_SIGN_VERSION"),
    },
    "server_api_version": {"type": "str", "default": "1", "fallback": _env("CHEF_SERVER_API_VERSION")},
    "validate_certs": {"type": "bool", "default": True, "fallback": _env("CHEF_VALIDATE_CERTS")},
    "timeout": {"type": "float", "default": 30.0},
}


def chef_module(argument_spec: dict[str, Any], **kwargs: Any) -> AnsibleModule:
    """An AnsibleModule with the connection options; fails with missing_required_lib without chef_api."""
    # No mutual exclusion of the two key options: client_key_content wins, so that a task can pass key
    # content while CHEF_CLIENT_KEY is set in the environment.
    module = AnsibleModule(
        argument_spec={**CHEF_CONNECTION_ARGS, **argument_spec},
        required_one_of=[("client_key", "client_key_content"), *kwargs.pop("required_one_of", [])],
        **kwargs,
    )
    if CHEF_API_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib("chef_api (the repository's src/ package: run scripts/venv.sh)"),
            exception=CHEF_API_IMPORT_ERROR,
        )
    return module


def chef_client(module: AnsibleModule) -> ChefClient:
    params = module.params
    settings = ChefSettings(
        server_url=params["server_url"],
        client_name=params["client_name"],
        client_key=params["client_key"],
        client_key_content=params["client_key_content"],
        sign_version=params["sign_version"],
        server_api_version=params["server_api_version"],
        validate_certs=params["validate_certs"],
        timeout=params["timeout"],
    )
    with chef_errors(module):
        return ChefClient.from_settings(settings)


@contextmanager
def chef_errors(module: AnsibleModule) -> Iterator[None]:
    """The one error path: an API failure becomes fail_json with status, error code, the server's
    messages and the request id to find it in the server's logs."""
    try:
        yield
    except ChefAPIError as exc:
        module.fail_json(
            msg=str(exc),
            status=exc.status,
            error_code=exc.code,
            errors=exc.errors,
            request_id=exc.request_id,
            method=exc.method,
            path=exc.path,
        )
    except (ChefError, ValueError) as exc:
        module.fail_json(msg=str(exc), status=None, error_code=None, errors=[], request_id=None)


def manage_object(module: AnsibleModule, kind: Kind, wanted: dict[str, Any]) -> None:
    """What chef_role and chef_environment do: the object named `name` exists with the given fields (the
    others as they are), or is absent; compared before writing, with check mode and diff; exits the module."""
    name, present = module.params["name"], module.params["state"] == "present"
    client = chef_client(module)
    with chef_errors(module):
        current = get_object(client, kind, name)
        after = plan(kind, name, current, wanted) if present else None
        before_view, after_view = managed(kind, current), managed(kind, after)
        changed = before_view != after_view
        if changed and not module.check_mode:
            if after is None:
                delete_object(client, kind, name)
            else:
                put_object(client, kind, after, exists=current is not None)
    result: dict[str, Any] = {"changed": changed, kind.chef_type: after_view or None}
    if module._diff:
        result["diff"] = {"before": before_view, "after": after_view}
    module.exit_json(**result)
