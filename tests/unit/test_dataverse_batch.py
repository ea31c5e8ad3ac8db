"""Pure parts of the Dataverse connector: $batch bodies, error mapping, field mapping, deterministic ids.

The canned batch answers are the examples of Microsoft Learn, "Execute batch operations using the Web
API" (powerapps-docs: developer/data-platform/webapi/execute-batch-operations-using-web-api.md).
"""

from __future__ import annotations

import json

import httpx

from crmsync.connectors.base import (
    AuthError,
    NotFoundError,
    RateLimitedError,
    StaleError,
    TransientError,
    VendorRefusedError,
)
from crmsync.connectors.dataverse import (
    DataverseConnector,
    DeltaExpired,
    decode_batch,
    encode_batch,
    record_guid,
)
from crmsync.connectors.dataverse_batch import BatchPart
from crmsync.connectors.dataverse_errors import dataverse_error, is_duplicate_key
from crmsync.connectors.dataverse_mapping import DataverseMapping, split_name
from crmsync.models import ObjectType

CONTINUE_ON_ERROR = """--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: de4c5227-4a28-4ebd-8ced-3392ece1697b
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{"error":{"code":"0x80044331","message":"A validation error occurred.  The length of the 'subject' attribute of the 'task' entity exceeded the maximum allowed length of '200'."}}
--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)


--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(b181a991-3c94-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(b181a991-3c94-ed11-aad1-000d3a9933c9)


--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139--
"""

CHANGE_SET = """--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f
Content-Type: multipart/mixed; boundary=changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15

--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)


--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)


--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15--
--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal; odata.streaming=true
OData-Version: 4.0

{
  "@odata.context": "[Organization Uri]/api/data/v9.2/$metadata#tasks(subject)",
  "value": [
    {
      "@odata.etag": "W/\\"77181173\\"",
      "subject": "Task 1 in batch",
      "activityid": "e73ffc82-e292-ed11-aad1-000d3a9933c9"
    }
  ]
}
--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f--
"""


def test_parses_the_continue_on_error_answer_with_crlf_or_lf() -> None:
    for text in (CONTINUE_ON_ERROR, CONTINUE_ON_ERROR.replace("\n", "\r\n")):
        parts = decode_batch(
            "multipart/mixed; boundary=batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139", text.encode()
        )
        assert [p.status_code for p in parts] == [400, 204, 204]
        error = dataverse_error(parts[0])
        assert isinstance(error, VendorRefusedError) and error.code == "0x80044331"
        assert error.request_id == "de4c5227-4a28-4ebd-8ced-3392ece1697b" and "'200'" in error.message
        assert parts[2].headers["OData-EntityId"].endswith("tasks(b181a991-3c94-ed11-aad1-000d3a9933c9)")
        assert parts[1].content == b""


def test_parses_change_set_answers_in_order() -> None:
    parts = decode_batch(
        'multipart/mixed; boundary="batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f"', CHANGE_SET.encode()
    )
    assert [p.status_code for p in parts] == [204, 204, 200]
    assert parts[2].json()["value"][0]["@odata.etag"] == 'W/"77181173"'


def test_encodes_independent_requests_that_parse_back() -> None:
    parts = [
        BatchPart("POST", "https://o.crm.dynamics.com/api/data/v9.2/accounts", {"name": "Æble ApS"}),
        BatchPart(
            "PATCH",
            "https://o.crm.dynamics.com/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)",
            {"name": "B"},
            {"If-Match": 'W/"12"'},
        ),
        BatchPart(
            "DELETE",
            "https://o.crm.dynamics.com/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000002)",
        ),
    ]
    content_type, body = encode_batch(parts, "batch_x1")
    assert content_type == 'multipart/mixed; boundary="batch_x1"'
    text = body.decode()
    assert text.endswith("--batch_x1--\r\n") and text.count("--batch_x1\r\n") == 3
    assert "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST https://" in text
    assert 'If-Match: W/"12"' in text and "Content-Type: application/json; type=entry" in text
    assert json.dumps({"name": "Æble ApS"}, ensure_ascii=False, separators=(",", ":")) in text
    assert "changeset" not in text


