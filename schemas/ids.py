"""Deterministic ids: the same command always names the same new entities.

The facade uses this to key a create command by the customer it will create, and the
worker to create exactly that id on every delivery.
"""

import uuid

ID_NAMESPACE = uuid.UUID("6f1c3c3e-2f4b-4a5e-9a31-5b0c1d2e3f40")


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, ":".join(parts)))


def created_customer_id(tenant_id: str, command_id: str) -> str:
    """The id `customer.create` gives the customer it creates."""
    return derived_id(tenant_id, command_id, "customer")


def partition_key(tenant_id: str, customer_id: str) -> bytes:
    """`{tenantId}:{customerId}`: one customer's commands and events stay in order."""
    return f"{tenant_id}:{customer_id}".encode()
