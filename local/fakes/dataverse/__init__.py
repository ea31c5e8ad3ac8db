"""A faithful in-memory fake of the Microsoft Dataverse (Dynamics 365) Web API v9.2.

Why: crmsync's Dataverse connector, its tests and the local stack need a Dataverse that behaves like the
real one on every point the sync depends on (204 + ``OData-EntityId`` on create, weak etags from
``versionnumber``, conditional PATCH/upsert, alternate keys only when defined, 5,000-row pages with opaque
skiptokens, change tracking with deleted rows and token expiry, atomic ``$batch`` change sets, service
protection 429s, QualifyLead, client-credentials tokens, webhook ``RemoteExecutionContext`` posts) without
an environment or network. Facts: ``/work/shared/reference/next/dataverse-web-api.md`` and the official
pages listed in ``vendor-specs/dataverse/PROVENANCE.md``; column limits come from
``vendor-specs/dataverse/columns.json``. Where Microsoft documents nothing the fake picks a plausible
behaviour, marked *assumption* below, so a test never silently relies on it.

Use in-process (``httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=fake.org_url)``) or on
a port (``server, base_url = fake.serve()``). Paths: ``POST /<tenant>/oauth2/v2.0/token``;
``/api/data/v9.2/{accounts|contacts|leads|systemusers}[(<key>)]``, ``leads(<id>)/Microsoft.Dynamics.CRM.
QualifyLead``, ``<set>(<id>)/<nav>/$ref`` (DELETE), ``$batch``, ``WhoAmI``, ``$metadata`` (tiny CSDL).
Test control (no auth): ``GET /_fake/stats``, ``POST /_fake/reset``, ``GET|PUT /_fake/faults``,
``POST /_fake/seed/<table>``, ``PATCH /_fake/person_edit/<table>/<id>``, ``GET /_fake/rows/<table>``,
``POST /_fake/flush_webhooks``.

Assumptions (not documented by Microsoft, or not verifiable from the public sources):

- A POST whose body carries an existing primary key answers 412 ``0x80040237`` "Cannot insert duplicate
  key." (the code/message are Dataverse's DuplicateRecord fault; the HTTP status is not documented).
- An expired delta token answers 400 (``TrackingMixin.delta_expired_status``) with the documented message
  "Version stamp associated with the client has expired. Please perform a full sync."; the code is made up.
- Error hex codes other than 0x80044331 (MaxLength), 0x80040217 (does not exist) and the three service
  protection codes are plausible Dataverse codes, not checked against a live org; clients should branch on
  status and message, not code. Message wording for unknown properties ("Invalid property 'x' was found in
  entity 'Microsoft.Dynamics.CRM.account'."), statecode on create, invalid state/status pairs, ``$skip``
  (400 "not supported") and >1000 batch parts is made up; the status is what Dataverse does.
- ApplicationRequired columns (account ``name``, lead ``subject``) are not enforced: RequiredLevel
  ApplicationRequired is enforced by forms, not by the platform (documented); SystemRequired ones are set by
  the fake itself (owner, state).
- Read-only columns sent in a body (``createdon``, ``fullname``, ``versionnumber``...) are ignored.
- ``fullname`` is "firstname lastname" (the org's full-name format setting is not modelled).
- One version counter per org (starting at 1001); a delete consumes a version too. Change-tracking pages
  carry the snapshot version in the skiptoken; a delta answers all changes at once (not paged).
- A ``$skiptoken`` the fake cannot read as its paging cookie is a 400 (wording made up): Dataverse's
  cookies are opaque, and a client must never edit one.
- Without ``$select`` every documented column of the fact sheet is returned, unset ones as ``null``.
- ``$top`` is ignored when ``Prefer: odata.maxpagesize`` is sent (as documented); ``$orderby`` sorts nulls first.
- Service protection: each request costs ``execution_ms_per_request`` (default 20 ms) of execution time; a
  ``$batch`` counts one request per part; the concurrency 429 carries ``Retry-After: 1``. Limits are per user.
- 401s (missing, unknown or expired token) have an empty body and a ``WWW-Authenticate: Bearer
  authorization_uri=..., resource_id=...`` header. ``OData-Version`` headers are not required on requests.
- Token endpoint errors use Entra ID's body shape; AADSTS numbers for wrong scope/tenant are plausible.
- QualifyLead: ``CreateOpportunity=true`` is rejected (opportunities are not modelled); duplicate detection
  is not modelled; telephone1 is not copied (it is not in XrmMockup's mapping list); the result context is
  ``#Collection(mscrm.crmbaseentity)``.
- Webhooks are delivered synchronously after the write's request commits (real: asynchronous), unless
  ``fake.hold_webhooks = True`` (then ``fake.flush_webhooks()``). Events of a rolled-back change set are
  dropped. ``Depth`` is always 1; ``ParentContext`` is null; the size-exceeded header value is "true".
  Auth: ``("header", {"name": "value"})`` adds headers, ``("code", key)`` appends ``?code=key``.
- ``fake.person_edit/person_create/person_delete`` act as a person (``fake.person_user_id``) editing in the
  Dynamics UI, so their webhooks carry that ``UserId`` instead of the application user's.

Package layout: ``fake`` (``DataverseFake``: state, seeding, person edits, serving); ``app`` (WSGI, auth
gate, faults, routing, ``/_fake``); ``auth`` (token endpoint); ``ratelimit``; ``records`` (validation and
the write core); ``crud`` (row endpoints, paging); ``filters`` ($filter subset); ``odata`` (requests,
keys, rendering); ``tracking`` (delta links); ``batch``; ``actions`` (QualifyLead, WhoAmI, $metadata);
``webhooks``; ``entities`` (column facts); ``errors``; ``faults``.
"""

from local.fakes.dataverse.entities import TABLES, Column, Table, load_tables
from local.fakes.dataverse.errors import ApiError
from local.fakes.dataverse.fake import PERSON_USER_ID, DataverseFake
from local.fakes.dataverse.faults import DataverseFaults
from local.fakes.dataverse.tracking import EXPIRED_MESSAGE
from local.fakes.dataverse.webhooks import WebhookRegistration

__all__ = [
    "EXPIRED_MESSAGE",
    "PERSON_USER_ID",
    "TABLES",
    "ApiError",
    "Column",
    "DataverseFake",
    "DataverseFaults",
    "Table",
    "WebhookRegistration",
    "load_tables",
]
