"""Dataverse webhook verification and parsing (``crmsync.dataverse_webhooks``), on the fake's real contexts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmsync.dataverse_webhooks import (
    NIL_GUID,
    UNAUTHORISED,
    WEBHOOK_KEY_HEADER,
    RemoteExecutionContextIn,
    dataverse_delivery,
    delivery_key,
    own_write,
    parse_context,
    verify_dataverse_key,
)
from crmsync.models import ObjectType
from crmsync.webhooks import WebhookRejected
from local.fakes.dataverse import PERSON_USER_ID, DataverseFake

KEY = "k-3f9a"
APP_USER = "a9911ca7-0000-4000-8000-0000000000a9"
ROW = "3b1c0f4e-2a6d-4f7e-9c1b-5d2e8f9a0b1c"
EVENTS = Path(__file__).resolve().parents[2] / "events"


def fake_contexts(table: str, act: str = "edit") -> list[tuple[dict[str, str], bytes]]:
    """What the Dataverse fake posts for a person's create + edit (or delete) of one ``table`` row."""
    calls: list[tuple[dict[str, str], bytes]] = []

    def sink(headers: dict[str, str], body: bytes) -> int:
        calls.append((headers, body))
        return 200

    fake = DataverseFake(application_user_id=APP_USER, clock=lambda: 1_795_000_000.0)
    fake.add_webhook(sink, table)
    row = fake.person_create(table, {"lastname": "Berg"} if table != "account" else {"name": "A"})
    if act == "delete":
        fake.person_delete(table, row)
    else:
        fake.person_edit(table, row, {"telephone1": "1"} if table != "lead" else {"subject": "s"})
    return calls


def context(**fields: Any) -> RemoteExecutionContextIn:
    base = {
        "MessageName": "Update",
        "PrimaryEntityName": "account",
        "PrimaryEntityId": ROW,
        "InitiatingUserId": "5a1e5a1e-0000-4000-8000-00000000d365",
        "UserId": "5a1e5a1e-0000-4000-8000-00000000d365",
        "OperationId": "11111111-2222-4333-8444-555555555555",
        "CorrelationId": "66666666-7777-4888-8999-aaaaaaaaaaaa",
        "Depth": 1,
        "OperationCreatedOn": "/Date(1795000000000)/",
    }
    return parse_context(json.dumps({k: v for k, v in {**base, **fields}.items() if v is not ...}))


# -- the key ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({"code": KEY}, {}),
        ({}, {WEBHOOK_KEY_HEADER: KEY}),
        ({}, {"X-CrmSync-Webhook-Key": KEY}),
        ({"code": KEY}, {WEBHOOK_KEY_HEADER: KEY}),
    ],
)
def test_the_key_in_the_code_parameter_or_the_header_is_accepted(query, headers):
    verify_dataverse_key(expected_key=KEY, query=query, headers=headers)


@pytest.mark.parametrize(
    ("expected", "query", "headers"),
    [
        (KEY, {}, {}),
        (KEY, {"code": "guess"}, {}),
        (KEY, {"code": KEY + " "}, {}),
        (KEY, {"code": f"{KEY},{KEY}"}, {}),  # a repeated ?code= (API Gateway joins them)
        (KEY, {"code": KEY}, {WEBHOOK_KEY_HEADER: "guess"}),  # every key presented must match
        (KEY, {"key": KEY}, {"x-other": KEY}),
        (KEY, {"code": "ключ"}, {}),  # not ASCII: compare_digest on str would raise TypeError
        ("", {"code": ""}, {}),  # a secret without webhook_key accepts nothing
    ],
)
def test_a_missing_or_wrong_key_is_401_with_the_one_message(expected, query, headers):
    with pytest.raises(WebhookRejected) as refused:
        verify_dataverse_key(expected_key=expected, query=query, headers=headers)
    assert (refused.value.status, refused.value.message) == (401, UNAUTHORISED)


# -- parsing ---------------------------------------------------------------------------------------


