"""scheduled_pull in-process: changed records become signals; the checkpoint moves only after enqueueing."""

from __future__ import annotations

from crmsync.models import ObjectType
from local.lambda_runtime import invoke
from tests.integration.conftest import Env


def test_first_pull_enqueues_every_record_and_sets_checkpoints(env: Env):
    env.tenant("t1")
    env.economic.seed(3, contacts_per_customer=2, seed=1)
    result = invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    signals = env.queued()
    customers = [s for s in signals if s["object_type"] == "customer" and s["connection_id"] == "eco"]
    contacts = [s for s in signals if s["object_type"] == "contact" and s["connection_id"] == "eco"]
    assert len(customers) == 3 and len(contacts) == 6
    assert result["enqueued"] == len(signals)
    assert env.store.get_checkpoint("t1", "eco", ObjectType.CUSTOMER) is not None


def test_checkpoint_does_not_move_when_enqueueing_fails(env: Env):
    env.tenant("t1")
    env.economic.seed(2, contacts_per_customer=0, seed=2)
    invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    env.queued()
    before = env.store.get_checkpoint("t1", "eco", ObjectType.CUSTOMER)
    assert before is not None
    env.economic.clock.advance(3600)
    env.economic.seed(1, contacts_per_customer=0, seed=3)
    env.sqs.delete_queue(QueueUrl=env.resources.signals_queue_url)  # SQS unavailable for this run
    try:
        invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
        raised = False
    except Exception:
        raised = True
    assert raised, "a pull that could not enqueue must fail (so the schedule retries), not succeed"
    assert env.store.get_checkpoint("t1", "eco", ObjectType.CUSTOMER) == before
