"""DataverseConnector's lead methods against the in-process Dataverse fake: read, qualify, find, attach."""

from __future__ import annotations

import httpx
import pytest

from crmsync.connectors.base import NotFoundError
from crmsync.connectors.dataverse import DataverseConnector, LeadClosed, QualifiedLead
from crmsync.connectors.http import RetryPolicy
from crmsync.connectors.oauth import ClientCredentialsAuth, InMemoryTokenCache
from local.fakes.dataverse import DataverseFake

ORG = "https://contoso.crm4.dynamics.com"
TENANT, CLIENT_ID, SECRET = "entra-tenant-1", "app-1", "the-client-secret-value"
QUALIFY = "POST leads({key})/Microsoft.Dynamics.CRM.QualifyLead"
LEAD = {
    "subject": "Interesse for solceller",
    "firstname": "Ida",
    "lastname": "Holm",
    "companyname": "Fjordbyen Bryghus ApS",
    "emailaddress1": "ida@fjordbyen.example",
    "telephone1": "+45 70 20 30 40",
    "websiteurl": "https://fjordbyen.example",
    "address1_line1": "Havnegade 4",
    "address1_city": "Aalborg",
    "address1_postalcode": "9000",
}


@pytest.fixture
def fake() -> DataverseFake:
    return DataverseFake(org_url=ORG, client_id=CLIENT_ID, client_secret=SECRET, tenant=TENANT)


@pytest.fixture
def dv(fake: DataverseFake) -> DataverseConnector:
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app))
    auth = ClientCredentialsAuth(
        TENANT, CLIENT_ID, SECRET, ORG, login_base=ORG, cache=InMemoryTokenCache(), client=client
    )
    return DataverseConnector("dv-1", ORG, auth, client=client, retry=RetryPolicy(sleep=lambda _: None))


def calls(fake: DataverseFake, template: str) -> int:
    return int(fake.stats["calls"].get(template, 0))


def test_get_lead_reads_the_company_columns_and_the_parent_account(
    fake: DataverseFake, dv: DataverseConnector
) -> None:
    (account,) = fake.seed("account", [{"name": "Nordlys Energi ApS"}])
    (lead_id,) = fake.seed("lead", [{**LEAD, "_parentaccountid_value": account}])
    lead = dv.get_lead(lead_id)
    assert lead is not None
    assert (lead.statecode, lead.parent_account_id, lead.firstname) == (0, account, "Ida")
    assert lead.company_fields() == {
        "name": "Fjordbyen Bryghus ApS",
        "email": "ida@fjordbyen.example",
        "phone": "+45 70 20 30 40",
        "website": "https://fjordbyen.example",
        "address": "Havnegade 4",
        "zip": "9000",
        "city": "Aalborg",
    }
    assert dv.get_lead("7f3c0000-0000-4000-8000-000000000000") is None
    assert dv.get_lead("not-a-guid") is None


def test_qualify_with_account_and_contact_creates_both_from_the_lead(
    fake: DataverseFake, dv: DataverseConnector
) -> None:
    (lead_id,) = fake.seed("lead", [LEAD])
    made = dv.qualify_lead(lead_id, create_account=True, create_contact=True)
    assert made.account_id and made.contact_id
    account, contact = fake.row("account", made.account_id), fake.row("contact", made.contact_id)
    assert account is not None and contact is not None
    assert account["name"] == "Fjordbyen Bryghus ApS" and account["_originatingleadid_value"] == lead_id
    assert contact["emailaddress1"] == "ida@fjordbyen.example"
    assert contact["_parentcustomerid_value"] == made.account_id
    lead = fake.row("lead", lead_id)
    assert lead is not None and (lead["statecode"], lead["statuscode"]) == (1, 3)
    assert calls(fake, QUALIFY) == 1
    assert dv.created_from_lead(lead_id) == made, "found again by originatingleadid"


def test_qualify_contact_only_then_attach_it_to_an_existing_account(
    fake: DataverseFake, dv: DataverseConnector
) -> None:
    (account,) = fake.seed("account", [{"name": "Nordlys Energi ApS"}])
    (lead_id,) = fake.seed("lead", [LEAD])
    made = dv.qualify_lead(lead_id, create_account=False, create_contact=True)
    assert made.account_id is None and made.contact_id is not None
    assert len(fake.rows("account")) == 1, "no account created"
    contact = fake.row("contact", made.contact_id)
    assert contact is not None and contact["_parentcustomerid_value"] is None
    assert dv.attach_contact(made.contact_id, account) is True
    attached = fake.row("contact", made.contact_id)
    assert attached is not None and attached["_parentcustomerid_value"] == account
    assert dv.attach_contact(made.contact_id, account) is False, "there already"
    assert calls(fake, "PATCH contacts({key})") == 1
    assert dv.created_from_lead(lead_id) == QualifiedLead(contact_id=made.contact_id)


def test_a_lead_that_is_not_open_is_lead_closed(fake: DataverseFake, dv: DataverseConnector) -> None:
    qualified, disqualified = fake.seed("lead", [LEAD, {**LEAD, "emailaddress1": "other@x.example"}])
    dv.qualify_lead(qualified, create_account=True, create_contact=True)
    fake.person_edit("lead", disqualified, {"statecode": 2, "statuscode": 4})
    for lead_id in (qualified, disqualified):
        with pytest.raises(LeadClosed) as raised:
            dv.qualify_lead(lead_id, create_account=True, create_contact=True)
        assert raised.value.code == "lead_closed" and not raised.value.retryable
    assert len(fake.rows("account")) == 1 and len(fake.rows("contact")) == 1, "nothing made twice"
    assert dv.created_from_lead(disqualified) == QualifiedLead()


def test_unknown_leads_and_contacts_are_not_found(fake: DataverseFake, dv: DataverseConnector) -> None:
    missing = "7f3c0000-0000-4000-8000-000000000000"
    with pytest.raises(NotFoundError):
        dv.qualify_lead(missing, create_account=True, create_contact=True)
    with pytest.raises(NotFoundError):
        dv.qualify_lead("../accounts", create_account=True, create_contact=True)
    (account,) = fake.seed("account", [{"name": "Nordlys Energi ApS"}])
    with pytest.raises(NotFoundError):
        dv.attach_contact(missing, account)
    assert fake.rows("contact") == [], "If-Match: * never creates the contact"
