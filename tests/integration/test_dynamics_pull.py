"""The scheduled pull of a Dynamics 365 connection reads Dataverse change tracking (issue 16 item 2).

Against the in-process Dataverse fake, AWS in moto: the first pull is a backfill that stores a delta
link; later pulls signal exactly what changed and what Dataverse says was deleted; an expired link
starts a full compare (every row signalled, no deletion, a fresh link, shown in the health view); the
link moves only after every signal of a read was enqueued.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crmsync import pull as pull_module
from crmsync import runtime, service
from crmsync.config import TenantConfig
from crmsync.context import SyncContext
from crmsync.items import DeltaCheckpoint
from crmsync.models import ObjectType, Signal, SyncMode
from crmsync.tokens import issue_token
from local.fakes.dataverse import DataverseFake
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env

pytestmark = pytest.mark.timeout(60)

T = "t1"
ORG = "http://contoso.crm4.local"
APP_USER = "7c2c6f0e-5a4b-4c1e-9d5e-2f8e1a3b4c5d"
SECRET = {"tenant_id": "entra-tenant", "client_id": "app-id", "client_secret": "s3cret"}
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT
DELETED = {"change": "deleted"}


class Clock:
    """The fake's clock (epoch seconds; delta tokens age on it) and the pull's (``ctx.clock``)."""

    def __init__(self) -> None:
        self.now = self.start = time.time()

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return T0 + timedelta(seconds=self.now - self.start)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Dyn:
    env: Env
    fake: DataverseFake
    clock: Clock
    ctx: SyncContext
    token: str
    accounts: list[str]
    contacts: list[str]

    def pull(self) -> dict[str, Any]:
        result: dict[str, Any] = invoke("scheduled_pull", {"source": "aws.scheduler"}, timeout_s=60)
        return result

    def signals(self) -> list[tuple[str, str, dict[str, str]]]:
        """The queued signals of the Dynamics connection: (object type, id, hint), sorted."""
        return sorted(
            (s["object_type"], s["external_id"], s.get("hint") or {})
            for s in self.env.queued()
            if s.get("connection_id") == "dyn"
        )

    def delta(self, obj: ObjectType) -> DeltaCheckpoint:
        stored = self.env.store.get_delta_checkpoint(T, "dyn", obj)
        assert stored is not None, f"no delta checkpoint for {obj.value}"
        return stored

    def health(self) -> dict[str, Any]:
        response = invoke(
            "api",
            http_event("GET", f"/tenants/{T}/health", headers={"Authorization": f"Bearer {self.token}"}),
        )
        assert response["statusCode"] == 200, response
        body: dict[str, Any] = json.loads(response["body"])
        return body

    def reconcile_queued(self) -> int:
        """The worker's part: every queued signal reconciled (records and links come to exist)."""
        bodies = self.env.queued()
        for body in bodies:
            service.handle_signal(self.ctx, Signal.model_validate(body))
        return len(bodies)


@pytest.fixture
def dyn(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dyn]:
    clock = Clock()
    fake = DataverseFake(
        org_url=ORG,
        client_id="app-id",
        client_secret="s3cret",
        tenant="entra-tenant",
        application_user_id=APP_USER,
        clock=clock,
    )
    accounts = fake.seed(
        "account",
        [
            {"name": "Fjordhuset A/S", "accountnumber": "1001"},
            {"name": "Vestkyst Is ApS", "accountnumber": "1002"},
            {"name": "Nordlys Bageri", "accountnumber": "1003"},
        ],
    )
    contacts = fake.seed(
        "contact",
        [
            {"firstname": "Ann", "lastname": "Berg", "_parentcustomerid_value": accounts[0]},
            {"firstname": "Bo", "lastname": "Holm", "_parentcustomerid_value": accounts[1]},
        ],
    )
    for key, value in {
        "ENTRA_LOGIN_URL": ORG,  # the fake serves the token endpoint on its own host
        "DATAVERSE_ALLOWED_HOSTS": "*.crm4.local:80",
        "ALLOW_HTTP_VENDORS": "true",
    }.items():
        monkeypatch.setenv(key, value)
    runtime.reset()
    config = TenantConfig.model_validate(
        {
            "tenant_id": T,
            "sync_mode": SyncMode.AUTOMATIC.value,
            "connections": [{"connection_id": "dyn", "kind": "dynamics", "dynamics": {"org_url": ORG}}],
        }
    )
    env.secrets.create_secret(Name=config.secret_name("crmsync/", "dyn"), SecretString=json.dumps(SECRET))
    env.store.put_config(config)
    token = issue_token(env.store, T, name="dynamics pull test")
    ctx = runtime.context()  # the scheduled pull's context: its vendor calls go to the fake in-process
    ctx.connectors.client = httpx.Client(transport=httpx.WSGITransport(app=fake.app))
    ctx.clock = clock.utc
    pull_module.metrics.clear_metrics()
    yield Dyn(env, fake, clock, ctx, token, accounts, contacts)
    pull_module.metrics.clear_metrics()
    ctx.connectors.client.close()


