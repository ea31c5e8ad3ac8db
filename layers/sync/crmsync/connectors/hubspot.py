"""HubSpot CRM connector: companies <-> canonical customers, contacts <-> canonical contacts.

Decisions (and why):

- **Creates are upserts.** crmsync writes its record id into ``crmsync_record_id``, a custom property with
  ``hasUniqueValue=true`` on companies and contacts, and creates through ``batch/upsert`` with
  ``idProperty=crmsync_record_id``. A retried, replayed or concurrent create therefore updates the record
  the first attempt made instead of duplicating it (HubSpot refuses a second record with the same value).
  Reads return it as ``SourceRecord.record_id``: the worker then reads that record without its link
  item, after checking that the record's link names this object (a person can edit the value).
- **Custom properties** live in a property group ``crmsync`` created by ``ensure_setup()``: accounting-only
  fields (customer number, corporate id, VAT number, e-mail, currency, group, payment terms, VAT zone,
  barred, external number) have no standard company property. ``account_manager`` is the standard
  ``hubspot_owner_id`` (the owner id as HubSpot stores it; an empty value removes the owner).
  ``ensure_setup`` lists the properties first and creates only what is missing, and is cached per
  instance, so calling it per invocation costs nothing after the first.
- **website <-> website only; ``domain`` is never written.** ``domain`` is HubSpot's de-duplication and
  auto-association key; deriving it would make crmsync trigger merges/auto-associations nobody asked for,
  and a derived field would show up as a change of its own on the next read. HubSpot users keep ``domain``.
- **Contact name** = ``firstname + " " + lastname``; writes split on the *last* space ("Anna Marie Jensen"
  -> "Anna Marie" / "Jensen"; a single word goes to ``firstname`` and clears ``lastname``).
  ``notes`` and the canonical ``customer`` field are not stored: the customer link is
  ``parent_external_id``, the contact's primary company (else its first company).
- **Contact -> company link.** A new contact whose company is known is created through ``batch/create``
  with the association inline (types 279 unlabeled + 1 Primary) and ``crmsync_record_id`` among its
  properties: one call per 100 contacts, where an upsert and an association batch take two. Create is
  not an upsert, so whatever that call does not create (HubSpot refuses the batch, e.g. with a 409 because
  an earlier attempt did land and the record id is a unique value; or an input fails) takes the upsert
  path: the spec's upsert input has no ``associations``, so after the upsert the connector creates the
  association through v4 ``batch/create`` with types 279 (unlabeled) + 1 (Primary).
  On updates whose ``parent_external_id`` differs from the current primary company, the new company is
  associated as primary first and the old primary association is then archived (never parentless).
- **Writes** are batched by 100 (ids unique per batch, as HubSpot requires). Per-input
  ``objectWriteTraceId`` (= crmsync record id) ties 207 errors and results back to items (the create
  input has no trace id: its results are tied back by ``crmsync_record_id``); a whole-batch
  400 is bisected to isolate the bad item. Every item gets a result; only ``AuthError`` propagates. The
  returned ``record`` is built from the batch response alone: HubSpot echoes the written properties plus
  its defaults, so ``record.fields`` holds the fields that response covers.
- **changed_since** uses the search API on ``hs_lastmodifieddate`` (companies) / ``lastmodifieddate``
  (contacts), ascending, 200 per page, with *keyset* paging: every page is a new window ``GTE`` the last
  timestamp seen (ids already yielded at that timestamp are skipped), so the 10,000-result cap (paging
  past it is a 400) is never reached and a record modified mid-scan cannot shift an offset and be skipped.
  A full page that shares one timestamp switches to ``EQ timestamp AND hs_object_id GT last id``, sorted
  by id, then continues ``GT timestamp``. HubSpot's search is eventually consistent: callers overlap windows.
- **Errors** (crm-apis.md A8/A9): 401/403 AuthError, 404 NotFoundError, 400 VendorRefusedError, 409
  ConflictError (not retryable: HubSpot has no version tokens, a 409 is a unique-value clash), 429
  RateLimitedError, 423/477/5xx TransientError; request id from ``X-HubSpot-Correlation-Id`` or the body.
- **429 waits.** HubSpot does not document ``Retry-After`` and ``VendorHttp`` honours only that header, so
  the request's ``httpx.Auth`` (which also adds the bearer token) fills it in on 429s that lack it:
  ``TEN_SECONDLY_ROLLING`` -> ``X-HubSpot-RateLimit-Interval-Milliseconds`` (default 10 s, as HubSpot's
  SDK waits), the search API's secondly limit -> 1 s, ``DAILY`` -> none (no retry helps today).
- HubSpot has no concurrency token: ``SourceRecord.version`` is None and ``WriteItem.version`` is ignored.
- **Private or public app.** A private app's secret holds ``access_token``; a public app's holds
  ``refresh_token``, ``client_id`` and ``client_secret`` and the connector gets ``auth=RefreshTokenAuth(...)``
  (``crmsync.connectors.oauth``): 30-minute access tokens from ``POST /oauth/v1/token``, renewed ahead of
  ``expires_in`` by one instance for all (the tenant's token cache, keyed by connection, environment and
  a fingerprint of the credentials), never written anywhere but that cache. ``HubSpotAuth`` wraps either and
  still fills in 429 waits. A refused refresh (``BAD_REFRESH_TOKEN``: the app was uninstalled) is an
  ``AuthError``, so the connection is marked ``needs_attention`` like a revoked private-app token.
- **A rotated refresh token is kept in memory only.** HubSpot documents that refresh tokens do not rotate
  (the grant answers the same one). Should an answer carry another one, the auth uses it from then on and
  logs a warning naming the connection, not the token (``refresh_token_rotated``); it is *not* written back
  to the connection's secret: that needs ``secretsmanager:PutSecretValue`` in every role that syncs, which
  least privilege forbids for a behaviour HubSpot says does not happen. If HubSpot ever starts rotating,
  other instances (and this one after a cold start) still hold the old token and the refresh fails with an
  ``AuthError``: the connection shows ``needs_attention`` and a person re-authorises it, nothing is lost.

Layout: this module holds ``HubSpotConnector`` (``write`` orchestration, merge, delete); its other
methods come from one mixin per concern: ``hubspot_client`` (HTTP plumbing), ``hubspot_errors``
(error mapping, 429 waits), ``hubspot_mapping`` (fields <-> properties), ``hubspot_setup`` (custom
properties), ``hubspot_reads``, ``hubspot_search`` (``changed_since``), ``hubspot_associations``
(primary company) and ``hubspot_writes`` (batches and their results). Their public names are
re-exported here.
"""

