"""Linking: join a CRM record and an accounting record into one, split them again, and bulk transfers.

Every vendor record becomes a crmsync record as soon as crmsync sees it (in every sync mode), linked
to that one side. *Linking* merges a CRM-only record into an accounting-only record: the survivor
keeps both links and both bases, the other record is removed, and the contacts of both customers
are paired (by e-mail, then name) and merged the same way. Because each side's base is kept, the
next push writes exactly the fields that differ on a side and that side receives under the policy.

Initial values on link: a field owned by one side (``to_crm`` = accounting owns, ``to_accounting`` =
CRM owns) takes that side's value; a field that flows both ways takes the CRM's value (the CRM owns
master data once linked), falling back to the accounting value where the CRM has none.

*Unlinking* splits the record again: the CRM side becomes its own record with the CRM's values, the
survivor keeps the accounting side, ownership of its fields returns to accounting, nothing is written
to either vendor, and neither half is created on the other side again (``blocked``) until re-linked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crmsync.config import TenantConfig
from crmsync.context import SyncContext
from crmsync.engine import plan_push
from crmsync.errors import NotFound
from crmsync.messages import TransferPage
from crmsync.models import FieldValue, ObjectType, Record, Side, SyncMode
from crmsync.policy import Direction
from crmsync.store import LinkTaken, VersionConflict, new_record_id


class LinkError(Exception):
    """The records cannot be linked or unlinked as asked (a 409 for the API)."""


def connections_of(config: TenantConfig, side: Side) -> list[str]:
    return [c.connection_id for c in config.connections if c.side is side]


def record_side(config: TenantConfig, record: Record) -> set[Side]:
    return {config.connection(conn).side for conn in record.links if _known(config, conn)}


def _known(config: TenantConfig, conn: str) -> bool:
    return config.find_connection(conn) is not None


def link_state(config: TenantConfig, record: Record) -> str:
    sides = record_side(config, record)
    if {Side.CRM, Side.ACCOUNTING} <= sides:
        return "linked"
    return "crm_only" if Side.CRM in sides else "accounting_only"


def _merged_value(config: TenantConfig, obj: ObjectType, name: str, crm: Record, acc: Record) -> FieldValue:
    direction = config.field_policy.rule(obj, name).direction
    crm_value, acc_value = crm.fields.get(name), acc.fields.get(name)
    if direction is Direction.TO_CRM:
        return acc_value
    if direction is Direction.TO_ACCOUNTING:
        return crm_value
    return crm_value if crm_value is not None else acc_value


def _merge(config: TenantConfig, crm: Record, acc: Record) -> Record:
    merged = acc.model_copy(deep=True)
    merged.links.update(crm.links)
    merged.bases.update(crm.bases)
    for name in set(crm.fields) | set(acc.fields):
        if name == "customer":
            continue
        value = _merged_value(config, acc.object_type, name, crm, acc)
        merged.fields[name] = value
        source = crm if value == crm.fields.get(name) and name in crm.fields else acc
        if name in source.field_sources:
            merged.field_sources[name] = source.field_sources[name]
        if name in source.field_times:
            merged.field_times[name] = source.field_times[name]
    merged.blocked = [c for c in merged.blocked if c not in crm.links]
    return merged


@dataclass
class LinkResult:
    record_id: str
    merged_record_id: str
    contacts_linked: int = 0
    contacts_moved: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "merged_record_id": self.merged_record_id,
            "contacts_linked": self.contacts_linked,
            "contacts_moved": self.contacts_moved,
        }


def _load(ctx: SyncContext, tenant_id: str, record_id: str) -> Record:
    record = ctx.store.get_record(tenant_id, record_id)
    if record is None:
        raise NotFound(record_id)
    return record


def link(ctx: SyncContext, tenant_id: str, crm_record_id: str, accounting_record_id: str) -> LinkResult:
    """Join a CRM-only customer and an accounting-only customer (and pair their contacts)."""
    config = ctx.config(tenant_id)
    crm, acc = _load(ctx, tenant_id, crm_record_id), _load(ctx, tenant_id, accounting_record_id)
    if crm.object_type is not acc.object_type:
        raise LinkError("a customer links to a customer, a contact to a contact")
    if link_state(config, crm) != "crm_only" or link_state(config, acc) != "accounting_only":
        raise LinkError("link needs one CRM-only and one accounting-only record (unlink first)")
    merged = _merge_records(ctx, config, crm, acc)
    result = LinkResult(record_id=merged.record_id, merged_record_id=crm.record_id)
    if acc.object_type is ObjectType.CUSTOMER:
        result.contacts_linked, result.contacts_moved = _pair_contacts(
            ctx, config, crm.record_id, merged.record_id
        )
    ctx.store.journal(
        tenant_id,
        merged.record_id,
        {"at": ctx.clock(), "decision": "linked", "merged": crm.record_id, "links": sorted(merged.links)},
    )
    return result


def _merge_records(ctx: SyncContext, config: TenantConfig, crm: Record, acc: Record) -> Record:
    merged = _merge(config, crm, acc)
    for conn, ext in crm.links.items():
        ctx.store.repoint_link(config.tenant_id, conn, crm.object_type, ext, crm.record_id, acc.record_id)
    saved = ctx.store.save_record(merged)
    ctx.store.delete_record(crm)
    if crm.object_type is ObjectType.CONTACT:
        ctx.store.move_child(config.tenant_id, crm.record_id, crm.fields.get("customer"), None)
    return saved


def _contact_key(record: Record) -> str | None:
    email = record.fields.get("email")
    if isinstance(email, str) and email.strip():
        return "email:" + email.strip().lower()
    name = record.fields.get("name")
    return "name:" + " ".join(name.lower().split()) if isinstance(name, str) and name.strip() else None


def _pair_contacts(
    ctx: SyncContext, config: TenantConfig, crm_customer: str, customer: str
) -> tuple[int, int]:
    """Move the CRM customer's contacts under the surviving customer; merge those that are the same person."""
    tenant = config.tenant_id
    acc_contacts = {
        key: rec
        for rec in (ctx.store.get_record(tenant, rid) for rid in ctx.store.children(tenant, customer))
        if rec is not None and link_state(config, rec) == "accounting_only" and (key := _contact_key(rec))
    }
    linked = moved = 0
    for rid in ctx.store.children(tenant, crm_customer):
        contact = ctx.store.get_record(tenant, rid)
        if contact is None:
            continue
        key = _contact_key(contact)
        partner = acc_contacts.pop(key, None) if key else None
        if partner is not None and link_state(config, contact) == "crm_only":
            _merge_records(ctx, config, contact, partner)
            linked += 1
            continue
        before = contact.fields.get("customer")
        contact.fields["customer"] = customer
        ctx.store.save_record(contact, parent_before=before)
        moved += 1
    for contact in acc_contacts.values():
        # Not the same person as any CRM contact: re-saving puts it on the stream, and the push
        # creates it under the now linked customer.
        ctx.store.save_record(contact)
    return linked, moved


