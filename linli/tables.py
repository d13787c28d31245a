"""Tables of the composition root: users, the outbox, HTTP idempotency keys, processed actor messages."""

from piccolo.columns import JSONB, UUID, Array, Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table


class User(Table, tablename="users"):
    id = UUID(primary_key=True)
    phone = Varchar(length=11, unique=True, null=False)
    name = Varchar(length=50, null=False)
    password_hash = Text(null=False)
    is_platform_admin = Boolean(default=False, null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)


class OutboxEvent(Table, tablename="outbox_events"):
    """Written in the same transaction as the change it announces; the relay moves it to Redis."""

    id = UUID(primary_key=True)
    topic = Varchar(length=100, null=False)
    payload = JSONB(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False, index=False)
    # Pending rows are found through the partial index `outbox_events_pending` (see the migration).
    sent_at = Timestamptz(null=True, default=None, index=False)
    attempts = Integer(default=0, null=False)
    last_error = Text(null=True, default=None)
    # The Redis (its INFO run_id) the event was sent to. A Redis that restarted, possibly empty, has a new run_id:
    # what was sent to the old one and is not yet delivered is sent again (workers.relay.redeliver_once).
    sent_to = Varchar(length=64, null=True, default=None)
    # The subscribed actors that have done their part (each appends itself after its effect committed), and when
    # the last of them did; undelivered sent rows are found through `outbox_events_undelivered`.
    delivered_actors = Array(base_column=Varchar(length=100), default=list, null=False)
    delivered_at = Timestamptz(null=True, default=None, index=False)


class IdempotencyKey(Table, tablename="idempotency_keys"):
    """The first result of a POST sent with an Idempotency-Key, replayed for retries."""

    id = UUID(primary_key=True)
    user_id = UUID(null=False)
    key = Varchar(length=200, null=False)
    method = Varchar(length=10, null=False)
    path = Varchar(length=500, null=False)
    request_hash = Varchar(length=64, null=False)
    status_code = Integer(null=True, default=None)
    response_body = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_user_key = Unique([user_id, key])


class ProcessedMessage(Table, tablename="processed_messages"):
    """One row per (consumer, message key) an actor has applied: delivery is at least once, effects once."""

    id = UUID(primary_key=True)
    consumer = Varchar(length=100, null=False)
    message_key = Varchar(length=200, null=False)
    processed_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_consumer_key = Unique([consumer, message_key])


class ScheduleRun(Table, tablename="schedule_runs"):
    """A periodic job claims its slot here, so a schedule runs once however many workers tick."""

    id = UUID(primary_key=True)
    name = Varchar(length=100, null=False)
    slot = Varchar(length=50, null=False)
    claimed_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_name_slot = Unique([name, slot])


class AuditEvent(Table, tablename="audit_events"):
    """Who did what to which object, and why: approvals, role grants, priority groups, money moves."""

    id = UUID(primary_key=True)
    community_id = UUID(null=True, default=None, index=True)
    actor_user_id = UUID(null=True, default=None)
    action = Varchar(length=80, null=False)
    object_type = Varchar(length=60, null=False)
    object_id = UUID(null=True, default=None, index=True)
    reason = Text(null=False, default="")
    detail = JSONB(null=False, default="{}")
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
