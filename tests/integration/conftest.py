"""Integration tier: handlers called in-process, AWS played by moto (``mock_aws``), vendors by the fakes.

Tables and queues come from ``template.yaml``; the fakes are served on localhost so the connectors
speak real HTTP to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from crmsync import runtime
from crmsync.models import Base, ObjectType, Record, SyncMode
from crmsync.store import SyncStore
from local.fakes.economic import EconomicFake
from local.fakes.hubspot import HubSpotFake
from local.template_resources import LocalResources, create_resources
from local.vendors import ECONOMIC_APP_SECRET, ECONOMIC_GRANT, HUBSPOT_TOKEN, VendorAccount, provision_tenant

WEBHOOK_SECRET = "it-webhook-key"


@dataclass
class Env:
    resources: LocalResources
    store: SyncStore
    sqs: Any
    secrets: Any
    economic: EconomicFake
    hubspot: HubSpotFake

    def tenant(self, tenant_id: str, mode: SyncMode = SyncMode.AUTOMATIC) -> str:
        return provision_tenant(
            self.store,
            self.secrets,
            tenant_id,
            mode=mode,
            account=VendorAccount("default", self.economic, self.hubspot),
            webhook_secret=WEBHOOK_SECRET,
        )

    def hubspot_company_record(self, tenant_id: str, fields: dict[str, Any], record_id: str) -> Record:
        """A HubSpot company and crmsync's record of it, linked to HubSpot only (as if read from there):
        its next push creates the customer in e-conomic."""
        company = self.hubspot.create("companies", fields)
        record = Record(
            tenant_id=tenant_id,
            record_id=record_id,
            object_type=ObjectType.CUSTOMER,
            fields=fields,
            links={"hs": company},
            bases={"hs": Base(fields=fields)},
        )
        self.store.save_record(record, new_links={"hs": company})
        return record

    def queued(self, *queues: str, wait: float = 0.0) -> list[dict[str, Any]]:
        """Drain the worker's queues (live signals and bulk, or the logical ids given): the signals
        (unbundled), push requests and pages they held, live first. ``wait``: up to that many seconds
        for delayed messages (a retry delay) to become due."""
        import json
        import time

        out = []
        for queue in queues or ("SignalsQueue", "BulkQueue"):
            url = self.resources.queue_urls[queue]
            deadline = time.monotonic() + wait
            while True:
                delayed = self.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
                )["Attributes"].get("ApproximateNumberOfMessagesDelayed", "0")
                if int(delayed) and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                msgs = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                    "Messages", []
                )
                if not msgs:
                    break
                for m in msgs:
                    body = json.loads(m["Body"])
                    # Signals travel in bundles of up to 100: unpack them (what the worker reconciles).
                    kind = body.get("kind") if isinstance(body, dict) else None
                    out += body["signals"] if kind == "signals" else [body]
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return out


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    economic = EconomicFake(app_secret_token=ECONOMIC_APP_SECRET, agreement_grant_token=ECONOMIC_GRANT)
    hubspot = HubSpotFake(HUBSPOT_TOKEN, rate_limit_per_10s=None, search_rate_limit_per_s=None)
    _, eco_url = economic.serve()
    _, hs_url = hubspot.serve()
    with mock_aws():
        dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        resources = create_resources(dynamodb, sqs)
        for key, value in {
            **resources.env(),
            "ECONOMIC_REST_URL": eco_url,
            "ECONOMIC_CUSTOMERS_API_URL": f"{eco_url}/customersapi/v3.1.0",
            "HUBSPOT_API_URL": hs_url,
            "RETRY_BASE_SECONDS": "1",  # as in the local stack: retry delays from 1 s, not 30 s
        }.items():
            monkeypatch.setenv(key, value)
        runtime.reset()
        yield Env(
            resources=resources,
            store=SyncStore(dynamodb, resources.sync_table_name),
            sqs=sqs,
            secrets=boto3.client("secretsmanager"),
            economic=economic,
            hubspot=hubspot,
        )
        runtime.reset()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    economic.shutdown()
    hubspot.shutdown()
