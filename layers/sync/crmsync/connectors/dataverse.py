"""Dynamics 365 / Dataverse Web API v9.2 connector: accounts <-> canonical customers, contacts <-> contacts.

Decisions (and why):

- **The org URL is per connection and validated** (``dataverse_urls.org_root``): https, no userinfo,
  port 443, a host matching the allow-list (the Dataverse cloud domains; operators add on-premises
  hosts), never an IP address. The old ``/XRMServices/2011/OrganizationData.svc`` URL (OData v2,
  deprecated) and a pasted Web API URL are mapped to the org root. Links the server returns
  (``@odata.nextLink``, ``@odata.deltaLink``) are followed unchanged, but only below that root: the
  bearer token never leaves the org.
- **Auth is an ``httpx.Auth``** (``crmsync.connectors.oauth.ClientCredentialsAuth``: Entra ID client
  credentials, scope ``<org>/.default``, lifetimes from ``expires_in``, one renewing instance at a time
  through the shared token cache, one renewal on a 401).
- **Creates choose the id.** The row id is ``uuid5(fixed namespace, crmsync record id)``, sent as
  ``accountid``/``contactid``: a retried or replayed create of the same record targets the same row, and
  Dataverse refuses the second insert (duplicate key). That answer means "already created": the row is
  read back and the create reported ok. No custom column or alternate key is needed for idempotency.
- **Updates are conditional.** ``If-Match`` carries the ETag read (``SourceRecord.version`` ->
  ``WriteItem.version``); without one ``If-Match: *``, so an update never creates a row (a deleted row
  is a 404). A 412 means the row changed since crmsync's read; a fresh read is compared with
  ``WriteItem.expected`` like the other connectors do: a changed field of ours -> ``stale`` result (the
  caller reconciles first); no expected values -> ``stale`` (fields unknown, reconciling is safe);
  nothing of ours changed -> sent once more with the fresh ETag. Only changed columns are sent (every
  sent column counts as updated for plug-ins and audit). Writes ask for ``return=representation``, so
  results carry the row and its new ETag at no extra call.
- **Batches are independent requests** in ``$batch`` bodies of 100 with ``Prefer:
  odata.continue-on-error``, not change sets: a change set is atomic (one refused row rolls back all),
  while crmsync needs one outcome per item; without continue-on-error a batch stops at its first
  failure. 100, not the allowed 1,000: a batch is executed as one long request (it counts against the
  execution-time limit) and a failed batch (429, timeout) sends fewer items back to the retry path.
  The multipart body is built and parsed here (``dataverse_batch``): no library does OData batches
  for httpx.
- **Paging** uses ``Prefer: odata.maxpagesize`` (5,000, the maximum) and the opaque ``@odata.nextLink``
  (``$skip`` is not supported), with a page bound. ``changed_since`` filters on ``modifiedon`` ordered
  by ``modifiedon, id``; ``changes`` uses change tracking (``Prefer: odata.track-changes``) and raises
  ``DeltaExpired`` when the token is too old ("Version stamp associated with the client has expired").
- **Errors**: 401/403 AuthError, 404 NotFoundError, 400 VendorRefusedError (values Dataverse refuses,
  e.g. a MaxLength: the engine's value rules run elsewhere), 412 StaleError, 429 and the service
  protection codes RateLimitedError with ``Retry-After`` (``VendorHttp`` waits it out first), 5xx
  TransientError; request id from ``REQ_ID`` / ``x-ms-service-request-id``.
- **Fields**: see ``dataverse_mapping``. The account hierarchy (``parentaccountid``) has no canonical
  field; ``get_parent_account`` reads it.
- **ensure_setup** calls ``WhoAmI`` once per instance: it proves the credentials and the application
  user's access before any sync work, and learns the application user id (our own writes fire the
  tenant's webhooks; their ``InitiatingUserId`` tells echoes apart). A configured id that differs is an
  ``AuthError`` (the secret belongs to another app). Nothing is created on the vendor.
- **Merges** (``merge``: the ``Merge`` action; or a person in the UI): the subordinate stays,
  deactivated, with ``merged`` and ``masterid``; its contacts move to the target. Reads answer a
  merged-away id with its survivor (``get``), leave it out of batch reads and lists, and report it
  as gone in change reads (``deleted``), so the sync layer re-points the link as for HubSpot merges.
- ``delete`` is ``DELETE``, a missing row counts as done.

Layout: this module holds ``DataverseConnector`` (delete, setup); the rest comes from one mixin per
concern: ``dataverse_client`` (HTTP, URLs, paging), ``dataverse_errors``, ``dataverse_mapping``,
``dataverse_reads``, ``dataverse_writes``, ``dataverse_leads`` (lead qualification), ``dataverse_facts``
(accounting facts on account columns), ``dataverse_notes`` (the CRM journal),
``dataverse_batch`` (multipart), ``dataverse_urls``.
"""

