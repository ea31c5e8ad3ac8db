"""``local.crm_side``: one way for scenarios to act on either CRM fake, in canonical field names."""

from __future__ import annotations

import httpx
import pytest

from crmsync.models import ObjectType
from local.crm_side import CrmSide, DynamicsSide, HubSpotSide, contacts_of, find
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


def test_a_person_moves_a_contact_to_another_company_and_its_parent_follows(side: CrmSide):
    first = side.create(CUSTOMER, {"name": "Vestjysk Tømrer ApS"})
    second = side.create(CUSTOMER, {"name": "Østjysk Murer ApS"})
    person = side.create(CONTACT, {"name": "Ole Bach", "email": "ole@tomrer.dk"}, parent_id=first)
    assert [c.id for c in contacts_of(side, first)] == [person] and contacts_of(side, second) == []
    side.set_parent(person, second)
    contact = side.get(CONTACT, person)
    assert contact is not None and contact.parent_id == second, "the primary company is the parent"
    assert [c.id for c in contacts_of(side, second)] == [person] and contacts_of(side, first) == []


def test_find_and_supports_speak_canonical_field_names(side: CrmSide):
    found = side.create(CUSTOMER, {"name": "Nummer Et A/S", "website": "https://nummer-et.dk"})
    side.create(CUSTOMER, {"name": "Uden Hjemmeside ApS"})
    assert [row.id for row in find(side, CUSTOMER, "website", "https://nummer-et.dk")] == [found]
    assert find(side, CUSTOMER, "website", "https://andet.dk") == []
    assert side.supports(CUSTOMER, "phone") and side.supports(CONTACT, "email")
    assert side.supports(CUSTOMER, "payment_terms") is (side.kind == "hubspot"), "Dynamics has no such column"
    assert side.supports(CUSTOMER, "lifecycle_stage") is (side.kind == "hubspot")


def test_a_new_owner_can_own_a_company(side: CrmSide):
    owners = {side.new_owner(), side.new_owner()}
    assert len(owners) == 2, "each call is another user"
    owner = sorted(owners)[0]
    company = side.create(CUSTOMER, {"name": "Ejet af en sælger ApS"})
    side.edit(CUSTOMER, company, {"account_manager": owner})
    row = side.get(CUSTOMER, company)
    assert row is not None and row.fields["account_manager"] == owner


def test_a_persons_edit_is_a_change_event_but_not_a_write_call(side: CrmSide):
    if side.kind == "dynamics":
        assert isinstance(side, DynamicsSide)
        side.fake.add_webhook(lambda headers, body: 204, "account")
    company = side.create(CUSTOMER, {"name": "Begivenhed ApS"})
    before = side.change_events()
    side.edit(CUSTOMER, company, {"city": "Horsens"})
    assert side.change_events() > before
    assert side.write_calls() == 0


def test_revoked_dynamics_tokens_are_refused():
    side = DynamicsSide(DataverseFake(org_url="https://contoso.crm4.dynamics.com"), "dyn")
    token = side.fake.issue_token()
    client = httpx.Client(transport=httpx.WSGITransport(app=side.fake.app), base_url=side.fake.org_url)
    who_am_i = {"url": "/api/data/v9.2/WhoAmI", "headers": {"Authorization": f"Bearer {token}"}}
    assert client.get(**who_am_i).status_code == 200
    assert side.revoke_tokens() == 1
    assert client.get(**who_am_i).status_code == 401
