"""scheduled_pull in-process: changed records become signals; the checkpoint moves only after enqueueing."""

from __future__ import annotations

from crmsync import pull as pull_module
from crmsync import runtime, service
from crmsync.models import ObjectType, Signal
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
    env.sqs.delete_queue(QueueUrl=env.resources.queue_urls["BulkQueue"])  # SQS unavailable for this run
    try:
        invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
        raised = False
    except Exception:
        raised = True
    assert raised, "a pull that could not enqueue must fail (so the schedule retries), not succeed"
    assert env.store.get_checkpoint("t1", "eco", ObjectType.CUSTOMER) == before


def test_a_re_read_in_the_lookback_costs_no_signal_and_a_real_change_does(env: Env):
    """The overlap is free: records the pull re-reads unchanged are compared with their bases in the
    pull itself (batch reads), so only the record that really changed is enqueued."""
    env.tenant("t1")
    env.economic.seed(3, contacts_per_customer=2, seed=4)
    invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    ctx = runtime.context()
    for body in env.queued():
        service.handle_signal(ctx, Signal.model_validate(body))
    again = invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    assert (again["enqueued"], again["seen"]) == (0, 9), "all nine re-read in the lookback, none enqueued"
    assert env.queued() == []
    number = env.economic.customer_numbers()[0]
    env.economic.update_customer(number, telephoneAndFaxNumber="+45 11 22 33 44")
    third = invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    signals = env.queued()
    assert [(s["object_type"], s["external_id"]) for s in signals] == [("customer", str(number))]
    assert third["seen"] == 8


def test_a_pull_works_in_chunks_and_moves_the_checkpoint_once_after_all(env: Env, monkeypatch):
    monkeypatch.setattr(pull_module, "PULL_CHUNK", 2)
    env.tenant("t1")
    env.economic.seed(3, contacts_per_customer=2, seed=6)
    result = invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    signals = env.queued()
    assert result["enqueued"] == len(signals) == 9, "3 customers + 6 contacts, two at a time"
    assert len({(s["object_type"], s["external_id"]) for s in signals}) == 9
    assert env.store.get_checkpoint("t1", "eco", ObjectType.CONTACT) is not None
