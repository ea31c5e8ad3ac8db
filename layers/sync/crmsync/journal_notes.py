"""A journal in the CRM people can read: a note on the company for each event a person should see.

crmsync's own timeline (``store.timeline``) stays the authoritative record; with ``journal.enabled``
some of its entries also become a note on the record's company (HubSpot notes, Dynamics annotations):

| timeline entry | note |
|---|---|
| a write that created the customer in accounting | "Created in e-conomic as customer 1042." (a record crmsync created in the CRM gets none: it is there to see) |
| a write that changed fields on a side | "Updated in e-conomic: phone: 1 → 2; ..." (sensitive fields: name only) |
| a write parked | "Could not write to e-conomic: <reason>. Parked in crmsync (replayable)." |
| a conflict held / resolved | "Conflict held on phone, email: a person decides in crmsync." / "Resolved: ..." |
| a lead converted | "Lead converted (created)." |

Never a note for an echo, an unchanged pull or anything else that changed nothing (those entries are
not in the table). Contacts' events go on their customer's company.

How: ``note(ctx, tenant, record_id, entry)`` is called where those entries are written; the entries
are collected per invocation (``SyncContext.notes``) and sent as ``JournalNotes`` messages (100 notes
each) to the bulk queue, so a note never slows or fails a sync; the worker creates them at bulk
priority (``write_notes``) and adds a ``noted`` entry (the note's id) to the record's timeline: the
timeline links to the note. A note the CRM refuses is logged and counted; a batch whose outcome is
unknown (HubSpot's batch create is not idempotent) is not resent: its entries are marked ``note_unknown``
on the timeline (visible) rather than risking duplicate notes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from crmsync.budget import Priority
from crmsync.context import SyncContext, UnknownTenant
from crmsync.items import TimelineEntry
from crmsync.messages import JournalNote, JournalNotes
from crmsync.models import ConnectionKind, ObjectType, Side

logger = Logger(child=True)
NOTES_PER_MESSAGE = 100
VENDOR_NAMES = {
    ConnectionKind.ECONOMIC: "e-conomic",
    ConnectionKind.HUBSPOT: "HubSpot",
    ConnectionKind.DYNAMICS: "Dynamics 365",
}


def _value(value: Any) -> str:
    return "(empty)" if value is None or value == "" else str(value)


def note_text(
    entry: TimelineEntry, vendor: str, sensitive: Iterable[str], *, accounting: bool = False
) -> str | None:
    """The note for a timeline entry, or None when a person need not see it (see the module doc)."""
    kind, decision = entry.get("kind"), entry.get("decision")
    if kind == "write" and decision == "written":
        if entry.get("action") == "create":
            # The customer created in accounting is news to sales; a company or contact crmsync created in
            # the CRM is there to see (a transfer would otherwise leave one note per record it made).
            return (
                f"crmsync: created in {vendor} as customer {entry.get('external_id')}."
                if accounting
                else None
            )
        changes = entry.get("changes") or {}
        if not changes:
            return None
        hidden = set(sensitive)
        parts = [
            f"{name} changed"
            if name in hidden
            else f"{name}: {_value(c.get('before'))} → {_value(c.get('after'))}"
            for name, c in sorted(changes.items())
        ]
        return f"crmsync: updated in {vendor}: " + "; ".join(parts) + "."
    if kind == "write" and decision == "parked":
        return f"crmsync could not write to {vendor}: {entry.get('reason')}. Parked in crmsync (replayable)."
    if decision == "conflict" and entry.get("conflicts"):
        fields = ", ".join(sorted(entry.get("conflicts") or []))
        return f"crmsync: conflict on {fields}: both sides changed; a person decides in crmsync."
    if kind == "resolution" and decision == "resolved":
        fields = ", ".join(sorted((entry.get("changes") or {}).keys())) or "the record"
        return f"crmsync: conflict resolved ({fields})."
    if decision == "lead_converted":
        return f"crmsync: lead converted ({entry.get('outcome')})."
    return None


def note(ctx: SyncContext, tenant_id: str, record_id: str, entry: TimelineEntry) -> None:
    """Consider one timeline entry for the CRM journal (cheap when the journal is off)."""
    try:
        config = ctx.config(tenant_id)
    except UnknownTenant:
        return
    if not config.journal.enabled:
        return
    conn = entry.get("connection")
    connection = config.find_connection(str(conn)) if conn else None
    vendor = VENDOR_NAMES.get(connection.kind, str(conn)) if connection else "crmsync"
    accounting = connection is not None and connection.side is Side.ACCOUNTING
    text = note_text(entry, vendor, config.journal.sensitive_fields, accounting=accounting)
    if text is None:
        return
    at = entry.get("at")
    moment = at if isinstance(at, datetime) else ctx.clock()
    key = hashlib.sha256(f"{tenant_id}|{record_id}|{moment.isoformat()}|{text}".encode()).hexdigest()[:32]
    ctx.notes.append((tenant_id, JournalNote(record_id=record_id, text=text, at=moment, key=key)))
    ctx.notes_sink = send_notes
    if not ctx.collecting_notes:
        send_notes(ctx)


def send_notes(ctx: SyncContext) -> None:
    """Send the collected notes, 100 per message, on the bulk queue (the journal never fails a sync:
    a queue that refuses is logged)."""
    pending, ctx.notes = ctx.notes, []
    if not pending or ctx.queue is None:
        return
    by_tenant: dict[str, list[JournalNote]] = {}
    for tenant, item in pending:
        by_tenant.setdefault(tenant, []).append(item)
    messages = [
        JournalNotes(tenant_id=tenant, notes=items[start : start + NOTES_PER_MESSAGE])
        for tenant, items in by_tenant.items()
        for start in range(0, len(items), NOTES_PER_MESSAGE)
    ]
    try:
        ctx.queue.send(messages)
    except Exception:
        logger.exception("the CRM journal's notes could not be queued", extra={"notes": len(pending)})


def write_notes(ctx: SyncContext, message: JournalNotes) -> int:
    """Create one message's notes in the CRM (the worker's entry); returns how many were created."""
    from crmsync.connectors.journal_ports import CrmNote, NotesNotAllWritten, NotesWriter

    ctx.priority = Priority.BULK
    try:
        config = ctx.config(message.tenant_id)
    except UnknownTenant:
        return 0
    crm = next((c for c in config.connections if c.side is Side.CRM), None)
    if crm is None:
        return 0
    writer = ctx.connectors.get(config, crm.connection_id)
    if not isinstance(writer, NotesWriter):
        return 0
    tenant = config.tenant_id
    records = ctx.store.get_records(tenant, {n.record_id for n in message.notes})
    customers = {
        rid: str(r.fields.get("customer"))
        for rid, r in records.items()
        if r.object_type is ObjectType.CONTACT and r.fields.get("customer")
    }
    records |= ctx.store.get_records(tenant, set(customers.values()) - set(records))
    targets: list[tuple[JournalNote, str]] = []
    for item in message.notes:
        record = records.get(customers.get(item.record_id, item.record_id))
        company = record.links.get(crm.connection_id) if record else None
        if company:
            targets.append((item, company))
    notes = [
        CrmNote(company_id=company, body=item.text, at=item.at, key=item.key) for item, company in targets
    ]
    unknown: list[int] = []
    unsent_indexes: list[int] = []
    try:
        ids = writer.create_notes(notes) if notes else []
    except NotesNotAllWritten as exc:
        ids, unknown, unsent_indexes = exc.ids, exc.unknown, exc.unsent
        unsent = [targets[i][0] for i in exc.unsent]
        if unsent and ctx.queue is not None:
            ctx.queue.send([JournalNotes(tenant_id=tenant, notes=unsent)])
    with ctx.journal_batch():
        for index, ((item, _), note_id) in enumerate(zip(targets, ids, strict=False)):
            if note_id or index in unknown:
                ctx.journal(
                    tenant,
                    item.record_id,
                    {
                        "at": ctx.clock(),
                        "kind": "note",
                        "decision": "noted" if note_id else "note_unknown",
                        "connection": crm.connection_id,
                        "external_id": note_id,
                    },
                )
    settled_elsewhere = set(unknown) | set(unsent_indexes)
    refused = sum(1 for i, note_id in enumerate(ids) if note_id is None and i not in settled_elsewhere)
    if refused:
        logger.warning("the CRM refused journal notes", extra={"tenant": tenant, "refused": refused})
    return sum(1 for note_id in ids if note_id)