def everything(d: Dyn) -> list[tuple[str, str, dict[str, str]]]:
    return sorted([("customer", a, {}) for a in d.accounts] + [("contact", c, {}) for c in d.contacts])


def test_the_first_pull_backfills_every_row_as_bulk_work_and_stores_a_delta_link(dyn: Dyn) -> None:
    result = dyn.pull()
    bulk = [s for s in dyn.env.queued("BulkQueue") if s["connection_id"] == "dyn"]
    assert dyn.env.queued("SignalsQueue") == [], "a backfill never takes the live lane"
    assert sorted((s["object_type"], s["external_id"], s["hint"]) for s in bulk) == everything(dyn)
    assert {s["source"] for s in bulk} == {"pull"}
    assert result["enqueued"] == 5
    for obj in (CUSTOMER, CONTACT):
        stored = dyn.delta(obj)
        assert "$deltatoken=" in stored.delta_link and stored.delta_link.startswith(ORG)
        assert stored.last_seen == (3 if obj is CUSTOMER else 2) and stored.last_full_compare is None
        assert f"{T}/dyn/{obj.value}" in result["checkpoints"]
    assert dyn.env.store.get_checkpoint(T, "dyn", CUSTOMER) is None, "no modifiedon window is used"
    assert all(c["last_full_compares"] == [] for c in dyn.health()["connections"])


def test_an_edit_and_a_delete_become_exactly_that_change_and_that_delete(dyn: Dyn) -> None:
    dyn.pull()
    dyn.env.queued()
    first = dyn.delta(CUSTOMER).delta_link
    edited, gone = dyn.accounts[0], dyn.accounts[1]
    dyn.clock.advance(60)
    dyn.fake.person_edit("account", edited, {"telephone1": "+45 11 22 33 44"})
    dyn.fake.person_delete("account", gone)

    result = dyn.pull()

    assert dyn.signals() == sorted([("customer", edited, {}), ("customer", gone, DELETED)])
    assert result["enqueued"] == 2
    assert dyn.delta(CUSTOMER).delta_link != first
    assert dyn.delta(CUSTOMER).last_seen == 2


def test_a_delete_signal_tombstones_the_record_on_re_read_and_nothing_else_is_deleted(dyn: Dyn) -> None:
    """End to end through the worker: the delete is taken from Dataverse's words (the $deletedEntity row,
    then the 404 on re-read), the edit is applied, the untouched records stay as they were."""
    dyn.pull()
    assert dyn.reconcile_queued() == 5
    edited, gone = dyn.accounts[0], dyn.accounts[1]
    dyn.clock.advance(60)
    dyn.fake.person_edit("account", edited, {"name": "Fjordhuset Holding A/S"})
    dyn.fake.person_delete("account", gone)
    dyn.pull()
    assert dyn.reconcile_queued() == 2

    store = dyn.env.store
    links = store.find_links(T, {("dyn", CUSTOMER, a) for a in dyn.accounts})
    records = store.get_records(T, {rid for rid in links.values() if rid})
    assert len(records) == 3, "no record created twice"
    by_ext = {ext: records[rid] for (_, _, ext), rid in links.items() if rid}
    assert by_ext[gone].bases["dyn"].deleted, "tombstoned: Dataverse said it was deleted"
    assert by_ext[edited].fields["name"] == "Fjordhuset Holding A/S"
    assert not by_ext[dyn.accounts[2]].bases["dyn"].deleted


def test_nothing_changed_means_no_signals_and_the_link_still_advances(dyn: Dyn) -> None:
    dyn.pull()
    dyn.env.queued()
    before = {obj: dyn.delta(obj) for obj in (CUSTOMER, CONTACT)}
    dyn.clock.advance(3600)

    result = dyn.pull()

    assert dyn.signals() == [] and result["enqueued"] == 0
    for obj, old in before.items():
        now = dyn.delta(obj)
        assert now.delta_link != old.delta_link, "a fresh link: the token's age starts again"
        assert now.last_success > old.last_success and now.last_seen == 0