def _response(status: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_error_mapping() -> None:
    body = {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit of 6000"}}
    limited = dataverse_error(_response(429, body, **{"Retry-After": "7"}))
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 7 and limited.retryable
    burst = dataverse_error(_response(503, {"error": {"code": "0x80072326", "message": "concurrent"}}))
    assert isinstance(burst, RateLimitedError)
    assert isinstance(dataverse_error(_response(401, {"error": {"code": "", "message": "x"}})), AuthError)
    assert isinstance(
        dataverse_error(_response(403, {"error": {"code": "0x80040220", "message": "x"}})), AuthError
    )
    assert isinstance(
        dataverse_error(_response(404, {"error": {"code": "0x80040217", "message": "x"}})), NotFoundError
    )
    stale = dataverse_error(
        _response(412, {"error": {"code": "0x80060882", "message": "version doesn't match"}})
    )
    assert isinstance(stale, StaleError)
    dup = dataverse_error(
        _response(
            412,
            {"error": {"code": "0x80060892", "message": "A record with matching key values already exists."}},
        )
    )
    assert isinstance(dup, VendorRefusedError) and is_duplicate_key(dup)
    dup2 = dataverse_error(
        _response(400, {"error": {"code": "0x80040237", "message": "Cannot insert duplicate key."}})
    )
    assert is_duplicate_key(dup2)
    assert isinstance(dataverse_error(_response(502, None)), TransientError)
    expired = dataverse_error(
        _response(
            400,
            {
                "error": {
                    "code": "0x80044352",
                    "message": "Version stamp associated with the client has expired. Please perform a full sync.",
                }
            },
        )
    )
    assert isinstance(expired, DeltaExpired) and not expired.retryable
    with_id = dataverse_error(
        _response(400, {"error": {"code": "0x1", "message": "m"}}, **{"x-ms-service-request-id": "r-1"})
    )
    assert with_id.request_id == "r-1"
    assert dataverse_error(httpx.Response(400, content=b"<html>")).message.startswith("Dataverse 400")


def test_field_mapping_round_trip() -> None:
    m = DataverseMapping()
    fields = {
        "name": "Acme A/S",
        "customer_number": "1001",
        "phone": "+45 1234",
        "email": "a@acme.dk",
        "website": "acme.dk",
        "address": "Street 1\nBuilding B\nFloor 3\nRoom 4",
        "zip": "8000",
        "city": "Aarhus",
        "country": "DK",
        "account_manager": "00000000-0000-0000-0000-0000000000aa",
        "vat_number": "DK1",
    }
    body = m.to_columns(ObjectType.CUSTOMER, fields)
    assert "vat_number" not in str(body) and body["accountnumber"] == "1001"
    assert body["ownerid@odata.bind"] == "/systemusers(00000000-0000-0000-0000-0000000000aa)"
    assert (body["address1_line1"], body["address1_line2"], body["address1_line3"]) == (
        "Street 1",
        "Building B",
        "Floor 3, Room 4",
    )
    assert "ownerid@odata.bind" not in m.to_columns(ObjectType.CUSTOMER, {"account_manager": None})
    row = {
        **{k: v for k, v in body.items() if "@" not in k},
        "accountid": "00000000-0000-0000-0000-000000000001",
    }
    row |= {
        "_ownerid_value": "00000000-0000-0000-0000-0000000000aa",
        "@odata.etag": 'W/"5"',
        "modifiedon": "2026-12-01T10:00:00Z",
    }
    record = m.to_source(ObjectType.CUSTOMER, row)
    assert record.version == 'W/"5"' and record.modified_at is not None
    assert record.fields["address"] == "Street 1\nBuilding B\nFloor 3, Room 4"
    assert {k: record.fields[k] for k in fields if k not in ("address", "vat_number")} == {
        k: v for k, v in fields.items() if k not in ("address", "vat_number")
    }
    assert "vat_number" not in m.supported_fields(ObjectType.CUSTOMER)
    assert m.supported_fields(ObjectType.CONTACT) == {"name", "email", "phone", "title"}


def test_contact_mapping_and_parent_kind() -> None:
    m = DataverseMapping()
    acc = "00000000-0000-0000-0000-000000000001"
    body = m.to_columns(ObjectType.CONTACT, {"name": "Anna Marie Jensen", "title": "CFO"}, acc)
    assert (body["firstname"], body["lastname"], body["jobtitle"]) == ("Anna Marie", "Jensen", "CFO")
    assert body["parentcustomerid_account@odata.bind"] == f"/accounts({acc})"
    row = {
        "contactid": "00000000-0000-0000-0000-000000000002",
        "firstname": "Anna",
        "lastname": None,
        "_parentcustomerid_value": acc,
    }
    with_account = row | {"_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account"}
    with_contact = row | {"_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact"}
    assert m.to_source(ObjectType.CONTACT, with_account).parent_external_id == acc
    assert m.to_source(ObjectType.CONTACT, with_contact).parent_external_id is None
    assert m.to_source(ObjectType.CONTACT, row).fields["name"] == "Anna"
    assert split_name("Cher") == ("Cher", "")


def test_create_ids_are_deterministic_per_record() -> None:
    assert record_guid("cus_1") == record_guid("cus_1") != record_guid("cus_2")
    assert len(record_guid("cus_1")) == 36


def test_connector_refuses_a_foreign_org_url_before_any_call() -> None:
    import pytest

    from crmsync.connectors.dataverse_urls import OrgUrlError

    with pytest.raises(OrgUrlError):
        DataverseConnector("dv", "https://evil.example", httpx.Auth(), client=httpx.Client())


def test_an_account_owned_by_crmsyncs_application_user_has_no_account_manager() -> None:
    """Dataverse makes the application user the owner of what crmsync creates: nobody chose it."""
    mapping = DataverseMapping()
    mapping.application_user_id = "7C2C6F0E-5A4B-4C1E-9D5E-2F8E1A3B4C5D"
    row = {
        "accountid": "a1",
        "name": "Fjordhuset A/S",
        "_ownerid_value": "7c2c6f0e-5a4b-4c1e-9d5e-2f8e1a3b4c5d",
    }
    assert mapping.to_source(ObjectType.CUSTOMER, row).fields["account_manager"] is None
    person = "0b1c2d3e-0000-4000-8000-00000000abcd"
    owned = mapping.to_source(ObjectType.CUSTOMER, {**row, "_ownerid_value": person})
    assert owned.fields["account_manager"] == person
