"""A tenant connection whose secret or credentials fail: ``needs_attention`` (visible, with a reason and
since when), its work parked, the vendor left alone until the next probe, and ``ok`` again after a
successful call (issue 14)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmsync import connection_state, runtime, service
from crmsync.items import ParkedMessage
from crmsync.models import ObjectType, Signal
from crmsync.service import SyncContext
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env

T = "t1"
REVOKED = "pat-revoked-token"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def setup(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SyncContext, Clock, str]]:
    monkeypatch.setenv("SECRETS_MAX_AGE", "0")  # a rewritten secret counts at once
    runtime.reset()
    env.economic.seed(1, contacts_per_customer=0, seed=4)
    token = env.tenant(T)
    ctx = runtime.context()
    clock = Clock()
    ctx.clock = clock
    connection_state.metrics.clear_metrics()
    yield ctx, clock, token
    connection_state.metrics.clear_metrics()


def secret_id(conn: str) -> str:
    return f"crmsync/{T}/{conn}/test"


def set_hubspot_token(env: Env, token: str) -> None:
    current = json.loads(env.secrets.get_secret_value(SecretId=secret_id("hs"))["SecretString"])
    env.secrets.put_secret_value(
        SecretId=secret_id("hs"), SecretString=json.dumps({**current, "access_token": token})
    )


def health(token: str) -> dict[str, Any]:
    response = invoke(
        "api", http_event("GET", f"/tenants/{T}/health", headers={"Authorization": f"Bearer {token}"})
    )
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def states(token: str) -> dict[str, dict[str, Any]]:
    return {c["connection_id"]: c for c in health(token)["connections"]}


def hs_signal(env: Env, source: str = "webhook") -> Signal:
    company = env.hubspot.create("companies", {"name": "Vestkyst Is ApS", "city": "Esbjerg"})
    return Signal(
        tenant_id=T, connection_id="hs", object_type=ObjectType.CUSTOMER, external_id=company, source=source
    )


def test_a_refused_token_marks_the_connection_and_a_later_success_clears_it(env: Env, setup):
    ctx, clock, token = setup
    assert {c: s["state"] for c, s in states(token).items()} == {"eco": "ok", "hs": "ok"}
    set_hubspot_token(env, REVOKED)

    report = service.pull(ctx)  # does not raise: the e-conomic connection is pulled, HubSpot's is marked
    assert set(report.needs_attention) == {f"{T}/hs"}
    assert any(key.startswith(f"{T}/eco/") for key in report.checkpoints)
    assert "ConnectionNeedsAttention" in connection_state.metrics.metric_set

    shown = states(token)
    assert shown["eco"]["state"] == "ok"
    hs = shown["hs"]
    assert hs["state"] == "needs_attention" and "401" in hs["reason"] and hs["error"] == "AuthError"
    assert hs["since"] == T0.isoformat() and hs["failures"] == 1
    assert hs["next_probe_at"] == (T0 + timedelta(minutes=1)).isoformat()
    assert REVOKED not in json.dumps(health(token))

    # Before the probe time the pull leaves HubSpot alone; after it, one probe fails: since is kept,
    # the next probe waits twice as long.
    calls = env.hubspot.stats()["unauthorized"]
    ctx.forget_configs()
    assert set(service.pull(ctx).needs_attention) == {f"{T}/hs"}
    assert env.hubspot.stats()["unauthorized"] == calls, "no vendor call before the probe time"
    clock.now = T0 + timedelta(minutes=1, seconds=1)
    ctx.forget_configs()
    service.pull(ctx)
    assert env.hubspot.stats()["unauthorized"] > calls
    hs = states(token)["hs"]
    assert hs["since"] == T0.isoformat() and hs["failures"] == 2
    assert hs["next_probe_at"] == (clock.now + timedelta(minutes=2)).isoformat()

    set_hubspot_token(env, "pat-local-token")
    clock.now = T0 + timedelta(minutes=5)
    ctx.forget_configs()
    assert service.pull(ctx).needs_attention == {}
    assert health(token)["state"] == "ok"
    assert states(token)["hs"]["since"] == clock.now.isoformat()


def test_backoff_doubles_up_to_an_hour():
    assert [min(2 ** min(n - 1, 6), service.PROBE_MAX_MINUTES) for n in (1, 2, 3, 4, 7, 8, 20)] == [
        1,
        2,
        4,
        8,
        60,
        60,
        60,
    ]


def test_signals_of_a_broken_connection_are_parked_without_calling_the_vendor_until_a_replay(env: Env, setup):
    ctx, _clock, token = setup
    first, second = hs_signal(env), hs_signal(env)
    set_hubspot_token(env, REVOKED)

    assert service.handle_signal_contained(ctx, first).decision == "parked"
    refused = env.hubspot.stats()["unauthorized"]
    assert refused >= 1
    ctx.forget_configs()  # the next invocation reads the state from the table
    assert service.handle_signal_contained(ctx, second).decision == "parked"
    assert env.hubspot.stats()["unauthorized"] == refused, "the open circuit parks without a vendor call"
    parked = {p.id: p for p in env.store.parked(T)}
    assert set(parked) == {
        f"signal.hs.customer.{first.external_id}",
        f"signal.hs.customer.{second.external_id}",
    }
    assert all("401" in p.reason for p in parked.values())

    # A person's replay tries at once (still refused: parked again, one more call).
    replayed = first.model_copy(update={"source": "replay"})
    ctx.forget_configs()
    assert service.handle_signal_contained(ctx, replayed).decision == "parked"
    assert env.hubspot.stats()["unauthorized"] > refused

    # Fixed and replayed: the record arrives and the connection is ok.
    set_hubspot_token(env, "pat-local-token")
    ctx.forget_configs()
    assert service.handle_signal_contained(ctx, replayed).decision == "created"
    assert states(token)["hs"]["state"] == "ok"


def test_a_push_to_a_connection_without_secret_is_parked_as_a_replayable_push(env: Env, setup):
    ctx, _clock, token = setup
    fields = {"name": "Fjordhuset A/S", "city": "Vejle"}
    record = env.hubspot_company_record(T, fields, "cus_" + "c" * 32)
    eco_secret = env.secrets.get_secret_value(SecretId=secret_id("eco"))["SecretString"]
    env.secrets.delete_secret(SecretId=secret_id("eco"), ForceDeleteWithoutRecovery=True)

    report = service.push_records(ctx, [env.store.get_record(T, record.record_id)])
    assert report.parked == 1 and not report.failed
    (entry,) = env.store.parked(T)
    assert isinstance(entry, ParkedMessage)
    assert entry.id == f"push.{record.record_id}" and entry.kind == "push"
    assert "credentials could not be read" in entry.reason
    eco = states(token)["eco"]
    assert eco["state"] == "needs_attention" and eco["error"] == "ConnectionUnavailable"

    env.secrets.create_secret(Name=secret_id("eco"), SecretString=eco_secret)
    ctx.forget_configs()
    assert service.replay_message(ctx, T, entry) == "push"
    assert env.store.parked(T) == [], "unparked once requeued"
    (request,) = env.queued()
    assert request["replay"] is True
    report = service.push_requested(ctx, service.PushRequest.model_validate(request))
    assert report.created == 1
    assert env.store.get_record(T, record.record_id).links.get("eco")  # type: ignore[union-attr]
    assert states(token)["eco"]["state"] == "ok"


def test_a_replaced_secret_is_tried_at_once_without_waiting_for_the_probe(env: Env, setup):
    ctx, _clock, token = setup
    first, second = hs_signal(env), hs_signal(env)
    set_hubspot_token(env, REVOKED)
    assert service.handle_signal_contained(ctx, first).decision == "parked"
    assert states(token)["hs"]["state"] == "needs_attention"

    set_hubspot_token(env, "pat-local-token")  # the operator puts a working token in place
    ctx.forget_configs()
    assert service.handle_signal_contained(ctx, second).decision == "created"  # before the probe time
    assert states(token)["hs"]["state"] == "ok"


def test_a_connection_whose_pulls_stopped_is_degraded_until_they_run_again(env: Env, setup):
    """The schedule stopped (or the pull fails before the vendor): health says so after
    ``pull_stale_minutes``; a tenant whose sync is off is not pulled and is never late."""
    from crmsync.models import SyncMode

    _ctx, clock, token = setup
    invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    pulled = env.store.last_pulls(T, ["eco"])["eco"]
    clock.now = pulled + timedelta(minutes=29)
    assert states(token)["eco"]["state"] == "ok"
    clock.now = pulled + timedelta(minutes=95)  # no pull ran since
    eco = states(token)["eco"]
    assert eco["state"] == "degraded" and eco["reason"].startswith("no successful pull for 9"), eco
    assert health(token)["state"] == "degraded"

    config = env.store.get_config(T)
    assert config is not None
    env.store.put_config(config.model_copy(update={"sync_mode": SyncMode.OFF}))
    assert states(token)["eco"]["state"] == "ok", "an off tenant is not pulled, so not late"
    config = env.store.get_config(T)
    assert config is not None
    env.store.put_config(config.model_copy(update={"sync_mode": SyncMode.AUTOMATIC}))
    invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=300)
    again = env.store.last_pulls(T, ["eco"])["eco"]
    assert again > pulled, "a pull that read nothing new still stamps its checkpoint"
    clock.now = again + timedelta(minutes=1)
    assert states(token)["eco"]["state"] == "ok", "the next pull clears it"