def unlink(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    """Split a linked customer: the CRM side becomes its own record again; nothing is written to vendors."""
    config = ctx.config(tenant_id)
    record = _load(ctx, tenant_id, record_id)
    if link_state(config, record) != "linked":
        raise LinkError("the record is not linked to both sides")
    crm_part = _split(ctx, config, record, parent=None)
    contacts = 0
    if record.object_type is ObjectType.CUSTOMER:
        for rid in ctx.store.children(tenant_id, record_id):
            contact = ctx.store.get_record(tenant_id, rid)
            if contact is not None and link_state(config, contact) == "linked":
                _split(ctx, config, contact, parent=crm_part.record_id)
                contacts += 1
    ctx.store.journal(
        tenant_id, record_id, {"at": ctx.clock(), "decision": "unlinked", "split_into": crm_part.record_id}
    )
    return {"record_id": record_id, "crm_record_id": crm_part.record_id, "contacts_split": contacts}


def _split(ctx: SyncContext, config: TenantConfig, record: Record, parent: str | None) -> Record:
    crm_conns = [c for c in record.links if _known(config, c) and config.connection(c).side is Side.CRM]
    acc_conns = [c for c in record.links if c not in crm_conns]
    part = Record(
        tenant_id=record.tenant_id,
        record_id=new_record_id(record.object_type),
        object_type=record.object_type,
        links={c: record.links[c] for c in crm_conns},
        bases={c: record.bases[c] for c in crm_conns if c in record.bases},
        blocked=acc_conns,
    )
    for conn in crm_conns:
        if conn in record.bases:
            part.fields.update(record.bases[conn].fields)
    if record.object_type is ObjectType.CONTACT:
        part.fields["customer"] = parent
    survivor = record.model_copy(deep=True)
    for conn in crm_conns:
        survivor.links.pop(conn, None)
        survivor.bases.pop(conn, None)
    survivor.blocked = sorted(set(survivor.blocked) | set(crm_conns))
    survivor.allow_create = [c for c in survivor.allow_create if c not in crm_conns]
    for conn in acc_conns:  # ownership returns to accounting: its last known values
        if conn in record.bases:
            survivor.fields.update({k: v for k, v in record.bases[conn].fields.items() if k != "customer"})
    ctx.store.save_record(part, parent_before=None)
    for conn in crm_conns:
        ctx.store.repoint_link(
            record.tenant_id, conn, record.object_type, record.links[conn], record.record_id, part.record_id
        )
    ctx.store.save_record(survivor)
    return part


# --------------------------------------------------------------------------------------------
# Exact-key auto-link and transfer-all planning
# --------------------------------------------------------------------------------------------


@dataclass
class TransferPlan:
    """What a transfer (or a switch to automatic) would do, per target side."""

    creates: Counter[str] = field(default_factory=Counter)
    updates: Counter[str] = field(default_factory=Counter)
    links: int = 0
    unchanged: int = 0
    link_pairs: list[tuple[str, str]] = field(default_factory=list)
    create_ids: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "creates": dict(self.creates),
            "updates": dict(self.updates),
            "links": self.links,
            "unchanged": self.unchanged,
        }


