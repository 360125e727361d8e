"""A stateful simulator of LeaseWeb's Dedicated Server API, true to its OpenAPI spec (docs/leaseweb.md)."""
