"""HubSpot vendor constants: object types, default/searchable properties, association type ids, limits."""

from __future__ import annotations

OBJECT_TYPES = ("companies", "contacts")
TYPE_ALIASES = {
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
}
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2"}
SINGULAR = {"companies": "company", "contacts": "contact"}
LAST_MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}
DEFAULT_RETURNED = {"companies": ("name", "domain"), "contacts": ("firstname", "lastname", "email")}
SEARCHABLE = {
    "companies": ("name", "domain", "website", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
}
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
INDUSTRIES = (  # a subset of HubSpot's option list; enough for tests
    "ACCOUNTING",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "FINANCIAL_SERVICES",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "MANAGEMENT_CONSULTING",
    "RETAIL",
    "WHOLESALE",
)
# HUBSPOT_DEFINED association type ids: (from, to) -> (unlabeled, primary)
ASSOC_TYPES = {("contacts", "companies"): (279, 1), ("companies", "contacts"): (280, 2)}
ASSOC_LABELS = {1: "Primary", 2: "Primary"}
PROPERTY_TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")
FIELD_TYPES = (
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
)
FIELD_TYPES_BY_TYPE = {
    "bool": {"booleancheckbox", "radio", "select"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select"},
    "number": {"number", "calculation_equation"},
    "phone_number": {"phonenumber", "text"},
    "string": {"text", "textarea", "html", "file", "phonenumber"},
}
MAX_UNIQUE_PROPERTIES = 10
WORKER_IDLE_S = 0.5  # the webhook thread exits after this long with nothing to deliver
BATCH_LIMIT = 100
SEARCH_MAX_LIMIT = 200
LIST_MAX_LIMIT = 100
ASSOC_PAGE_LIMIT = 500
SEARCH_FILTER_GROUPS = 5
SEARCH_FILTERS_PER_GROUP = 6
SEARCH_FILTERS_TOTAL = 18
SEARCH_QUERY_MAX = 3000
SEARCH_OPERATORS = (
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)
KB_LINK = {"knowledge-base": "https://www.hubspot.com/products/service/knowledge-base"}
# Notes, owners and the company hierarchy (hubspot-accounting-facts-and-journal.md sections 2 and 4).
# 13/14: HubSpot changelog 2018-09-11 "Parent <-> Child Associations via API". 190 (note -> company),
# 189 (company -> note) and 450 (unlabeled company <-> company): HubSpot's v4 default-type table as
# copied by public client code (not in the OpenAPI specs; VERIFY with GET /crm/v4/associations/.../labels).
NOTE_TO_COMPANY = 190
COMPANY_TO_NOTE = 189
PARENT_TO_CHILD = 13
CHILD_TO_PARENT = 14
COMPANY_TO_COMPANY = 450
HIERARCHY_LABELS = {PARENT_TO_CHILD: "Child Company", CHILD_TO_PARENT: "Parent Company"}  # VERIFY
NOTE_TYPE_ALIASES = {"notes": "notes", "note": "notes", "0-46": "notes"}
NOTE_BODY_MAX = 65_536
NOTE_PROPERTIES = ("hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_attachment_ids")
NOTE_READ_ONLY = ("hs_object_id", "hs_createdate", "hs_lastmodifieddate")
OWNERS_PAGE_MAX = 500
