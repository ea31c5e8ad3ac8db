"""Convergence of the pure engine under random interleavings of edits, deliveries and pushes.

A tiny world: two in-memory vendors (CRM ``hs``, accounting ``eco``) each holding one customer, and the
crmsync record linked to both. Hypothesis draws a field policy (direction and rule per field) and a
sequence of operations:

* a person edits a field on one side, or on both sides at once (the clock advances);
* a webhook delivery for a side is processed, duplicated, processed out of order or lost; as in
  ``crmsync.service`` a delivery carries no values: the worker re-reads the vendor and reconciles;
* a pull re-reads a side (and so recovers lost deliveries);
* a push plans for a target (``plan_push``), writes the fake vendor, records the write with
  ``after_write`` (the vendor's answer: e-conomic's whole customer or HubSpot's written fields) and
  queues the echo delivery of that write.

At the end the world is quiesced (pending deliveries, then pull both sides and push until nothing
changes) and the properties are checked:

* termination: one round of writes settles everything (no echo ping-pong); a delivery that re-reads what
  crmsync last saw or wrote there (an echo, a duplicate) changes nothing and plans no write;
* convergence: a field that flows (and is not held) has crmsync's value on every side it flows to or
  from; a ``both`` field is equal on both sides;
* ``manual``: a conflict holds the field; it ends held, keeps its value and is written nowhere after;
* nothing silently lost: a value a person typed that is not the final value on its side was typed over
  by a person who saw it, or is kept in a conflict item made after it was typed (an ``overridden`` one
  when the side may not set the field). Checked where every edit types a fresh value: with colliding
  values the 3-way compare against value bases cannot see an A-B-A (a side reverting while the other
  edits) or an edit that happens to equal crmsync's value, and an older edit may then replace a newer
  one without a conflict item (net-change semantics, a documented limit of value bases).

Writes are *guarded* as a compare-and-set per field: a field is written only while the target still holds
what crmsync last saw there; otherwise the target's current state is reconciled first and the push is
planned again. Without that guard a person's edit on the target whose webhook has not been processed yet
is overwritten, and ``after_write`` then takes the written value as the target's base: the edit is gone
without a conflict item and its webhook reads as an echo. ``Spec.build(guarded_writes=False)`` (what
``crmsync.service`` does today) fails the nothing-lost property.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from crmsync.connectors.base import SourceRecord, stale_fields
from crmsync.engine import PushAction, PushPlan, after_write, may_create, plan_push, reconcile
from crmsync.models import Conflict, ConflictStatus, FieldValue, ObjectType, Record, Side, SyncMode
from crmsync.policy import ConflictRule, Direction, FieldPolicy, FieldRule

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FIELDS = ("name", "city", "phone", "email")
VALUES: tuple[FieldValue, ...] = ("x", "y", "z", None)
SUPPORTED = frozenset(FIELDS)
CONN = {Side.CRM: "hs", Side.ACCOUNTING: "eco"}
EXT = {Side.CRM: "900", Side.ACCOUNTING: "7"}
SIDES = (Side.CRM, Side.ACCOUNTING)
CRM, ACC = Side.CRM, Side.ACCOUNTING
MODE = SyncMode.AUTOMATIC
OBJ = ObjectType.CUSTOMER
MAX_ROUNDS = 4
"""Quiescence must come within this many rounds of (deliveries, pull both, push both)."""


# -- the world ----------------------------------------------------------------------------------------


@dataclass
class Vendor:
    side: Side
    fields: dict[str, FieldValue]
    modified_at: datetime
    full_write_result: bool
    """e-conomic answers a write with the whole customer; HubSpot with what was written."""
    unseen_edit: bool = False
    """A person edited this side since crmsync last read it."""

    def read(self) -> SourceRecord:
        return SourceRecord(
            object_type=OBJ,
            external_id=EXT[self.side],
            fields=dict(self.fields),
            modified_at=self.modified_at,
        )


@dataclass(frozen=True)
class Typed:
    seq: int
    side: Side
    field: str
    value: FieldValue
    previous: FieldValue
    """What the person had on screen before typing."""
    revert: bool
    """The value is what crmsync last saw on that side (A-B-A): indistinguishable from no edit."""


@dataclass
class Delivery:
    side: Side
    clean_echo: bool = False
    """The echo of a write made while nobody had edited the vendor unseen."""
    write_seq: int = -1


@dataclass
class World:
    policy: FieldPolicy
    vendors: dict[Side, Vendor]
    record: Record
    fresh_values: bool = False
    """Every edit types a value never seen before (no collisions, no A-B-A)."""
    guarded_writes: bool = True
    """Compare-and-set per written field (see the module docstring)."""
    clock: datetime = T0
    seq: int = 0
    pending: list[Delivery] = field(default_factory=list)
    conflicts: list[tuple[int, Conflict]] = field(default_factory=list)
    typed: list[Typed] = field(default_factory=list)
    writes: list[tuple[int, Side, dict[str, FieldValue]]] = field(default_factory=list)
    held_since: dict[str, tuple[int, FieldValue]] = field(default_factory=dict)
    last_person_edit: dict[Side, int] = field(default_factory=dict)
    stale_writes_avoided: int = 0
    echoes_checked: int = 0

    def tick(self) -> datetime:
        self.seq += 1
        self.clock += timedelta(seconds=1)
        return self.clock

    def plan(self, side: Side) -> PushPlan | None:
        return plan_push(
            self.record,
            connection_id=CONN[side],
            side=side,
            supported=SUPPORTED,
            policy=self.policy,
            mode=MODE,
        )

    def _take(self, record: Record, conflicts: list[Conflict]) -> None:
        self.record = record
        self.conflicts.extend((self.seq, c) for c in conflicts)
        for name in record.held:
            self.held_since.setdefault(name, (self.seq, record.fields.get(name)))

    # -- operations

    def edit(self, side: Side, name: str, value: FieldValue) -> None:
        vendor = self.vendors[side]
        previous = vendor.fields[name]
        if previous == value:  # typing what is there changes nothing: type the next value instead
            value = VALUES[(VALUES.index(value) + 1) % len(VALUES)]
        vendor.modified_at = self.tick()
        if self.fresh_values:
            value = f"{value or ''}{self.seq}"
        vendor.fields[name] = value
        vendor.unseen_edit = True
        revert = self.record.bases[CONN[side]].fields.get(name) == value
        self.typed.append(Typed(self.seq, side, name, value, previous, revert))
        self.last_person_edit[side] = self.seq
        self.pending.append(Delivery(side))

    def read_and_reconcile(self, side: Side, delivery: Delivery | None = None) -> None:
        """A webhook delivery or a pull: re-read the vendor and reconcile (signals carry no values)."""
        vendor = self.vendors[side]
        source = vendor.read()
        before = self.record
        untouched = before.model_copy(deep=True)
        base = before.bases[CONN[side]]
        plans_before = {s: self.plan(s) for s in SIDES}
        if delivery and delivery.clean_echo and self.last_person_edit.get(side, -1) < delivery.write_seq:
            # Nobody touched the vendor since crmsync wrote it: the base is exactly what it holds.
            self.echoes_checked += 1
            assert base.fields == source.fields, ("echo not recognised", base.fields, source.fields)
        outcome = reconcile(
            before, source, connection_id=CONN[side], side=side, policy=self.policy, now=self.tick()
        )
        assert before == untouched, "reconcile mutated its input"
        self._take(outcome.record, outcome.conflicts)
        vendor.unseen_edit = False
        if base.fields == source.fields:
            # An echo of crmsync's own write, a duplicate, a replay: nothing changes, nothing is written.
            assert outcome.applied == {} and outcome.conflicts == [], outcome
            assert self.record.fields == before.fields and self.record.held == before.held
            assert {s: self.plan(s) for s in SIDES} == plans_before, "an echo planned a write"

    def push(self, side: Side) -> bool:
        """Plan for ``side``, write the vendor, record the write; whether anything was written."""
        plan = self.plan(side)
        if plan is None:
            return False
        vendor = self.vendors[side]
        if self.guarded_writes and stale_fields(plan.expected, vendor.fields):
            # A person changed a field we are about to write since crmsync last saw it (the check the
            # connectors make with ``PushPlan.expected``): fold it in first.
            self.stale_writes_avoided += 1
            self.read_and_reconcile(side)
            plan = self.plan(side)
            if plan is None:
                return False
        assert plan.action is PushAction.UPDATE and plan.fields
        assert not set(plan.fields) & set(self.record.held), ("a held field is written", plan.fields)
        had_unseen = vendor.unseen_edit
        vendor.modified_at = self.tick()
        vendor.fields.update(plan.fields)
        self.writes.append((self.seq, side, dict(plan.fields)))
        answer = (
            vendor.read()
            if vendor.full_write_result
            else SourceRecord(object_type=OBJ, external_id=EXT[side], fields=dict(plan.fields))
        )
        before = self.record
        untouched = before.model_copy(deep=True)
        outcome = after_write(
            before,
            connection_id=CONN[side],
            side=side,
            written=dict(plan.fields),
            vendor_state=answer,
            external_id=EXT[side],
            policy=self.policy,
            now=self.clock,
        )
        assert before == untouched, "after_write mutated its input"
        self._take(outcome.record, outcome.conflicts)
        if not had_unseen:
            assert self.record.bases[CONN[side]].fields == vendor.fields, "the echo would not be recognised"
            assert self.plan(side) is None, "crmsync would write the same side again (ping-pong)"
        self.pending.append(Delivery(side, clean_echo=not had_unseen, write_seq=self.seq))
        return True

    def quiesce(self) -> int:
        """Deliver what is pending, then pull both sides and push until nothing changes; rounds used."""
        for round_no in range(1, MAX_ROUNDS + 1):
            fields_before, held_before = dict(self.record.fields), list(self.record.held)
            while self.pending:  # in order; in later rounds: the echoes of the last round's writes
                self.read_and_reconcile(self.pending[0].side, self.pending.pop(0))
            for side in SIDES:
                self.read_and_reconcile(side)
            wrote = [self.push(side) for side in SIDES]
            if not any(wrote) and self.record.fields == fields_before and self.record.held == held_before:
                return round_no
        raise AssertionError(f"no quiescence within {MAX_ROUNDS} rounds; last writes {self.writes[-6:]}")


@dataclass(frozen=True)
class Spec:
    """The drawn world, printable as an ``@example``: rules as ``"direction/rule"`` per field."""

    rules: dict[str, str]
    initial: dict[str, FieldValue]
    first: Side = CRM
    full_write_result: tuple[bool, bool] = (False, True)
    """(hs, eco): HubSpot answers with what was written, e-conomic with the whole customer."""

    def policy(self) -> FieldPolicy:
        return FieldPolicy(
            customer={
                name: FieldRule(direction=Direction(d), rule=ConflictRule(r))
                for name, (d, r) in ((n, s.split("/")) for n, s in self.rules.items())
            }
        )

    def build(self, *, fresh_values: bool = False, guarded_writes: bool = True) -> World:
        """Both vendors hold the customer; the record came from ``first`` and was created on the other."""
        policy = self.policy()
        full = dict(zip(SIDES, self.full_write_result, strict=True))
        vendors = {s: Vendor(s, dict(self.initial), T0, full[s]) for s in SIDES}
        first, other = self.first, self.first.other
        record = Record(tenant_id="t", record_id="cus_" + "5" * 32, object_type=OBJ)
        record = reconcile(
            record, vendors[first].read(), connection_id=CONN[first], side=first, policy=policy, now=T0
        ).record
        record.version = 1
        record.links = {CONN[first]: EXT[first]}
        assert may_create(record, connection_id=CONN[other], side=other, mode=MODE)
        plan = plan_push(
            record, connection_id=CONN[other], side=other, supported=SUPPORTED, policy=policy, mode=MODE
        )
        assert plan is None or plan.action is PushAction.CREATE
        record = after_write(  # created there (or linked on the link screen: it holds the same values)
            record,
            connection_id=CONN[other],
            side=other,
            written=dict(record.fields),
            vendor_state=vendors[other].read(),
            external_id=EXT[other],
            policy=policy,
            now=T0,
        ).record
        assert record.links == {"hs": "900", "eco": "7"} and not record.held
        return World(policy, vendors, record, fresh_values=fresh_values, guarded_writes=guarded_writes)


def run(world: World, ops: list[tuple]) -> None:
    for op in ops:
        kind = op[0]
        if kind == "edit":
            world.edit(*op[1:])
        elif kind == "edit_both":  # two people edit the same field before either webhook arrives
            world.edit(CRM, op[1], op[2])
            world.edit(ACC, op[1], op[3])
        elif kind == "pull":
            world.read_and_reconcile(op[1])
        elif kind == "push":
            world.push(op[1])
        elif world.pending:
            i = op[1] % len(world.pending)
            if kind == "deliver":  # any pending one: out of order
                delivery = world.pending.pop(i)
                world.read_and_reconcile(delivery.side, delivery)
            elif kind == "duplicate":  # delivered now and again later
                world.read_and_reconcile(world.pending[i].side, world.pending[i])
            else:  # lost; the final pull recovers it
                world.pending.pop(i)


# -- properties ---------------------------------------------------------------------------------------


def check_converged(world: World) -> None:
    rec, policy = world.record, world.policy
    vendor = {s: world.vendors[s].fields for s in SIDES}
    for name in FIELDS:
        if name in rec.held:
            continue
        for s in SIDES:
            if policy.flows_to(OBJ, name, s) or policy.flows_from(OBJ, name, s):
                assert vendor[s][name] == rec.fields[name], ("diverged", name, s, vendor, rec.fields)
        if policy.rule(OBJ, name).direction is Direction.BOTH:
            assert vendor[CRM][name] == vendor[ACC][name], ("both sides differ", name, vendor)


def check_held(world: World) -> None:
    rec, policy = world.record, world.policy
    for name in rec.held:
        assert policy.rule(OBJ, name).rule is ConflictRule.MANUAL, ("held without manual rule", name)
    for _, c in world.conflicts:
        if c.status is ConflictStatus.OPEN:
            assert c.rule == ConflictRule.MANUAL.value and c.field in rec.held, c
        elif c.status is ConflictStatus.AUTO:
            assert c.rule != ConflictRule.MANUAL.value, ("a manual conflict settled by itself", c)
    for name, (since, value) in world.held_since.items():
        assert name in rec.held and rec.fields[name] == value, ("held field moved", name, rec.fields)
        assert not [w for w in world.writes if w[0] > since and name in w[2]], (name, world.writes)


def check_nothing_lost(world: World) -> None:
    """A typed value survives on its side, or a person typed over it (on its side, or on the other side
    having it on screen), or a conflict item made after it was typed keeps it."""
    vendor = {s: world.vendors[s].fields for s in SIDES}
    for t in world.typed:
        if vendor[t.side][t.field] == t.value or t.revert:
            continue
        if any(
            u.field == t.field and u.seq > t.seq and (u.side is t.side or u.previous == t.value)
            for u in world.typed
        ):
            continue
        later = [c for seq, c in world.conflicts if seq > t.seq and c.field == t.field]
        if world.policy.flows_from(OBJ, t.field, t.side):
            kept = [
                c
                for c in later
                if t.value in (c.losing_value, c.crm_value if t.side is CRM else c.accounting_value)
            ]
        else:  # the side may not set the field: the owner's value went back, the edit is kept
            kept = [c for c in later if c.status is ConflictStatus.OVERRIDDEN and c.losing_value == t.value]
        assert kept, ("silently lost", t, vendor, world.record.fields, world.typed, world.writes)


def statistics(world: World, rounds: int) -> None:
    """What the examples exercised (``pytest --hypothesis-show-statistics``)."""
    for status in sorted({c.status.value for _, c in world.conflicts}):
        event(f"conflict {status}")
    event(f"held at the end: {bool(world.record.held)}")
    event(f"quiescent after {rounds} round(s)")
    event(f"writes: {min(len(world.writes), 4)}{'+' if len(world.writes) >= 4 else ''}")
    event(f"stale writes avoided: {world.stale_writes_avoided > 0}")
    event(f"clean echoes checked: {world.echoes_checked > 0}")
    event(f"edits typed: {min(len(world.typed) // 3 * 3, 9)}+")


def settle_and_check(world: World, ops: list[tuple], *, losses: bool) -> int:
    run(world, ops)
    rounds = world.quiesce()
    assert rounds <= 2, ("one round of writes should settle everything", world.writes)
    check_converged(world)
    check_held(world)
    if losses:
        check_nothing_lost(world)
    return rounds


# -- strategies and tests -----------------------------------------------------------------------------

directions = st.sampled_from(("both", "both", "to_crm", "to_accounting", "none"))
rules = st.builds(lambda d, r: f"{d}/{r}", directions, st.sampled_from([r.value for r in ConflictRule]))
specs = st.builds(
    Spec,
    rules=st.fixed_dictionaries({f: rules for f in FIELDS}),
    initial=st.fixed_dictionaries(
        {f: st.sampled_from(VALUES[:-1] if f == "name" else VALUES) for f in FIELDS}
    ),
    first=st.sampled_from(SIDES),
    full_write_result=st.tuples(st.booleans(), st.booleans()),
)
sides = st.sampled_from(SIDES)
field_names = st.sampled_from(FIELDS)
values = st.sampled_from(VALUES)
index = st.integers(min_value=0, max_value=7)
edit = st.tuples(st.just("edit"), sides, field_names, values)
operations = st.lists(
    st.one_of(
        edit,
        edit,
        st.tuples(st.just("edit_both"), field_names, values, values),
        st.tuples(st.just("deliver"), index),
        st.tuples(st.just("duplicate"), index),
        st.tuples(st.just("lose"), index),
        st.tuples(st.just("pull"), sides),
        st.tuples(st.just("push"), sides),
    ),
    min_size=10,
    max_size=40,
)

ALL_BOTH = {f: "both/latest" for f in FIELDS}
ALL_X: dict[str, FieldValue] = dict.fromkeys(FIELDS, "x")
STALE_WRITE = (  # eco's city edit is not delivered yet when the CRM's city is pushed there
    Spec(ALL_BOTH, ALL_X),
    [("edit", CRM, "city", "y"), ("deliver", 0), ("edit", ACC, "city", "z"), ("push", ACC)],
)
MANUAL = (  # both sides change the city: held; later edits keep it held and written nowhere
    Spec(ALL_BOTH | {"city": "both/manual"}, ALL_X, first=ACC, full_write_result=(True, False)),
    [
        *[("edit_both", "city", "y", "z"), ("deliver", 1), ("deliver", 0), ("push", CRM), ("push", ACC)],
        *[("edit", CRM, "city", "x"), ("edit", ACC, "phone", "y"), ("deliver", 1), ("push", CRM)],
    ],
)
OVERRIDDEN = (  # accounting edits a CRM-owned field: written back, kept as an overridden item
    Spec(ALL_BOTH | {"city": "to_accounting/latest"}, ALL_X),
    [
        *[("edit", ACC, "city", "y"), ("duplicate", 0), ("edit", CRM, "name", "y"), ("push", ACC)],
        *[("deliver", 1), ("deliver", 0), ("lose", 0), ("push", CRM)],
    ],
)
SETTINGS = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(spec=specs, ops=operations)
@example(*STALE_WRITE)
@example(*MANUAL)
@example(*OVERRIDDEN)
def test_colliding_edits_converge_without_ping_pong(spec: Spec, ops: list[tuple]) -> None:
    """A small alphabet: sides type the same values, revert, cross over. Termination, echoes,
    convergence, held fields (nothing-lost needs fresh values: see the module docstring)."""
    note(f"{spec!r}\n{ops!r}")
    world = spec.build()
    statistics(world, settle_and_check(world, ops, losses=False))


@SETTINGS
@given(spec=specs, ops=operations)
@example(*STALE_WRITE)
@example(*MANUAL)
@example(*OVERRIDDEN)
def test_fresh_edits_converge_and_nothing_is_silently_lost(spec: Spec, ops: list[tuple]) -> None:
    """Every edit types a value never seen before, so a lost value cannot hide behind an equal one."""
    note(f"{spec!r}\n{ops!r}")
    world = spec.build(fresh_values=True)
    statistics(world, settle_and_check(world, ops, losses=True))


# -- the scenarios above, spelled out (they keep the properties from passing vacuously) ---------------


def test_an_unseen_edit_on_the_target_is_folded_in_before_writing_over_it():
    spec, ops = STALE_WRITE
    world = spec.build(fresh_values=True)
    run(world, ops)
    assert world.stale_writes_avoided == 1 and world.writes == [], "eco's edit was not written over"
    (conflict,) = [c for _, c in world.conflicts]
    assert (conflict.winner, conflict.losing_value) == ("accounting", "y1"), "the later edit won (latest)"
    settle_and_check(world, [], losses=True)
    assert [w[1:] for w in world.writes] == [(CRM, {"city": "z3"})]


def test_a_manual_conflict_is_held_and_written_nowhere():
    spec, ops = MANUAL
    world = spec.build()
    settle_and_check(world, ops, losses=True)
    assert world.record.held == ["city"] and world.record.fields["city"] == "z"
    assert {c.status for _, c in world.conflicts} == {ConflictStatus.OPEN}
    assert world.vendors[CRM].fields["city"] == "x" and world.vendors[ACC].fields["city"] == "z"
    assert world.writes and all("city" not in w for _, _, w in world.writes)


def test_a_non_owner_edit_is_written_back_and_kept_as_overridden():
    spec, ops = OVERRIDDEN
    world = spec.build()
    settle_and_check(world, ops, losses=True)
    assert world.vendors[ACC].fields["city"] == "x" == world.record.fields["city"]
    overridden = [c for _, c in world.conflicts if c.status is ConflictStatus.OVERRIDDEN]
    assert overridden and {c.losing_value for c in overridden} == {"y"}
    assert world.echoes_checked >= 1
