"""Record items store their JSON compressed; items written before that, and stream events, still read."""

from __future__ import annotations

import base64

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from crmsync.models import ObjectType, Record
from crmsync.store import new_record_id, record_sk, tenant_pk
from crmsync.stream import records_from_stream
from tests.integration.conftest import Env


def saved(env: Env) -> Record:
    record = Record(
        tenant_id="t1", record_id=new_record_id(ObjectType.CUSTOMER), object_type=ObjectType.CUSTOMER
    )
    record.fields.update(
        {"name": "Vestergaard Tømrer ApS", "city": "Vejle", "email": "info@vestergaard.example"}
    )
    return env.store.save_record(record, log=[{"kind": "signal", "decision": "created"}])


def raw(env: Env, record: Record) -> dict:
    key = {"PK": {"S": tenant_pk("t1")}, "SK": {"S": record_sk(record.object_type, record.record_id)}}
    return env.store._db.get_item(TableName=env.store.table, Key=key)["Item"]


def test_a_record_is_stored_compressed_and_reads_back_whole(env: Env):
    record = saved(env)
    item = raw(env, record)
    assert "B" in item["data"], "binary, zlib-compressed"
    assert len(item["data"]["B"]) < len(record.model_dump_json())
    again = env.store.get_record("t1", record.record_id)
    assert again is not None and again.fields == record.fields and again.version == 1
    assert [e["decision"] for e in env.store.timeline("t1", record.record_id)] == ["created"]


def test_an_item_written_before_compression_still_reads(env: Env):
    record = saved(env)
    item = raw(env, record)
    item["data"] = {"S": record.model_dump_json(exclude={"version"})}
    env.store._db.put_item(TableName=env.store.table, Item=item)
    again = env.store.get_record("t1", record.record_id)
    assert again is not None and again.fields["city"] == "Vejle"


def test_a_stream_event_carries_the_binary_as_base64_and_decodes(env: Env):
    record = saved(env)
    item = raw(env, record)
    image = {
        "PK": item["PK"],
        "SK": item["SK"],
        "version": item["version"],
        "data": {"B": base64.b64encode(item["data"]["B"]).decode()},
        "log": {"L": [{"B": base64.b64encode(e["B"]).decode()} for e in item["log"]["L"]]},
    }
    event = DynamoDBStreamEvent(
        {
            "Records": [
                {
                    "eventName": "INSERT",
                    "dynamodb": {
                        "Keys": {"PK": item["PK"], "SK": item["SK"]},
                        "NewImage": image,
                        "SequenceNumber": "100",
                    },
                }
            ]
        }
    )
    (decoded,), _ = records_from_stream(event)
    assert decoded.fields == record.fields and decoded.version == 1
    assert decoded._log is not None and len(decoded._log) == 1 and "created" in decoded._log[0]
