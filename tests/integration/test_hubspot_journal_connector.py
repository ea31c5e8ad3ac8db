"""HubSpotConnector's journal (notes), owners, company parents and accounting-fact properties against the
in-process HubSpot fake (strict OpenAPI checking of every call), with call counts."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from crmsync.connectors.base import AuthError, VendorRefusedError
from crmsync.connectors.facts_ports import FactsWriter
from crmsync.connectors.http import RetryPolicy
from crmsync.connectors.hubspot import HubSpotConnector
from crmsync.connectors.hubspot_facts import FACT_PROPERTIES, FactProperty
from crmsync.connectors.hubspot_journal import CrmNote, CrmUser, NotesNotAllWritten, note_html
from local.fakes.hubspot import Faults, HubSpotFake

TOKEN = "pat-na1-journal"
NOTES = "POST /crm/v3/objects/notes/batch/create"
AT = datetime(2026, 3, 1, 9, 30, 15, 250_000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A strict fake and a connector wired to it in-process; sleeps move the fake's clock."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("rate_limit_per_10s", None)
        kw.setdefault("search_rate_limit_per_s", None)
        self.clock = Clock()
        self.fake = HubSpotFake(TOKEN, clock=self.clock, strict_spec=True, **kw)
        self.sleeps: list[float] = []
        self.client = httpx.Client(transport=httpx.WSGITransport(app=self.fake.app))
        self.hs = HubSpotConnector("hs-1", TOKEN, client=self.client, retry=RetryPolicy(sleep=self.sleep))

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds

    def calls(self, template: str) -> int:
        method, path = template.split(" ", 1)
        return self.fake.calls(method, path)

    def companies(self, n: int) -> list[str]:
        return self.fake.seed("companies", [{"name": f"Company {i}"} for i in range(n)])


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    assert harness.fake.spec_violations == []


# -- notes ---------------------------------------------------------------------------------------------


def test_250_notes_take_3_calls_and_come_back_in_order(h):
    companies = h.companies(5)
    notes = [
        CrmNote(company_id=companies[i % 5], body=f"entry {i}", at=AT + timedelta(minutes=i))
        for i in range(250)
    ]
    ids = h.hs.create_notes(notes)
    assert h.calls(NOTES) == 3
    assert len(ids) == 250 and None not in ids and len(set(ids)) == 250
    stored = {n["id"]: n for n in h.fake.notes()}
    for note, note_id in zip(notes, ids, strict=True):
        assert stored[note_id]["properties"]["hs_note_body"] == note.body
        assert stored[note_id]["associations"] == {"companies": [note.company_id]}
    assert stored[ids[0]]["properties"]["hs_timestamp"] == "2026-03-01T09:30:15.250Z"
    assert len(h.fake.company_notes(companies[0])) == 50
    assert h.hs.create_notes([]) == [] and h.calls(NOTES) == 3


def test_body_is_escaped_plain_text_and_cut_to_hubspots_limit(h):
    (company,) = h.companies(1)
    local = datetime(2026, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    text = 'Invoice <1042> "paid" & closed\nsecond line'
    (note_id,) = h.hs.create_notes([CrmNote(company_id=company, body=text, at=local)])
    (stored,) = h.fake.company_notes(company)
    assert stored["id"] == note_id
    assert stored["properties"]["hs_note_body"] == html.escape(text).replace("\n", "<br>")
    assert stored["properties"]["hs_timestamp"] == "2026-03-01T09:00:00.000Z"
    long = note_html("&" * 70_000)
    assert len(long) <= 65_536 and long.endswith(" [...]") and "&amp;" in long
    assert long.removesuffix(" [...]").endswith("&amp;")  # never cut inside an entity
    h.hs.create_notes([CrmNote(company_id=company, body="<" * 70_000, at=AT)])
    assert len(h.fake.company_notes(company)[-1]["properties"]["hs_note_body"]) <= 65_536


def test_a_refused_note_is_none_and_the_others_are_written(h):
    companies = h.companies(3)
    notes = [CrmNote(company_id=c, body=f"for {c}", at=AT) for c in companies]
    notes.insert(1, CrmNote(company_id="999", body="company gone", at=AT))
    ids = h.hs.create_notes(notes)
    assert ids[1] is None and all(ids[i] for i in (0, 2, 3))
    assert sum(len(h.fake.company_notes(c)) for c in companies) == 3
    # the whole-batch 400 is bisected: 4 -> 2 + 2 -> (1 + 1) + 1
    assert h.calls(NOTES) == 5


def test_a_5xx_is_not_resent_and_leaves_an_unknown_outcome():
    h = Harness()
    companies = h.companies(2)
    notes = [CrmNote(company_id=companies[i % 2], body=f"e{i}", at=AT) for i in range(150)]
    h.fake.set_faults(rate_5xx_after_commit=1.0)  # written, then the caller sees a 504
    with pytest.raises(NotesNotAllWritten) as caught:
        h.hs.create_notes(notes)
    error = caught.value
    assert h.calls(NOTES) == 1  # no automatic resend of a create that may have landed
    assert error.unknown == list(range(100)) and error.unsent == list(range(100, 150))
    assert error.ids == [None] * 150 and not error.retryable
    assert len(h.fake.notes()) == 100  # it had landed: a blind resend would have made duplicates
    h.fake.set_faults(Faults())
    assert None not in h.hs.create_notes([notes[i] for i in error.unsent])
    assert len(h.fake.notes()) == 150


def lose_reply(h: Harness, nth: int, *, commit: bool) -> None:
    """Wire ``h.hs`` through an app whose ``nth`` note batch answers a 504 (after writing, if ``commit``)."""
    seen = {"batches": 0}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].endswith("/notes/batch/create"):
            seen["batches"] += 1
            if seen["batches"] == nth:
                if commit:
                    list(h.fake.app(environ, lambda *_: None))
                start_response("504 Gateway Timeout", [("Content-Type", "application/json")])
                return [b'{"status":"error","message":"timeout","category":"INTERNAL_ERROR"}']
        return h.fake.app(environ, start_response)

    h.client = httpx.Client(transport=httpx.WSGITransport(app=app))
    h.hs = HubSpotConnector("hs-1", TOKEN, client=h.client, retry=RetryPolicy(sleep=h.sleep))


def test_a_lost_reply_on_the_second_batch_keeps_the_first_batchs_ids():
    h = Harness()
    (company,) = h.companies(1)
    lose_reply(h, 2, commit=True)
    notes = [CrmNote(company_id=company, body=f"e{i}", at=AT) for i in range(250)]
    with pytest.raises(NotesNotAllWritten) as caught:
        h.hs.create_notes(notes)
    error = caught.value
    assert None not in error.ids[:100] and error.ids[100:] == [None] * 150
    assert error.unknown == list(range(100, 200)) and error.unsent == list(range(200, 250))
    assert h.calls(NOTES) == 2 and len(h.fake.notes()) == 200


def test_an_unknown_outcome_while_bisecting_names_only_that_part():
    h = Harness()
    (company,) = h.companies(1)
    lose_reply(h, 5, commit=False)  # calls: [0-3] 400, [0,1] 400, [0] 400, [1] ok, [2,3] 504
    notes = [CrmNote(company_id="999" if i == 0 else company, body=f"e{i}", at=AT) for i in range(4)]
    with pytest.raises(NotesNotAllWritten) as caught:
        h.hs.create_notes(notes)
    error = caught.value
    assert error.ids[0] is None and error.ids[1] is not None
    assert error.unknown == [2, 3] and error.unsent == []


def test_a_429_is_waited_out_and_resent():
    h = Harness(send_retry_after=True)
    (company,) = h.companies(1)
    h.fake.set_faults(rate_429=1.0, rate_429_interval_ms=1000)
    with pytest.raises(NotesNotAllWritten) as caught:
        h.hs.create_notes([CrmNote(company_id=company, body="x", at=AT)])
    assert caught.value.unknown == [] and caught.value.unsent == [0]  # never processed: safe to send again
    assert caught.value.retry_after is not None
    assert h.sleeps and len(h.sleeps) == 3  # 4 attempts in the default policy, waits between them
    assert h.fake.notes() == []


def test_results_without_trace_ids_are_tied_back_by_body():
    """Should HubSpot not echo ``objectWriteTraceId`` (or answer out of order), the body ties results back."""

    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        results = [
            {
                "id": f"n-{item['properties']['hs_note_body']}",
                "properties": dict(item["properties"]),
                "createdAt": "2026-03-01T00:00:00.000Z",
                "updatedAt": "2026-03-01T00:00:00.000Z",
                "archived": False,
            }
            for item in reversed(inputs)
        ]
        return httpx.Response(201, json={"status": "COMPLETE", "results": results})

    hs = HubSpotConnector("hs-1", TOKEN, client=httpx.Client(transport=httpx.MockTransport(handler)))
    notes = [CrmNote(company_id="1", body=b, at=AT) for b in ("a", "b", "a", "c")]
    assert hs.create_notes(notes) == ["n-a", "n-b", "n-a", "n-c"]


def test_a_revoked_token_raises_auth_error(h):
    (company,) = h.companies(1)
    bad = HubSpotConnector("hs-1", "wrong", client=h.client, retry=RetryPolicy(sleep=h.sleep))
    with pytest.raises(AuthError):
        bad.create_notes([CrmNote(company_id=company, body="x", at=AT)])


# -- owners --------------------------------------------------------------------------------------------


def test_owners_reads_every_page_of_active_owners(h):
    for i in range(150):
        h.fake.add_owner(f"user{i}@acme.dk", f"First{i}", f"Last{i}")
    queue = h.fake.add_owner(None, None, None, owner_type="QUEUE")
    h.fake.archive_owner(h.fake.add_owner("gone@acme.dk", "Gone", "User"))
    users = h.hs.owners()
    assert h.calls("GET /crm/v3/owners") == 2
    assert len(users) == 151
    assert users[0] == CrmUser(id=users[0].id, first_name="First0", last_name="Last0", email="user0@acme.dk")
    assert users[-1] == CrmUser(id=queue)
    assert "gone@acme.dk" not in {u.email for u in users}


# -- company parents -----------------------------------------------------------------------------------


def test_parent_companies_one_batch_read_per_100(h):
    ids = h.companies(150)
    group, holding = ids[0], ids[1]
    for child in ids[2:120]:
        h.fake.set_parent_company(child, group)
    h.fake.set_parent_company(group, holding)
    h.client.put(  # an unlabeled company link is not a parent
        f"https://api.hubapi.com/crm/v4/objects/companies/{ids[140]}/associations/companies/{ids[141]}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 450}],
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).raise_for_status()
    parents = h.hs.parent_companies([*ids, "999"])
    assert h.calls("POST /crm/v4/associations/companies/companies/batch/read") == 2
    assert parents[group] == holding and parents[holding] is None
    assert all(parents[c] == group for c in ids[2:120])
    assert parents[ids[140]] is None and parents[ids[141]] is None and parents["999"] is None
    assert set(parents) == {*ids, "999"}


# -- accounting-fact properties ------------------------------------------------------------------------

FACTS = [
    FactProperty(name="crmsync_open_balance", label="Open balance", type="number", field_type="number"),
    FactProperty(name="crmsync_last_invoice_date", label="Last invoice date", type="date", field_type="date"),
    FactProperty(name="crmsync_last_invoice_number", label="Last invoice", type="string", field_type="text"),
]


def test_ensure_fact_properties_creates_group_and_missing_in_one_batch(h):
    h.hs.ensure_fact_properties(FACTS)
    assert h.calls("GET /crm/v3/properties/companies") == 1
    assert h.calls("POST /crm/v3/properties/companies/groups") == 1
    assert h.calls("POST /crm/v3/properties/companies/batch/create") == 1
    (body,) = [e["json"] for e in h.fake.request_log if e["template"].endswith("/batch/create")]
    assert [i["name"] for i in body["inputs"]] == [f.name for f in FACTS]
    assert {i["groupName"] for i in body["inputs"]} == {"crmsync"}
    h.hs.ensure_fact_properties(FACTS)  # cached per instance: no call
    assert h.calls("GET /crm/v3/properties/companies") == 1

    other = HubSpotConnector("hs-1", TOKEN, client=h.client, retry=RetryPolicy(sleep=h.sleep))
    more = [*FACTS, FactProperty(name="crmsync_revenue", label="Revenue", type="number", field_type="number")]
    other.ensure_fact_properties(more)
    bodies = [e["json"] for e in h.fake.request_log if e["template"].endswith("/batch/create")]
    assert [i["name"] for i in bodies[-1]["inputs"]] == ["crmsync_revenue"]
    assert h.calls("POST /crm/v3/properties/companies/groups") == 1  # the group exists now


def test_fact_property_rejects_a_field_type_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        FactProperty(name="crmsync_x", label="X", type="number", field_type="text")
    with pytest.raises(ValueError):
        FactProperty(name="Bad Name", label="X")


def test_write_company_properties_batches_and_reports_missing_companies(h):
    h.hs.ensure_fact_properties(FACTS)
    ids = h.companies(150)
    values: dict[str, dict[str, str | None]] = {
        cid: {"crmsync_open_balance": f"{i}.50", "crmsync_last_invoice_date": "2026-02-28"}
        for i, cid in enumerate(ids)
    }
    values["999"] = {"crmsync_open_balance": "1"}
    values[ids[0]] = {}
    answers = h.hs.write_company_properties(values)
    assert h.calls("POST /crm/v3/objects/companies/batch/update") == 2
    assert list(answers) == list(values)
    assert answers["999"] and all(answers[c] is None for c in ids)
    assert h.fake.record("companies", ids[5])["properties"]["crmsync_open_balance"] == "5.50"

    answers = h.hs.write_company_properties({ids[5]: {"crmsync_open_balance": None}})
    assert answers == {ids[5]: None}
    assert "crmsync_open_balance" not in h.fake.record("companies", ids[5])["properties"]
    bad = h.hs.write_company_properties(
        {ids[6]: {"crmsync_open_balance": "lots"}, ids[7]: {"crmsync_open_balance": "2"}}
    )
    assert bad[ids[6]] and bad[ids[7]] is None


def test_facts_writer_port(h):
    assert isinstance(h.hs, FactsWriter)
    h.hs.ensure_facts_setup()
    created = {
        i["name"]
        for e in h.fake.request_log
        if e["template"].endswith("/batch/create")
        for i in e["json"]["inputs"]
    }
    assert created == {p.name for p in FACT_PROPERTIES}
    (company,) = h.companies(1)
    answers = h.hs.write_facts(
        {company: {"open_balance": "10.00", "last_invoice_date": "2026-02-01", "revenue": None}}
    )
    assert answers == {company: None}
    props = h.fake.record("companies", company)["properties"]
    assert props["crmsync_open_balance"] == "10.00" and "crmsync_revenue" not in props


def test_a_refused_property_batch_raises(h):
    h.client.post(
        "https://api.hubapi.com/crm/v3/properties/companies/groups",
        json={"name": "crmsync", "label": "crmsync"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).raise_for_status()
    bad = FactProperty.model_construct(name="Bad-Name", label="X", type="string", field_type="text")
    with pytest.raises(VendorRefusedError, match="Bad-Name"):
        h.hs.ensure_fact_properties([bad])
