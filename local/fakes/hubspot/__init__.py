"""A faithful in-memory fake of the HubSpot CRM API (companies, contacts, associations, properties, webhooks).

Why: crmsync's HubSpot connector, the engine tests and the local demo need a HubSpot that behaves like
the real one on every point the sync depends on (all-string properties, batch 207s, upsert by unique
property, the search 10,000-result cap, rate limits and their 429 bodies, webhook batches signed v3),
without an account or network. Facts come from ``vendor-specs/crm-apis.md`` section A and the
official OpenAPI specs; where HubSpot documents nothing the fake picks a plausible behaviour and says so
below (marked *assumption*), so a test never silently relies on it.

Use in-process (``httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=...)``) or on a
port (``server, base_url = fake.serve()``). Paths are exactly those of ``https://api.hubapi.com``:

- ``/crm/v3/objects/{companies|contacts}``: list, create, get/patch/delete by id (``idProperty``),
  ``batch/read|create|update|upsert|archive``, ``search``, ``merge``.
- ``/crm/v4/associations/{from}/{to}/batch/read|create|associate/default|archive``,
  ``/crm/v4/objects/{type}/{id}/associations/{toType}[/{toId}]`` and ``.../associations/default/...``.
- ``/crm/v3/properties/{objectType}`` (list, create, ``batch/create``, get by name, groups list/create/get).
- ``/crm/v3/objects/notes`` (create, ``batch/create``, get by id; note -> company type 190) and the v4
  association reads companies <-> notes (``notes``); ``/crm/v3/owners`` (``owners``, ``add_owner``);
  company <-> company associations 13/14/450 (``hierarchy``, ``set_parent_company``).
- ``/oauth/v1/token``: a public app's refresh-token grant; the access tokens it issues (30 minutes) are
  accepted next to the private-app token, an expired one is a 401 ``EXPIRED_AUTHENTICATION`` (``oauth``).
- Test control (no auth, not counted): ``GET /_fake/stats``, ``POST /_fake/reset``,
  ``GET|PUT /_fake/faults`` (PUT a JSON object of ``Faults`` fields; omitted ones are off).

Assumptions (not documented by HubSpot, see crm-apis.md section C):

- GET list ``limit`` above 100 is clamped to 100; the list cursor is the next record id.
- A 429 carries no ``Retry-After`` (HubSpot documents none for API calls, so clients must not rely on
  it); ``send_retry_after=True`` adds one (seconds) for clients that want to test that path. A
  ``TEN_SECONDLY_ROLLING`` 429 carries the ``X-HubSpot-RateLimit-*`` headers with ``Remaining: 0``.
- The search limiter (5/s) is separate from the 10-second/daily limiter and its 429 has
  ``policyName: "SECONDLY"``. The associations API shares the objects' limiter.
- Search 400 texts (paging past 10,000, too many filters) are made up; the category is documented.
- Search is eventually consistent: a created, changed, merged or deleted record shows in search results
  (with its new values) only ``search_index_lag_s`` seconds (default 2) after the write; until then search
  answers from the record's previous indexed state (a new record is missing, a deleted one still found).
  The lag length is an assumption (HubSpot documents only that search is not immediate); ``seed()`` rows
  count as indexed at once. GET/batch reads are never stale.
- Filter limits follow the Jan-2025 docs: 5 groups, 6 filters per group, 18 filters in total.
- Write responses (PATCH, batch update/upsert/create) return the written properties plus the default
  ones, not every property of the record. ``lastmodifieddate`` moves only when a value really changes.
- Moving ``lifecyclestage`` backward is a 400 ``VALIDATION_ERROR`` (the docs say it is not allowed).
- A unique-value clash on write is a 409 ``CONFLICT`` (207 error in batches); a duplicate id in one
  batch update/upsert is a 400 for the whole batch.
- Associating a contact with a company when it has no primary company also makes it primary
  (typeIds 1/2 next to the unlabeled 279/280), as the UI does. ``associatedcompanyid`` is kept read-only.
- Webhooks: ``propertyChange`` subscriptions with ``property_name=None`` mean "every property" (real
  HubSpot needs one subscription per property). Creations also emit ``propertyChange`` for the values
  set. API writes carry ``changeSource: "INTEGRATION"``; ``edit()`` carries ``"CRM_UI"``.
  ``changeFlag`` is sent on creation (``NEW``), deletion (``DELETED``) and merge (``MERGED``) events.
  Failed deliveries are retried ``webhook_max_attempts`` times after ``webhook_retry_delay * attempt``
  seconds (HubSpot: 10 times over 24 h), each attempt with a fresh timestamp and signature.
- A merge answers (as HubSpot's does) with the combined record under a new id (the webhook's
  ``newObjectId``); the event's ``objectId`` stays the primary's old id and every old id reads as the new
  record (GET answers with the new id). ``merge_new_id=False``: the primary keeps its id.

Package layout (one module per resource/concern; ``HubSpotFake`` combines the mixins):

- ``fake``: ``HubSpotFake`` (state, configuration, Python test control, serving); ``app``: WSGI routing,
  auth, injected faults, dispatch and ``/_fake``; ``oauth``: the token endpoint and its access tokens;
  ``ratelimit``: the 10-second, daily and search limits;
  ``records``: validation, unique values, create/update/archive; ``objects``: serialization, CRUD and
  batch endpoints; ``search``: search with indexing lag; ``merges``; ``associations``; ``hierarchy`` (company <-> company
and note association reads); ``notes``; ``owners``; ``properties``:
  definitions and their endpoints; ``webhooks``: subscriptions, events, signed delivery; ``spec``: OpenAPI
  validation; ``faults``, ``model``, ``constants``, ``helpers``; ``cli``/``__main__``: ``python -m
  local.fakes.hubspot``.
"""

