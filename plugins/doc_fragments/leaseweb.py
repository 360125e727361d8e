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
  - the C(leaseweb_api) package of this repository (src/), installed in the controller's virtualenv
notes:
  - The module talks to the API from the controller; run it with C(delegate_to) set to V(localhost), or
    with C(connection) V(local).
  - Errors come back with C(status), C(error_code), C(error_message), C(correlation_id) and C(error_details)
    from the API's error body; quote the correlation id to LeaseWeb support.
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
