"""Decode the sync table's DynamoDB stream into records (the push consumer's input)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecordEventName

from crmsync.models import Record
from crmsync.store import record_from_image, unpack


def records_from_stream(event: DynamoDBStreamEvent) -> tuple[list[Record], dict[str, str]]:
    """Records from INSERT/MODIFY images of ``REC#`` items, and each record's first sequence number."""
    records: list[Record] = []
    first_sequence: dict[str, str] = {}
    for item in event.records:
        if item.event_name is DynamoDBRecordEventName.REMOVE or item.dynamodb is None:
            continue
        keys = item.dynamodb.keys or {}
        if not str(keys.get("SK", "")).startswith("REC#"):
            continue
        image = item.dynamodb.new_image or {}
        if "data" not in image:
            continue
        log = image.get("log")
        record = record_from_image(
            image["data"],
            int(image["version"]),
            [unpack(e) for e in log] if isinstance(log, list) else None,
        )
        records.append(record)
        if item.dynamodb.sequence_number:
            first_sequence.setdefault(record.record_id, item.dynamodb.sequence_number)
    return records, first_sequence
