"""The organization URL of a Dataverse connection: validated against an allow-list, legacy URLs mapped.

The org URL comes from tenant configuration and the connector sends a bearer token to it, so it is
checked like a credential's destination: https only, no userinfo, port 443 unless an operator listed
another, a host that matches an allow-list pattern (never an IP address unless listed literally), and
no path beyond the few forms a person may paste. Those forms are mapped to the org root:

* ``https://org.crm4.dynamics.com`` (the root itself, with or without ``/``),
* ``https://org.crm4.dynamics.com/XRMServices/2011/OrganizationData.svc`` (the OData v2 endpoint of
  CRM 2011, deprecated since v8.0; the seed system's "Server URL"),
* ``https://org.crm4.dynamics.com/api/data/v9.2`` (the Web API base),
* on-premises hosts an operator listed: ``https://crm.example.local/<orgname>`` and the two forms
  above below ``/<orgname>`` (on-premises servers host several organizations, one path each).

Allow-list patterns: ``*`` stands for exactly one DNS label, ``{N}`` for a region number (1-2 digits),
anything else is literal; a pattern may end with ``:<port>``. The cloud hosts (Microsoft Learn,
"Datacenter regions" / sovereign clouds): commercial ``<org>.crm[N].dynamics.com`` (crm, crm2 ... crm22
and later), US GCC High ``crm.microsoftdynamics.us``, US DoD ``crm.appsplatform.us``, China (21Vianet)
``crm.dynamics.cn`` and the former Microsoft Cloud Germany ``crm.microsoftdynamics.de``. The sovereign
suffixes could not be checked against a primary source from here: VERIFY before onboarding such a tenant.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = (
    "*.crm.dynamics.com",
    "*.crm{N}.dynamics.com",
    "*.crm.microsoftdynamics.us",
    "*.crm.appsplatform.us",
    "*.crm.dynamics.cn",
    "*.crm.microsoftdynamics.de",
)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_LEGACY = ("xrmservices", "2011", "organizationdata.svc")
_WEB_API = re.compile(r"^v\d+\.\d+$")


class OrgUrlError(ValueError):
    """The configured org URL is not one crmsync may send a token to (the message says why)."""


def _pattern(entry: str) -> tuple[re.Pattern[str], int]:
    host, _, port = entry.strip().lower().partition(":")
    parts = []
    for label in host.split("."):
        if label == "*":
            parts.append(_LABEL)
        else:
            parts.append(re.escape(label).replace(r"\{n\}", r"[1-9][0-9]?"))
    return re.compile("^" + r"\.".join(parts) + "$"), int(port) if port else 443


def host_allowed(host: str, port: int, allowed_hosts: Iterable[str]) -> bool:
    """Does ``host:port`` match one of the patterns? (``host`` lower case, without trailing dot.)"""
    for entry in allowed_hosts:
        regex, allowed_port = _pattern(entry)
        if port == allowed_port and regex.match(host):
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _org_path(segments: list[str]) -> str | None:
    """The on-premises org segment of a path (``""`` for none); None when the path is not allowed."""
    lower = [s.lower() for s in segments]
    for prefix_len in (0, 1):
        rest = lower[prefix_len:]
        if rest in ([], list(_LEGACY)) or (
            len(rest) == 3 and rest[:2] == ["api", "data"] and _WEB_API.match(rest[2])
        ):
            if prefix_len == 0:
                return ""
            org = segments[0]
            return org if _ORG_NAME.match(org) else None
    return None


def org_root(
    url: str, allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS, *, allow_http: bool = False
) -> str:
    """The org root (``https://host[:port][/<org>]``, no trailing slash) of a configured URL, or ``OrgUrlError``.

    ``allow_http`` exists for tests against a local fake only (they also list its host explicitly).
    """
    text = url.strip()
    if not text or any(c.isspace() or c == "\\" for c in text) or not text.isascii():
        raise OrgUrlError("the org URL is empty or holds spaces, backslashes or non-ASCII characters")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise OrgUrlError("the org URL must use https")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise OrgUrlError("the org URL must not hold a user name or password")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise OrgUrlError("the org URL must not hold a query or fragment")
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise OrgUrlError("the org URL has an invalid port") from exc
    if not host or host.endswith("."):
        raise OrgUrlError("the org URL has no host (or one ending in a dot)")
    allowed = tuple(allowed_hosts)
    if _is_ip(host) and host not in {e.strip().lower().partition(":")[0] for e in allowed}:
        raise OrgUrlError("the org URL must name a host, not an IP address")
    if not host_allowed(host, port, allowed):
        raise OrgUrlError(f"host {host}:{port} is not an allowed Dataverse host")
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") or "%" in s for s in segments):
        raise OrgUrlError("the org URL path must not hold dot segments or escapes")
    org = _org_path(segments)
    if org is None:
        raise OrgUrlError("the org URL path is not an org root, Web API or OrganizationData.svc path")
    if org and host_allowed(host, port, DEFAULT_ALLOWED_HOSTS):
        raise OrgUrlError("online organizations have no path segment: use https://<org>.crm.dynamics.com")
    default_port = 443 if scheme == "https" else 80
    netloc = host if port == default_port else f"{host}:{port}"
    return f"{scheme}://{netloc}" + (f"/{org}" if org else "")