def test_the_fakes_contexts_parse_with_wcf_dates_and_both_users():
    (created_headers, created), (_, updated) = fake_contexts("account")
    assert b'"\\/Date(' in updated  # WCF's escaped slashes, on the wire
    first, second = parse_context(created), parse_context(updated)
    assert (first.message_name, second.message_name) == ("Create", "Update")
    assert first.primary_entity_id == second.primary_entity_id == json.loads(created)["PrimaryEntityId"]
    assert second.operation_created_on == datetime.fromtimestamp(1_795_000_000, tz=UTC)
    assert second.acting_user == PERSON_USER_ID
    assert second.depth == 1 and second.operation_id and second.correlation_id
    assert created_headers["x-ms-dynamics-request-name"] == "Create"


def test_ids_are_normalised_and_a_timezone_offset_is_read():
    parsed = context(PrimaryEntityId=ROW.upper(), OperationCreatedOn="/Date(1795000000000+0100)/")
    assert parsed.primary_entity_id == ROW
    assert parsed.operation_created_on == datetime.fromtimestamp(1_795_000_000, tz=UTC)


def test_initiating_user_falls_back_to_user_id():
    assert context(InitiatingUserId=...).acting_user == "5a1e5a1e-0000-4000-8000-00000000d365"
    assert context(InitiatingUserId=None, UserId=APP_USER).acting_user == APP_USER


@pytest.mark.parametrize(
    "fields",
    [
        {"MessageName": ...},
        {"PrimaryEntityName": ...},
        {"PrimaryEntityId": ...},
        {"PrimaryEntityId": "../../accounts"},
        {"PrimaryEntityId": "{" + ROW + "}"},  # uuid.UUID would read it; the Web API never writes it
        {"PrimaryEntityId": 12},
        {"PrimaryEntityId": NIL_GUID},
        {"MessageName": ["Update"]},
        {"MessageName": ""},
        {"InitiatingUserId": "crmsync"},
        {"Depth": -1},
        {"Depth": "1"},
        {"OperationCreatedOn": "2026-12-07T10:00:00Z"},
        {"OperationCreatedOn": "/Date(99999999999999999999)/"},
    ],
)
def test_a_body_that_is_not_a_remote_execution_context_is_400(fields):
    with pytest.raises(WebhookRejected) as refused:
        context(**fields)
    assert refused.value.status == 400
    assert "../../" not in refused.value.message  # fields are named, their values never echoed


@pytest.mark.parametrize(
    "body", ["", "not json", "[]", "null", "1e999999", "[" * 100 + "]" * 100, b"{}\xff", "9" * 5000]
)
def test_a_body_that_is_not_a_json_object_is_400(body):
    with pytest.raises(WebhookRejected) as refused:
        parse_context(body)
    assert refused.value.status == 400


def test_an_oversized_body_is_413():
    with pytest.raises(WebhookRejected) as refused:
        parse_context("{" + " " * (1024 * 1024) + "}")
    assert refused.value.status == 413


def test_a_size_exceeded_context_keeps_what_crmsync_reads():
    full = json.loads(fake_contexts("contact")[1][1])
    stripped = {
        **full,
        "InputParameters": [],
        "PreEntityImages": [],
        "PostEntityImages": [],
        "ParentContext": None,
    }
    assert parse_context(json.dumps(stripped)) == parse_context(json.dumps(full))


# -- what a delivery means -------------------------------------------------------------------------


def delivery(parsed: RemoteExecutionContextIn, app_user: str | None = APP_USER):
    return dataverse_delivery(parsed, tenant_id="t1", connection_id="dyn", application_user_id=app_user)


