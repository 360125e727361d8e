"""Chef Infra Server API: request signing (1.0, 1.1, 1.3), a client, search, and the objects the
project manages (nodes, API clients, the deployment log). Depends only on `cryptography` and `requests`."""

from chef_api.client import ChefClient, ChefResponse, ChefSettings
from chef_api.errors import (
    ChefAPIError,
    ChefAuthenticationError,
    ChefConflictError,
    ChefConnectionError,
    ChefError,
    ChefNotFoundError,
    ChefPermissionError,
    ChefSigningError,
)
from chef_api.search import partial_search, search
from chef_api.signing import SignedRequest, Signer, load_private_key, load_public_key, sign
from chef_api.verify import Verification, verify_request

__all__ = [
    "ChefAPIError",
    "ChefAuthenticationError",
    "ChefClient",
    "ChefConflictError",
    "ChefConnectionError",
    "ChefError",
    "ChefNotFoundError",
    "ChefPermissionError",
    "ChefResponse",
    "ChefSettings",
    "ChefSigningError",
    "SignedRequest",
    "Signer",
    "Verification",
    "load_private_key",
    "load_public_key",
    "partial_search",
    "search",
    "sign",
    "verify_request",
]
