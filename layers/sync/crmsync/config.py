"""Per-tenant configuration, stored in the table (``TENANT#t`` / ``CONFIG``) and edited via the API.

Vendor base URLs are deliberately *not* tenant settings: letting an API caller point a connection
at any host would send that tenant's credentials there. They come from the deployment settings. The
one exception is a Dynamics org URL (every organisation has its own host): it is checked against the
deployment's allow-list of Dataverse hosts when the connector is built (``connectors.dataverse_urls``),
and the Entra ID login URL, to which the client secret is sent, stays a deployment setting.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from crmsync import text_rules
from crmsync.budget import BudgetLimits, default_limits
from crmsync.connectors.dataverse_facts import FACT_COLUMN_NAMES
from crmsync.connectors.dataverse_mapping import CUSTOM_COLUMN, DATAVERSE_STANDARD_FIELDS
from crmsync.errors import UnknownConnection
from crmsync.facts import FactsSettings
from crmsync.journal_settings import JournalSettings
from crmsync.models import (
    CUSTOMER_FIELDS,
    ConnectionKind,
    DeletePolicy,
    Environment,
    ObjectType,
    Side,
    SyncMode,
)
from crmsync.policy import FieldPolicy
from crmsync.value_maps import MAPPABLE_FIELDS, ValueMap, checked_pairs

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
# The scheduled pull re-reads this far behind its checkpoint. HubSpot's search is eventually
# consistent (a write shows in search only after an indexing lag; the fake models 2 s), so a smaller
# overlap could step past changes not yet indexed when the previous run read: they would never be seen.
MIN_LOOKBACK_SECONDS = 30


class AccountingDefaults(BaseModel):
    """Refs e-conomic requires on every new customer (customer group, payment terms, VAT zone, currency).

    Each must be a valid value of its field (``crmsync.text_rules``: a reference number 1..999999999, an
    ISO 4217 code, stored upper case); ``layout`` (no canonical field) is a reference number too.
    """

    model_config = ConfigDict(extra="forbid")

    customer_group: int = Field(default=1, ge=1)
    payment_terms: int = Field(default=1, ge=1)
    vat_zone: int = Field(default=1, ge=1)
    currency: str = Field(default="DKK", min_length=3, max_length=3)
    layout: int | None = Field(default=None, ge=1, le=text_rules.REFERENCE_MAX)

    @field_validator("customer_group", "payment_terms", "vat_zone", "currency", mode="after")
    @classmethod
    def _valid_value(cls, value: int | str, info: ValidationInfo) -> int | str:
        field = str(info.field_name)
        reasons = text_rules.problems(ObjectType.CUSTOMER, field, str(value))
        if reasons:
            raise ValueError(f"accounting_defaults.{field}: {'; '.join(reasons)}")
        return str(text_rules.clean(ObjectType.CUSTOMER, field, value)) if isinstance(value, str) else value


class DynamicsSettings(BaseModel):
    """Where a Dynamics 365 connection's organisation lives, and crmsync's application user there."""

    model_config = ConfigDict(extra="forbid")

    org_url: str = Field(
        min_length=8,
        max_length=300,
        pattern=r"^https?://[^\s]+$",
        description="the organisation's URL, e.g. https://contoso.crm4.dynamics.com (an old "
        ".../XRMServices/2011/OrganizationData.svc URL is accepted); its host must be on the "
        "deployment's allow-list",
    )
    application_user_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$",
        description="crmsync's application user (learnt from WhoAmI when empty): its own writes are "
        "recognised in webhooks by it",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="customer field -> a column the organisation added to accounts for it (e.g. "
        '{"customer_group": "new_customergroup"}): the accounting fields Dataverse has no standard '
        "column for (customer group, payment terms, currency, VAT zone, barred, ...)",
    )

    fact_columns: dict[str, str] = Field(
        default_factory=dict,
        description="accounting fact -> a column the organisation added to accounts for it (e.g. "
        '{"open_balance": "new_openbalance"}; types in docs/dynamics.md): where facts are shown',
    )

    @field_validator("fact_columns")
    @classmethod
    def _fact_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        for fact, column in columns.items():
            if fact not in FACT_COLUMN_NAMES:
                raise ValueError(f"{fact!r} is not an accounting fact: {sorted(FACT_COLUMN_NAMES)}")
            if not CUSTOM_COLUMN.fullmatch(column):
                raise ValueError(
                    f"{column!r} is not a custom column's logical name (prefix_name, lower case)"
                )
        if len(set(columns.values())) != len(columns):
            raise ValueError("one column per fact")
        return columns

    @model_validator(mode="after")
    def _columns_apart(self) -> DynamicsSettings:
        shared = sorted(set(self.columns.values()) & set(self.fact_columns.values()))
        if shared:
            raise ValueError(f"a column holds either a customer field or a fact, not both: {shared}")
        return self

    @field_validator("columns")
    @classmethod
    def _custom_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        own = set(CUSTOMER_FIELDS) - DATAVERSE_STANDARD_FIELDS
        for field, column in columns.items():
            if field not in own:
                raise ValueError(f"{field!r}: only fields without a standard account column: {sorted(own)}")
            if not CUSTOM_COLUMN.fullmatch(column):
                raise ValueError(
                    f"{column!r} is not a custom column's logical name (prefix_name, lower case)"
                )
        if len(set(columns.values())) != len(columns):
            raise ValueError("one column per field")
        return columns


class TransferTiming(StrEnum):
    """When a new CRM company is created in accounting (automatic mode)."""

    ON_CREATE = "on_create"
    ON_CUSTOMER_STAGE = "on_customer_stage"


class ConnectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=ID_PATTERN)
    kind: ConnectionKind
    accounting_defaults: AccountingDefaults | None = None
    hubspot_portal_id: int | None = Field(
        default=None, description="when set, HubSpot webhooks from another portal are rejected"
    )
    rate_budget: BudgetLimits | None = Field(
        default=None, description="the vendor's limits for this account (default: the vendor's smallest tier)"
    )
    dynamics: DynamicsSettings | None = Field(
        default=None, description="required for a `dynamics` connection"
    )

    @property
    def side(self) -> Side:
        return self.kind.side

    def limits(self) -> BudgetLimits:
        return self.rate_budget or default_limits(self.kind.value)


class TenantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(pattern=ID_PATTERN)
    sync_mode: SyncMode = SyncMode.MANUAL
    environment: Environment = Environment.TEST
    connections: list[ConnectionConfig] = Field(min_length=1)
    field_policy: FieldPolicy = Field(default_factory=FieldPolicy)
    lookback_seconds: int = Field(
        default=600,
        ge=MIN_LOOKBACK_SECONDS,
        le=86400,
        description="the scheduled pull's overlap; at least HubSpot's search indexing lag",
    )
    transfer_timing: TransferTiming = TransferTiming.ON_CREATE
    walk_in_customer_number: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]{0,8}$",
        description="the accounting cash-sale customer for walk-in leads",
    )
    auto_link_exact: bool = Field(
        default=True, description="link records that share an exact key automatically"
    )
    candidate_threshold: float = Field(
        default=0.10,  # = matching.DEFAULT_OFFER_THRESHOLD (a test keeps them equal; config stays import-light)
        ge=0,
        le=1,
        description="minimum score to offer a candidate (bench/matching.py measures the trade-off)",
    )
    deletes: DeletePolicy = Field(
        default=DeletePolicy.NEVER,
        description="a deletion on one side: never / approve / automatic on the other",
    )
    mass_delete_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="automatic deletes per hour above this share of records are held",
    )
    mass_delete_min: int = Field(
        default=5, ge=0, description="the guard never trips below this many per hour"
    )
    value_maps: dict[str, ValueMap] = Field(
        default_factory=dict,
        description="picklist field -> CRM value to accounting value (an unmapped value holds that field)",
    )
    facts: FactsSettings = Field(
        default_factory=FactsSettings,
        description="accounting facts (open balance, overdue, revenue, last invoice) on the CRM's companies",
    )
    drift_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 31,
        description="the scheduled drift report (a full compare of both sides) every this many hours; 0: "
        "on demand only",
    )
    pull_stale_minutes: int = Field(
        default=30,
        ge=0,
        le=7 * 24 * 60,
        description="health shows a connection degraded when its last successful pull is older than this "
        "(the schedule pulls every 5 minutes by default); 0: never",
    )
    journal: JournalSettings = Field(
        default_factory=JournalSettings,
        description="a note on the CRM company for each event a person should see (docs/accounting-facts.md)",
    )
    version: int = 0

    @field_validator("value_maps", mode="after")
    @classmethod
    def _valid_pairs(cls, maps: dict[str, ValueMap]) -> dict[str, ValueMap]:
        """Every pair holds values the vendors can take (``value_maps.checked_pairs``), stored cleaned."""
        return {
            field: ValueMap(pairs=checked_pairs(field, m.pairs)) if field in MAPPABLE_FIELDS else m
            for field, m in maps.items()
        }

    @model_validator(mode="after")
    def _mappable(self) -> TenantConfig:
        unknown = sorted(set(self.value_maps) - MAPPABLE_FIELDS)
        if unknown:
            raise ValueError(f"value maps only for {sorted(MAPPABLE_FIELDS)}; not for {unknown}")
        return self

    @model_validator(mode="after")
    def _one_crm(self) -> TenantConfig:
        ids = [c.connection_id for c in self.connections]
        if len(ids) != len(set(ids)):
            raise ValueError("connection ids must be unique")
        if sum(1 for c in self.connections if c.side is Side.CRM) > 1:
            raise ValueError("a tenant has at most one CRM connection")
        for conn in self.connections:
            if conn.kind is ConnectionKind.ECONOMIC and conn.accounting_defaults is None:
                conn.accounting_defaults = AccountingDefaults()
            if (conn.kind is ConnectionKind.DYNAMICS) != (conn.dynamics is not None):
                raise ValueError(
                    f"connection {conn.connection_id}: `dynamics` is set on a dynamics connection only, and required there"
                )
            if self.facts.enabled and conn.dynamics is not None and not conn.dynamics.fact_columns:
                raise ValueError(
                    f"connection {conn.connection_id}: facts on Dynamics need account columns "
                    "(dynamics.fact_columns, see docs/dynamics.md)"
                )
        return self

    def find_connection(self, connection_id: str) -> ConnectionConfig | None:
        return next((c for c in self.connections if c.connection_id == connection_id), None)

    def connection(self, connection_id: str) -> ConnectionConfig:
        """The connection; ``UnknownConnection`` (a ``NotFound``) when the config has none such."""
        conn = self.find_connection(connection_id)
        if conn is None:
            raise UnknownConnection(connection_id)
        return conn

    def targets(self, source_side: Side) -> list[ConnectionConfig]:
        return [c for c in self.connections if c.side is not source_side]

    def secret_name(self, prefix: str, connection_id: str) -> str:
        """One secret per tenant connection and environment: ``crmsync/<tenant>/<connection>/<env>``."""
        return f"{prefix}{self.tenant_id}/{connection_id}/{self.environment.value}"