from __future__ import annotations

from crmsync.connectors.base import AuthError, NotFoundError
from crmsync.connectors.dataverse_batch import BatchPart, decode_batch, encode_batch
from crmsync.connectors.dataverse_client import MAX_PAGES, PAGE_SIZE
from crmsync.connectors.dataverse_errors import THROTTLE_CODES, DeltaExpired, dataverse_error
from crmsync.connectors.dataverse_facts import DataverseFacts
from crmsync.connectors.dataverse_leads import DataverseLeads, LeadClosed, LeadDetails, QualifiedLead
from crmsync.connectors.dataverse_mapping import (
    ACCOUNT_COLUMNS,
    CONTACT_COLUMNS,
    ENTITY_SET,
    PRIMARY_KEY,
    RECORD_NAMESPACE,
    is_guid,
    record_guid,
    split_name,
)
from crmsync.connectors.dataverse_notes import DataverseNotes
from crmsync.connectors.dataverse_reads import DataverseUser
from crmsync.connectors.dataverse_urls import DEFAULT_ALLOWED_HOSTS, OrgUrlError, org_root
from crmsync.connectors.dataverse_writes import BATCH_SIZE
from crmsync.models import ObjectType, Side

__all__ = [
    "ACCOUNT_COLUMNS",
    "BATCH_SIZE",
    "CONTACT_COLUMNS",
    "DEFAULT_ALLOWED_HOSTS",
    "MAX_PAGES",
    "PAGE_SIZE",
    "RECORD_NAMESPACE",
    "THROTTLE_CODES",
    "BatchPart",
    "DataverseConnector",
    "DataverseLeads",
    "DataverseUser",
    "DeltaExpired",
    "LeadClosed",
    "LeadDetails",
    "OrgUrlError",
    "QualifiedLead",
    "dataverse_error",
    "decode_batch",
    "encode_batch",
    "org_root",
    "record_guid",
    "split_name",
]


class DataverseConnector(DataverseLeads, DataverseFacts, DataverseNotes):
    """``Connector`` for one Dataverse environment (application user, client credentials)."""

    side = Side.CRM

    def ensure_setup(self) -> None:
        """``WhoAmI`` once per instance (see the module doc)."""
        if self._setup_done:
            return
        data = self._json(self._call("GET", self.url("WhoAmI")))
        user_id = str(data.get("UserId") or "").lower()
        configured = (self.application_user_id or "").lower()
        if configured and user_id and configured != user_id:
            raise AuthError(
                "the credentials belong to another application user than the connection names",
                code="application_user_mismatch",
            )
        self.application_user_id = self.application_user_id or user_id or None
        self._setup_done = True

    def merge(self, object_type: ObjectType, primary_id: str, merged_id: str) -> str:
        """Merge ``merged_id`` into ``primary_id`` (the ``Merge`` action; nothing is copied beyond what
        Dataverse moves itself); the survivor keeps its id, which is returned."""
        kind = f"Microsoft.Dynamics.CRM.{ENTITY_SET[object_type][:-1]}"
        key = PRIMARY_KEY[object_type]
        body = {
            "Target": {"@odata.type": kind, key: primary_id},
            "Subordinate": {"@odata.type": kind, key: merged_id},
            "PerformParentingChecks": False,
        }
        self._call("POST", self.url("Merge"), body=body)
        return primary_id

    def delete(self, object_type: ObjectType, external_id: str) -> None:
        """Delete one row; a missing row (404, or an id that cannot exist) counts as done."""
        if not is_guid(external_id):
            return
        try:
            self._call("DELETE", self.url(f"{ENTITY_SET[object_type]}({external_id})"))
        except NotFoundError:
            return
