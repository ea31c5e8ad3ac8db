"""Contract tests of the Dataverse Web API fake against the documented facts (fake-checklist.md items 1-12).

Each test pins one documented behaviour (or a documented *assumption* of the fake) so the connector's tests
can rely on it; column facts are checked against ``vendor-specs/dataverse/columns.json``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from local.fakes.dataverse import EXPIRED_MESSAGE, DataverseFake, DataverseFaults

ORG = "https://contoso.crm4.dynamics.com"
API = "/api/data/v9.2"
APP_USER = "0a0b0c0d-1111-4222-8333-444455556666"
COLUMNS = json.loads(
    (Path(__file__).resolve().parents[2] / "vendor-specs/dataverse/columns.json").read_text()
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(**kw: Any) -> tuple[DataverseFake, httpx.Client]:
    kw.setdefault("org_url", ORG)
    kw.setdefault("application_user_id", APP_USER)
    fake = DataverseFake(**kw)
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=ORG)
    client.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    return fake, client


@pytest.fixture
def dataverse_fake() -> tuple[DataverseFake, httpx.Client]:
    return make(alternate_keys={"account": ["accountnumber"]})


def create(api: httpx.Client, entity_set: str, body: dict[str, Any]) -> str:
    r = api.post(f"{API}/{entity_set}", json=body)
    assert r.status_code == 204, r.text
    return r.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


def err(r: httpx.Response) -> dict[str, Any]:
    return r.json()["error"]


# ---------------------------------------------------------------------------------- 1 create


def test_create_answers_204_with_entity_id_or_201_with_representation(dataverse_fake):
    fake, api = dataverse_fake
    r = api.post(f"{API}/accounts", json={"name": "Acme"})
    assert r.status_code == 204 and r.content == b""
    entity_id = r.headers["OData-EntityId"]
    assert r.headers["Location"] == entity_id
    assert entity_id.startswith(f"{ORG}{API}/accounts(")
    new_id = entity_id.rsplit("(", 1)[1].rstrip(")")
    assert fake.row("account", new_id)["name"] == "Acme"
    r = api.post(
        f"{API}/accounts?$select=name", json={"name": "Beta"}, headers={"Prefer": "return=representation"}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["@odata.context"] == f"{ORG}{API}/$metadata#accounts(name)/$entity"
    assert body["name"] == "Beta" and body["@odata.etag"].startswith('W/"')
    assert r.headers["Preference-Applied"] == "return=representation"


def test_create_with_client_primary_key_uses_it_and_rejects_a_duplicate(dataverse_fake):
    fake, api = dataverse_fake
    given = "11111111-2222-4333-8444-555555555555"
    assert create(api, "accounts", {"accountid": given, "name": "A"}) == given
    r = api.post(f"{API}/accounts", json={"accountid": given, "name": "B"})
    assert r.status_code == 412 and err(r) == {
        "code": "0x80040237",
        "message": "Cannot insert duplicate key.",
    }
    assert fake.row("account", given)["name"] == "A"


# ---------------------------------------------------------------------------------- 2 etags


def test_every_row_has_a_weak_etag_from_a_strictly_increasing_org_version(dataverse_fake):
    _, api = dataverse_fake
    a = create(api, "accounts", {"name": "A"})
    c = create(api, "contacts", {"lastname": "L"})
    versions = []
    for path in (f"accounts({a})", f"contacts({c})"):
        body = api.get(f"{API}/{path}").json()
        assert body["@odata.etag"] == f'W/"{body["versionnumber"]}"'
        versions.append(body["versionnumber"])
    assert api.patch(f"{API}/accounts({a})", json={"name": "A2"}).status_code == 204
    after = api.get(f"{API}/accounts({a})").json()["versionnumber"]
    assert versions[0] < versions[1] < after  # one counter per org, across tables


# ---------------------------------------------------------------------------------- 3 conditional writes


def test_conditional_patch_and_delete(dataverse_fake):
    fake, api = dataverse_fake
    a = create(api, "accounts", {"name": "A"})
    tag = api.get(f"{API}/accounts({a})").json()["@odata.etag"]
    assert api.patch(f"{API}/accounts({a})", json={"name": "B"}, headers={"If-Match": tag}).status_code == 204
    stale = api.patch(f"{API}/accounts({a})", json={"name": "C"}, headers={"If-Match": tag})
    assert stale.status_code == 412
    assert (
        err(stale)["message"]
        == "The version of the existing record doesn't match the RowVersion property provided."
    )
    assert fake.row("account", a)["name"] == "B"
    missing = "99999999-9999-4999-8999-999999999999"
    r = api.patch(f"{API}/accounts({missing})", json={"name": "X"}, headers={"If-Match": "*"})
    assert r.status_code == 404 and fake.row("account", missing) is None
    r = api.patch(f"{API}/accounts({a})", json={"name": "X"}, headers={"If-None-Match": "*"})
    assert r.status_code == 412 and err(r)["message"] == "A record with matching key values already exists."
    other = "88888888-8888-4888-8888-888888888888"
    r = api.patch(
        f"{API}/accounts({other})",
        json={"name": "New"},
        headers={"If-None-Match": "*", "Prefer": "return=representation"},
    )
    assert r.status_code == 201 and r.json()["accountid"] == other
    r = api.patch(f"{API}/accounts({missing})", json={"name": "Upserted"})  # no headers: upsert create
    assert r.status_code == 204 and fake.row("account", missing)["name"] == "Upserted"
    r = api.patch(
        f"{API}/accounts({a})?$select=name", json={"name": "Rep"}, headers={"Prefer": "return=representation"}
    )
    assert r.status_code == 200 and r.json()["name"] == "Rep"
    assert api.delete(f"{API}/accounts({a})").status_code == 204
    assert api.delete(f"{API}/accounts({a})").status_code == 404


# ---------------------------------------------------------------------------------- 4 alternate keys


def test_alternate_key_urls_only_when_configured():
    fake, api = make()
    r = api.patch(f"{API}/accounts(accountnumber='A-1')", json={"name": "X"})
    assert r.status_code == 400
    assert err(r)["message"].startswith(
        "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.account'. Ensure that the "
        "names and number of key properties match the declared or alternate key properties"
    )
    fake, api = make(alternate_keys={"account": ["accountnumber"]})
    created = api.patch(f"{API}/accounts(accountnumber='A-1')", json={"name": "X"})
    updated = api.patch(f"{API}/accounts(accountnumber='A-1')", json={"name": "Y", "accountnumber": "ZZ"})
    assert created.status_code == updated.status_code == 204  # the same status for create and update
    assert created.headers["OData-EntityId"] == updated.headers["OData-EntityId"]
    [row] = fake.rows("account")
    assert row["name"] == "Y" and row["accountnumber"] == "A-1"  # key columns in the body are removed
    assert api.get(f"{API}/accounts(accountnumber='A-1')").json()["name"] == "Y"
    assert api.get(f"{API}/systemusers(systemuserid={APP_USER})").status_code == 400  # no named key on users
    assert api.get(f"{API}/systemusers({APP_USER})").status_code == 200


# ---------------------------------------------------------------------------------- 5 queries and paging


def test_select_filter_orderby_top(dataverse_fake):
    fake, api = dataverse_fake
    fake.seed(
        "account",
        [
            {"name": "Alpha", "accountnumber": "1", "creditlimit": 100},
            {"name": "beta", "accountnumber": "2", "creditlimit": 200},
            {"name": "Gamma", "accountnumber": None, "creditlimit": 300},
        ],
    )
    q = "$select=name,creditlimit&$filter=creditlimit ge 200 or startswith(name,'al')&$orderby=name desc"
    body = api.get(f"{API}/accounts?{q}").json()
    assert [r["name"] for r in body["value"]] == ["Gamma", "beta", "Alpha"]
    assert set(body["value"][0]) == {"@odata.etag", "name", "creditlimit", "accountid"}
    body = api.get(f"{API}/accounts?$filter=name eq 'BETA' and accountnumber ne null").json()
    assert [r["name"] for r in body["value"]] == ["beta"]  # case-insensitive, null-aware
    body = api.get(f"{API}/accounts?$filter=accountnumber eq null&$select=name").json()
    assert [r["name"] for r in body["value"]] == ["Gamma"]
    body = api.get(f"{API}/accounts?$filter=contains(name,'mm')&$select=name").json()
    assert [r["name"] for r in body["value"]] == ["Gamma"]
    assert len(api.get(f"{API}/accounts?$top=2&$orderby=creditlimit").json()["value"]) == 2
    r = api.get(f"{API}/accounts?$select=nosuch")
    assert r.status_code == 400 and "nosuch" in err(r)["message"]


def test_paging_with_maxpagesize_and_opaque_skiptoken_and_no_skip(dataverse_fake):
    fake, api = dataverse_fake
    fake.seed("account", [{"name": f"A{i:02}"} for i in range(5)])
    headers = {"Prefer": "odata.maxpagesize=2"}
    names, url, pages = [], f"{API}/accounts?$select=name&$orderby=name", 0
    while url:
        r = api.get(url, headers=headers)
        assert r.headers["Preference-Applied"] == "odata.maxpagesize=2"
        body = r.json()
        names += [row["name"] for row in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
        if url:
            assert url.startswith(f"{ORG}{API}/accounts?") and "$skiptoken=" in url
    assert names == [f"A{i:02}" for i in range(5)] and pages == 3
    r = api.get(f"{API}/accounts?$skip=2")
    assert r.status_code == 400
    assert api.get(f"{API}/accounts?$skiptoken=dead").status_code == 400, (
        "a cookie it cannot read (assumption)"
    )
    big = api.get(f"{API}/accounts", headers={"Prefer": "odata.maxpagesize=9000"})
    assert big.headers["Preference-Applied"] == "odata.maxpagesize=5000"


def test_get_single_304_and_lookup_annotations(dataverse_fake):
    _, api = dataverse_fake
    parent = create(api, "accounts", {"name": "Parent"})
    child = create(api, "accounts", {"name": "Child", "parentaccountid@odata.bind": f"/accounts({parent})"})
    body = api.get(f"{API}/accounts({child})").json()
    assert body["_parentaccountid_value"] == parent and "parentaccountid" not in body
    assert body["_ownerid_value"] == APP_USER  # the caller owns what it creates
    r = api.get(f"{API}/accounts({child})", headers={"If-None-Match": body["@odata.etag"]})
    assert r.status_code == 304
    r = api.get(
        f"{API}/accounts({child})?$select=_parentaccountid_value,statecode",
        headers={"Prefer": 'odata.include-annotations="*"'},
    )
    annotated = r.json()
    assert annotated["_parentaccountid_value@OData.Community.Display.V1.FormattedValue"] == "Parent"
    assert annotated["_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert annotated["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"


# ---------------------------------------------------------------------------------- 6 change tracking


def test_change_tracking_delta_rows_then_deleted_entities():
    clock = Clock()
    _, api = make(clock=clock)
    keep = create(api, "accounts", {"name": "Keep"})
    gone = create(api, "accounts", {"name": "Gone"})
    r = api.get(f"{API}/accounts?$select=name", headers={"Prefer": "odata.track-changes"})
    assert r.headers["Preference-Applied"] == "odata.track-changes"
    first = r.json()
    assert {row["name"] for row in first["value"]} == {"Keep", "Gone"}
    delta = first["@odata.deltaLink"]
    token = unquote(delta.split("$deltatoken=")[1])
    version, when = token.split("!")
    assert version.isdigit() and time.strptime(when, "%m/%d/%Y %H:%M:%S")
    api.patch(f"{API}/accounts({keep})", json={"name": "Kept"})
    api.delete(f"{API}/accounts({gone})")
    flash = create(api, "accounts", {"name": "Flash"})
    api.delete(f"{API}/accounts({flash})")  # created and deleted between polls: still reported as deleted
    body = api.get(delta).json()
    assert body["@odata.context"].endswith("/$delta")
    assert [row["name"] for row in body["value"] if "name" in row] == ["Kept"]
    deleted = [row for row in body["value"] if "reason" in row]
    assert body["value"][-len(deleted) :] == deleted  # deletes come after the changed rows
    assert {d["id"] for d in deleted} == {gone, flash}
    assert deleted[0]["@odata.context"] == f"{ORG}{API}/$metadata#accounts/$deletedEntity"
    assert deleted[0]["reason"] == "deleted"
    again = api.get(body["@odata.deltaLink"]).json()
    assert again["value"] == []


def test_change_tracking_rejects_query_options_and_expired_tokens():
    clock = Clock()
    fake, api = make(clock=clock, change_tracking_expiry_days=7)
    r = api.get(f"{API}/accounts?$filter=name eq 'x'", headers={"Prefer": "odata.track-changes"})
    assert r.status_code == 400
    assert (
        err(r)["message"] == 'The "$filter" query parameter isn\'t supported when Change Tracking is enabled.'
    )
    for option in ("$orderby=name", "$top=1", "$expand=primarycontactid"):
        assert (
            api.get(f"{API}/accounts?{option}", headers={"Prefer": "odata.track-changes"}).status_code == 400
        )
    delta = api.get(f"{API}/accounts", headers={"Prefer": "odata.track-changes"}).json()["@odata.deltaLink"]
    clock.now += 6 * 86400
    api.headers["Authorization"] = f"Bearer {fake.issue_token()}"  # access tokens live at most 90 minutes
    assert api.get(delta).status_code == 200
    clock.now += 2 * 86400
    api.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    r = api.get(delta)
    assert r.status_code == 400 and err(r)["message"] == EXPIRED_MESSAGE
    fresh = api.get(f"{API}/accounts", headers={"Prefer": "odata.track-changes"}).json()["@odata.deltaLink"]
    fake.faults = DataverseFaults(expire_delta_tokens=True)
    assert err(api.get(fresh))["message"] == EXPIRED_MESSAGE


def test_change_tracking_pages_and_ends_with_a_delta_link(dataverse_fake):
    fake, api = dataverse_fake
    fake.seed("contact", [{"lastname": f"L{i}"} for i in range(3)])
    headers = {"Prefer": "odata.track-changes,odata.maxpagesize=2"}
    first = api.get(f"{API}/contacts?$select=lastname", headers=headers).json()
    assert "@odata.deltaLink" not in first and len(first["value"]) == 2
    last = api.get(first["@odata.nextLink"], headers=headers).json()
    assert len(last["value"]) == 1 and "$deltatoken=" in last["@odata.deltaLink"]


# ---------------------------------------------------------------------------------- 7 $batch


def batch_body(boundary: str, parts: list[str]) -> str:
    return "".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n"


def http_part(
    method: str, url: str, body: dict[str, Any] | None = None, content_id: str | None = None
) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    payload = json.dumps(body) if body is not None else ""
    ctype = "Content-Type: application/json\r\n" if body is not None else ""
    return f"{head}\r\n{method} {url} HTTP/1.1\r\n{ctype}\r\n{payload}\r\n"


def changeset(boundary: str, parts: list[str]) -> str:
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n" + batch_body(boundary, parts)


def post_batch(api: httpx.Client, parts: list[str], prefer: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "multipart/mixed; boundary=batch_x"}
    if prefer:
        headers["Prefer"] = prefer
    return api.post(f"{API}/$batch", content=batch_body("batch_x", parts), headers=headers)


def test_batch_changeset_with_content_id_references(dataverse_fake):
    fake, api = dataverse_fake
    cs = changeset(
        "changeset_1",
        [
            http_part("POST", f"{API}/accounts", {"name": "Parent"}, "1"),
            http_part(
                "POST", f"{API}/contacts", {"lastname": "L", "parentcustomerid_account@odata.bind": "$1"}, "2"
            ),
            http_part("PATCH", "$1", {"telephone1": "123"}, "3"),
        ],
    )
    r = post_batch(api, [cs, http_part("GET", f"{API}/accounts?$select=name")])
    assert r.status_code == 200
    text = r.text
    assert r.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    assert "changesetresponse_" in text and text.count("HTTP/1.1 204 No Content") == 3
    assert text.index("changesetresponse_") < text.index("HTTP/1.1 200 OK")  # request order
    [account] = fake.rows("account")
    [contact] = fake.rows("contact")
    assert contact["_parentcustomerid_value"] == account["accountid"] and account["telephone1"] == "123"


def test_batch_changeset_is_atomic_and_stops_without_continue_on_error(dataverse_fake):
    fake, api = dataverse_fake
    cs = changeset(
        "changeset_2",
        [
            http_part("POST", f"{API}/accounts", {"name": "Rolled back"}, "1"),
            http_part("POST", f"{API}/accounts", {"name": "x" * 161}, "2"),
        ],
    )
    after = http_part("POST", f"{API}/accounts", {"name": "Never"})
    r = post_batch(api, [cs, after])
    assert r.status_code == 400 and "0x80044331" in r.text
    assert fake.rows("account") == []  # rolled back, and the next request was not run
    r = post_batch(api, [cs, after], prefer="odata.continue-on-error")
    assert r.status_code == 200 and [a["name"] for a in fake.rows("account")] == ["Never"]


def test_batch_property_put_ref_put_and_failing_status(dataverse_fake):
    fake, api = dataverse_fake
    cs = changeset(
        "changeset_3",
        [
            http_part("POST", f"{ORG}{API}/accounts", {"name": "Acc"}, "1"),
            http_part("POST", f"{ORG}{API}/contacts", {"firstname": "F"}, "2"),
            http_part("PUT", "$2/lastname", {"value": "BBBBB"}, "3"),
            http_part("PUT", "$1/primarycontactid/$ref", {"@odata.id": "$2"}, "4"),
        ],
    )
    r = post_batch(api, [cs])
    assert r.status_code == 200 and "Location: " in r.text
    [account], [contact] = fake.rows("account"), fake.rows("contact")
    assert contact["lastname"] == "BBBBB" and account["_primarycontactid_value"] == contact["contactid"]
    missing = "99999999-9999-4999-8999-999999999999"
    r = post_batch(api, [http_part("DELETE", f"{API}/accounts({missing})")])
    assert r.status_code == 404 and "HTTP/1.1 404 Not Found" in r.text  # the batch carries the first error


def test_batch_rejects_get_in_changeset_undeclared_reference_and_over_1000_parts(dataverse_fake):
    _, api = dataverse_fake
    r = post_batch(api, [changeset("cs", [http_part("GET", f"{API}/accounts")])])
    assert r.status_code == 400 and "change set" in r.text
    r = post_batch(api, [changeset("cs", [http_part("PATCH", "$7", {"name": "x"})])])
    assert "Content-ID Reference: '$7' does not exist in the batch context." in r.text
    r = post_batch(api, [http_part("GET", f"{API}/WhoAmI")] * 1001)
    assert r.status_code == 400


# ---------------------------------------------------------------------------------- 8 service protection


def test_requests_limit_429_with_retry_after_and_burst_header():
    clock = Clock()
    _, api = make(clock=clock, requests_per_300s=2)
    first = api.get(f"{API}/WhoAmI")
    assert first.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "1"
    api.get(f"{API}/WhoAmI")
    r = api.get(f"{API}/WhoAmI")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 300
    assert err(r) == {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 2 over time window of 300 seconds.",
    }
    clock.now += 301
    assert api.get(f"{API}/WhoAmI").status_code == 200  # sliding window


def test_execution_time_limit_uses_a_per_request_cost():
    _, api = make(execution_ms_per_300s=50, execution_ms_per_request=20)
    statuses = [api.get(f"{API}/WhoAmI").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = api.get(f"{API}/WhoAmI")
    assert (
        err(r)["code"] == "0x80072321"
        and "1,200,000" not in err(r)["message"]
        and "50 milliseconds" in err(r)["message"]
    )


def test_concurrency_limit_answers_429_immediately():
    fake, api = make(concurrent_requests=1)
    fake.faults = DataverseFaults(latency_s=0.4)
    results: list[int] = []
    slow = threading.Thread(target=lambda: results.append(api.get(f"{API}/WhoAmI").status_code))
    slow.start()
    time.sleep(0.1)
    other = httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=ORG, headers=api.headers)
    r = other.get(f"{API}/WhoAmI")
    slow.join()
    assert r.status_code == 429 and err(r)["code"] == "0x80072326"
    assert err(r)["message"] == "Number of concurrent requests exceeded the limit of 1."
    assert results == [200]


# ---------------------------------------------------------------------------------- 9 QualifyLead


def test_qualify_lead_creates_account_and_contact_and_closes_the_lead(dataverse_fake):
    fake, api = dataverse_fake
    lead = create(
        api,
        "leads",
        {
            "subject": "Deal",
            "firstname": "Ann",
            "lastname": "Lee",
            "companyname": "Lee A/S",
            "emailaddress1": "ann@lee.dk",
            "telephone1": "555",
            "address1_city": "Aarhus",
        },
    )
    params = {"CreateAccount": True, "CreateContact": True, "CreateOpportunity": False, "Status": 3}
    r = api.post(f"{API}/leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", json=params)
    assert r.status_code == 200
    body = r.json()
    assert body["@odata.context"].endswith("#Collection(mscrm.crmbaseentity)")
    [acc_ref, con_ref] = body["value"]
    assert acc_ref["@odata.type"] == "#Microsoft.Dynamics.CRM.account"
    account = fake.row("account", acc_ref["accountid"])
    contact = fake.row("contact", con_ref["contactid"])
    assert account["name"] == "Lee A/S" and account["emailaddress1"] == "ann@lee.dk"
    assert account["address1_city"] == "Aarhus" and account["telephone1"] is None
    assert contact["fullname"] == "Ann Lee" and contact["_parentcustomerid_value"] == account["accountid"]
    assert account["_originatingleadid_value"] == contact["_originatingleadid_value"] == lead
    assert (fake.row("lead", lead)["statecode"], fake.row("lead", lead)["statuscode"]) == (1, 3)
    again = api.post(f"{API}/leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", json=params)
    assert again.status_code == 400 and err(again)["message"] == "The lead is already closed."


def test_disqualify_is_a_patch_of_state_and_status(dataverse_fake):
    fake, api = dataverse_fake
    lead = create(api, "leads", {"subject": "Nope"})
    assert api.patch(f"{API}/leads({lead})", json={"statecode": 2, "statuscode": 6}).status_code == 204
    assert (fake.row("lead", lead)["statecode"], fake.row("lead", lead)["statuscode"]) == (2, 6)
    assert api.patch(f"{API}/leads({lead})", json={"statecode": 2, "statuscode": 3}).status_code == 400


# ---------------------------------------------------------------------------------- 10 writes


def test_lookup_binds_owner_customer_and_clearing(dataverse_fake):
    fake, api = dataverse_fake
    person = fake.person_user_id
    acc = create(api, "accounts", {"name": "A", "ownerid@odata.bind": f"/systemusers({person})"})
    assert fake.row("account", acc)["_ownerid_value"] == person
    con = create(
        api,
        "contacts",
        {"lastname": "L", "parentcustomerid_account@odata.bind": f"{ORG}{API}/accounts({acc})"},
    )
    assert fake.row("contact", con)["_parentcustomerid_value"] == acc
    body = api.get(f"{API}/contacts({con})", headers={"Prefer": 'odata.include-annotations="*"'}).json()
    assert (
        body["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]
        == "parentcustomerid_account"
    )
    assert (
        api.patch(f"{API}/contacts({con})", json={"parentcustomerid_account@odata.bind": None}).status_code
        == 204
    )
    assert fake.row("contact", con)["_parentcustomerid_value"] is None
    missing = "99999999-9999-4999-8999-999999999999"
    r = api.post(f"{API}/accounts", json={"name": "B", "parentaccountid@odata.bind": f"/accounts({missing})"})
    assert r.status_code == 404
    r = api.post(f"{API}/accounts", json={"name": "B", "parentaccountid": acc})
    assert r.status_code == 400


def test_statecode_on_create_maxlength_and_unknown_column_are_400(dataverse_fake):
    fake, api = dataverse_fake
    r = api.post(f"{API}/accounts", json={"name": "A", "statecode": 1})
    assert r.status_code == 400 and "statecode" in err(r)["message"]
    r = api.post(f"{API}/accounts", json={"name": "x" * 161})
    assert r.status_code == 400 and err(r) == {
        "code": "0x80044331",
        "message": "A validation error occurred.  The length of the 'name' attribute of the 'account' entity "
        "exceeded the maximum allowed length of '160'.",
    }
    r = api.post(f"{API}/accounts", json={"name": "A", "nosuch": 1})
    assert r.status_code == 400
    assert (
        err(r)["message"] == "Invalid property 'nosuch' was found in entity 'Microsoft.Dynamics.CRM.account'."
    )
    assert fake.rows("account") == []
    acc = create(api, "accounts", {"name": "A"})
    assert api.patch(f"{API}/accounts({acc})", json={"statecode": 1}).status_code == 204
    assert fake.row("account", acc)["statuscode"] == 2  # the default status of Inactive


def test_rows_match_the_fact_sheet_and_every_maxlength_is_enforced(dataverse_fake):
    _, api = dataverse_fake
    for table, spec in COLUMNS["tables"].items():
        entity_set, cols = spec["entity_set"], spec["columns"]
        documented = {
            f"_{n}_value" if c["type"] in ("Lookup", "Customer", "Owner") else n for n, c in cols.items()
        }
        row = api.get(f"{API}/{entity_set}?$top=1").json()["value"] or []
        if not row:
            create(api, entity_set, {})
            row = api.get(f"{API}/{entity_set}?$top=1").json()["value"]
        returned = {k for k in row[0] if not k.startswith("@")}
        assert returned == documented, table
        for name, column in cols.items():
            limit = column.get("max_length")
            if limit is None or column.get("read_only"):
                continue
            ok = api.post(f"{API}/{entity_set}", json={name: "x" * limit})
            too_long = api.post(f"{API}/{entity_set}", json={name: "x" * (limit + 1)})
            assert ok.status_code == 204, (table, name)
            assert too_long.status_code == 400 and err(too_long)["code"] == "0x80044331", (table, name)
            assert f"'{limit}'" in err(too_long)["message"]


# ---------------------------------------------------------------------------------- 11 auth


def token_form(fake: DataverseFake, **kw: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": "app-id", "client_secret": "secret"}
    form["scope"] = f"{fake.org_url}/.default"
    form.update(kw)
    return form


def test_token_endpoint_client_credentials():
    fake = DataverseFake(org_url=ORG)
    raw = httpx.Client(
        transport=httpx.WSGITransport(app=fake.app), base_url="https://login.microsoftonline.com"
    )
    r = raw.post("/entra-tenant-id/oauth2/v2.0/token", data=token_form(fake))
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "Bearer" and "refresh_token" not in body
    assert 3600 <= body["expires_in"] <= 5400 and body["ext_expires_in"] == body["expires_in"]
    lifetimes = {
        raw.post("/entra-tenant-id/oauth2/v2.0/token", data=token_form(fake)).json()["expires_in"]
        for _ in range(5)
    }
    assert len(lifetimes) > 1  # randomised (seeded)
    bad = raw.post("/entra-tenant-id/oauth2/v2.0/token", data=token_form(fake, client_secret="nope"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    bad = raw.post(
        "/entra-tenant-id/oauth2/v2.0/token", data=token_form(fake, scope="https://other/.default")
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_scope"
    assert fake.token_count == 8 and fake.stats["token_requests"] == 8
    api = httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=ORG)
    assert (
        api.get(f"{API}/WhoAmI", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code
        == 200
    )


def test_api_needs_a_valid_unexpired_bearer_token():
    clock = Clock()
    fake, api = make(clock=clock)
    token = api.headers["Authorization"][7:]
    who = api.get(f"{API}/WhoAmI").json()
    assert who["UserId"] == APP_USER and set(who) >= {"BusinessUnitId", "OrganizationId"}
    r = api.get(f"{API}/WhoAmI", headers={"Authorization": ""})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    fake.expire_token(token)
    assert api.get(f"{API}/WhoAmI").status_code == 401
    api.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    clock.now += 5401
    assert api.get(f"{API}/WhoAmI").status_code == 401  # lifetimes are at most 90 minutes


# ---------------------------------------------------------------------------------- 12 webhooks


class Sink:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.statuses = statuses or []

    def __call__(self, headers: dict[str, str], body: bytes) -> int:
        self.calls.append((headers, body))
        return self.statuses.pop(0) if self.statuses else 200

    def contexts(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.calls]


def test_webhook_remote_execution_context_on_create_update_delete(dataverse_fake):
    fake, api = dataverse_fake
    sink = Sink()
    fake.add_webhook(sink, "account", auth=("header", {"x-crmsync-key": "k"}))
    parent = create(api, "accounts", {"name": "P"})
    child = create(api, "accounts", {"name": "C", "parentaccountid@odata.bind": f"/accounts({parent})"})
    api.patch(f"{API}/accounts({child})", json={"telephone1": "42"})
    api.delete(f"{API}/accounts({child})")
    contexts = sink.contexts()
    assert [c["MessageName"] for c in contexts] == ["Create", "Create", "Update", "Delete"]
    headers, raw = sink.calls[1]
    assert (
        headers["x-ms-dynamics-entity-name"] == "account"
        and headers["x-ms-dynamics-request-name"] == "Create"
    )
    assert (
        headers["x-ms-dynamics-organization"] == "contoso.crm4.dynamics.com"
        and headers["x-crmsync-key"] == "k"
    )
    assert headers["x-ms-correlation-request-id"] == contexts[1]["CorrelationId"]
    assert b'"\\/Date(' in raw  # WCF dates
    created = contexts[1]
    assert (created["Stage"], created["Mode"], created["Depth"]) == (40, 1, 1)
    assert created["UserId"] == created["InitiatingUserId"] == APP_USER
    assert created["PrimaryEntityName"] == "account" and created["PrimaryEntityId"] == child
    target = created["InputParameters"][0]
    assert target["key"] == "Target" and target["value"]["__type"].startswith("Entity:")
    attrs = {a["key"]: a["value"] for a in target["value"]["Attributes"]}
    assert attrs["name"] == "C" and attrs["parentaccountid"]["__type"].startswith("EntityReference:")
    assert attrs["parentaccountid"]["Id"] == parent and attrs["parentaccountid"]["Name"] == "P"
    update_attrs = {a["key"] for a in contexts[2]["InputParameters"][0]["value"]["Attributes"]}
    assert "telephone1" in update_attrs and "name" not in update_attrs  # only what was sent
    assert contexts[2]["PreEntityImages"] and contexts[2]["PostEntityImages"]
    assert contexts[3]["InputParameters"][0]["value"]["__type"].startswith("EntityReference:")


def test_webhook_person_edits_retry_once_on_503_size_limit_and_hold():
    fake, _ = make()
    sink = Sink(statuses=[503, 503, 500])
    reg = fake.add_webhook(sink, "contact", messages=("Update",), auth=("code", "secret-code"))
    [contact] = fake.seed("contact", [{"lastname": "L"}])
    assert sink.calls == []  # seeding is silent
    fake.person_edit("contact", contact, {"jobtitle": "CFO"})
    assert sink.contexts()[0]["UserId"] == fake.person_user_id != APP_USER
    assert len(sink.calls) == 2  # 503 -> exactly one retry
    fake.person_edit("contact", contact, {"jobtitle": "CEO"})
    assert len(sink.calls) == 3  # 500 -> no retry
    assert fake.webhook_deliveries[-1]["url"].endswith("?code=secret-code") and reg.table == "contact"
    fake.hold_webhooks = True
    fake.person_edit("contact", contact, {"firstname": "x" * 50})
    assert len(sink.calls) == 3 and fake.stats["held_webhooks"] == 1
    fake.flush_webhooks()
    assert len(sink.calls) == 4
    fake.hold_webhooks = False
    assert fake.webhook_deliveries[-1]["statuses"] == [200]


def test_webhook_over_the_size_limit_strips_the_big_parts():
    fake, _ = make()
    sink = Sink()
    fake.add_webhook(sink, "account", messages=("Update",))
    acc = fake.person_create("account", {"name": "n"})
    fake.person_edit("account", acc, {"description": "z" * 1500})
    assert "x-ms-dynamics-msg-size-exceeded" not in sink.calls[0][0]
    fake.webhook_size_limit = 2000  # the real limit is 256 KB; a small one keeps the test fast
    fake.person_edit("account", acc, {"description": "y" * 1500})
    headers, raw = sink.calls[1]
    body = json.loads(raw)
    assert headers["x-ms-dynamics-msg-size-exceeded"] == "true" and len(raw) < 2000
    assert body["InputParameters"] == [] and body["PostEntityImages"] == [] and body["PreEntityImages"] == []
    assert body["PrimaryEntityId"] == acc and body["MessageName"] == "Update"


# ---------------------------------------------------------------------------------- control + faults


def test_faults_stats_and_control_endpoints(dataverse_fake):
    fake, api = dataverse_fake
    fake.faults = DataverseFaults(fail_next_n=(503, 1))
    assert api.post(f"{API}/accounts", json={"name": "A"}).status_code == 503
    assert fake.rows("account") == []
    fake.faults = DataverseFaults(fail_after_commit_n=(504, 1))
    assert api.post(f"{API}/accounts", json={"name": "A"}).status_code == 504
    assert len(fake.rows("account")) == 1  # written although the caller saw a 504
    stats = api.get("/_fake/stats").json()
    assert stats["calls"]["POST accounts"] == 1 and stats["statuses"]["503"] == 1
    assert api.put("/_fake/faults", json={"token_fail": 1}).json()["token_fail"] == 1
    ids = api.post("/_fake/seed/contact", json=[{"lastname": "S"}]).json()["ids"]
    assert api.patch(f"/_fake/person_edit/contact/{ids[0]}", json={"firstname": "F"}).status_code == 204
    assert fake.row("contact", ids[0])["fullname"] == "F S"
    meta = api.get(f"{API}/$metadata")
    assert meta.status_code == 200 and '<EntitySet Name="accounts"' in meta.text
    assert '<Property Name="_parentaccountid_value" Type="Edm.Guid"/>' in meta.text
    assert api.post("/_fake/reset").status_code == 204 and fake.rows("contact") == []
    meta = api.get(f"{API}/$metadata")
    assert meta.status_code == 401  # reset forgot the token


# ---------------------------------------------------------------------------------- merge


def test_merge_deactivates_the_subordinate_moves_its_contacts_and_names_the_master(dataverse_fake):
    fake, api = dataverse_fake
    target = create(api, "accounts", {"name": "Keep A/S"})
    sub = create(api, "accounts", {"name": "Dup A/S", "telephone1": "555"})
    contact = create(
        api, "contacts", {"lastname": "Lee", "parentcustomerid_account@odata.bind": f"/accounts({sub})"}
    )
    assert fake.row("account", target)["merged"] is False, "DefaultValue False"
    account = "Microsoft.Dynamics.CRM.account"
    body = {
        "Target": {"@odata.type": account, "accountid": target},
        "Subordinate": {"@odata.type": account, "accountid": sub},
        "UpdateContent": {"@odata.type": account, "telephone1": "555"},
        "PerformParentingChecks": False,
    }
    r = api.post(f"{API}/Merge", json=body)
    assert r.status_code == 204, r.text
    merged = fake.row("account", sub)
    assert (merged["statecode"], merged["statuscode"], merged["merged"]) == (1, 2, True)
    assert merged["_masterid_value"] == target
    assert fake.row("account", target)["telephone1"] == "555", "UpdateContent is set on the target"
    assert fake.row("contact", contact)["_parentcustomerid_value"] == target, "the contacts move"
    got = api.get(f"{API}/accounts({sub})?$select=merged,_masterid_value").json()
    assert got["merged"] is True and got["_masterid_value"] == target
    again = api.post(f"{API}/Merge", json=body)
    assert again.status_code == 400, "an inactive (merged) record cannot be merged again"
    missing = {k: v for k, v in body.items() if k != "PerformParentingChecks"}
    assert api.post(f"{API}/Merge", json=missing).status_code == 400
    lead = {"@odata.type": "Microsoft.Dynamics.CRM.systemuser", "systemuserid": target}
    assert api.post(f"{API}/Merge", json={**body, "Target": lead}).status_code == 400


def test_merge_with_parenting_checks_refuses_different_parents(dataverse_fake):
    fake, api = dataverse_fake
    parent = create(api, "accounts", {"name": "Group"})
    target = create(api, "accounts", {"name": "A", "parentaccountid@odata.bind": f"/accounts({parent})"})
    sub = create(api, "accounts", {"name": "B"})
    account = "Microsoft.Dynamics.CRM.account"
    body = {
        "Target": {"@odata.type": account, "accountid": target},
        "Subordinate": {"@odata.type": account, "accountid": sub},
        "PerformParentingChecks": True,
    }
    assert api.post(f"{API}/Merge", json=body).status_code == 400
    assert fake.row("account", sub)["statecode"] == 0, "nothing merged"
    assert api.post(f"{API}/Merge", json={**body, "PerformParentingChecks": False}).status_code == 204
