"""All DynamoDB access (one table). Nothing outside this package sees boto3 types.

One module per item family, each a repository over the shared ``table.Table`` (client, table name,
``_call`` / ``_get`` / ``_query`` / batch helpers); ``SyncStore`` (``sync_store``) composes them.
Item layout (every partition key starts with the tenant, so no query can cross tenants):

| item        | PK            | SK                                        | module              |
|-------------|---------------|-------------------------------------------|---------------------|
| config      | TENANT#t      | CONFIG                                    | config              |
| tenant list | TENANTS       | TENANT#t                                  | config              |
| api token   | TOKEN#<hash>  | TOKEN (tenant, id, name, times; TTL)      | config              |
| token list  | TENANT#t      | TOKEN#<token id> (hash, name, times; TTL) | config              |
| record      | TENANT#t      | REC#<object>#<record id>                  | records             |
| link        | TENANT#t      | LINK#<connection>#<object>#<external id>  | records             |
| child index | TENANT#t      | CHILD#<customer record>#<contact record>  | records             |
| journal     | TENANT#t#LOG#<record id> | LOG#<time>#<n> or LOG#v<version> (a page) (TTL) | timeline |
| conflict    | TENANT#t      | CONFLICT#<record id>.<field>.<open|time>  | conflicts           |
| parked      | TENANT#t      | PARKED#<record id>.<connection> or <time> | parking             |
| pending del | TENANT#t      | DELETE#<record id>                        | deletes             |
| job         | TENANT#t      | JOB#<job id>, JOB#<job id>#PAGE#<page>    | jobs                |
| rate budget | TENANT#t#<connection>#BUDGET | d<day>: day, window, previous window (TTL) | budget     |
| delete guard| TENANT#t#DELETES#BUDGET | h<hour> (TTL)                      | budget              |
| api limit   | TENANT#t#API#BUDGET | d<day>: like the rate budget (``request_quota``) | budget     |
| checkpoint  | TENANT#t      | CKPT#<connection>#<object>                | checkpoints         |
| delta link  | TENANT#t      | CKPT#<connection>#<object>#DELTA (``data``) | checkpoints       |
| conn state  | TENANT#t      | CONNSTATE#<connection>                    | connection_states   |
| oauth token | TENANT#t      | OAUTH#<connection>#<environment> (TTL)    | tokens_cache        |
| facts       | TENANT#t      | FACTS#<record id>, FACTSRUN               | facts               |
| drift       | TENANT#t      | DRIFT, DRIFTRUN                           | drift               |
| manager map | TENANT#t      | AMMAP (``data``, ``pairs``)               | account_managers    |

A record item also carries its newest timeline entries (``log``, see ``LOG_IN_RECORD``).
Records carry an integer ``version`` written with a condition (optimistic locking); links are
created with ``attribute_not_exists`` so one external record can only ever link to one record.
Model payloads are stored as one JSON attribute ``data``: the table never needs to query inside
them, and the stream consumer decodes the same JSON. A record's JSON (and its timeline entries) is
stored zlib-compressed as binary (``pack``): writes and reads are billed per KB.

Everything callers use is importable from ``crmsync.store`` itself.
"""

from crmsync.items import FieldChange, TimelineEntry
from crmsync.store.config import TOKEN_TTL_AFTER_EXPIRY
from crmsync.store.conflicts import CONFLICT_TTL
from crmsync.store.records import UNCHANGED, link_sk
from crmsync.store.sync_store import SyncStore
from crmsync.store.table import (
    BATCH_GET_MAX,
    BATCH_WRITE_MAX,
    MAX_UNPROCESSED_ROUNDS,
    ORIGIN_BASE,
    ORIGIN_SYNC,
    LinkTaken,
    StoreError,
    VersionConflict,
    new_record_id,
    object_type_of,
    pack,
    record_from_image,
    record_sk,
    tenant_pk,
    unpack,
)
from crmsync.store.timeline import JOURNAL_TTL, LOG_IN_RECORD, journal_pk

__all__ = [
    "BATCH_GET_MAX",
    "BATCH_WRITE_MAX",
    "CONFLICT_TTL",
    "JOURNAL_TTL",
    "LOG_IN_RECORD",
    "MAX_UNPROCESSED_ROUNDS",
    "ORIGIN_BASE",
    "ORIGIN_SYNC",
    "TOKEN_TTL_AFTER_EXPIRY",
    "UNCHANGED",
    "FieldChange",
    "LinkTaken",
    "StoreError",
    "SyncStore",
    "TimelineEntry",
    "VersionConflict",
    "journal_pk",
    "link_sk",
    "new_record_id",
    "object_type_of",
    "pack",
    "record_from_image",
    "record_sk",
    "tenant_pk",
    "unpack",
]
