"""A config change is checked against reality: every connection it brings into use has its secret.

``PUT /tenants/{t}/config`` that switches ``environment`` or adds a connection (or changes a
connection's kind) is refused with 422 when a connection it brings into use has no secret
``<prefix><tenant>/<connection>/<environment>``, when the secret is not a JSON object, or when it lacks
a key the connector needs. A connection that is unchanged (same id, kind and environment as the stored
config) is not checked again: its secret is not re-read (each read is a paid Secrets Manager call).

The secret is read through the runtime's credential store (``ctx.connectors.credentials``: Powertools
Parameters' ``SecretsProvider``, i.e. ``secretsmanager:GetSecretValue``, which the API role already
has on ``secret:crmsync/*``), so the check sees exactly what the connectors will see. The secret name
is built from the *path's* tenant only, so another tenant's secret never satisfies the check.

Whether the credentials actually work is not checked: that needs a vendor call through a connector
(and building a connector runs its one-time setup), so it is left to the first sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from crmsync.config import TenantConfig
from crmsync.models import ConnectionKind, Environment, required_secret_keys

CredentialReader = Callable[[str], dict[str, Any]]


class ConfigNotReady(RequestValidationError):
    """A config that brings into use a connection without usable credentials (HTTP 422)."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__(
            [{"loc": ("body", *loc), "msg": msg, "type": "value_error"} for loc, msg in problems]
        )
        self.problems = [msg for _, msg in problems]

    def __str__(self) -> str:
        return "; ".join(self.problems)


def secret_name(prefix: str, tenant_id: str, connection_id: str, environment: Environment) -> str:
    """``crmsync/<tenant>/<connection>/<env>`` (as ``TenantConfig.secret_name``), from the given tenant."""
    return f"{prefix}{tenant_id}/{connection_id}/{environment.value}"


def connections_to_check(current: TenantConfig | None, new: TenantConfig) -> list[str]:
    """The connections ``new`` brings into use: all when the environment changes, else new or re-kinded ones."""
    if current is None or current.environment is not new.environment:
        return [c.connection_id for c in new.connections]
    known = {c.connection_id: c.kind for c in current.connections}
    return [c.connection_id for c in new.connections if known.get(c.connection_id) is not c.kind]


def secret_problem(read: CredentialReader, name: str, connection_id: str, kind: ConnectionKind) -> str | None:
    """Why connection ``connection_id``'s secret ``name`` cannot be used (``None``: it can)."""
    try:
        value = read(name)
    except GetParameterError as exc:
        if "ResourceNotFound" in str(exc) or "can't find" in str(exc).lower():
            return f"connection {connection_id!r} has no secret {name}"
        return f"connection {connection_id!r}: secret {name} cannot be read"
    except (TransformParameterError, ValueError):
        return f"connection {connection_id!r}: secret {name} is not a JSON object"
    missing = [key for key in required_secret_keys(kind, value) if not value.get(key)]
    if missing:
        return f"connection {connection_id!r}: secret {name} lacks {', '.join(missing)}"
    return None


def check_secrets(
    read: CredentialReader, prefix: str, tenant_id: str, current: TenantConfig | None, new: TenantConfig
) -> None:
    """Raise ``ConfigNotReady`` when a connection ``new`` brings into use has no usable secret."""
    to_check = set(connections_to_check(current, new))
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, conn in enumerate(new.connections):
        if conn.connection_id not in to_check:
            continue
        name = secret_name(prefix, tenant_id, conn.connection_id, new.environment)
        problem = secret_problem(read, name, conn.connection_id, conn.kind)
        if problem is not None:
            problems.append((("connections", index, "connection_id"), problem))
    if problems:
        raise ConfigNotReady(problems)