EXACT_LINK_KEYS: tuple[str, ...] = ("customer_number", "external_number")
"""Keys that auto-link, in order. A VAT/corporate id is not among them: one company (one CVR) is often
several accounting customers (departments, production units), so a shared VAT id is offered, not linked."""


def _exact_pairs(
    config: TenantConfig, crm_only: list[Record], acc_only: list[Record]
) -> list[tuple[str, str]]:
    """CRM/accounting pairs that share the customer number, else the external number, unambiguously."""
    pairs: list[tuple[str, str]] = []
    paired: set[str] = set()
    for key in EXACT_LINK_KEYS:
        crm_left = [r for r in crm_only if r.record_id not in paired]
        acc_left = [r for r in acc_only if r.record_id not in paired]
        by_value: dict[str, list[Record]] = {}
        for rec in acc_left:
            value = rec.fields.get(key)
            if isinstance(value, str):
                by_value.setdefault(value, []).append(rec)
        claimed: Counter[str] = Counter(
            v for r in crm_left if isinstance(v := r.fields.get(key), str) and v in by_value
        )
        for rec in crm_left:
            value = rec.fields.get(key)
            if isinstance(value, str) and len(by_value.get(value, [])) == 1 and claimed[value] == 1:
                other = by_value[value][0].record_id
                pairs.append((rec.record_id, other))
                paired.update((rec.record_id, other))
    return pairs


def plan_transfer(
    ctx: SyncContext, tenant_id: str, source: Side, *, mode: SyncMode | None = None
) -> TransferPlan:
    """Counts of creates, updates and links per side a transfer from ``source`` would make (no writes)."""
    config = ctx.config(tenant_id)
    customers = list(ctx.store.records(tenant_id, ObjectType.CUSTOMER))
    contacts = list(ctx.store.records(tenant_id, ObjectType.CONTACT))
    crm_only = [r for r in customers if link_state(config, r) == "crm_only"]
    acc_only = [r for r in customers if link_state(config, r) == "accounting_only"]
    plan = TransferPlan()
    if config.auto_link_exact:
        plan.link_pairs = _exact_pairs(config, crm_only, acc_only)
        plan.links = len(plan.link_pairs)
    paired = {rid for pair in plan.link_pairs for rid in pair}
    target = source.other
    for conn in connections_of(config, target):
        side = config.connection(conn).side
        connector = ctx.connectors.get(config, conn)
        for rec in customers + contacts:
            state = link_state(config, rec)
            if state == "linked":
                p = plan_push(
                    rec,
                    connection_id=conn,
                    side=side,
                    supported=connector.supported_fields(rec.object_type),
                    policy=config.field_policy,
                    mode=mode or SyncMode.AUTOMATIC,
                )
                if p is not None:
                    plan.updates[conn] += 1
                else:
                    plan.unchanged += 1
            elif state == ("accounting_only" if source is Side.ACCOUNTING else "crm_only"):
                if rec.record_id in paired or conn in rec.blocked:
                    continue
                plan.creates[conn] += 1
                plan.create_ids.setdefault(conn, []).append(rec.record_id)
    return plan


