"""The ``crmsync`` property group and custom properties crmsync needs in a portal.

Accounting-only fields have no standard company property, and ``crmsync_record_id`` must exist
(and be unique) before creates can be upserts; setup creates only what is missing, once per instance."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from crmsync.connectors.base import ConflictError, NotFoundError, VendorRefusedError
from crmsync.connectors.hubspot_client import HubSpotClient
from crmsync.connectors.hubspot_errors import _body
from crmsync.connectors.hubspot_mapping import RECORD_ID_PROPERTY

GROUP_NAME = "crmsync"


@dataclass(frozen=True)
class CustomProperty:
    """A property crmsync creates in the ``crmsync`` group (Properties API ``PropertyCreate``)."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    unique: bool = False

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": GROUP_NAME,
            "description": f"Maintained by crmsync ({self.label}).",
            "hasUniqueValue": self.unique,
            "formField": False,
        }
        if self.type == "bool":
            out["options"] = [
                {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
            ]
        return out


_RECORD_ID = CustomProperty(RECORD_ID_PROPERTY, "crmsync record id", unique=True)
CUSTOM_PROPERTIES: dict[str, tuple[CustomProperty, ...]] = {
    "companies": (
        CustomProperty("crmsync_customer_number", "Customer number (accounting)"),
        CustomProperty("crmsync_corporate_id", "Corporate id"),
        CustomProperty("crmsync_vat_number", "VAT number"),
        CustomProperty("crmsync_email", "Invoice e-mail"),
        CustomProperty("crmsync_currency", "Currency"),
        CustomProperty("crmsync_customer_group", "Customer group"),
        CustomProperty("crmsync_payment_terms", "Payment terms"),
        CustomProperty("crmsync_vat_zone", "VAT zone"),
        CustomProperty("crmsync_barred", "Barred", "bool", "booleancheckbox"),
        CustomProperty("crmsync_external_number", "External number"),
        _RECORD_ID,
    ),
    "contacts": (_RECORD_ID,),
}


class HubSpotSetup(HubSpotClient):
    """``ensure_setup`` of ``HubSpotConnector``."""

    def ensure_setup(self) -> None:
        """Create the ``crmsync`` group and custom properties that are missing (cached per instance)."""
        if self._setup_done:
            return
        for hs_type, wanted in CUSTOM_PROPERTIES.items():
            existing = {
                p["name"]: p for p in _body(self._call("GET", f"/crm/v3/properties/{hs_type}"))["results"]
            }
            missing = [spec for spec in wanted if spec.name not in existing]
            for spec in wanted:
                have = existing.get(spec.name)
                if have is not None and spec.unique and not have.get("hasUniqueValue"):
                    raise VendorRefusedError(
                        f"HubSpot {hs_type} property {spec.name} exists without hasUniqueValue; crmsync needs it "
                        "unique to make creates idempotent (it cannot be changed: archive it and run setup again)",
                        code="SETUP",
                    )
            if not missing:
                continue
            self._ensure_group(hs_type)
            for spec in missing:
                with contextlib.suppress(ConflictError):  # created concurrently by another worker: fine
                    self._call("POST", f"/crm/v3/properties/{hs_type}", json=spec.body())
        self._setup_done = True

    def _ensure_group(self, hs_type: str) -> None:
        try:
            self._call("GET", f"/crm/v3/properties/{hs_type}/groups/{GROUP_NAME}")
            return
        except NotFoundError:
            pass
        with contextlib.suppress(ConflictError):
            self._call(
                "POST",
                f"/crm/v3/properties/{hs_type}/groups",
                json={"name": GROUP_NAME, "label": "crmsync", "displayOrder": -1},
            )