from local.fakes.hubspot.cli import (
    main,
)
from local.fakes.hubspot.constants import (
    ASSOC_LABELS,
    ASSOC_PAGE_LIMIT,
    ASSOC_TYPES,
    BATCH_LIMIT,
    DEFAULT_RETURNED,
    FIELD_TYPES,
    FIELD_TYPES_BY_TYPE,
    INDUSTRIES,
    KB_LINK,
    LAST_MODIFIED,
    LIFECYCLE_STAGES,
    LIST_MAX_LIMIT,
    MAX_UNIQUE_PROPERTIES,
    OBJECT_TYPE_IDS,
    OBJECT_TYPES,
    PROPERTY_TYPES,
    SEARCH_FILTER_GROUPS,
    SEARCH_FILTERS_PER_GROUP,
    SEARCH_FILTERS_TOTAL,
    SEARCH_MAX_LIMIT,
    SEARCH_OPERATORS,
    SEARCH_QUERY_MAX,
    SEARCHABLE,
    SINGULAR,
    TYPE_ALIASES,
    WORKER_IDLE_S,
)
from local.fakes.hubspot.fake import (
    HubSpotFake,
)
from local.fakes.hubspot.faults import (
    Faults,
)
from local.fakes.hubspot.helpers import (
    ApiError,
    PropertyProblem,
    error_body,
    iso_ms,
    sign_v1,
    sign_v3,
    to_ms,
)
from local.fakes.hubspot.helpers import (
    _bad as _bad,
)
from local.fakes.hubspot.helpers import (
    _err as _err,
)
from local.fakes.hubspot.model import (
    DEFAULT_SUBSCRIPTIONS,
    NOT_SUBSCRIBABLE,
    Delivery,
    StoredObject,
    Subscription,
)
from local.fakes.hubspot.oauth import (
    OAuthSpecValidator,
)
from local.fakes.hubspot.properties import (
    default_groups,
    default_properties,
)
from local.fakes.hubspot.spec import (
    SpecValidator,
    find_spec_dir,
)

__all__ = [
    "ASSOC_LABELS",
    "ASSOC_PAGE_LIMIT",
    "ASSOC_TYPES",
    "BATCH_LIMIT",
    "DEFAULT_RETURNED",
    "DEFAULT_SUBSCRIPTIONS",
    "FIELD_TYPES",
    "FIELD_TYPES_BY_TYPE",
    "INDUSTRIES",
    "KB_LINK",
    "LAST_MODIFIED",
    "LIFECYCLE_STAGES",
    "LIST_MAX_LIMIT",
    "MAX_UNIQUE_PROPERTIES",
    "NOT_SUBSCRIBABLE",
    "OBJECT_TYPES",
    "OBJECT_TYPE_IDS",
    "PROPERTY_TYPES",
    "SEARCHABLE",
    "SEARCH_FILTERS_PER_GROUP",
    "SEARCH_FILTERS_TOTAL",
    "SEARCH_FILTER_GROUPS",
    "SEARCH_MAX_LIMIT",
    "SEARCH_OPERATORS",
    "SEARCH_QUERY_MAX",
    "SINGULAR",
    "TYPE_ALIASES",
    "WORKER_IDLE_S",
    "ApiError",
    "Delivery",
    "Faults",
    "HubSpotFake",
    "OAuthSpecValidator",
    "PropertyProblem",
    "SpecValidator",
    "StoredObject",
    "Subscription",
    "default_groups",
    "default_properties",
    "error_body",
    "find_spec_dir",
    "iso_ms",
    "main",
    "sign_v1",
    "sign_v3",
    "to_ms",
]