@pytest.mark.parametrize("expiry", ["fault", "clock"])
def test_an_expired_link_starts_a_visible_full_compare_that_deletes_nothing(dyn: Dyn, expiry: str) -> None:
    dyn.pull()
    dyn.env.queued()
    old = dyn.delta(CUSTOMER).delta_link
    edited, gone = dyn.accounts[0], dyn.accounts[1]
    dyn.fake.person_edit("account", edited, {"telephone1": "+45 99 88 77 66"})
    dyn.fake.person_delete("account", gone)  # its $deletedEntity row is lost with the expired link
    if expiry == "fault":
        dyn.fake.faults.expire_delta_tokens = True
        dyn.clock.advance(60)
    else:
        dyn.clock.advance((dyn.fake.change_tracking_expiry_days + 1) * 86400)

    result = dyn.pull()

    remaining = [a for a in dyn.accounts if a != gone]
    assert dyn.signals() == sorted(
        [("customer", a, {}) for a in remaining] + [("contact", c, {}) for c in dyn.contacts]
    ), "every row signalled again, and no delete signal: absence never deletes"
    assert result["enqueued"] == 4
    stored = dyn.delta(CUSTOMER)
    assert stored.delta_link != old and "$deltatoken=" in stored.delta_link
    compare = stored.last_full_compare
    assert compare is not None and compare.rows == 2 and compare.object_type is CUSTOMER
    assert "expired" in compare.reason and compare.at == dyn.clock.utc()
    assert "PullFullCompare" in pull_module.metrics.metric_set

    (shown,) = dyn.health()["connections"]
    assert shown["connection_id"] == "dyn" and shown["state"] == "ok"
    shown_compares = {c["object_type"]: c for c in shown["last_full_compares"]}
    assert set(shown_compares) == {"customer", "contact"}, "the links of both tables had expired"
    for obj, rows in (("customer", 2), ("contact", 2)):
        assert shown_compares[obj]["rows"] == rows and "expired" in shown_compares[obj]["reason"]
        assert datetime.fromisoformat(shown_compares[obj]["at"]) == dyn.clock.utc()
    assert "deltatoken" not in json.dumps(shown), "the delta link is never shown"

    # The fresh link works: the next pull is an ordinary delta, the full compare stays visible.
    dyn.fake.faults.expire_delta_tokens = False
    dyn.clock.advance(60)
    pull_module.metrics.clear_metrics()
    dyn.pull()
    assert dyn.signals() == []
    assert "PullFullCompare" not in pull_module.metrics.metric_set
    assert dyn.delta(CUSTOMER).last_full_compare == compare


def test_a_full_compare_after_the_worker_ran_creates_no_duplicate_and_deletes_nothing(dyn: Dyn) -> None:
    """The rows crmsync holds unchanged cost no signal (compared in the pull, as in every pull); the
    edited one is signalled; the row deleted while the link was expired keeps its record alive."""
    dyn.pull()
    assert dyn.reconcile_queued() == 5
    edited, gone = dyn.accounts[0], dyn.accounts[1]
    dyn.fake.person_edit("account", edited, {"telephone1": "+45 12 34 56 78"})
    dyn.fake.person_delete("account", gone)
    dyn.fake.faults.expire_delta_tokens = True

    result = dyn.pull()

    assert dyn.signals() == [("customer", edited, {})]
    assert (result["enqueued"], result["seen"]) == (1, 3)
    assert dyn.delta(CUSTOMER).last_full_compare is not None
    assert dyn.delta(CONTACT).last_full_compare is not None
    links = dyn.env.store.find_links(T, {("dyn", CUSTOMER, a) for a in dyn.accounts})
    records = dyn.env.store.get_records(T, {rid for rid in links.values() if rid})
    assert len(records) == 3
    assert not any(r.bases["dyn"].deleted for r in records.values()), "absence deleted nothing"


