# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the connection options every leaseweb_* module takes (module_utils/leaseweb.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - LeaseWeb API key, sent as the C(X-LSW-Auth) header. Create one in the Customer Portal
        (API client management).
      - Falls back to the E(LSW_API_KEY) environment variable of the controller. It is never logged.
    type: str
    required: true
  base_url:
    description:
      - Base URL of the API, without C(/bareMetals/v2).
      - Falls back to E(LSW_BASE_URL), then to U(https://api.leaseweb.com). Point it at a
        C(leaseweb-simulator) to rehearse a play.
    type: str
  timeout:
    description:
      - Seconds to wait for an answer to one request (the connection itself gets at most 10).
      - Requests that fail with 429, 502, 503, 504 or a connection error are retried with backoff;
        see docs/leaseweb.md for what is retried for POST calls.
    type: float
    default: 60
requirements:
  - python >= 3.11
  - leaseweb_api (the C(cdn-infra) Python distribution of this collection's repository; the collection's
    C(requirements.txt))
notes:
  - The module talks to the API from the controller; run it with C(delegate_to) set to V(localhost), or
    with C(connection) V(local).
  - Errors come back with C(status), C(error_code), C(error_message), C(correlation_id) and C(error_details)
    from the API's error body; quote the correlation id to LeaseWeb support. C(attempts) says how often the
    call was tried, C(retry_after) the last wait the API asked for, and C(may_have_applied) whether a write
    whose answer was lost may have been carried out (it then counts as a change).
  - Surrounding whitespace of O(api_key) (the newline C(echo KEY | ansible-vault encrypt_string) stores) is
    stripped; a key with whitespace or control characters inside is refused. The key is never printed.
"""

    # For the modules that act on one server.
    SERVER = r"""
options:
  server_id:
    description:
      - The server's id (C(leaseweb_id) in the leaseweb inventory).
    type: str
    required: true
"""

    # Every leaseweb_* module is in the action group cdn.infra.leaseweb (meta/runtime.yml).
    ACTION_GROUP = r"""
attributes:
  action_group:
    description:
      Use C(group/cdn.infra.leaseweb) in C(module_defaults) to set the connection options once for every
      leaseweb_* module.
    support: full
    membership:
      - cdn.infra.leaseweb
"""
