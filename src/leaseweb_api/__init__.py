"""Client for LeaseWeb's Dedicated Server API (v2, v1 leases); the simulator is `leaseweb_api.simulator`."""

from leaseweb_api.bootfile import bootfile_problem
from leaseweb_api.client import LeasewebClient
from leaseweb_api.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    LeasewebError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TransportError,
)
from leaseweb_api.models import (
    CatalogEntry,
    Credential,
    HardwareReport,
    InterfaceStatus,
    Job,
    Lease,
    PowerInfo,
    Server,
    Task,
    V1Lease,
)
from leaseweb_api.retry import RetryEvent, RetryPolicy

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "CatalogEntry",
    "ConfigurationError",
    "ConflictError",
    "Credential",
    "ForbiddenError",
    "HardwareReport",
    "InterfaceStatus",
    "Job",
    "Lease",
    "LeasewebClient",
    "LeasewebError",
    "NotFoundError",
    "PowerInfo",
    "ProtocolError",
    "RateLimitError",
    "RetryEvent",
    "RetryPolicy",
    "Server",
    "ServerError",
    "Task",
    "TransportError",
    "V1Lease",
    "bootfile_problem",
]