@pytest.mark.parametrize(
    ("table", "object_type"), [("account", ObjectType.CUSTOMER), ("contact", ObjectType.CONTACT)]
)
def test_creates_updates_and_deletes_of_synced_tables_are_signals(table, object_type):
    bodies = [body for _, body in fake_contexts(table)] + [fake_contexts(table, "delete")[1][1]]
    parsed = [parse_context(body) for body in bodies]
    assert [p.message_name for p in parsed] == ["Create", "Update", "Delete"]
    for each in parsed:
        result = delivery(each)
        assert result.ignored is None and result.signal is not None
        assert (result.signal.object_type, result.signal.external_id) == (object_type, each.primary_entity_id)
        assert (result.signal.tenant_id, result.signal.connection_id, result.signal.source) == (
            "t1",
            "dyn",
            "webhook",
        )
        assert result.signal.hint == {}  # a delete is a signal like HubSpot's: the re-read finds it gone


def test_other_tables_and_messages_are_ignored_not_refused():
    lead = parse_context(fake_contexts("lead")[1][1])
    assert lead.primary_entity_name == "lead"
    assert (delivery(lead).signal, delivery(lead).ignored) == (None, "table")
    assert delivery(context(MessageName="SetState")).ignored == "message"
    assigned = delivery(context(MessageName="Assign"))  # a new owner (account manager) is an Assign
    assert assigned.ignored is None and assigned.signal is not None
    assert delivery(context(PrimaryEntityName="Account")).ignored == "table"  # logical names are lower case


def test_only_the_application_users_own_write_is_an_echo():
    own = context(InitiatingUserId=APP_USER.upper(), UserId=APP_USER)
    assert own_write(own, APP_USER) and delivery(own).ignored == "echo" and delivery(own).signal is None
    assert own_write(context(InitiatingUserId=..., UserId=APP_USER), APP_USER)
    # a plug-in reacting to crmsync's write runs deeper under the same user: what it changed is read
    assert not own_write(context(InitiatingUserId=APP_USER, Depth=2), APP_USER)
    # a person's edit, and any write when the config names no application user, are kept
    assert not own_write(context(), APP_USER)
    assert not own_write(own, None) and delivery(own, None).signal is not None
    # Dataverse calls the step as the app user for a person's change (impersonation): the caller counts
    assert not own_write(context(UserId=APP_USER), APP_USER)


def test_a_retry_has_the_same_key_and_any_other_delivery_another():
    parsed = context()
    assert delivery_key("t1", "dyn", parsed) == delivery_key("t1", "dyn", context())
    others = {
        delivery_key("t2", "dyn", parsed),
        delivery_key("t1", "dyn2", parsed),
        delivery_key("t1", "dyn", context(OperationId="11111111-2222-4333-8444-000000000000")),
        delivery_key("t1", "dyn", context(PrimaryEntityId="3b1c0f4e-2a6d-4f7e-9c1b-000000000000")),
        delivery_key("t1", "dyn", context(MessageName="Delete")),
        delivery_key("t1", "dyn", context(PrimaryEntityName="contact")),
    }
    assert len(others) == 6 and delivery_key("t1", "dyn", parsed) not in others


def test_synchronous_steps_without_a_system_job_are_told_apart():
    """A synchronous step has no system job: its OperationId is the empty GUID on every delivery."""
    first = context(OperationId=NIL_GUID, CorrelationId="66666666-7777-4888-8999-000000000001")
    second = context(OperationId=NIL_GUID, CorrelationId="66666666-7777-4888-8999-000000000002")
    deeper = context(OperationId=NIL_GUID, CorrelationId="66666666-7777-4888-8999-000000000001", Depth=2)
    assert len({delivery_key("t1", "dyn", c) for c in (first, second, deeper)}) == 3


def test_the_sample_event_is_a_delivery_the_handler_reads():
    event = json.loads((EVENTS / "webhook_dynamics_account_update.json").read_text(encoding="utf-8"))
    verify_dataverse_key(
        expected_key="REPLACE-WITH-WEBHOOK-KEY",
        query=event.get("queryStringParameters", {}),
        headers=event["headers"],
    )
    result = delivery(parse_context(event["body"]))
    assert result.signal is not None and result.signal.object_type is ObjectType.CUSTOMER
