"""The committed sample events (``events/``) are what the handlers really parse, and route where the template says."""

from __future__ import annotations

import json
from pathlib import Path

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from crmsync.service import parse_signals
from crmsync.stream import records_from_stream
from local.template_resources import function_specs, match_route

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_http_events_route_to_the_template_functions():
    specs = function_specs()
    expected = {
        "webhook_economic_customer_updated.json": "WebhookIngestFunction",
        "webhook_hubspot_company_property_change.json": "WebhookIngestFunction",
        "webhook_dynamics_account_update.json": "WebhookIngestFunction",
        "api_get_record.json": "ApiFunction",
        "lead_conversion_convert.json": "LeadConversionFunction",
        "console_get_file.json": "ConsoleFunction",
    }
    for name, function in expected.items():
        event = load(name)
        spec, route, params = match_route(specs, event["requestContext"]["http"]["method"], event["rawPath"])
        assert spec.logical_id == function
        assert route.route_key == event["routeKey"]
        assert params == event["pathParameters"]


def test_worker_event_carries_valid_signals():
    bodies = [r["body"] for r in load("sync_worker_signals.json")["Records"]]
    signals = parse_signals(bodies)
    assert len(signals) == len(bodies) == 2
    assert {s.connection_id for s in signals} == {"eco", "hs"}


def test_stream_event_decodes_to_a_record():
    records, sequence = records_from_stream(DynamoDBStreamEvent(load("push_on_change_stream_modify.json")))
    (record,) = records
    assert record.version == 8
    assert record.links == {"eco": "1042", "hs": "5791"}
    assert sequence[record.record_id] == "111"