PAGE_SIZE = 100


def transfer_pages(tenant_id: str, job_id: str, plan: TransferPlan) -> list[TransferPage]:
    """Cut a plan into pages of ``PAGE_SIZE`` items; links first, since a link can turn a create into an update."""
    pages = [
        TransferPage(tenant_id=tenant_id, job_id=job_id, links=plan.link_pairs[i : i + PAGE_SIZE])
        for i in range(0, len(plan.link_pairs), PAGE_SIZE)
    ]
    for conn, ids in plan.create_ids.items():
        pages += [
            TransferPage(tenant_id=tenant_id, job_id=job_id, creates={conn: ids[i : i + PAGE_SIZE]})
            for i in range(0, len(ids), PAGE_SIZE)
        ]
    return [page.model_copy(update={"page": number}) for number, page in enumerate(pages)]


def apply_page(ctx: SyncContext, page: TransferPage) -> dict[str, Any]:
    """Apply one page and count it on the job.

    Re-applying a page (SQS delivers at least once; a worker may crash after the work and before the
    delete) is harmless: links and approvals are idempotent, and the job counts each page once.
    """
    plan = TransferPlan(link_pairs=list(page.links), create_ids=dict(page.creates))
    result = apply_transfer(ctx, page.tenant_id, plan)
    done = result["linked"] + result["approved_creates"]
    result["counted"] = ctx.store.add_job_progress(
        page.tenant_id, page.job_id, page.page, done, page.size - done
    )
    return result


def apply_transfer(ctx: SyncContext, tenant_id: str, plan: TransferPlan) -> dict[str, Any]:
    """Carry out a plan: link the exact pairs, approve the creates (the push then writes them)."""
    linked = 0
    for crm_id, acc_id in plan.link_pairs:
        try:
            link(ctx, tenant_id, crm_id, acc_id)
            linked += 1
        except (LinkError, NotFound, LinkTaken, VersionConflict):
            continue
    approved = 0
    for conn, ids in plan.create_ids.items():
        for rid in ids:
            for _ in range(3):
                record = ctx.store.get_record(tenant_id, rid)
                if record is None:
                    break
                if conn in record.allow_create or conn in record.links:
                    approved += 1  # already approved or created (a re-applied page)
                    break
                record.allow_create.append(conn)
                try:
                    ctx.store.save_record(record)  # the stream carries it to push_on_change
                    approved += 1
                    break
                except VersionConflict:
                    continue
    return {"linked": linked, "approved_creates": approved}


def candidates_for(
    config: TenantConfig,
    record: Record,
    pool: list[Record],
    limit: int = 5,
    *,
    states: tuple[str, ...] | None = None,
    indexes: dict[tuple[str, ...], Any] | None = None,
) -> list[dict[str, Any]]:
    """Records that may be the same customer, best first (offered, never linked automatically).

    By default the other side's unlinked records (the link screen); lead conversion also searches
    customers that are already linked, since a lead is often a duplicate of a known customer.
    ``indexes`` caches one ``MatchIndex`` per pool kind, so a page of rows builds it once.
    """
    from crmsync.matching import MatchIndex, MatchPolicy, decide

    wanted = states or (("accounting_only",) if link_state(config, record) == "crm_only" else ("crm_only",))
    cache = indexes if indexes is not None else {}
    if wanted not in cache:
        cache[wanted] = MatchIndex([(r.record_id, r.fields) for r in pool if link_state(config, r) in wanted])
    # decide() without auto-linking: an exact key (customer number, external number, VAT id) leads the
    # offers as "same ... (exact key)" at 1.0, the scored look-alikes follow.
    policy = MatchPolicy(
        auto_link_exact=False, offer_threshold=config.candidate_threshold, max_candidates=limit + 1
    )
    found = decide(record.fields, cache[wanted], policy).candidates
    # The screen shows who a candidate is without a read per candidate (one map per pool, like the index).
    names = cache.setdefault(("names",), {r.record_id: r.fields.get("name") for r in pool})
    return [
        {
            "record_id": c.record_id,
            "name": names.get(c.record_id),
            "score": round(c.score, 3),
            "band": c.band.value,
            "reasons": c.reasons,
        }
        for c in found
        if c.record_id != record.record_id
    ][:limit]