def test_a_crash_after_reading_but_before_enqueueing_leaves_the_link_where_it_was(
    dyn: Dyn, monkeypatch: pytest.MonkeyPatch
) -> None:
    dyn.pull()
    dyn.env.queued()
    before = dyn.delta(CUSTOMER)
    edited = dyn.accounts[2]
    dyn.clock.advance(60)
    dyn.fake.person_edit("account", edited, {"telephone1": "+45 10 20 30 40"})

    def crash(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the pull died between the read and the enqueue")

    with monkeypatch.context() as patched:
        patched.setattr(pull_module, "_not_seen_yet", crash)
        with pytest.raises(RuntimeError, match="pull died"):
            dyn.pull()
    assert dyn.signals() == []
    assert dyn.delta(CUSTOMER) == before, "the link did not move: the change is read again"

    dyn.pull()
    assert dyn.signals() == [("customer", edited, {})], "not lost"
    assert dyn.delta(CUSTOMER).delta_link != before.delta_link


def test_a_failed_enqueue_of_the_delete_signals_leaves_the_link_where_it_was(
    dyn: Dyn, monkeypatch: pytest.MonkeyPatch
) -> None:
    dyn.pull()
    dyn.env.queued()
    before = dyn.delta(CUSTOMER)
    gone = dyn.accounts[0]
    dyn.clock.advance(60)
    dyn.fake.person_delete("account", gone)
    queue = dyn.ctx.queue
    assert queue is not None
    real_send = queue.send

    def send(messages: Any) -> int:
        batch = list(messages)
        if any(getattr(m, "hint", None) == DELETED for m in batch):
            raise RuntimeError("SQS unavailable")
        return real_send(batch)

    with monkeypatch.context() as patched:
        patched.setattr(queue, "send", send)
        with pytest.raises(RuntimeError, match="SQS unavailable"):
            dyn.pull()
    assert dyn.delta(CUSTOMER) == before
    dyn.env.queued()

    dyn.pull()
    assert dyn.signals() == [("customer", gone, DELETED)]


def test_a_read_longer_than_a_runs_share_resumes_on_the_next_run_and_loses_nothing(
    dyn: Dyn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill bigger than one run's page share stops after it (the schedule's other tenants get their
    turn, no invocation has to read an organisation whole) and the next run goes on from the page link."""
    from crmsync.connectors import dataverse_client

    monkeypatch.setattr(dataverse_client, "PAGE_SIZE", 1)  # one row a page
    monkeypatch.setattr(pull_module, "DELTA_PAGES_PER_RUN", 2)

    signalled: list[tuple[str, str, dict[str, str]]] = []
    runs = 0
    while True:
        runs += 1
        assert runs <= 5, "the backfill finishes"
        dyn.pull()
        signalled += dyn.signals()
        account, contact = dyn.delta(CUSTOMER), dyn.delta(CONTACT)
        if account.delta_link and contact.delta_link:
            break
        assert account.resume_link or contact.resume_link, "an unfinished read knows where it goes on"
    assert runs == 2, "3 accounts and 2 contacts at 2 pages a run: two runs"
    assert sorted(signalled) == everything(dyn), "every row once, none lost at the page boundaries"
    assert dyn.delta(CUSTOMER).resume_link is None

    dyn.clock.advance(60)
    dyn.fake.person_edit("account", dyn.accounts[2], {"telephone1": "+45 99 88 77 66"})
    dyn.pull()
    assert dyn.signals() == [("customer", dyn.accounts[2], {})], "then the delta link carries on"


def test_a_resume_link_the_vendor_refuses_starts_the_read_again_instead_of_sticking(
    dyn: Dyn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmsync.connectors import dataverse_client

    monkeypatch.setattr(dataverse_client, "PAGE_SIZE", 1)
    monkeypatch.setattr(pull_module, "DELTA_PAGES_PER_RUN", 1)
    dyn.pull()
    first = dyn.signals()
    stored = dyn.delta(CUSTOMER)
    assert stored.resume_link and stored.delta_link is None
    dead = stored.model_copy(
        update={"resume_link": stored.resume_link.split("$skiptoken=")[0] + "$skiptoken=dead"}
    )
    dyn.env.store.put_delta_checkpoint(T, "dyn", CUSTOMER, dead)

    signalled = list(first)
    for _ in range(6):
        dyn.pull()
        signalled += dyn.signals()
        if dyn.delta(CUSTOMER).delta_link and dyn.delta(CONTACT).delta_link:
            break
    assert dyn.delta(CUSTOMER).delta_link, "the read finished after starting again"
    assert sorted(set(map(str, signalled))) == sorted(set(map(str, everything(dyn)))), (
        "every row signalled (some twice: harmless)"
    )
