# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the connection options every chef_* module takes (module_utils/chef_common.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  server_url:
    description:
      - Base URL of the Chef API. For Chef Infra Server include the organisation,
        C(https://chef.example.com/organizations/ORG); for goiardi the bare server URL.
      - Falls back to the E(CHEF_SERVER_URL) environment variable.
    type: str
    required: true
  client_name:
    description: The API client (or user) that signs the requests. Falls back to E(CHEF_CLIENT_NAME).
    type: str
    required: true
  client_key:
    description: Path of the client's PEM private key on the controller. Falls back to E(CHEF_CLIENT_KEY).
    type: path
  client_key_content:
    description:
      - The client's PEM private key itself; takes precedence over O(client_key). Never logged or printed.
      - Falls back to E(CHEF_CLIENT_KEY_CONTENT).
    type: str
  sign_version:
    description:
      - Request signing protocol. C(1.3) (SHA-256) needs Chef Server 12.4 or later; C(1.1) is chef-client's
        default; C(1.0) cannot sign long client names. Falls back to E(CHEF_SIGN_VERSION).
    type: str
    default: "1.3"
    choices: ["1.0", "1.1", "1.3"]
  server_api_version:
    description:
      - Sent as X-Ops-Server-API-Version. Chef Infra Server accepts 0 to 2, goiardi 0 to 1.
      - Falls back to E(CHEF_SERVER_API_VERSION).
    type: str
    default: "1"
  validate_certs:
    description: Verify the server's TLS certificate. Falls back to E(CHEF_VALIDATE_CERTS).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each HTTP response.
    type: float
    default: 30
requirements:
  - python >= 3.11
  - chef_api (the C(cdn-infra) Python distribution of this collection's repository; the collection's
    C(requirements.txt))
"""

    # Every chef_* module is in the action group cdn.infra.chef (meta/runtime.yml).
    ACTION_GROUP = r"""
attributes:
  action_group:
    description:
      Use C(group/cdn.infra.chef) in C(module_defaults) to set the connection options once for every
      chef_* module.
    support: full
    membership:
      - cdn.infra.chef
"""
