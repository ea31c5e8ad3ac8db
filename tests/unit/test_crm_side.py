"""``local.crm_side``: one way for scenarios to act on either CRM fake, in canonical field names."""

from __future__ import annotations

import pytest

from crmsync.models import ObjectType
from local.crm_side import CrmSide, DynamicsSide, HubSpotSide
from local.fakes.dataverse import DataverseFake
from local.fakes.hubspot import HubSpotFake

pytestmark = pytest.mark.timeout(10)
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT


@pytest.fixture(params=["hubspot", "dynamics"])
def side(request: pytest.FixtureRequest) -> CrmSide:
    if request.param == "hubspot":
        return HubSpotSide(HubSpotFake("pat-test"), "hs")
    return DynamicsSide(DataverseFake(org_url="https://contoso.crm4.dynamics.com"), "dyn")


def test_a_person_creates_a_company_with_a_contact_and_both_read_back_in_canonical_terms(side: CrmSide):
    company = side.create(CUSTOMER, {"name": "Fjordhuset A/S", "phone": "+45 70 11 22 33", "city": "Vejle"})
    person = side.create(
        CONTACT, {"name": "Anna Marie Jensen", "email": "anna@fjordhuset.dk"}, parent_id=company
    )
    (row,) = side.rows(CUSTOMER)
    assert (row.id, row.fields["name"], row.fields["phone"], row.fields["city"]) == (
        company,
        "Fjordhuset A/S",
        "+45 70 11 22 33",
        "Vejle",
    )
    contact = side.get(CONTACT, person)
    assert contact is not None and contact.fields["name"] == "Anna Marie Jensen"
    assert contact.parent_id == company
    assert side.write_calls() == 0, "a person's edits are not API calls"


def test_an_edit_and_a_delete_show_on_the_next_read(side: CrmSide):
    company = side.create(CUSTOMER, {"name": "Holm Revision K/S"})
    side.edit(CUSTOMER, company, {"city": "Silkeborg"})
    row = side.get(CUSTOMER, company)
    assert row is not None and row.fields["city"] == "Silkeborg" and row.fields["name"] == "Holm Revision K/S"
    side.delete(CUSTOMER, company)
    assert side.get(CUSTOMER, company) is None
    assert side.rows(CUSTOMER) == []
