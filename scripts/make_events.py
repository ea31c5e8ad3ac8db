"""Regenerate ``events/*.json``: one realistic sample event per function and source.

Run ``python -m scripts.make_events``; the files are committed so ``sam local``-style tooling and
readers can see exactly what each handler receives.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from crmsync.models import ObjectType, Record, Signal
from crmsync.webhooks import hubspot_signature_v3
from local.lambda_runtime import http_event, sqs_event

OUT = Path(__file__).resolve().parents[1] / "events"
HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def write(name: str, event: dict) -> None:
    (OUT / name).write_text(json.dumps(event, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def console_event() -> dict:
    """The browser loading one of the admin console's files (gzip accepted)."""
    return http_event(
        "GET",
        "/console/app.js",
        host=HOST,
        headers={"Accept-Encoding": "gzip, deflate, br"},
        route_key="GET /console/{proxy+}",
        path_parameters={"proxy": "app.js"},
    )


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write(
        "webhook_economic_customer_updated.json",
        http_event(
            "POST",
            "/webhooks/economic/acme/eco",
            query="key=REPLACE-WITH-WEBHOOK-SECRET&old=1042&new=1042",
            body="{}",
            host=HOST,
            route_key="POST /webhooks/economic/{tenant_id}/{connection_id}",
            path_parameters={"tenant_id": "acme", "connection_id": "eco"},
        ),
    )
    body = json.dumps(
        [
            {
                "objectId": 5791,
                "propertyName": "city",
                "propertyValue": "Odense",
                "changeSource": "CRM_UI",
                "eventId": 3816279340,
                "subscriptionId": 25,
                "portalId": 62515,
                "appId": 54321,
                "occurredAt": 1795000000000,
                "subscriptionType": "company.propertyChange",
                "attemptNumber": 0,
            },
        ]
    )
    ts = str(int(time.time() * 1000))
    path = "/webhooks/hubspot/acme/hs"
    write(
        "webhook_hubspot_company_property_change.json",
        http_event(
            "POST",
            path,
            body=body,
            host=HOST,
            route_key="POST /webhooks/hubspot/{tenant_id}/{connection_id}",
            path_parameters={"tenant_id": "acme", "connection_id": "hs"},
            headers={
                "Content-Type": "application/json",
                "X-HubSpot-Request-Timestamp": ts,
                "X-HubSpot-Signature-v3": hubspot_signature_v3(
                    "fake-client-secret", "POST", f"https://{HOST}{path}", body, ts
                ),
            },
        ),
    )
    write(
        "api_get_record.json",
        http_event(
            "GET",
            "/tenants/acme/records/cus_0123456789abcdef0123456789abcdef",
            host=HOST,
            headers={"Authorization": "Bearer REPLACE-WITH-API-TOKEN"},
            route_key="ANY /tenants/{proxy+}",
            path_parameters={"proxy": "acme/records/cus_0123456789abcdef0123456789abcdef"},
        ),
    )
    write("console_get_file.json", console_event())
    write(
        "lead_conversion_convert.json",
        http_event(
            "POST",
            "/tenants/acme/leads/5791/convert",
            host=HOST,
            body=json.dumps({"object_type": "company", "action": "create_new"}),
            headers={"Authorization": "Bearer REPLACE-WITH-API-TOKEN", "Content-Type": "application/json"},
            route_key="POST /tenants/{tenant_id}/leads/{lead_id}/convert",
            path_parameters={"tenant_id": "acme", "lead_id": "5791"},
        ),
    )
    signals = [
        Signal(
            tenant_id="acme",
            connection_id="eco",
            object_type=ObjectType.CUSTOMER,
            external_id="1042",
            source="webhook",
        ),
        Signal(
            tenant_id="acme",
            connection_id="hs",
            object_type=ObjectType.CONTACT,
            external_id="9001",
            source="pull",
        ),
    ]
    messages = [
        {
            "MessageId": f"0e5f6a1c-0000-4000-8000-00000000000{i}",
            "ReceiptHandle": f"AQEB{i}",
            "Body": s.model_dump_json(),
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        for i, s in enumerate(signals)
    ]
    write(
        "sync_worker_signals.json", sqs_event(messages, "arn:aws:sqs:eu-west-1:123456789012:crmsync-signals")
    )
    record = Record(
        tenant_id="acme",
        record_id="cus_0123456789abcdef0123456789abcdef",
        object_type=ObjectType.CUSTOMER,
        fields={"name": "Acme A/S", "city": "Odense"},
        links={"eco": "1042", "hs": "5791"},
        version=7,
    )
    write(
        "push_on_change_stream_modify.json",
        {
            "Records": [
                {
                    "eventID": "c4ca4238a0b923820dcc509a6f75849b",
                    "eventName": "MODIFY",
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "eu-west-1",
                    "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/crmsync-sync/stream/2026-11-26T00:00:00.000",
                    "dynamodb": {
                        "ApproximateCreationDateTime": 1795000000,
                        "Keys": {"PK": {"S": "TENANT#acme"}, "SK": {"S": f"REC#customer#{record.record_id}"}},
                        "NewImage": {
                            "PK": {"S": "TENANT#acme"},
                            "SK": {"S": f"REC#customer#{record.record_id}"},
                            "data": {"S": record.model_dump_json(exclude={"version"})},
                            "version": {"N": "8"},
                            "object_type": {"S": "customer"},
                        },
                        "SequenceNumber": "111",
                        "SizeBytes": 512,
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                }
            ]
        },
    )
    write(
        "scheduled_pull.json",
        {
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": "123456789012",
            "time": "2026-11-26T18:00:00Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/pull"],
            "detail": "{}",
        },
    )


if __name__ == "__main__":
    main()