from __future__ import annotations

from crmsync.connectors.base import NotFoundError, WriteItem, WriteResult
from crmsync.connectors.hubspot_associations import (
    CONTACT_TO_COMPANY,
    CONTACT_TO_COMPANY_PRIMARY,
    PRIMARY_COMPANY,
)
from crmsync.connectors.hubspot_client import BATCH_SIZE, HubSpotClient, refresh_token_rotated
from crmsync.connectors.hubspot_errors import (
    DEFAULT_ROLLING_WAIT,
    RETRYABLE_CATEGORIES,
    SECONDLY_WAIT,
    HubSpotAuth,
    fill_retry_after,
    hubspot_error,
    rate_limit_wait,
)
from crmsync.connectors.hubspot_facts import HubSpotFacts
from crmsync.connectors.hubspot_journal import HubSpotJournal
from crmsync.connectors.hubspot_mapping import (
    BOOL_FIELDS,
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    HS_TYPE,
    LAST_MODIFIED,
    RECORD_ID_PROPERTY,
    parse_time,
    split_name,
)
from crmsync.connectors.hubspot_reads import ASSOC_PAGE, LIST_PAGE
from crmsync.connectors.hubspot_search import SEARCH_PAGE, HubSpotSearch
from crmsync.connectors.hubspot_setup import CUSTOM_PROPERTIES, GROUP_NAME, CustomProperty, HubSpotSetup
from crmsync.connectors.hubspot_writes import HubSpotWrites, _chunks
from crmsync.models import ObjectType, Side

__all__ = [
    "ASSOC_PAGE",
    "BATCH_SIZE",
    "BOOL_FIELDS",
    "COMPANY_PROPERTIES",
    "CONTACT_PROPERTIES",
    "CONTACT_TO_COMPANY",
    "CONTACT_TO_COMPANY_PRIMARY",
    "CUSTOM_PROPERTIES",
    "DEFAULT_ROLLING_WAIT",
    "GROUP_NAME",
    "HS_TYPE",
    "LAST_MODIFIED",
    "LIST_PAGE",
    "PRIMARY_COMPANY",
    "RECORD_ID_PROPERTY",
    "RETRYABLE_CATEGORIES",
    "SEARCH_PAGE",
    "SECONDLY_WAIT",
    "CustomProperty",
    "HubSpotAuth",
    "HubSpotClient",
    "HubSpotConnector",
    "fill_retry_after",
    "hubspot_error",
    "parse_time",
    "rate_limit_wait",
    "refresh_token_rotated",
    "split_name",
]


class HubSpotConnector(HubSpotSearch, HubSpotWrites, HubSpotFacts, HubSpotSetup, HubSpotJournal):
    """``Connector`` for one HubSpot portal (private-app or OAuth access token)."""

    side = Side.CRM

    def merge(self, object_type: ObjectType, primary_id: str, merged_id: str) -> str:
        """Merge ``merged_id`` into ``primary_id`` (HubSpot keeps the primary; associations move to it)."""
        body, _ = self._post(
            f"/crm/v3/objects/{HS_TYPE[object_type]}/merge",
            {"primaryObjectId": primary_id, "objectIdToMerge": merged_id},
        )
        return str(body.get("id", primary_id))

    def delete(self, object_type: ObjectType, external_id: str) -> None:
        """Archive a company or contact (HubSpot's delete; restorable for 90 days); gone counts as done."""
        try:
            self._call("DELETE", f"/crm/v3/objects/{HS_TYPE[object_type]}/{external_id}")
        except NotFoundError:
            return

    def write(self, object_type: ObjectType, items: list[WriteItem]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        created: set[str] = set()  # external ids HubSpot reported as new (no associations to read)
        linked: set[int] = set()  # items created with their company association inline
        creates = [(i, it) for i, it in enumerate(items) if it.external_id is None]
        updates = [(i, it) for i, it in enumerate(items) if it.external_id is not None]
        updates = self._drop_stale(object_type, updates, results)
        if object_type is ObjectType.CONTACT:
            with_parent = [(i, it) for i, it in creates if it.parent_external_id]
            creates = [(i, it) for i, it in creates if not it.parent_external_id]
            for batch in _chunks(with_parent, lambda it: (it.record_id,)):
                creates += self._create_with_parent(batch, results, linked)
        for batch in _chunks(creates, lambda it: (it.record_id,)):
            self._write_batch(object_type, "upsert", batch, results, created)
        for batch in _chunks(updates, lambda it: (it.record_id, f"id:{it.external_id}")):
            self._write_batch(object_type, "update", batch, results, created)
        if object_type is ObjectType.CONTACT:
            self._link_parents(items, results, created, skip=linked)
        return [results[i] for i in range(len(items))]
